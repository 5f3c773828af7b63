//! The network policy end to end (issue 12): berthd's built-in
//! `network-policy-default` decides containers' addresses and host ports
//! as the engine did; a `network-policy` plugin hot-loaded into the plugin
//! directory of a running berthd replaces it (here one that refuses host
//! ports below 1024 and gives addresses from the top of the subnet), and
//! its removal brings the default back, without a restart. With WIT 1.3
//! the plugin also chooses new networks' subnets (from its own pools) and
//! both addresses of a dual-stack container, every plan checked by berthd.
//! The example policy's name servers reach the containers, on the default
//! bridge and through the embedded DNS server of a user network.

use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::time::{Duration, Instant};

use berth_tests::cmd::Output;
use berth_tests::daemon::Daemon;
use berth_tests::dns_stub::{DnsStub, EXTERNAL, host_resolv_conf};

use crate::plugins::plugins_support::{PluginDir, install, test_plugins};

/// Waits (bounded) until `GET /berth/plugins/NAME` answers `status` and,
/// when it is 200, the plugin is the active one for its world.
fn wait_for(d: &Daemon, name: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = d.http("GET", &format!("/berth/plugins/{name}"), b"");
        if r.status == status && (status != 200 || r.json()["active"] == true) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "plugin {name} never answered {status} (active): {} {}",
            r.status,
            r.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ip_of(d: &Daemon, name: &str) -> String {
    d.docker(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.bridge.IPAddress}}",
        name,
    ])
    .ok()
    .trim()
    .to_owned()
}

/// The default bridge's subnet: (network address, prefix length).
fn bridge_subnet(d: &Daemon) -> (Ipv4Addr, u32) {
    let cidr = d
        .docker(&[
            "network",
            "inspect",
            "bridge",
            "--format",
            "{{(index .IPAM.Config 0).Subnet}}",
        ])
        .ok();
    let (base, bits) = cidr
        .trim()
        .split_once('/')
        .unwrap_or_else(|| panic!("subnet {cidr:?}"));
    (base.parse().expect("IPv4"), bits.parse().expect("prefix"))
}

/// A TCP port on 127.0.0.1 that is free now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Nothing of container `name`'s refused start is left: it is created,
/// without a sandbox, on no network's list, in no nftables rule, and
/// 127.0.0.1:`port` is free on the host.
fn nothing_left(d: &Daemon, name: &str, port: u16) {
    let state = d
        .docker(&[
            "inspect",
            "-f",
            "{{.State.Status}}|{{.NetworkSettings.SandboxKey}}|{{.Id}}",
            name,
        ])
        .ok();
    let mut parts = state.trim().split('|');
    assert_eq!(parts.next(), Some("created"), "{state}");
    assert_eq!(parts.next(), Some(""), "{state}");
    let id = parts.next().expect("id").to_owned();
    let on_bridge = d
        .docker(&["network", "inspect", "bridge", "-f", "{{json .Containers}}"])
        .ok();
    assert!(!on_bridge.contains(&id), "{on_bridge}");
    let netns = d.exec_root().join("netns").join(&id);
    assert!(!netns.exists(), "{} left", netns.display());
    let rules = berth_tests::cmd::run(
        ["nft", "list", "table", "inet", d.nft_table()],
        Duration::from_secs(30),
    );
    assert!(
        !rules.stdout.contains(&format!("dport {port} ")),
        "{rules:?}"
    );
    TcpListener::bind(("127.0.0.1", port)).expect("the host port is not held");
}

#[test]
fn a_network_policy_plugin_replaces_the_default_while_berthd_runs() {
    let built = test_plugins();
    let p = PluginDir::new();
    let d = p.start();
    d.import_busybox("busybox");
    let builtin = d.http("GET", "/berth/plugins/network-policy-default", b"");
    assert_eq!(builtin.status, 200, "{}", builtin.text());
    assert_eq!(builtin.json()["active"], true, "{}", builtin.text());

    // The default: the lowest free address, as dockerd's IPAM.
    let (network, prefix) = bridge_subnet(&d);
    let base = u32::from(network);
    let lowest = |n: u32| Ipv4Addr::from(base + n).to_string();
    d.docker(&["run", "-d", "--name", "first", "busybox", "sleep", "60"])
        .ok();
    assert_eq!(ip_of(&d, "first"), lowest(2));

    // The replacement, hot-loaded into the running berthd.
    install(&p.plugins(), &built.example_network_policy, None);
    wait_for(&d, "example-network-policy", 200);
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        "low",
        "-p",
        "127.0.0.1:987:80",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains(r#"network policy "example-network-policy 1.1.0" refused container "#)
            && out
                .stderr
                .contains("host port 987 is below 1024: this host publishes on ports 1024 and up"),
        "{out:?}"
    );
    nothing_left(&d, "low", 987);

    let high = free_port();
    let publish = format!("127.0.0.1:{high}:80");
    d.docker(&[
        "run", "-d", "--name", "high", "-p", &publish, "busybox", "sleep", "60",
    ])
    .ok();
    let port = d.docker(&["port", "high"]).ok();
    assert_eq!(port.trim(), format!("80/tcp -> 127.0.0.1:{high}"));
    // The plugin's choice: the top host address of the subnet.
    let top = Ipv4Addr::from(base | (u32::MAX >> prefix));
    let top = Ipv4Addr::from(u32::from(top) - 1).to_string();
    assert_eq!(ip_of(&d, "high"), top);

    // Removed, the default is back: the next lowest address, and port 987
    // may be published again.
    std::fs::remove_file(p.plugins().join("example-network-policy.wasm")).expect("rm wasm");
    std::fs::remove_file(p.plugins().join("example-network-policy.toml")).expect("rm toml");
    wait_for(&d, "example-network-policy", 404);
    let builtin = d.http("GET", "/berth/plugins/network-policy-default", b"");
    assert_eq!(builtin.json()["active"], true, "{}", builtin.text());
    d.docker(&["rm", "low"]).ok();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "back",
        "-p",
        "127.0.0.1:987:80",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    assert_eq!(ip_of(&d, "back"), lowest(3));
    let port = d.docker(&["port", "back"]).ok();
    assert_eq!(port.trim(), "80/tcp -> 127.0.0.1:987");
    d.docker(&["rm", "-f", "first", "high", "back"]).ok();
}

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {out:?}");
    out.stdout.trim().to_owned()
}

/// The policy's name servers (issue 12): `example-network` plans the one
/// of its `dns` setting, here a DNS stub on the default bridge's gateway,
/// and the daemon's own resolver answers nothing (no one listens on
/// 127.0.0.164). On the default bridge the stub is the container's name
/// server (its `--dns` goes first); on a user network the container's
/// `resolv.conf` names the embedded server, which resolves the network's
/// containers and forwards the other names to the stub.
#[test]
fn a_network_policys_name_servers_are_where_containers_ask() {
    berth_tests::require::root();
    let built = test_plugins();
    let p = PluginDir::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let resolv = host_resolv_conf(dir.path(), "127.0.0.164");
    let d = p.start_with(&["--dns-resolv-conf", &resolv]);
    d.import_busybox("busybox");
    let bridge_gateway = d.network_gateway("bridge");
    let stub = DnsStub::start(&bridge_gateway);
    let manifest = built.example_network.manifest.replace(
        "dns = \"192.0.2.53\"",
        &format!("dns = \"{bridge_gateway}\""),
    );
    assert_ne!(manifest, built.example_network.manifest, "the dns setting");
    install(&p.plugins(), &built.example_network, Some(&manifest));
    wait_for(&d, "example-network", 200);

    let run = |args: &[&str]| {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        d.docker(&all)
    };
    let external = format!("{}.", EXTERNAL.0);
    // The default bridge: the policy's server, the host's search and
    // options.
    let conf = ok(&run(&["busybox", "cat", "/etc/resolv.conf"]), "resolv.conf");
    assert_eq!(
        conf,
        format!("nameserver {bridge_gateway}\nsearch berth-dns.test\noptions ndots:0")
    );
    let found = ok(&run(&["busybox", "nslookup", &external]), "nslookup");
    assert!(found.contains("192.0.2.53"), "{found}");
    let conf = ok(
        &run(&["--dns", "192.0.2.99", "busybox", "cat", "/etc/resolv.conf"]),
        "--dns",
    );
    assert!(conf.starts_with("nameserver 192.0.2.99\n"), "{conf}");
    assert!(!conf.contains(&bridge_gateway), "{conf}");

    // A user network: the embedded server, which forwards to the stub.
    ok(
        &d.docker(&["network", "create", "polnet"]),
        "network create",
    );
    let gateway = d.network_gateway("polnet");
    ok(
        &d.docker(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "polnet",
            "busybox",
            "sleep",
            "1000",
        ]),
        "run web",
    );
    let web = ok(
        &d.docker(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.polnet.IPAddress}}",
            "web",
        ]),
        "web's address",
    );
    let on_net = |command: &[&str]| {
        let mut args = vec!["--network", "polnet", "busybox"];
        args.extend_from_slice(command);
        run(&args)
    };
    let conf = ok(&on_net(&["cat", "/etc/resolv.conf"]), "resolv.conf");
    assert_eq!(
        conf,
        format!("nameserver {gateway}\nsearch berth-dns.test\noptions ndots:0")
    );
    let found = ok(&on_net(&["nslookup", "web."]), "nslookup web");
    assert!(found.contains(&web), "{found}");
    let found = ok(&on_net(&["nslookup", &external]), "nslookup external");
    assert!(found.contains("192.0.2.53"), "{found}");

    ok(&d.docker(&["rm", "-f", "web"]), "rm");
    ok(&d.docker(&["network", "rm", "polnet"]), "network rm");
    drop(d);
    drop(stub);
}

/// The subnets of network `name`, as `docker network inspect` shows them.
fn subnets_of(d: &Daemon, name: &str) -> Vec<String> {
    d.docker(&[
        "network",
        "inspect",
        name,
        "--format",
        "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
    ])
    .ok()
    .split_whitespace()
    .map(str::to_owned)
    .collect()
}

/// `cidr`'s base address and prefix length.
fn split_cidr(cidr: &str) -> (&str, u32) {
    let (base, bits) = cidr
        .split_once('/')
        .unwrap_or_else(|| panic!("{cidr:?} is not CIDR"));
    (base, bits.parse().expect("prefix"))
}

/// WIT 1.3 through the real docker CLI: `example-network-policy` (pools
/// `10.123.0.0/16` in /24s and `fd00:123::/48` in /64s, from its manifest)
/// gives `docker network create` without `--subnet` its subnet, both
/// families for `--ipv6`, and a container there both addresses from the
/// top; an invalid plan (an admin's pool size leaving /31s) fails the
/// create with berthd's reason, naming the plugin, and leaves no network.
#[test]
fn a_policy_plans_new_subnets_and_both_addresses_of_a_dual_stack_container() {
    let built = test_plugins();
    let p = PluginDir::new();
    let d = p.start();
    d.import_busybox("busybox");
    let plugin = &built.example_network_policy;

    let tiny = plugin.manifest.replace("prefix = 24", "prefix = 31");
    assert_ne!(tiny, plugin.manifest, "the manifest sets prefix = 24");
    install(&p.plugins(), plugin, Some(&tiny));
    wait_for(&d, "example-network-policy", 200);
    let out = d.docker(&["network", "create", "tiny"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains(
            r#"network policy "example-network-policy 1.1.0" gave an invalid IPv4 subnet for network tiny: "#
        ) && out.stderr.contains("/31"),
        "{out:?}"
    );
    let names = d.docker(&["network", "ls", "--format", "{{.Name}}"]).ok();
    assert!(!names.lines().any(|n| n == "tiny"), "{names}");

    // The plugin as shipped.
    std::fs::remove_file(p.plugins().join("example-network-policy.toml")).expect("rm toml");
    std::fs::remove_file(p.plugins().join("example-network-policy.wasm")).expect("rm wasm");
    wait_for(&d, "example-network-policy", 404);
    install(&p.plugins(), plugin, None);
    wait_for(&d, "example-network-policy", 200);

    d.docker(&["network", "create", "carved"]).ok();
    let carved = subnets_of(&d, "carved");
    assert_eq!(carved.len(), 1, "{carved:?}");
    let (base, bits) = split_cidr(&carved[0]);
    assert!(base.starts_with("10.123.") && bits == 24, "{carved:?}");

    d.docker(&["network", "create", "--ipv6", "dual"]).ok();
    let dual = subnets_of(&d, "dual");
    assert_eq!(dual.len(), 2, "{dual:?}");
    let (v4, v4_bits) = split_cidr(&dual[0]);
    let (v6, v6_bits) = split_cidr(&dual[1]);
    assert!(v4.starts_with("10.123.") && v4_bits == 24, "{dual:?}");
    assert_ne!(dual[0], carved[0], "a subnet in use is not given twice");
    assert!(v6.starts_with("fd00:123:") && v6_bits == 64, "{dual:?}");

    d.docker(&[
        "run",
        "-d",
        "--name",
        "both",
        "--network",
        "dual",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    let top4 = Ipv4Addr::from(u32::from(v4.parse::<Ipv4Addr>().expect("IPv4")) | 254);
    let top6 =
        Ipv6Addr::from(u128::from(v6.parse::<Ipv6Addr>().expect("IPv6")) | u128::from(u64::MAX));
    let addresses = d
        .docker(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.dual.IPAddress}} {{.NetworkSettings.Networks.dual.GlobalIPv6Address}}",
            "both",
        ])
        .ok();
    assert_eq!(addresses.trim(), format!("{top4} {top6}"));
    let inside = d.docker(&["exec", "both", "ip", "addr"]).ok();
    assert!(
        inside.contains(&format!("inet {top4}/24")) && inside.contains(&format!("inet6 {top6}/64")),
        "{inside}"
    );
    d.docker(&["rm", "-f", "both"]).ok();
    d.docker(&["network", "rm", "carved", "dual"]).ok();
}

/// `--ipv6` without an IPv6 subnet, as Docker 27 and later: the built-in
/// policy gives the network the first /64 of the daemon's ULA /48, which
/// moby derives from its host id (`deriveULABaseNetwork`: the low 40 bits
/// of the first 8 bytes of the id's SHA-256 after `fd`) and berthd from
/// its engine id, the ID `docker info` shows; a container there gets an
/// address in it and reaches another over IPv6.
#[test]
fn ipv6_without_a_subnet_gets_a_64_of_the_engine_ids_ula_48() {
    use sha2::{Digest, Sha256};
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.docker(&["info", "-f", "{{.ID}}"]).ok();
    let sha = Sha256::digest(id.trim().as_bytes());
    let first: [u8; 8] = sha[..8].try_into().expect("8 bytes");
    let global_id = u64::from_be_bytes(first) & ((1 << 40) - 1);
    let base = Ipv6Addr::from((0xfd_u128 << 120) | (u128::from(global_id) << 80));

    d.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.231.64.0/24",
        "v6",
    ])
    .ok();
    assert_eq!(
        subnets_of(&d, "v6"),
        ["10.231.64.0/24".to_owned(), format!("{base}/64")]
    );

    for name in ["a", "b"] {
        d.docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "v6",
            "busybox",
            "sleep",
            "60",
        ])
        .ok();
    }
    let address = |name: &str| -> Ipv6Addr {
        d.docker(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.v6.GlobalIPv6Address}}",
            name,
        ])
        .ok()
        .trim()
        .parse()
        .expect("an IPv6 address")
    };
    let (a, b) = (address("a"), address("b"));
    for addr in [a, b] {
        assert_eq!(
            u128::from(addr) >> 64,
            u128::from(base) >> 64,
            "{addr} in {base}/64"
        );
    }
    let out = d.docker(&["exec", "b", "ping", "-c", "1", "-W", "5", &a.to_string()]);
    assert_eq!(out.code(), 0, "b pings a at {a}: {out:?}");
    d.docker(&["rm", "-f", "a", "b"]).ok();
    d.docker(&["network", "rm", "v6"]).ok();
}
