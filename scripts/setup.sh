#!/usr/bin/env bash
# Installs the Debian packages faultline and its tests need (idempotent; run as root).
# etcd-server and zookeeper are the real targets of the integration tests, and
# openssh-server runs (one sshd per namespace) as the SSH runtime's test nodes; ruby
# only checks that the Vagrantfile parses. Their system services must not start
# (faultline runs its own inside namespaces), so the install runs under a policy-rc.d
# that forbids starting services, and where systemd runs, their units are stopped and
# disabled afterwards.
set -euo pipefail
pkgs=(iproute2 iptables procps etcd-server etcd-client zookeeper openssh-client openssh-server ruby)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt-get"
  policy=/usr/sbin/policy-rc.d
  ours=no
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# faultline setup: no services during install\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    ours=yes
  fi
  trap 'if [ "$ours" = yes ]; then rm -f "$policy"; fi' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  if [ -d /run/systemd/system ]; then
    for unit in etcd.service zookeeper.service ssh.service ssh.socket; do
      systemctl disable --now "$unit" 2>/dev/null || true
    done
  fi
fi
