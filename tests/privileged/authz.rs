//! Authorization through a real berthd and the real docker CLI: the
//! example authz plugin dropped into the plugin directory denies
//! `--privileged` and binds of `/` with its message (and nothing is
//! created), a trapping authz plugin denies everything, removing it restores
//! the built-in default, and a policy named with `--authorization-plugin`
//! that goes away denies everything rather than falling back.

use std::time::{Duration, Instant};

use berth_tests::daemon::Daemon;

use crate::plugins::plugins_support::{PluginDir, install, test_plugins};

/// Waits (bounded) until `GET /_ping` answers `status`: the watcher has
/// loaded or unloaded a policy.
fn wait_for_ping(d: &Daemon, status: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = d.http("GET", "/_ping", b"");
        if r.status == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: /_ping still answers {} {}",
            r.status,
            r.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn example_authz_denies_privileged_and_root_binds_and_a_trapping_policy_denies_everything() {
    berth_tests::require::root();
    let built = test_plugins();
    let p = PluginDir::new();
    install(&p.plugins(), &built.example_authz, None);
    let d = p.start();
    d.import_busybox("busybox");

    let policy = d.http("GET", "/berth/plugins/example-authz", b"").json();
    assert_eq!(policy["active"], true, "{policy}");
    assert_eq!(policy["wit"], "1.1.0", "{policy}");

    let out = d.docker(&["run", "--rm", "busybox", "true"]);
    assert_eq!(out.code(), 0, "{out:?}");

    for (args, message) in [
        (
            &["run", "--rm", "--privileged", "busybox", "true"][..],
            "authorization denied by plugin example-authz: privileged containers are not allowed",
        ),
        (
            &["run", "--rm", "-v", "/:/host", "busybox", "true"][..],
            "authorization denied by plugin example-authz: binding the host's root into a container is not allowed",
        ),
        (
            &[
                "run",
                "--rm",
                "--mount",
                "type=bind,source=/,target=/host",
                "busybox",
                "true",
            ][..],
            "authorization denied by plugin example-authz: binding the host's root into a container is not allowed",
        ),
    ] {
        let out = d.docker(args);
        assert_ne!(out.code(), 0, "{args:?}: {out:?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    // Denied before the create handler ran: nothing was created.
    assert!(d.container_ids().is_empty(), "{:?}", d.container_ids());

    // Each denial is a plugin event.
    let denials: Vec<serde_json::Value> = d
        .past_events(None)
        .into_iter()
        .filter(|e| e["Type"] == "plugin" && e["Action"] == "deny")
        .collect();
    assert_eq!(denials.len(), 3, "{denials:#?}");
    let attributes = &denials[0]["Actor"]["Attributes"];
    assert_eq!(attributes["name"], "example-authz");
    assert!(
        attributes["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("denied POST /containers/create by ")),
        "{attributes}"
    );

    // A policy that traps on every request: every request is denied,
    // `_ping` included, naming the plugin, its version and the trap.
    let trapping = format!(
        "{}\n[config]\nalways = \"panic\"\n",
        built.misbehave_authz.manifest
    );
    install(&p.plugins(), &built.misbehave_authz, Some(&trapping));
    wait_for_ping(&d, 500, "the trapping policy never loaded");
    let out = d.docker(&["ps", "-a"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("plugin misbehave-authz 1.0.0 failed with error: authorize: trapped"),
        "{}",
        out.stderr
    );
    let r = d.http("GET", "/containers/json", b"");
    assert_eq!(r.status, 500, "{}", r.text());

    // Removing the authz plugins restores the built-in default.
    for file in [
        "misbehave-authz.wasm",
        "misbehave-authz.toml",
        "example-authz.wasm",
        "example-authz.toml",
    ] {
        std::fs::remove_file(p.plugins().join(file)).expect("remove plugin file");
    }
    wait_for_ping(&d, 200, "the default policy never came back");
    let default = d.http("GET", "/berth/plugins/authz-default", b"").json();
    assert_eq!(default["active"], true, "{default}");
    let out = d.docker(&["run", "--rm", "busybox", "true"]);
    assert_eq!(out.code(), 0, "{out:?}");
}

#[test]
fn a_named_authorization_plugin_that_goes_away_denies_everything() {
    berth_tests::require::root();
    let built = test_plugins();
    let p = PluginDir::new();
    install(&p.plugins(), &built.example_authz, None);
    let d = p.start_with(&["--authorization-plugin", "example-authz"]);
    assert_eq!(d.http("GET", "/containers/json", b"").status, 200);

    std::fs::remove_file(p.plugins().join("example-authz.wasm")).expect("remove wasm");
    std::fs::remove_file(p.plugins().join("example-authz.toml")).expect("remove manifest");
    wait_for_ping(&d, 500, "the named policy never unloaded");
    let r = d.http("GET", "/containers/json", b"");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.json()["message"],
        "plugin example-authz failed with error: authorization plugin example-authz is not \
         loaded: no plugin by that name"
    );

    // Back in place, it decides again (and the daemon can be cleaned up).
    install(&p.plugins(), &built.example_authz, None);
    wait_for_ping(&d, 200, "the named policy never came back");
}
