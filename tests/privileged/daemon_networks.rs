//! `docker network create|ls|inspect|rm` against berthd (issue 12): pure
//! store work while no container connects, so they run with or without
//! the kernel network driver.

use berth_tests::daemon::Daemon;

#[test]
fn docker_network_create_ls_inspect_rm() {
    let mut d = Daemon::start();
    let id = d
        .docker(&[
            "network",
            "create",
            "--subnet",
            "10.99.0.0/24",
            "--gateway",
            "10.99.0.254",
            "--label",
            "tier=web",
            "front",
        ])
        .ok()
        .trim()
        .to_owned();
    assert_eq!(id.len(), 64, "{id}");
    let ls = d
        .docker(&[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}",
        ])
        .ok();
    assert_eq!(
        ls,
        "bridge bridge local\nfront bridge local\nhost host local\nnone null local\n"
    );
    let filtered = d
        .docker(&[
            "network",
            "ls",
            "-q",
            "--no-trunc",
            "--filter",
            "label=tier=web",
        ])
        .ok();
    assert_eq!(filtered.trim(), id);
    let inspect = d
        .docker(&[
            "network",
            "inspect",
            "-f",
            "{{.Name}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels}}",
            "front",
        ])
        .ok();
    assert_eq!(
        inspect.trim(),
        "front 10.99.0.0/24 10.99.0.254 map[tier:web]"
    );

    // moby's refusals.
    let overlap = d.docker(&["network", "create", "--subnet", "10.99.0.128/25", "other"]);
    assert_ne!(overlap.code(), 0);
    assert!(
        overlap
            .stderr
            .contains("invalid pool request: Pool overlaps with other one on this address space"),
        "{overlap:?}"
    );
    let duplicate = d.docker(&["network", "create", "front"]);
    assert!(
        duplicate
            .stderr
            .contains("network with name front already exists"),
        "{duplicate:?}"
    );
    let driver = d.docker(&["network", "create", "-d", "macvlan", "mv"]);
    assert!(
        driver
            .stderr
            .contains("is not supported by berth: only bridge"),
        "{driver:?}"
    );
    let predefined = d.docker(&["network", "rm", "bridge"]);
    assert!(
        predefined
            .stderr
            .contains("bridge is a pre-defined network and cannot be removed"),
        "{predefined:?}"
    );
    let unknown = d.http(
        "GET",
        "/networks?filters=%7B%22colour%22%3A%5B%22red%22%5D%7D",
        b"",
    );
    assert_eq!(unknown.status, 400, "{}", unknown.text());

    assert_eq!(d.docker(&["network", "rm", "front"]).ok().trim(), "front");

    // The same through berth.
    let back = d
        .berth(&["network", "create", "--internal", "back"])
        .ok()
        .trim()
        .to_owned();
    assert_eq!(
        d.berth(&["network", "ls", "-q", "--no-trunc", "-f", "name=back"])
            .ok()
            .trim(),
        back
    );
    let shown = d.berth(&["network", "inspect", "back"]).ok();
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("inspect JSON");
    assert_eq!(shown[0]["Internal"], true, "{shown}");
    assert_eq!(shown[0]["Driver"], "bridge", "{shown}");
    let refused = d.berth(&["network", "rm", "none"]);
    assert_ne!(refused.code(), 0);
    assert!(
        refused
            .stderr
            .contains("none is a pre-defined network and cannot be removed"),
        "{refused:?}"
    );
    assert_eq!(d.berth(&["network", "rm", "back"]).ok().trim(), "back");
    let missing = d.docker(&["network", "inspect", "front"]);
    assert_ne!(missing.code(), 0);
    // The default network survives a restart with the same id.
    let bridge = d
        .docker(&["network", "inspect", "-f", "{{.Id}}", "bridge"])
        .ok();
    d.restart();
    assert_eq!(
        d.docker(&["network", "inspect", "-f", "{{.Id}}", "bridge"])
            .ok(),
        bridge
    );
}
