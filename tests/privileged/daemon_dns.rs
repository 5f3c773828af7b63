//! The embedded DNS server of user-defined networks, end to end with real
//! traffic: berthd (host/network `dns`, the engine's `name_service`)
//! serves each user network's names on its gateway, containers resolve
//! each other by name and alias on their own network only, and other
//! names are forwarded to the resolvers of the daemon's
//! `--dns-resolv-conf` — here a fake upstream on a loopback address of
//! the test's, so the host's `/etc/resolv.conf` is never read or touched.

use std::time::Duration;

use berth_tests::cmd::Output;
use berth_tests::daemon::Daemon;
use berth_tests::dns_stub::{DnsStub, EXTERNAL, host_resolv_conf};

/// Where the fake upstream listens (port 53: berthd asks `nameserver`s
/// there). Only this test uses the address.
const UPSTREAM: &str = "127.0.0.153";

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {out:?}");
    out.stdout.trim().to_owned()
}

/// Runs a throwaway busybox on `network` and returns its output.
fn run_on(d: &Daemon, network: &str, command: &[&str]) -> Output {
    let mut args = vec!["run", "--rm", "--network", network, "busybox"];
    args.extend_from_slice(command);
    d.docker(&args)
}

#[test]
fn containers_on_a_user_network_resolve_each_other_and_the_rest_is_forwarded() {
    berth_tests::require::root();
    let upstream = DnsStub::start(UPSTREAM);
    let dir = tempfile::tempdir().expect("temp dir");
    let resolv = host_resolv_conf(dir.path(), UPSTREAM);
    let d = Daemon::start_with(&["--dns-resolv-conf", &resolv]);
    d.import_busybox("busybox");
    ok(&d.docker(&["network", "create", "front"]), "create front");
    ok(&d.docker(&["network", "create", "other"]), "create other");
    let gateway = d.network_gateway("front");

    ok(
        &d.docker(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "front",
            "--network-alias",
            "site",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && echo hello-dns > /www/index.html && exec httpd -f -p 80 -h /www",
        ]),
        "run web",
    );

    // A container on a user network asks its network's gateway, with the
    // search and options of the daemon's resolver configuration.
    let conf = ok(
        &run_on(&d, "front", &["cat", "/etc/resolv.conf"]),
        "resolv.conf",
    );
    assert_eq!(
        conf,
        format!("nameserver {gateway}\nsearch berth-dns.test\noptions ndots:0"),
        "{conf}"
    );

    // By name and by alias, with real HTTP traffic. httpd may need a
    // moment to listen: bounded retries, nothing timed is asserted.
    for name in ["web", "site"] {
        let url = format!("http://{name}/");
        let mut last = None;
        for _ in 0..50 {
            // busybox 1.35's own `wget -T` crashes (SIGSEGV): `timeout`
            // bounds each try instead.
            let out = run_on(
                &d,
                "front",
                &["timeout", "5", "wget", "-q", "-O", "-", &url],
            );
            if out.status.success() {
                last = None;
                assert_eq!(out.stdout.trim(), "hello-dns", "{url}");
                break;
            }
            last = Some(out);
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(last.is_none(), "wget {url}: {last:?}");
    }

    // Isolation: on another network, web is not a name (the upstream,
    // asked in its place, says NXDOMAIN).
    let out = run_on(&d, "other", &["nslookup", "web"]);
    assert!(
        !out.status.success(),
        "web resolved from another network: {out:?}"
    );

    // A name the networks do not have goes to the upstream.
    let out = run_on(&d, "front", &["nslookup", EXTERNAL.0]);
    let text = ok(&out, "nslookup external");
    assert!(text.contains("192.0.2.53"), "{text}");

    // The default bridge has no names and keeps the host's resolvers.
    let conf = ok(
        &run_on(&d, "bridge", &["cat", "/etc/resolv.conf"]),
        "bridge resolv.conf",
    );
    assert!(!conf.contains(&gateway), "{conf}");

    // Stopping web withdraws its names.
    ok(&d.docker(&["rm", "-f", "web"]), "rm web");
    let out = run_on(&d, "front", &["nslookup", "web"]);
    assert!(
        !out.status.success(),
        "web still resolves after rm: {out:?}"
    );

    ok(
        &d.docker(&["network", "rm", "front", "other"]),
        "network rm",
    );
    drop(d);
    drop(upstream);
}

/// A daemon whose host resolvers answer nothing (no one listens on
/// `silent`:53), so an answer from outside the networks can only come
/// from a container's own name servers; the file's search and options
/// are `berth-dns.test` and `ndots:0`.
fn daemon_with_silent_host_resolver(silent: &str) -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().expect("temp dir");
    let resolv = host_resolv_conf(dir.path(), silent);
    let d = Daemon::start_with(&["--dns-resolv-conf", &resolv]);
    d.import_busybox("busybox");
    (dir, d)
}

fn address_on(d: &Daemon, container: &str, network: &str) -> String {
    ok(
        &d.docker(&[
            "inspect",
            "--format",
            &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
            container,
        ]),
        "address",
    )
}

/// `--dns` on a user network, as moby (`sandbox_dns_unix.go` `setupDNS`:
/// `nameserver 127.0.0.11`, the `--dns` servers the resolver's external
/// ones): the container's `resolv.conf` still names the embedded server,
/// so the network's names still resolve, and its other names are
/// forwarded to its `--dns` server, not to the host's; `--dns-search` and
/// `--dns-option` still go into the file.
#[test]
fn dns_on_a_user_network_goes_through_the_embedded_server() {
    berth_tests::require::root();
    const OWN: &str = "127.0.0.161";
    let stub = DnsStub::start(OWN);
    let (_dir, d) = daemon_with_silent_host_resolver("127.0.0.162");
    ok(&d.docker(&["network", "create", "dnsnet"]), "create");
    let gateway = d.network_gateway("dnsnet");
    ok(
        &d.docker(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "dnsnet",
            "busybox",
            "sleep",
            "1000",
        ]),
        "run web",
    );
    let web = address_on(&d, "web", "dnsnet");
    let with_dns = |command: &[&str]| {
        let mut args = vec![
            "run",
            "--rm",
            "--network",
            "dnsnet",
            "--dns",
            OWN,
            "--dns-search",
            "example.test",
            "--dns-option",
            "ndots:1",
            "busybox",
        ];
        args.extend_from_slice(command);
        d.docker(&args)
    };
    let conf = ok(&with_dns(&["cat", "/etc/resolv.conf"]), "resolv.conf");
    assert_eq!(
        conf,
        format!("nameserver {gateway}\nsearch example.test\noptions ndots:1")
    );
    let found = ok(&with_dns(&["nslookup", "web."]), "nslookup web");
    assert!(found.contains(&web), "{found}");
    let external = format!("{}.", EXTERNAL.0);
    let found = ok(&with_dns(&["nslookup", &external]), "nslookup external");
    assert!(found.contains("192.0.2.53"), "{found}");
    // Without `--dns` the host's resolver is asked, and it is silent.
    let out = run_on(&d, "dnsnet", &["nslookup", &external]);
    assert!(!out.stdout.contains("192.0.2.53"), "{out:?}");

    ok(&d.docker(&["rm", "-f", "web"]), "rm");
    ok(&d.docker(&["network", "rm", "dnsnet"]), "network rm");
    drop(d);
    drop(stub);
}

/// `berth run --network-alias` through berth's own client: a second
/// container on the network resolves each alias to the first one's
/// address; off a user-defined network the flag is refused with the
/// docker CLI's message and nothing is created.
#[test]
fn berth_run_network_alias_names_the_container_for_the_others() {
    berth_tests::require::root();
    let (_dir, d) = daemon_with_silent_host_resolver("127.0.0.163");
    ok(&d.berth(&["network", "create", "aliasnet"]), "create");
    ok(
        &d.berth(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "aliasnet",
            "--network-alias",
            "site",
            "--network-alias",
            "www.site",
            "busybox",
            "sleep",
            "1000",
        ]),
        "berth run --network-alias",
    );
    let web = address_on(&d, "web", "aliasnet");
    for alias in ["site.", "www.site."] {
        let found = ok(
            &d.berth(&[
                "run",
                "--rm",
                "--network",
                "aliasnet",
                "busybox",
                "nslookup",
                alias,
            ]),
            alias,
        );
        assert!(found.contains(&web), "{alias}: {found}");
    }
    let containers = d.container_ids();
    let out = d.berth(&["run", "--rm", "--network-alias", "x", "busybox", "true"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr
            .contains("network-scoped aliases are only supported for user-defined networks"),
        "{out:?}"
    );
    assert_eq!(d.container_ids(), containers, "a refused container is left");

    ok(&d.berth(&["rm", "-f", "web"]), "rm");
    ok(&d.berth(&["network", "rm", "aliasnet"]), "network rm");
}
