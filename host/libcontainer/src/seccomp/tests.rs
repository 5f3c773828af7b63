use oci_spec::runtime::Capability;

use super::*;

fn allowed_names(profile: &LinuxSeccomp) -> Vec<String> {
    profile
        .syscalls()
        .iter()
        .flatten()
        .filter(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
        .flat_map(|r| r.names().clone())
        .collect()
}

#[test]
fn default_profile_compiles_and_denies_with_eperm() {
    let profile = docker_default_profile();
    assert_eq!(profile.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(profile.default_errno_ret(), Some(libc::EPERM as u32));
    let filter = compile(&profile).expect("Docker's default profile compiles");
    // Only names foreign to this architecture (32-bit variants) are skipped.
    for name in filter.skipped_syscalls() {
        assert!(
            !["read", "write", "execve", "mkdir", "socket", "clone"].contains(&name.as_str()),
            "{name} must be known"
        );
    }
}

#[test]
fn default_profile_follows_capabilities() {
    let default = docker_default_profile();
    let names = allowed_names(&default);
    assert!(
        names.contains(&"chroot".to_string()),
        "CAP_SYS_CHROOT is a default capability"
    );
    assert!(!names.contains(&"mount".to_string()));
    assert!(!names.contains(&"unshare".to_string()));
    let clone3 = default
        .syscalls()
        .iter()
        .flatten()
        .find(|r| r.names() == &["clone3".to_string()])
        .expect("clone3 rule without CAP_SYS_ADMIN");
    assert_eq!(clone3.errno_ret(), Some(libc::ENOSYS as u32));

    let admin = docker_default_profile_for(&[Capability::SysAdmin]);
    let names = allowed_names(&admin);
    for name in ["mount", "umount2", "unshare", "setns", "clone", "clone3"] {
        assert!(
            names.contains(&name.to_string()),
            "{name} with CAP_SYS_ADMIN"
        );
    }
    assert!(
        !names.contains(&"chroot".to_string()),
        "no CAP_SYS_CHROOT given"
    );
    compile(&admin).expect("profile with CAP_SYS_ADMIN compiles");
}

#[test]
fn unknown_action_and_operator_are_named_in_errors() {
    let bad_action = br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_EXPLODE"}]}"#;
    let err = parse_profile(bad_action).unwrap_err();
    assert!(matches!(err, SeccompError::Parse(_)));
    assert!(err.to_string().contains("SCMP_ACT_EXPLODE"), "{err}");

    let bad_op = br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ROUGHLY"}]}]}"#;
    let err = parse_profile(bad_op).unwrap_err();
    assert!(err.to_string().contains("SCMP_CMP_ROUGHLY"), "{err}");
}

#[test]
fn parsed_profile_with_args_compiles() {
    let json = br#"{
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 15, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
                      {"index": 1, "value": 0, "op": "SCMP_CMP_NE"}]}
        ]
    }"#;
    let profile = parse_profile(json).unwrap();
    let filter = compile(&profile).unwrap();
    assert_eq!(filter.skipped_syscalls(), ["no_such_syscall".to_string()]);
}

#[test]
fn out_of_range_values_and_unsupported_features_are_errors() {
    let arg_index = br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#;
    let err = compile(&parse_profile(arg_index).unwrap()).unwrap_err();
    assert!(
        matches!(err, SeccompError::ArgIndex { index: 6, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("mkdir"), "{err}");

    let errno = br#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}"#;
    let err = compile(&parse_profile(errno).unwrap()).unwrap_err();
    assert!(
        matches!(err, SeccompError::Errno { value: 70000, .. }),
        "{err}"
    );

    let notify = br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#;
    let err = compile(&parse_profile(notify).unwrap()).unwrap_err();
    assert!(matches!(err, SeccompError::Unsupported { .. }), "{err}");
}

#[test]
fn default_profile_exports_a_loadable_sized_program() {
    let filter = compile(&docker_default_profile()).unwrap();
    let program = filter.program().unwrap();
    assert!(!program.is_empty());
    // The kernel's BPF_MAXINSNS for seccomp filters.
    assert!(program.len() <= 4096, "{} instructions", program.len());
}

#[test]
fn default_profile_blocks_io_uring_with_eperm() {
    // moby#46762 (Docker 25): io_uring submissions bypass per-syscall
    // filtering, so the three calls left the allow-list and fall to the
    // default action, EPERM; with CAP_SYS_ADMIN too.
    for profile in [
        docker_default_profile(),
        docker_default_profile_for(&[Capability::SysAdmin]),
    ] {
        let listed: Vec<String> = profile
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.names().clone())
            .collect();
        for name in ["io_uring_setup", "io_uring_enter", "io_uring_register"] {
            assert!(!listed.contains(&name.to_string()), "{name} is listed");
        }
        assert_eq!(profile.default_errno_ret(), Some(libc::EPERM as u32));
    }
}
