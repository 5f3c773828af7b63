//! The network namespace the engine decided, in the spec (moby
//! `WithNamespaces`, `WithCommonOptions`).

use berth_model::network::NetworkNamespace;
use oci_spec::runtime::LinuxNamespaceType;

use super::*;

fn spec_in(network: &NetworkNamespace) -> Spec {
    let root = fixture_rootfs();
    let model = create(&config(&["sh"]), &HostConfig::default()).expect("create");
    build_spec_in(
        ID,
        &model,
        root.path(),
        &files(),
        network,
        &SpecOptions::default(),
    )
    .expect("spec")
}

/// The network entry of the spec's namespaces: `None` when there is none,
/// else its path (`Some(None)` for a new namespace).
fn network_entry(spec: &Spec) -> Option<Option<std::path::PathBuf>> {
    let linux = spec.linux().as_ref().expect("linux");
    linux
        .namespaces()
        .iter()
        .flatten()
        .find(|ns| ns.typ() == LinuxNamespaceType::Network)
        .map(|ns| ns.path().clone())
}

fn has_default_sysctls(spec: &Spec) -> bool {
    let sysctl = spec
        .linux()
        .as_ref()
        .and_then(|l| l.sysctl().clone())
        .unwrap_or_default();
    sysctl.contains_key("net.ipv4.ip_unprivileged_port_start")
        && sysctl.contains_key("net.ipv4.ping_group_range")
}

#[test]
fn a_new_namespace_gets_the_network_sysctl_defaults() {
    let spec = spec_in(&NetworkNamespace::New);
    assert_eq!(network_entry(&spec), Some(None));
    assert!(has_default_sysctls(&spec));
}

#[test]
fn the_hosts_namespace_has_no_entry_and_none_of_the_defaults() {
    // The defaults would be written to the host's own /proc/sys/net.
    let spec = spec_in(&NetworkNamespace::Host);
    assert_eq!(network_entry(&spec), None);
    assert!(!has_default_sysctls(&spec));
}

#[test]
fn another_containers_namespace_is_joined_by_path_and_left_as_it_is() {
    let path = std::path::PathBuf::from("/proc/4242/ns/net");
    let spec = spec_in(&NetworkNamespace::Join(path.clone()));
    assert_eq!(network_entry(&spec), Some(Some(path)));
    assert!(!has_default_sysctls(&spec));
}

#[test]
fn a_sandbox_is_joined_by_path_and_gets_the_defaults() {
    let path = std::path::PathBuf::from("/run/berth/netns/c");
    let spec = spec_in(&NetworkNamespace::Sandbox(path.clone()));
    assert_eq!(network_entry(&spec), Some(Some(path)));
    assert!(has_default_sysctls(&spec));
}
