//! Unit tests of the commands' flag parsing and error handling.

use super::*;
use clap::Parser;

#[derive(Parser)]
#[command(disable_help_flag = true)]
struct T {
    #[command(flatten)]
    run: RunArgs,
}

fn parse(args: &[&str]) -> RunArgs {
    T::try_parse_from(std::iter::once("run").chain(args.iter().copied()))
        .unwrap()
        .run
}

#[test]
fn a_seccomp_profile_file_is_sent_as_its_json() {
    let path = std::env::temp_dir().join(format!("berth-seccomp-{}.json", std::process::id()));
    std::fs::write(&path, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let sent = security_opt(&format!("seccomp={}", path.display()));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        sent.unwrap(),
        r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#
    );
    assert_eq!(
        security_opt("seccomp=unconfined").unwrap(),
        "seccomp=unconfined"
    );
    assert_eq!(security_opt("label=disable").unwrap(), "label=disable");
    let err = security_opt("seccomp=/nonexistent/profile.json").unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/profile.json"),
        "{err}"
    );
}

#[test]
fn resource_and_security_flags_map_onto_the_host_config() {
    let args = parse(&[
        "-m",
        "64m",
        "--memory-swap",
        "-1",
        "--cpuset-cpus",
        "0-1",
        "--cpuset-mems",
        "0",
        "--shm-size",
        "128m",
        "--oom-score-adj",
        "-5",
        "--ulimit",
        "nofile=1024:2048",
        "--ulimit",
        "core=0",
        "--cap-add",
        "ALL",
        "--cap-drop",
        "NET_RAW",
        "--security-opt",
        "no-new-privileges",
        "--security-opt",
        "seccomp=unconfined",
        "--cgroupns",
        "host",
        "--log-driver",
        "json-file",
        "--log-opt",
        "max-size=10m",
        "--log-opt",
        "max-file=3",
        "--privileged",
        "--read-only",
        "--tmpfs",
        "/run:size=64m,mode=1777",
        "--tmpfs",
        "/scratch",
        "-v",
        "/srv/data:/data:ro",
        "busybox",
    ]);
    let h = create_request(&args.create, false).unwrap().host_config;
    assert_eq!((h.memory, h.memory_swap), (64 << 20, -1));
    assert_eq!(
        (h.cpuset_cpus.as_str(), h.cpuset_mems.as_str()),
        ("0-1", "0")
    );
    assert_eq!((h.shm_size, h.oom_score_adj), (128 << 20, -5));
    let ulimits: Vec<(&str, i64, i64)> = h
        .ulimits
        .iter()
        .map(|u| (u.name.as_str(), u.soft, u.hard))
        .collect();
    assert_eq!(ulimits, [("nofile", 1024, 2048), ("core", 0, 0)]);
    assert_eq!(
        (h.cap_add, h.cap_drop),
        (vec!["ALL".to_owned()], vec!["NET_RAW".to_owned()])
    );
    assert!(h.privileged && h.readonly_rootfs);
    assert_eq!(h.security_opt, ["no-new-privileges", "seccomp=unconfined"]);
    assert_eq!(h.cgroupns_mode, "host");
    assert_eq!(h.log_config.kind, "json-file");
    assert_eq!(
        h.log_config.config.iter().collect::<Vec<_>>(),
        [
            (&"max-file".to_owned(), &"3".to_owned()),
            (&"max-size".to_owned(), &"10m".to_owned())
        ]
    );
    assert_eq!(h.tmpfs["/run"], "size=64m,mode=1777");
    assert_eq!(h.tmpfs["/scratch"], "");
    assert_eq!(h.binds, ["/srv/data:/data:ro"]);

    for bad in [
        &["--ulimit", "nofile"][..],
        &["--ulimit", "nofile=2048:1024"],
        &["--ulimit", "nofile=a"],
        &["--shm-size", "lots"],
        &["--memory-swap", "x"],
    ] {
        let mut argv = bad.to_vec();
        argv.push("busybox");
        assert!(
            create_request(&parse(&argv).create, false).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn run_flags_map_onto_the_create_request() {
    let args = parse(&[
        "--rm",
        "-i",
        "-m",
        "512m",
        "--cpus",
        "1.5",
        "--pids-limit",
        "20",
        "-u",
        "1000",
        "-h",
        "box",
        "-w",
        "/tmp",
        "-e",
        "A=b",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    let req = create_request(&args.create, true).unwrap();
    assert_eq!(
        req.config.cmd.as_deref(),
        Some(&["sh".to_owned(), "-c".into(), "exit 3".into()][..])
    );
    assert_eq!(req.host_config.memory, 512 << 20);
    assert_eq!(req.host_config.nano_cpus, 1_500_000_000);
    assert_eq!(req.host_config.pids_limit, Some(20));
    assert!(req.host_config.auto_remove && req.config.open_stdin && req.config.attach_stdin);
    assert_eq!(
        (
            req.config.user.as_str(),
            req.config.hostname.as_str(),
            req.config.working_dir.as_str()
        ),
        ("1000", "box", "/tmp")
    );
    assert_eq!(req.config.env, ["A=b"]);
}

#[test]
fn invalid_memory_is_reported_like_docker() {
    let args = parse(&["-m", "lots", "busybox"]);
    let err = create_request(&args.create, true).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'"
    );
}

#[tokio::test]
async fn every_object_is_tried_and_any_failure_sets_the_exit_status() {
    let tried = std::sync::Mutex::new(Vec::new());
    let objects = ["a".to_owned(), "bad".to_owned(), "c".to_owned()];
    let code = for_each(&objects, |object| {
        tried.lock().unwrap().push(object.to_owned());
        async move {
            if object == "bad" {
                bail!("no such object: {object}");
            }
            Ok(())
        }
    })
    .await;
    assert_eq!(code, 1);
    assert_eq!(*tried.lock().unwrap(), objects);
    assert_eq!(for_each(&objects[..1], |_| async { Ok(()) }).await, 0);
}

#[test]
fn empty_entrypoint_resets() {
    let args = parse(&["--entrypoint", "", "busybox"]);
    assert_eq!(
        create_request(&args.create, false)
            .unwrap()
            .config
            .entrypoint,
        Some(vec![])
    );
}

#[test]
fn restart_and_stop_flags_map_onto_the_create_request() {
    let args = parse(&[
        "--restart",
        "on-failure:2",
        "--stop-signal",
        "SIGUSR1",
        "--stop-timeout",
        "3",
        "busybox",
    ]);
    let req = create_request(&args.create, false).unwrap();
    let policy = &req.host_config.restart_policy;
    assert_eq!(
        (policy.name.as_str(), policy.maximum_retry_count),
        ("on-failure", 2)
    );
    assert_eq!(req.config.stop_signal.as_deref(), Some("SIGUSR1"));
    assert_eq!(req.config.stop_timeout, Some(3));
    let always = create_request(&parse(&["--restart", "always", "busybox"]).create, false).unwrap();
    assert_eq!(always.host_config.restart_policy.name, "always");
    let bad = create_request(&parse(&["--restart", ":2", "busybox"]).create, false).unwrap_err();
    assert_eq!(
        bad.to_string(),
        "invalid restart policy format: no policy provided before colon"
    );
    assert!(
        create_request(
            &parse(&["--restart", "on-failure:x", "busybox"]).create,
            false
        )
        .is_err()
    );
}

/// `--ip`/`--ip6` go into the `EndpointsConfig` entry of the `--network`
/// the container is created on, as the docker CLI 28 sends them
/// (`parseNetworkOpts`: the first network takes `--ip`, `--ip6`; an empty
/// address is left out), and the body passes the API's own field check.
#[test]
fn ip_flags_go_into_the_endpoint_of_the_network() {
    let args = parse(&[
        "--network",
        "lab",
        "--ip",
        "10.1.2.3",
        "--ip6",
        "fd00::5",
        "busybox",
    ]);
    let req = create_request(&args.create, false).unwrap();
    assert_eq!(req.host_config.network_mode, "lab");
    assert_eq!(
        req.networking_config,
        Some(
            serde_json::json!({"EndpointsConfig": {"lab": {"IPAMConfig": {
                "IPv4Address": "10.1.2.3",
                "IPv6Address": "fd00::5",
            }}}})
        )
    );
    req.check_fields().unwrap();

    let args = parse(&["--net", "lab", "--ip6", "fd00::5", "busybox"]);
    let req = create_request(&args.create, false).unwrap();
    assert_eq!(
        req.networking_config,
        Some(
            serde_json::json!({"EndpointsConfig": {"lab": {"IPAMConfig": {
                "IPv6Address": "fd00::5",
            }}}})
        )
    );
    req.check_fields().unwrap();
}

/// `--network-alias` goes into the `Aliases` of the `--network`'s
/// `EndpointsConfig` entry, beside `--ip`, as the docker CLI 28 sends it;
/// off a user-defined network it is refused with the CLI's message before
/// any request.
#[test]
fn network_aliases_go_into_the_endpoint_of_a_user_network_only() {
    let args = parse(&[
        "--network",
        "lab",
        "--network-alias",
        "site",
        "--network-alias",
        "www",
        "--ip",
        "10.1.2.3",
        "busybox",
    ]);
    let req = create_request(&args.create, false).unwrap();
    assert_eq!(
        req.networking_config,
        Some(serde_json::json!({"EndpointsConfig": {"lab": {
            "IPAMConfig": {"IPv4Address": "10.1.2.3"},
            "Aliases": ["site", "www"],
        }}}))
    );
    req.check_fields().unwrap();
    let args = parse(&["--net", "lab", "--network-alias", "site", "busybox"]);
    let req = create_request(&args.create, false).unwrap();
    assert_eq!(
        req.networking_config,
        Some(serde_json::json!({"EndpointsConfig": {"lab": {"Aliases": ["site"]}}}))
    );
    for network in [
        &[][..],
        &["--network", "bridge"][..],
        &["--network", "default"][..],
        &["--network", "host"][..],
        &["--network", "none"][..],
        &["--network", "container:web"][..],
    ] {
        let mut argv = network.to_vec();
        argv.extend(["--network-alias", "site", "busybox"]);
        let err = create_request(&parse(&argv).create, false).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "network-scoped aliases are only supported for user-defined networks",
            "{argv:?}"
        );
    }
}

/// Without `--network` the address is asked of the `default` network, as
/// the docker CLI sends it: berthd refuses it with moby's message rather
/// than the client dropping it. No address, no `NetworkingConfig`.
#[test]
fn an_ip_off_a_named_network_is_sent_for_the_daemon_to_refuse() {
    let args = parse(&["--ip", "10.1.2.3", "busybox"]);
    let req = create_request(&args.create, false).unwrap();
    assert_eq!(req.host_config.network_mode, "default");
    assert_eq!(
        req.networking_config,
        Some(
            serde_json::json!({"EndpointsConfig": {"default": {"IPAMConfig": {
                "IPv4Address": "10.1.2.3",
            }}}})
        )
    );
    let args = parse(&["--network", "host", "--ip", "10.1.2.3", "busybox"]);
    let req = create_request(&args.create, false).unwrap();
    assert_eq!(
        req.networking_config,
        Some(
            serde_json::json!({"EndpointsConfig": {"host": {"IPAMConfig": {
                "IPv4Address": "10.1.2.3",
            }}}})
        )
    );
    for plain in [&["busybox"][..], &["--network", "lab", "busybox"][..]] {
        let req = create_request(&parse(plain).create, false).unwrap();
        assert_eq!(req.networking_config, None, "{plain:?}");
    }
}
