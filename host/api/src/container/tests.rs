use std::collections::BTreeMap;

use super::*;

#[test]
fn create_request_reads_what_the_docker_cli_sends() {
    let body = r#"{"Hostname":"box","User":"1000","Env":null,"Cmd":["echo","hi"],
        "Image":"busybox","Entrypoint":null,"Labels":{"a":"b"},"OpenStdin":true,
        "HostConfig":{"Memory":6291456,"PidsLimit":null,"AutoRemove":true,"Binds":null,
        "Unknown":1},"NetworkingConfig":{"EndpointsConfig":{}},"Whatever":[1]}"#;
    let req: CreateRequest = serde_json::from_str(body).unwrap();
    assert_eq!(req.config.hostname, "box");
    assert_eq!(
        req.config.cmd,
        Some(vec!["echo".to_owned(), "hi".to_owned()])
    );
    assert_eq!(req.config.entrypoint, None);
    assert!(req.config.env.is_empty());
    assert!(req.config.open_stdin);
    assert_eq!(req.host_config.memory, 6291456);
    assert!(req.host_config.auto_remove);
    assert_eq!(req.host_config.pids_limit, None);
    // Kept, and refused: berth cannot know what they would ask for.
    assert_eq!(req.host_config.rest["Unknown"], 1);
    assert_eq!(
        req.check_fields().unwrap_err().to_string(),
        "Config.Whatever is not a field of the Docker Engine API 1.43: berth cannot honour it"
    );
}

#[test]
fn the_typed_fields_are_the_honoured_ones_of_the_table() {
    use fields::Handling;
    // Every optional member set, so that each is serialized.
    let config = Config {
        cmd: Some(vec![]),
        entrypoint: Some(vec![]),
        stop_signal: Some("SIGTERM".into()),
        stop_timeout: Some(1),
        healthcheck: Some(HealthConfig::default()),
        exposed_ports: BTreeMap::from([("80/tcp".into(), serde_json::json!({}))]),
        volumes: BTreeMap::from([("/v".into(), serde_json::json!({}))]),
        ..Config::default()
    };
    let host = HostConfig {
        pids_limit: Some(1),
        console_size: Some([1, 1]),
        masked_paths: Some(vec![]),
        readonly_paths: Some(vec![]),
        mounts: vec![MountSpec::default()],
        volumes_from: vec!["c".into()],
        init: Some(true),
        ..HostConfig::default()
    };
    let keys = |value: serde_json::Value| -> Vec<String> {
        value.as_object().unwrap().keys().cloned().collect()
    };
    let honoured = |table: &[(&str, Handling)]| -> Vec<String> {
        let mut names: Vec<String> = table
            .iter()
            .filter(|(_, h)| *h == Handling::Honoured)
            .map(|(n, _)| (*n).to_owned())
            .collect();
        names.sort();
        names
    };
    let config_keys = keys(serde_json::to_value(&config).unwrap());
    assert_eq!(config_keys, honoured(fields::CONFIG));
    assert_eq!(
        keys(serde_json::to_value(&host).unwrap()),
        honoured(fields::HOST_CONFIG)
    );
}

#[test]
fn string_commands_become_one_word() {
    let req: CreateRequest =
        serde_json::from_str(r#"{"Image":"x","Cmd":"sh","Entrypoint":[]}"#).unwrap();
    assert_eq!(req.config.cmd, Some(vec!["sh".to_owned()]));
    assert_eq!(req.config.entrypoint, Some(vec![]));
}

#[test]
fn state_uses_dockers_key_names() {
    let json = serde_json::to_value(State {
        status: Status::Running,
        oom_killed: true,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(json["Status"], "running");
    assert_eq!(json["OOMKilled"], true);
    assert!(json.get("StartedAt").is_some());
}

#[test]
fn binds_parse_with_their_options() {
    let bind = Bind::parse("/srv:/data/sub:ro,rslave,z").unwrap();
    assert_eq!(
        bind,
        Bind {
            source: "/srv".into(),
            destination: "/data/sub".into(),
            read_only: true,
            propagation: "rslave",
        }
    );
    let plain = Bind::parse("/srv:/data").unwrap();
    assert_eq!((plain.read_only, plain.propagation), (false, "rprivate"));
    for bad in [
        "relative:/x",
        "/srv:relative",
        "/srv:/",
        "/srv:/x/../y",
        "/srv:/x:rw,ro",
        "/srv:/x:bogus",
        "volume-name:/x",
        "/srv:/x:ro:extra",
    ] {
        let err = Bind::parse(bad).unwrap_err();
        assert!(err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn start_failures_map_to_dockers_exit_codes() {
    let code = start_failure_code;
    assert_eq!(
        code("exec: \"nope\": executable file not found in $PATH"),
        Some(127)
    );
    assert_eq!(code("open /x: no such file or directory"), Some(127));
    assert_eq!(code("exec /etc: permission denied"), Some(126));
    assert_eq!(code("exec /etc: is a directory"), Some(126));
    assert_eq!(code("cgroup setup failed"), None);
    // libcontainer's wording, as the exec driver passes it on.
    assert_eq!(
        code(
            r#"container init failed: exec "x": ENOENT: No such file or directory (executable file not found in $PATH)"#
        ),
        Some(127)
    );
    assert_eq!(
        code(
            r#"container init failed: exec "/etc/passwd": EACCES: Permission denied (permission denied)"#
        ),
        Some(126)
    );
    assert_eq!(code("cgroup: device or resource busy"), None);
}

#[test]
fn wait_conditions() {
    assert_eq!(WaitCondition::parse(""), Some(WaitCondition::NotRunning));
    assert_eq!(
        WaitCondition::parse("removed"),
        Some(WaitCondition::Removed)
    );
    assert_eq!(WaitCondition::parse("bogus"), None);
}

#[test]
fn log_configs_parse_with_mobys_rules() {
    let config = |kind: &str, opts: &[(&str, &str)]| LogConfig {
        kind: kind.to_owned(),
        config: opts
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let unbounded = LogDriver::JsonFile(JsonFileLog::default());
    assert_eq!(config("", &[]).driver(), Ok(unbounded));
    assert_eq!(config("json-file", &[("tag", "x")]).driver(), Ok(unbounded));
    assert_eq!(
        config("json-file", &[("max-size", "10k"), ("max-file", "3")]).driver(),
        Ok(LogDriver::JsonFile(
            JsonFileLog::new(Some(10_000), 3).expect("valid")
        ))
    );
    assert_eq!(config("none", &[]).driver(), Ok(LogDriver::None));
    for (kind, opts, message) in [
        (
            "syslog",
            &[][..],
            "logger: no log driver named 'syslog' is registered",
        ),
        (
            "json-file",
            &[("max-sise", "1m")][..],
            "unknown log opt 'max-sise' for json-file log driver",
        ),
        (
            "json-file",
            &[("max-size", "big")][..],
            "invalid size: 'big'",
        ),
        (
            "json-file",
            &[("max-size", "0")][..],
            "max-size must be a positive number",
        ),
        (
            "json-file",
            &[("max-file", "0")][..],
            "max-file cannot be less than 1",
        ),
        (
            "json-file",
            &[("max-file", "x")][..],
            "invalid max-file 'x': not an integer",
        ),
    ] {
        assert_eq!(
            config(kind, opts).driver().map_err(|e| e.to_string()),
            Err(message.to_owned())
        );
    }
    let compress = config("json-file", &[("compress", "true")]).driver();
    assert_eq!(
        compress,
        Err(super::log::LogConfigError::CompressUnsupported)
    );
    assert!(compress.is_err_and(|e| e.to_string().contains("not supported by berth")));
}

/// `docker run --network n --ip A --ip6 B` (moby `EndpointIPAMConfig`):
/// the addresses are honoured, the link-local ones refused by name.
#[test]
fn the_addresses_of_an_endpoint_are_honoured_and_link_local_ones_refused() {
    let request = |ipam: serde_json::Value| -> CreateRequest {
        serde_json::from_value(serde_json::json!({
            "Image": "busybox",
            "HostConfig": {"NetworkMode": "n"},
            "NetworkingConfig": {"EndpointsConfig": {"n": {"IPAMConfig": ipam}}},
        }))
        .expect("request")
    };
    let docker_cli = serde_json::json!({"IPv4Address": "10.9.0.5", "IPv6Address": "fd00::5", "LinkLocalIPs": null});
    assert_eq!(request(docker_cli).check_fields(), Ok(()));
    assert_eq!(
        request(serde_json::json!({"IPv4Address": "", "LinkLocalIPs": []})).check_fields(),
        Ok(())
    );
    assert_eq!(
        request(serde_json::json!({"LinkLocalIPs": ["169.254.0.9"]}))
            .check_fields()
            .unwrap_err()
            .to_string(),
        "NetworkingConfig.EndpointsConfig.n.IPAMConfig.LinkLocalIPs (--link-local-ip) is not supported by berth"
    );
    assert_eq!(
        request(serde_json::json!({"IPv4Address": "10.9.0.5", "Frob": 1}))
            .check_fields()
            .unwrap_err()
            .to_string(),
        "NetworkingConfig.EndpointsConfig.n.IPAMConfig.Frob is not a field of the Docker Engine API 1.43: berth cannot honour it"
    );
    assert_eq!(
        request(serde_json::json!("10.9.0.5"))
            .check_fields()
            .unwrap_err()
            .to_string(),
        "NetworkingConfig.EndpointsConfig.n.IPAMConfig is not a field of the Docker Engine API 1.43: berth cannot honour it"
    );
}
