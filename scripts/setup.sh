#!/usr/bin/env bash
# Installs the Debian packages faultline and its tests need (idempotent; run as root).
set -euo pipefail
pkgs=(iproute2 iptables procps)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt-get"
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
