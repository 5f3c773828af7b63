//! Issue 12, end to end through the real docker CLI and `berth`: the
//! container's own DNS settings (`--dns`, `--dns-search`, `--dns-option`,
//! `--add-host`) in its `/etc/resolv.conf` and `/etc/hosts`, and bad ones
//! refused at create; published ports (`-p`, `-P`).

use berth_tests::daemon::Daemon;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

#[test]
fn dns_settings_and_extra_hosts_are_written_into_the_containers_files() {
    let d = ready();
    let out = d.docker(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "db:10.0.0.5",
        "--add-host",
        "gw:host-gateway",
        "busybox",
        "cat",
        "/etc/resolv.conf",
        "/etc/hosts",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout
            .starts_with("nameserver 192.0.2.53\nsearch example.com\noptions ndots:2\n"),
        "{out:?}"
    );
    assert!(out.stdout.contains("\n10.0.0.5\tdb\n"), "{out:?}");
    // host-gateway: the test daemon's own default bridge's gateway.
    let bridge = d.docker(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{(index .IPAM.Config 0).Gateway}}",
    ]);
    assert_eq!(bridge.code(), 0, "{bridge:?}");
    let gateway = bridge.stdout.trim();
    assert!(
        out.stdout.contains(&format!("\n{gateway}\tgw\n")),
        "gateway {gateway}: {out:?}"
    );
    // The same through berth.
    let out = d.berth(&[
        "run",
        "--rm",
        "--add-host",
        "cache=10.0.0.7",
        "--dns",
        "192.0.2.54",
        "busybox",
        "cat",
        "/etc/hosts",
        "/etc/resolv.conf",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("10.0.0.7\tcache\n"), "{out:?}");
    assert!(out.stdout.contains("nameserver 192.0.2.54\n"), "{out:?}");
}

#[test]
fn bad_dns_settings_are_refused_at_create_and_leave_nothing() {
    let d = ready();
    for (flags, message) in [
        (
            &["--add-host", "db:10.0.0.300"][..],
            r#"invalid IP address in add-host: \"10.0.0.300\""#,
        ),
        (&["--dns-search", "a b"], "is not a valid domain"),
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        // berth's client sends the flags as given (the docker CLI would
        // refuse these itself): berthd's own check answers.
        let out = d.berth(&args);
        assert_ne!(out.code(), 0, "berth {args:?} was accepted: {out:?}");
        let wanted = message.replace("\\\"", "\"");
        assert!(out.stderr.contains(&wanted), "berth {args:?}: {out:?}");
        assert!(
            d.container_ids().is_empty(),
            "berth {args:?} left a container"
        );
    }
}

#[test]
fn published_ports_on_the_hosts_network_are_discarded_with_mobys_warning() {
    let d = ready();
    let out = d.docker(&[
        "create",
        "--network",
        "host",
        "-p",
        "8080:80",
        "busybox",
        "true",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("Published ports are discarded when using host network mode"),
        "{out:?}"
    );
}
