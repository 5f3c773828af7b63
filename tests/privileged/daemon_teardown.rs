//! An exit's network teardown goes on after the exit is recorded (issue
//! 12, `host/engine/src/daemon/teardown.rs`): through the docker CLI, a
//! storm of `run --rm` on a small user network all get an address and
//! leave nothing, a restart right after an exit has its network, and
//! `network rm` right after `run --rm` (compose's `down`) is not refused.

use std::collections::BTreeSet;
use std::time::Duration;

use berth_tests::cmd::run;
use berth_tests::daemon::Daemon;
use berth_tests::netlab::bridge_ports;

/// `run --rm` on `network`: the container's address and MAC.
fn run_rm(d: &Daemon, network: &str) -> (String, String) {
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            network,
            "busybox",
            "sh",
            "-c",
            "ip -4 -o addr show eth0 | awk '{print $4}'; cat /sys/class/net/eth0/address",
        ])
        .ok();
    let mut lines = out.lines();
    let addr = lines.next().unwrap_or_default().to_owned();
    let mac = lines.next().unwrap_or_default().to_owned();
    assert!(addr.starts_with("10.231.77.") && mac.len() == 17, "{out:?}");
    (addr, mac)
}

#[test]
fn a_storm_of_run_rm_on_a_small_network_gets_addresses_and_leaves_nothing() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // 13 addresses for containers: four at a time, each with the address
    // of one on its way out still leased, fit; the leases must go.
    d.docker(&["network", "create", "--subnet", "10.231.77.0/28", "storm"])
        .ok();
    let bridge = d.network_bridge("storm");
    let seen: Vec<(String, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| (0..6).map(|_| run_rm(&d, "storm")).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker"))
            .collect()
    });
    assert_eq!(seen.len(), 24);
    // Addresses come back (13 for 24 containers), each with its own MAC
    // (derived from the address, as moby's bridge driver does).
    let addresses: BTreeSet<&String> = seen.iter().map(|(a, _)| a).collect();
    assert!(addresses.len() <= 13, "{addresses:?}");
    for (addr, mac) in &seen {
        let last: u8 = addr
            .split('/')
            .next()
            .and_then(|ip| ip.rsplit('.').next())
            .and_then(|octet| octet.parse().ok())
            .unwrap_or_else(|| panic!("{addr}"));
        assert_eq!(mac, &format!("02:42:0a:e7:4d:{last:02x}"), "{addr}");
    }
    d.wait_for_network_teardowns();
    assert!(
        bridge_ports(&bridge).is_empty(),
        "{:?}",
        bridge_ports(&bridge)
    );
    let containers = d
        .docker(&["network", "inspect", "-f", "{{json .Containers}}", "storm"])
        .ok();
    assert_eq!(containers.trim(), "{}");
    let rules = d.nft_rules();
    assert!(!rules.contains("10.231.77.2 "), "{rules}");

    // compose's `down`: the containers, then the network at once.
    run_rm(&d, "storm");
    assert_eq!(d.docker(&["network", "rm", "storm"]).ok().trim(), "storm");
    let gone = run(
        ["ip", "link", "show", bridge.as_str()],
        Duration::from_secs(10),
    );
    assert_ne!(gone.code(), 0, "the bridge is left: {gone:?}");
    let netns_dir = d.exec_root().join("netns");
    let left: Vec<_> = std::fs::read_dir(&netns_dir)
        .map(|dir| dir.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "namespaces left: {left:?}");
    assert!(!d.nft_rules().contains(&bridge), "{}", d.nft_rules());
}

#[test]
fn a_container_started_again_right_after_its_exit_has_its_network() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.docker(&["network", "create", "--subnet", "10.231.78.0/24", "again"])
        .ok();
    let bridge = d.network_bridge("again");
    let show = "ip -4 -o addr show eth0 | awk '{print $4}'; ping -c 1 -W 5 10.231.78.1 >/dev/null && echo reached";
    let first = d
        .docker(&[
            "run",
            "--name",
            "twice",
            "--network",
            "again",
            "busybox",
            "sh",
            "-c",
            show,
        ])
        .ok();
    // Exited; its teardown may still be in flight when it starts again,
    // and the start waits for it: the same address, a working veth.
    let second = d.docker(&["start", "-a", "twice"]).ok();
    assert!(first.ends_with("/24\nreached\n"), "{first:?}");
    assert_eq!(second, first);
    for _ in 0..5 {
        assert_eq!(d.docker(&["start", "-a", "twice"]).ok(), first);
    }
    d.docker(&["rm", "twice"]).ok();
    d.wait_for_network_teardowns();
    assert!(
        bridge_ports(&bridge).is_empty(),
        "{:?}",
        bridge_ports(&bridge)
    );
    assert_eq!(d.docker(&["network", "rm", "again"]).ok().trim(), "again");
}
