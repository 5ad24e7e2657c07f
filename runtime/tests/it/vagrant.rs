//! The top-level `Vagrantfile` parses (`ruby -c`, Ruby from Debian) and declares exactly
//! the nodes, names and addresses of the README's `vagrant-nodes.txt`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_file(name: &str) -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    (path, text)
}

#[test]
fn the_vagrantfile_parses_as_ruby() {
    let (path, _) = repo_file("Vagrantfile");
    let out = Command::new("ruby")
        .arg("-c")
        .arg(&path)
        .output()
        .expect("ruby runs (scripts/setup.sh installs it)");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Syntax OK"),
        "ruby -c {}: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `"n1" => "192.168.56.101",` lines of the Vagrantfile's NODES hash.
fn vagrant_nodes(text: &str) -> BTreeMap<String, String> {
    let start = text.find("NODES = {").expect("a NODES hash");
    let end = start + text[start..].find('}').expect("the hash ends");
    text[start..end]
        .lines()
        .filter_map(|l| {
            let q: Vec<&str> = l.split('"').collect();
            (q.len() >= 4 && q[2].contains("=>")).then(|| (q[1].to_string(), q[3].to_string()))
        })
        .collect()
}

/// A nodes file the README writes (`cat > NAME <<'EOF'` … `EOF`), parsed as faultline
/// parses a nodes file.
fn readme_file(text: &str, name: &str) -> runtime::ssh::HostLists {
    let open = format!("cat > {name} <<'EOF'\n");
    let start = text
        .find(&open)
        .unwrap_or_else(|| panic!("the README writes {name}"))
        + open.len();
    let body = &text[start..];
    let body = &body[..body.find("\nEOF\n").expect("the heredoc ends")];
    runtime::ssh::parse_nodes_file(Path::new("README.md"), body)
        .unwrap_or_else(|e| panic!("the README's {name} parses: {e}"))
}

/// Host → address of every node of a nodes file, system and service nodes alike.
fn addresses(lists: &runtime::ssh::HostLists) -> BTreeMap<String, String> {
    lists
        .nodes
        .iter()
        .chain(&lists.service_nodes)
        .map(|n| {
            let addr = n.addr.expect("every line has an address");
            (n.host.to_string(), addr.to_string())
        })
        .collect()
}

/// The nodes file the README writes for ordinary runs.
fn readme_nodes(text: &str) -> BTreeMap<String, String> {
    addresses(&readme_file(text, "vagrant-nodes.txt"))
}

#[test]
fn the_readmes_election_nodes_file_splits_the_same_vms_three_and_two() {
    let (_, readme) = repo_file("README.md");
    let election = readme_file(&readme, "vagrant-election.txt");
    assert_eq!((election.nodes.len(), election.service_nodes.len()), (3, 2));
    assert_eq!(addresses(&election), readme_nodes(&readme));
}

#[test]
fn the_vagrantfile_and_the_readme_declare_the_same_nodes() {
    let (_, vagrantfile) = repo_file("Vagrantfile");
    let (_, readme) = repo_file("README.md");
    let vagrant = vagrant_nodes(&vagrantfile);
    assert_eq!(
        vagrant.keys().map(String::as_str).collect::<Vec<_>>(),
        ["n1", "n2", "n3", "n4", "n5"]
    );
    assert_eq!(vagrant, readme_nodes(&readme));
    assert!(
        vagrantfile.contains("config.vm.box = \"debian/bookworm64\""),
        "Debian 12"
    );
    for (name, ip) in &vagrant {
        assert!(
            ip.starts_with("192.168.56."),
            "{name} {ip}: the host-only network"
        );
    }
}
