//! Issue 10's host options in the runtime spec: `Sysctls`, `GroupAdd`,
//! `Devices`, `Init`.

use std::collections::BTreeMap;

use super::*;

fn sysctl_of(spec: &Spec) -> HashMap<String, String> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.sysctl().clone())
        .expect("sysctl")
}

#[test]
fn sysctls_go_over_dockers_network_defaults() {
    let host = HostConfig {
        sysctls: BTreeMap::from([
            ("net.ipv4.ip_forward".to_owned(), "1".to_owned()),
            ("kernel.shmmax".to_owned(), "65536".to_owned()),
            (
                "net.ipv4.ip_unprivileged_port_start".to_owned(),
                "1024".to_owned(),
            ),
        ]),
        ..HostConfig::default()
    };
    let sysctl = sysctl_of(&build(&config(&["true"]), &host).expect("spec"));
    assert_eq!(sysctl["net.ipv4.ip_forward"], "1");
    assert_eq!(sysctl["kernel.shmmax"], "65536");
    // The container's value wins over Docker's default.
    assert_eq!(sysctl["net.ipv4.ip_unprivileged_port_start"], "1024");
    assert_eq!(sysctl["net.ipv4.ping_group_range"], "0 2147483647");
    assert_eq!(sysctl.len(), 4);
}

#[test]
fn sysctls_outside_the_containers_namespaces_are_refused_at_create() {
    let host = |key: &str| HostConfig {
        sysctls: BTreeMap::from([(key.to_owned(), "x".to_owned())]),
        ..HostConfig::default()
    };
    assert_eq!(
        refused(&config(&["true"]), &host("kernel.hostname")),
        r#"sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field"#
    );
    assert_eq!(
        refused(&config(&["true"]), &host("vm.overcommit_memory")),
        r#"sysctl "vm.overcommit_memory" is not in a separate kernel namespace"#
    );
}

fn gids_of(spec: &Spec) -> Vec<u32> {
    spec.process()
        .as_ref()
        .and_then(|p| p.user().additional_gids().clone())
        .unwrap_or_default()
}

#[test]
fn group_add_resolves_names_in_the_containers_group_file() {
    let host = |groups: &[&str]| HostConfig {
        group_add: groups.iter().map(|g| (*g).to_owned()).collect(),
        ..HostConfig::default()
    };
    // root is in no group of the fixture; names, numbers with and without
    // an entry, duplicates once.
    let spec = build(&config(&["true"]), &host(&["audio", "10", "4242", "wheel"])).expect("spec");
    assert_eq!(gids_of(&spec), [29, 10, 4242]);
    // After the user's own supplementary groups.
    let user = Config {
        user: "berth".into(),
        ..config(&["true"])
    };
    let spec = build(&user, &host(&["1000", "audio"])).expect("spec");
    assert_eq!(gids_of(&spec), [10, 29, 1000]);
    let err = build(&config(&["true"]), &host(&["nosuchgroup"])).expect_err("unknown name");
    assert_eq!(
        err.to_string(),
        "Unable to find group nosuchgroup: no matching entries in group file"
    );
    assert_eq!(
        refused(&config(&["true"]), &host(&["a:b"])),
        r#"invalid --group-add "a:b": a group name or number, without ':', ',' or whitespace"#
    );
}

#[test]
fn devices_become_nodes_and_allow_rules_with_their_permissions() {
    use berth_api::container::DeviceMapping;
    let host = |host: &str, container: &str, perms: &str| HostConfig {
        devices: vec![DeviceMapping {
            path_on_host: host.into(),
            path_in_container: container.into(),
            cgroup_permissions: perms.into(),
        }],
        ..HostConfig::default()
    };
    let spec = build(&config(&["true"]), &host("/dev/full", "/dev/f", "r")).expect("spec");
    let linux = spec.linux().as_ref().expect("linux");
    let node = linux
        .devices()
        .iter()
        .flatten()
        .find(|d| d.path() == Path::new("/dev/f"))
        .expect("the node");
    assert_eq!((node.major(), node.minor()), (1, 7));
    let rules = resources_of(&spec).devices().clone().expect("rules");
    let last = rules.last().expect("a rule");
    assert_eq!(
        (
            last.allow(),
            last.major(),
            last.minor(),
            last.access().as_deref()
        ),
        (true, Some(1), Some(7), Some("r"))
    );
    // Docker's deny-all stays first.
    assert!(!rules[0].allow());

    let err = build(&config(&["true"]), &host("/nonexistent", "", "")).expect_err("missing");
    assert_eq!(
        err.to_string(),
        r#"error gathering device information while adding custom device "/nonexistent": no such file or directory"#
    );
    let err = build(&config(&["true"]), &host("/etc/hostname", "", "")).expect_err("a file");
    assert!(err.to_string().ends_with("not a device node"), "{err}");
    assert_eq!(
        refused(&config(&["true"]), &host("/dev/full", "", "rwx")),
        "bad mode specified: rwx"
    );
}
