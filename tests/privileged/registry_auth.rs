//! The registry policy end to end (issue 11): berthd holds the credentials
//! (the client's `X-Registry-Auth`, the admin's `--registry-auth-config`),
//! the `registry-policy` plugin chooses which one goes to which registry
//! without seeing a secret, against Debian's `docker-registry` with
//! htpasswd auth.

use std::time::{Duration, Instant};

use berth_tests::daemon::Daemon;
use berth_tests::registry::Registry;

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

#[test]
fn a_registry_policy_plugin_maps_a_registry_to_another_stored_credential() {
    let built = test_plugins();
    let registry = Registry::start_with_auth("berth", "s3cret");
    let tmp = tempfile::tempdir().expect("tempdir");
    registry.push_five_layer("private/app:v1", "policy");
    let reference = registry.reference("private/app:v1");

    // The admin holds the registry's password under another name only, so
    // the default policy (the client's, else the admin's for that
    // registry) never presents it.
    let admin = tmp.path().join("registry-auth.json");
    std::fs::write(
        &admin,
        // base64("berth:s3cret")
        r#"{"auths":{"https://vault.berth.test/v1/":{"auth":"YmVydGg6czNjcmV0"}}}"#,
    )
    .expect("write admin config");
    let p = PluginDir::new();
    std::fs::write(
        p.grants(),
        format!(
            "[plugin.example-registry-policy.config]\n\"map.{}\" = \"vault.berth.test\"\n",
            registry.addr
        ),
    )
    .expect("write grants");
    let mut d = p.start_with(&["--registry-auth-config", admin.to_str().expect("utf-8")]);
    let builtin = d.http("GET", "/berth/plugins/registry-policy-default", b"");
    assert_eq!(builtin.status, 200, "{}", builtin.text());
    assert_eq!(builtin.json()["active"], true, "{}", builtin.text());

    let denied = |d: &Daemon| {
        let out = d.docker(&["pull", &reference]);
        assert_eq!(out.code(), 1, "{out:#?}");
        assert!(out.stderr.contains("unauthorized"), "{out:#?}");
    };
    denied(&d);

    // The plugin, hot-loaded from the directory, presents the admin's
    // vault.berth.test credential to the registry: the pull succeeds only
    // because of it.
    install(&p.plugins(), &built.example_registry_policy, None);
    wait_for(&d, "example-registry-policy", 200);
    let out = d.docker(&["pull", &reference]).ok();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let out = d
        .docker(&["run", "--rm", &reference, "cat", "/layer4.txt"])
        .ok();
    assert_eq!(out, "4 policy\n");

    // Removed, the built-in default serves again: anonymous once more.
    d.docker(&["rmi", &reference]).ok();
    std::fs::remove_file(p.plugins().join("example-registry-policy.wasm")).expect("rm wasm");
    std::fs::remove_file(p.plugins().join("example-registry-policy.toml")).expect("rm toml");
    wait_for(&d, "example-registry-policy", 404);
    denied(&d);

    // A mapping to a credential berthd does not hold refuses the pull with
    // the plugin's words rather than trying anonymously (grants are read
    // at start: the daemon restarts on the new ones).
    std::fs::write(
        p.grants(),
        format!(
            "[plugin.example-registry-policy.config]\n\"map.{}\" = \"nowhere.test\"\n",
            registry.addr
        ),
    )
    .expect("rewrite grants");
    install(&p.plugins(), &built.example_registry_policy, None);
    d.restart();
    wait_for(&d, "example-registry-policy", 200);
    let out = d.docker(&["pull", &reference]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "no credential held for nowhere.test (mapped from {})",
            registry.addr
        )),
        "{out:#?}"
    );
}

#[test]
fn the_client_s_credential_goes_first_and_the_admin_s_for_its_own_registry() {
    let registry = Registry::start_with_auth("berth", "s3cret");
    let tmp = tempfile::tempdir().expect("tempdir");
    registry.push_five_layer("private/app:v1", "admin");
    let reference = registry.reference("private/app:v1");
    let admin = tmp.path().join("registry-auth.json");
    std::fs::write(
        &admin,
        format!(
            r#"{{"auths":{{"http://{}/":{{"username":"berth","password":"s3cret"}}}}}}"#,
            registry.addr
        ),
    )
    .expect("write admin config");
    let d = Daemon::start_with(&["--registry-auth-config", admin.to_str().expect("utf-8")]);

    // No login: the admin's credential for this registry is presented.
    let out = d.docker(&["pull", &reference]).ok();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");

    // A client that sends its own (wrong) credential gets it used: the
    // admin's is not a fallback that widens what the client asked for.
    d.docker(&["rmi", &reference]).ok();
    std::fs::write(
        d.dir().join("docker-config/config.json"),
        format!(
            // base64("berth:wrong")
            r#"{{"auths":{{"{}":{{"auth":"YmVydGg6d3Jvbmc="}}}}}}"#,
            registry.addr
        ),
    )
    .expect("write the client's config");
    let out = d.docker(&["pull", &reference]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(out.stderr.contains("unauthorized"), "{out:#?}");

    // An unreadable admin file stops berthd before it creates anything,
    // naming the file.
    let root = tmp.path().join("root");
    let out = berth_tests::cmd::run_with_timeout(
        std::process::Command::new(berth_tests::workspace_bin("berthd"))
            .args(["--registry-auth-config", "/nonexistent/registry-auth.json"])
            .arg("-H")
            .arg(format!("unix://{}", tmp.path().join("s.sock").display()))
            .arg("--data-root")
            .arg(&root)
            .arg("--exec-root")
            .arg(tmp.path().join("exec"))
            .arg("--pidfile")
            .arg(tmp.path().join("pid")),
        Duration::from_secs(30),
    );
    assert!(!out.status.success(), "{out:#?}");
    assert!(
        out.stderr
            .contains("failed to read registry credentials /nonexistent/registry-auth.json"),
        "{out:#?}"
    );
    assert!(
        !root.exists(),
        "berthd created its data root before failing"
    );
}
