//! `SecurityOpt`, `MaskedPaths` and `ReadonlyPaths` in the runtime spec.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};

use super::*;
use oci_spec::runtime::Arch;

fn with_opts(opts: &[&str]) -> HostConfig {
    HostConfig {
        security_opt: opts.iter().map(|o| (*o).to_owned()).collect(),
        ..HostConfig::default()
    }
}

fn seccomp_of(spec: &Spec) -> Option<LinuxSeccomp> {
    spec.linux().as_ref().and_then(|l| l.seccomp().clone())
}

fn nnp_of(spec: &Spec) -> Option<bool> {
    spec.process().as_ref().and_then(|p| p.no_new_privileges())
}

/// The syscall names of every rule with `action`.
fn names_with(profile: &LinuxSeccomp, action: LinuxSeccompAction) -> Vec<String> {
    profile
        .syscalls()
        .iter()
        .flatten()
        .filter(|rule| rule.action() == action)
        .flat_map(|rule| rule.names().clone())
        .collect()
}

#[test]
fn no_new_privileges_reaches_the_process() {
    let cmd = config(&["true"]);
    assert_eq!(
        nnp_of(&build(&cmd, &HostConfig::default()).expect("spec")),
        Some(false)
    );
    for on in [
        &["no-new-privileges"][..],
        &["no-new-privileges=true"],
        &["no-new-privileges:1"],
    ] {
        assert_eq!(
            nnp_of(&build(&cmd, &with_opts(on)).expect("spec")),
            Some(true),
            "{on:?}"
        );
    }
}

#[test]
fn seccomp_unconfined_and_builtin() {
    let cmd = config(&["true"]);
    let default = seccomp_of(&build(&cmd, &HostConfig::default()).expect("spec"));
    assert!(default.is_some());
    assert_eq!(
        seccomp_of(&build(&cmd, &with_opts(&["seccomp=builtin"])).expect("spec")),
        default
    );
    assert_eq!(
        seccomp_of(&build(&cmd, &with_opts(&["seccomp=unconfined"])).expect("spec")),
        None
    );
    // A profile with neither a default action nor rules: moby's "seccomp
    // disabled".
    assert_eq!(
        seccomp_of(&build(&cmd, &with_opts(&["seccomp={}"])).expect("spec")),
        None
    );
}

#[test]
fn a_docker_profile_is_resolved_for_the_container_and_the_host() {
    let arch = native_go_arch();
    let other_arch = if arch == "amd64" { "arm64" } else { "amd64" };
    let profile = serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
        ],
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"name": "write", "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["chown"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_CHOWN"]}},
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_CHOWN"]}},
            {"names": ["native_only"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": [arch]}},
            {"names": ["other_only"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": [other_arch]}},
            {"names": ["not_here"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": [arch]}},
            {"names": ["new_kernel"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "255.0"}},
            {"names": ["old_kernel"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "3.0"}},
            {"names": ["not_old"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "3.0"}}
        ]
    });
    let host = with_opts(&[&format!("seccomp={profile}")]);
    let spec = build(&config(&["true"]), &host).expect("spec");
    let resolved = seccomp_of(&spec).expect("a filter");
    assert_eq!(resolved.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(resolved.default_errno_ret(), Some(1));
    let mut allowed = names_with(&resolved, LinuxSeccompAction::ScmpActAllow);
    allowed.sort();
    // Docker's default capabilities have CAP_CHOWN, not CAP_SYS_ADMIN.
    assert_eq!(
        allowed,
        ["chown", "native_only", "old_kernel", "read", "write"]
    );
    let arches = resolved.architectures().clone().unwrap_or_default();
    match arch {
        "amd64" => assert_eq!(
            arches,
            [Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
        ),
        "arm64" => assert_eq!(arches, [Arch::ScmpArchAarch64, Arch::ScmpArchArm]),
        _ => assert!(arches.is_empty(), "{arches:?}"),
    }
    // With CAP_SYS_ADMIN added, its rule applies.
    let mut admin = host.clone();
    admin.cap_add = vec!["SYS_ADMIN".into()];
    let resolved = seccomp_of(&build(&config(&["true"]), &admin).expect("spec")).expect("filter");
    assert!(names_with(&resolved, LinuxSeccompAction::ScmpActAllow).contains(&"mount".to_owned()));
    // A privileged container gets no filter, whatever the profile.
    let mut privileged = host;
    privileged.privileged = true;
    assert_eq!(
        seccomp_of(&build(&config(&["true"]), &privileged).expect("spec")),
        None
    );
}

#[test]
fn the_resolved_profile_compiles() {
    let profile = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
        {"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"},
        {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}"#;
    let spec = build(
        &config(&["true"]),
        &with_opts(&[&format!("seccomp={profile}")]),
    )
    .expect("spec");
    let resolved = seccomp_of(&spec).expect("a filter");
    berth_libcontainer::seccomp::compile(&resolved).expect("libseccomp accepts it");
}

#[test]
fn masked_and_readonly_paths_replace_dockers_when_given() {
    let cmd = config(&["true"]);
    let linux = |host: &HostConfig| {
        build(&cmd, host)
            .expect("spec")
            .linux()
            .clone()
            .expect("linux")
    };
    let default = linux(&HostConfig::default());
    assert_eq!(
        default.masked_paths().as_deref(),
        Some(&MASKED_PATHS.map(String::from)[..])
    );
    // `--security-opt systempaths=unconfined`, as the docker CLI sends it.
    let unconfined = linux(&HostConfig {
        masked_paths: Some(vec![]),
        readonly_paths: Some(vec![]),
        ..HostConfig::default()
    });
    assert_eq!(unconfined.masked_paths().as_deref(), Some(&[][..]));
    assert_eq!(unconfined.readonly_paths().as_deref(), Some(&[][..]));
    let own = linux(&HostConfig {
        masked_paths: Some(vec!["/proc/kcore".into()]),
        ..HostConfig::default()
    });
    assert_eq!(
        own.masked_paths().as_deref(),
        Some(&["/proc/kcore".to_owned()][..])
    );
    assert_eq!(
        own.readonly_paths().as_deref(),
        Some(&READONLY_PATHS.map(String::from)[..])
    );
}

#[test]
fn a_security_option_the_daemon_refuses_never_reaches_the_spec() {
    assert_eq!(
        refused(&config(&["true"]), &with_opts(&["bogus=1"])),
        r#"invalid --security-opt 2: "bogus=1""#
    );
}
