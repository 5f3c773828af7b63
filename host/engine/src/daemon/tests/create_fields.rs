//! Finding 5 of issue 8: every field of a create request is honoured or
//! refused; what the real clients send on every create keeps working.

use super::*;

/// `docker create busybox` from the docker CLI 28.2 negotiated down to API
/// 1.43, as a recorder listening in berthd's place received it.
const DOCKER_CLI_CREATE: &str = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}"#;

/// docker-py 7's `containers.create("busybox")`: `ContainerConfig` has every
/// key, `_post_json` drops the top-level `None`s, `HostConfig` holds only
/// what was set.
const DOCKER_PY_CREATE: &str = r#"{"Image":"busybox","Tty":false,"OpenStdin":false,"StdinOnce":false,"AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"NetworkDisabled":false,"HostConfig":{"NetworkMode":"default"}}"#;

#[tokio::test]
async fn what_the_docker_clients_send_on_every_create_is_accepted() {
    let f = fixture();
    for body in [DOCKER_CLI_CREATE, DOCKER_PY_CREATE] {
        let id = f
            .create(None, body)
            .await
            .unwrap_or_else(|e| panic!("{e}: {body}"));
        f.daemon.remove(&id, false).await.unwrap();
    }
    // The same with each of the flags berth honours, through the CLI.
    let mut cli: serde_json::Value = serde_json::from_str(DOCKER_CLI_CREATE).unwrap();
    cli["HostConfig"]["SecurityOpt"] = serde_json::json!(["no-new-privileges"]);
    cli["HostConfig"]["RestartPolicy"]["Name"] = "".into();
    cli["ExposedPorts"] = serde_json::json!({"80/tcp": {}});
    cli["HostConfig"]["NetworkMode"] = "none".into();
    cli["NetworkingConfig"]["EndpointsConfig"] = serde_json::json!({});
    f.create(None, &cli.to_string()).await.unwrap();
}

/// Each body is refused with the message, and leaves nothing behind.
#[tokio::test]
async fn options_berth_does_not_honour_are_refused_naming_them() {
    let f = fixture();
    let with_host = |host: &str| format!(r#"{{"Image":"busybox","HostConfig":{host}}}"#);
    let cases = [
        (
            with_host(r#"{"SecurityOpt":["bogus=1"]}"#),
            r#"invalid --security-opt 2: "bogus=1""#.to_owned(),
        ),
        (
            with_host(r#"{"SecurityOpt":["bogus"]}"#),
            r#"invalid --security-opt 1: "bogus""#.to_owned(),
        ),
        (
            with_host(r#"{"Mounts":[{"Type":"bogus","Source":"/tmp","Target":"/x"}]}"#),
            "invalid mount config for type \"bogus\": mount type unknown".to_owned(),
        ),
        (
            with_host(r#"{"VolumeDriver":"nfs"}"#),
            "HostConfig.VolumeDriver (--volume-driver) is not supported by berth".to_owned(),
        ),
        (
            with_host(r#"{"Devices":[{"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwx"}]}"#),
            "bad mode specified: rwx".to_owned(),
        ),
        (
            with_host(r#"{"DeviceCgroupRules":["c 1:3"]}"#),
            "invalid device cgroup rule format: 'c 1:3'".to_owned(),
        ),
        (
            with_host(r#"{"PidMode":"host"}"#),
            "HostConfig.PidMode (--pid) is not supported by berth".to_owned(),
        ),
        (
            with_host(r#"{"Sysctls":{"kernel.pid_max":"1"}}"#),
            r#"sysctl "kernel.pid_max" is not in a separate kernel namespace"#.to_owned(),
        ),
        (
            with_host(r#"{"GroupAdd":["a:b"]}"#),
            r#"invalid --group-add "a:b": a group name or number, without ':', ',' or whitespace"#
                .to_owned(),
        ),
        (
            with_host(r#"{"MemorySwappiness":10}"#),
            "HostConfig.MemorySwappiness (--memory-swappiness) is not supported by berth"
                .to_owned(),
        ),
        (
            with_host(r#"{"Frobnicate":true}"#),
            "HostConfig.Frobnicate is not a field of the Docker Engine API 1.43: berth cannot honour it"
                .to_owned(),
        ),
        (
            r#"{"Image":"busybox","Volumes":{"/data":{}},"HostConfig":{"Binds":["x/y:/data"]}}"#.to_owned(),
            "create x/y: \"x/y\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path".to_owned(),
        ),
        (
            r#"{"Image":"busybox","Healthcheck":{"Test":["CMD-SHELL","true"],"Probe":1}}"#.to_owned(),
            "Config.Healthcheck.Probe is not a field of the Docker Engine API 1.43: berth cannot honour it".to_owned(),
        ),
        (
            r#"{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":{"IPv4Address":"1.2.3.4"}}}}}"#.to_owned(),
            // moby `runconfig.ErrUnsupportedNetworkAndIP`.
            "user specified IP address is supported on user defined networks only".to_owned(),
        ),
        (
            r#"{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":{"LinkLocalIPs":["169.254.0.9"]}}}}}"#.to_owned(),
            "NetworkingConfig.EndpointsConfig.default.IPAMConfig.LinkLocalIPs (--link-local-ip) is not supported by berth".to_owned(),
        ),
        (
            // API 1.48's gateway priority: berth routes through the first
            // network only and cannot honour it.
            r#"{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"default":{"GwPriority":10}}}}"#.to_owned(),
            "NetworkingConfig.EndpointsConfig.default.GwPriority (--gw-priority) is not supported by berth".to_owned(),
        ),
    ];
    for (body, message) in cases {
        let err = f.create(Some("refused"), &body).await.unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::InvalidParameter, message.as_str()),
            "{body}"
        );
        assert_eq!(f.record_count(), 0, "{body}");
        assert!(f.images.rootfs.lock().unwrap().is_empty(), "{body}");
        assert!(f.store.get(NAMES, "refused").unwrap().is_none(), "{body}");
    }
}

#[tokio::test]
async fn honoured_security_options_are_kept_for_the_exec_driver() {
    let f = fixture();
    for opts in [
        r#"["no-new-privileges"]"#,
        r#"["no-new-privileges=true","seccomp=unconfined"]"#,
        r#"["no-new-privileges:false","apparmor=unconfined","label=disable"]"#,
        r#"["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"]"#,
    ] {
        let body = format!(r#"{{"Image":"busybox","HostConfig":{{"SecurityOpt":{opts}}}}}"#);
        let id = f
            .create(None, &body)
            .await
            .unwrap_or_else(|e| panic!("{e}: {opts}"));
        let stored: Vec<String> = serde_json::from_str(opts).unwrap();
        assert_eq!(
            f.daemon.inspect(&id).unwrap().host_config.security_opt,
            stored
        );
    }
    let err = f
        .create(
            None,
            r#"{"Image":"busybox","HostConfig":{"SecurityOpt":["seccomp={not json"]}}"#,
        )
        .await
        .unwrap_err();
    assert!(
        err.message.starts_with("Decoding seccomp profile failed: "),
        "{err}"
    );
    let err = f
        .create(
            None,
            r#"{"Image":"busybox","HostConfig":{"SecurityOpt":["apparmor=docker-default"]}}"#,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        r#"--security-opt "apparmor=docker-default" is not supported by berth: it applies no AppArmor profile (only apparmor=unconfined is accepted)"#
    );
    assert_eq!(f.record_count(), 4);
}
