//! The process of a `docker exec`, built over the container's own.

use berth_model::exec_process::ExecProcessConfig;

use super::*;

/// The container's spec and model for `config`/`host`, over the fixture
/// rootfs (kept alive by the caller).
fn container(config: &Config, host: &HostConfig) -> (tempfile::TempDir, ContainerModel, Spec) {
    let root = fixture_rootfs();
    let model = create(config, host).expect("create");
    let spec =
        build_spec(ID, &model, root.path(), &files(), &SpecOptions::default()).expect("spec");
    (root, model, spec)
}

fn exec_config(command: &[&str]) -> ExecProcessConfig {
    ExecProcessConfig {
        command: command.iter().map(|s| s.to_string()).collect(),
        ..ExecProcessConfig::default()
    }
}

fn env_of(process: &oci_spec::runtime::Process) -> Vec<String> {
    process.env().clone().unwrap_or_default()
}

#[test]
fn an_exec_keeps_the_containers_confinement_and_takes_its_own_command_env_and_cwd() {
    let mut cfg = config(&["sleep", "100"]);
    cfg.env = vec!["A=container".into(), "B=kept".into()];
    cfg.hostname = "box".into();
    let host = HostConfig {
        security_opt: vec!["no-new-privileges".into()],
        ..HostConfig::default()
    };
    let (root, model, spec) = container(&cfg, &host);
    let base = spec.process().clone().expect("process");
    let mut exec = exec_config(&["sh", "-c", "env"]);
    exec.env = vec!["A=exec".into(), "B".into(), "C=new".into()];
    exec.working_dir = Some("/tmp".into());
    let p = exec_process(&base, &model, &exec, root.path(), CapabilitySet::all()).expect("exec");
    assert_eq!(p.args().clone().unwrap(), ["sh", "-c", "env"]);
    assert_eq!(p.cwd().to_str(), Some("/tmp"));
    assert_eq!(
        p.capabilities(),
        base.capabilities(),
        "the container's caps"
    );
    assert_eq!(p.no_new_privileges(), Some(true));
    assert_eq!(p.rlimits(), base.rlimits());
    assert_eq!(p.terminal(), Some(false));
    let env = env_of(&p);
    assert!(env.contains(&"A=exec".to_owned()), "{env:?}");
    assert!(
        !env.iter().any(|e| e.starts_with("B=")),
        "B removed: {env:?}"
    );
    assert!(env.contains(&"C=new".to_owned()), "{env:?}");
    assert!(env.contains(&"HOSTNAME=box".to_owned()), "{env:?}");
    assert!(env.contains(&"HOME=/root".to_owned()), "{env:?}");
    assert!(
        !env.iter().any(|e| e.starts_with("TERM=")),
        "no tty: {env:?}"
    );
    // No working directory: `/`.
    let p = exec_process(
        &base,
        &model,
        &exec_config(&["true"]),
        root.path(),
        CapabilitySet::all(),
    )
    .expect("exec");
    assert_eq!(p.cwd().to_str(), Some("/"));
}

#[test]
fn the_exec_user_resolves_in_the_containers_passwd_and_group() {
    let (root, model, spec) = container(&config(&["sh"]), &HostConfig::default());
    let base = spec.process().clone().expect("process");
    let mut exec = exec_config(&["id"]);
    exec.user = "berth".into();
    let p = exec_process(&base, &model, &exec, root.path(), CapabilitySet::all()).expect("exec");
    assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
    assert_eq!(p.user().additional_gids().clone().unwrap(), [10, 29]);
    assert!(env_of(&p).contains(&"HOME=/home/berth".to_owned()));
    exec.user = "1000:29".into();
    let p = exec_process(&base, &model, &exec, root.path(), CapabilitySet::all()).expect("exec");
    assert_eq!((p.user().uid(), p.user().gid()), (1000, 29));
    exec.user = "nosuchuser".into();
    let err = exec_process(&base, &model, &exec, root.path(), CapabilitySet::all()).unwrap_err();
    assert!(matches!(err, SpecError::User { .. }), "{err}");
}

#[test]
fn an_exec_gets_the_containers_group_add_after_the_users_own_groups() {
    let host = HostConfig {
        group_add: vec!["audio".into(), "4242".into(), "wheel".into()],
        ..HostConfig::default()
    };
    let (root, model, spec) = container(&config(&["sh"]), &host);
    let base = spec.process().clone().expect("process");
    // root is in no group of the fixture: GroupAdd's, resolved in the
    // container's /etc/group, duplicates once (moby `getUser`).
    let p = exec_process(
        &base,
        &model,
        &exec_config(&["id", "-G"]),
        root.path(),
        CapabilitySet::all(),
    )
    .expect("exec");
    assert_eq!(p.user().additional_gids().clone().unwrap(), [29, 4242, 10]);
    // Another user: its own groups (wheel, audio) first, then GroupAdd's.
    let mut exec = exec_config(&["id", "-G"]);
    exec.user = "berth".into();
    let p = exec_process(&base, &model, &exec, root.path(), CapabilitySet::all()).expect("exec");
    assert_eq!(p.user().additional_gids().clone().unwrap(), [10, 29, 4242]);
}

#[test]
fn a_privileged_tty_exec_gets_every_available_capability_a_terminal_and_its_size() {
    let (root, model, spec) = container(&config(&["sh"]), &HostConfig::default());
    let base = spec.process().clone().expect("process");
    let mut exec = exec_config(&["sh"]);
    exec.privileged = true;
    exec.tty = true;
    exec.console_size = Some((33, 101));
    let available = CapabilitySet::docker_default();
    let p = exec_process(&base, &model, &exec, root.path(), available).expect("exec");
    let caps = p.capabilities().clone().expect("caps");
    let want = capabilities_to_oci(available);
    assert_eq!(caps.effective().clone().unwrap(), want);
    assert_eq!(caps.bounding().clone().unwrap(), want);
    assert_eq!(caps.permitted().clone().unwrap(), want);
    assert!(caps.inheritable().clone().unwrap_or_default().is_empty());
    let all = capabilities_to_oci(CapabilitySet::all());
    let p = exec_process(&base, &model, &exec, root.path(), CapabilitySet::all()).expect("exec");
    assert_eq!(
        p.capabilities()
            .clone()
            .unwrap()
            .effective()
            .clone()
            .unwrap(),
        all
    );
    assert!(
        all.len()
            > base
                .capabilities()
                .clone()
                .unwrap()
                .effective()
                .clone()
                .unwrap()
                .len(),
        "more than the container's"
    );
    assert_eq!(p.terminal(), Some(true));
    let size = p.console_size().expect("size");
    assert_eq!((size.height(), size.width()), (33, 101));
    assert!(env_of(&p).contains(&"TERM=xterm".to_owned()));
}
