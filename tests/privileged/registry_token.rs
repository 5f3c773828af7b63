//! A registry with bearer-token auth (issue 11: "Basic and bearer-token
//! flows ... scopes, token caching"): Debian's `docker-registry` with
//! `auth: token`, its tokens issued by the test's token service
//! (`tests/src/tokenauth.rs`), driven through the real `docker` CLI.

use std::collections::BTreeSet;

use berth_tests::daemon::Daemon;
use berth_tests::registry::{Registry, gzip_five_layer_layout};
use berth_tests::tokenauth::{TokenRequest, TokenServer};

fn login(d: &Daemon, registry: &Registry, user: &str, password: &str) -> berth_tests::cmd::Output {
    d.docker_with_input(
        &["login", "-u", user, "--password-stdin", &registry.addr],
        Some(format!("{password}\n").as_bytes()),
    )
}

fn issued(requests: &[TokenRequest]) -> Vec<BTreeSet<String>> {
    requests
        .iter()
        .filter(|r| r.issued)
        .map(|r| r.scopes.iter().cloned().collect())
        .collect()
}

fn images(d: &Daemon) -> String {
    d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok()
}

#[test]
fn a_token_registry_serves_each_user_what_their_tokens_grant() {
    let tokens = TokenServer::start();
    let registry = Registry::start_with_tokens(&tokens);
    let tmp = tempfile::tempdir().expect("tempdir");
    gzip_five_layer_layout(&tmp.path().join("layout"), "tokens");
    for repo in ["alice/base:v1", "public/app:v1", "secret/app:v1"] {
        registry.push_layout(&tmp.path().join("layout"), "v1", repo);
    }
    let d = Daemon::start();

    // Anonymous: the public repository only.
    let out = d
        .docker(&["pull", &registry.reference("public/app:v1")])
        .ok();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let out = d.docker(&["pull", &registry.reference("alice/base:v1")]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(out.stderr.contains("unauthorized"), "{out:#?}");

    // A wrong password is refused by the token service; nothing stored.
    let out = login(&d, &registry, "alice", "wrong");
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr.contains("incorrect username or password"),
        "{out:#?}"
    );
    assert!(
        !d.dir().join("docker-config/config.json").exists()
            || !std::fs::read_to_string(d.dir().join("docker-config/config.json"))
                .unwrap_or_default()
                .contains(&registry.addr),
        "a refused login stored credentials"
    );
    let out = login(&d, &registry, "alice", "alice-pw");
    assert!(out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("Login Succeeded"), "{out:#?}");

    // alice's own repository: one token for the pull, not one per blob
    // (a manifest, a config and five layers).
    tokens.clear();
    let out = d
        .docker(&["pull", &registry.reference("alice/base:v1")])
        .ok();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let asked = issued(&tokens.requests());
    assert!(
        !asked.is_empty() && asked.len() <= 2,
        "tokens asked for one pull: {asked:?}"
    );
    assert!(
        asked.iter().all(|s| s
            .iter()
            .all(|scope| scope.starts_with("repository:alice/base:"))),
        "{asked:?}"
    );

    // Not hers to read: refused, nothing committed.
    let before = images(&d);
    let out = d.docker(&["pull", &registry.reference("secret/app:v1")]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(out.stderr.contains("unauthorized"), "{out:#?}");
    assert_eq!(images(&d), before);
    d.assert_graph_scratch_empty();

    // A push to another of her repositories mounts every layer from where
    // this daemon pulled it, with a token that reads the source and
    // writes the target: one for all five mounts, and one per kind of
    // request, not one per layer.
    let copy = registry.reference("alice/copy:v1");
    d.docker(&["tag", &registry.reference("alice/base:v1"), &copy])
        .ok();
    tokens.clear();
    let out = d.docker(&["push", &copy]).ok();
    let asked = issued(&tokens.requests());
    assert_eq!(out.matches("Mounted from").count(), 5, "{out}\n{asked:#?}");
    assert!(!out.contains("Pushed"), "{out}");
    let mounts: Vec<&BTreeSet<String>> = asked
        .iter()
        .filter(|s| s.contains("repository:alice/copy:pull,push") && s.len() == 2)
        .collect();
    assert_eq!(mounts.len(), 1, "one token for the mounts: {asked:#?}");
    assert!(
        mounts[0]
            .iter()
            .any(|s| s == "repository:public/app:pull" || s == "repository:alice/base:pull"),
        "{asked:#?}"
    );
    assert!(asked.len() <= 4, "{asked:#?}");

    // Her repositories through the catalog and the tag list, with tokens
    // for those scopes.
    let out = d
        .docker(&[
            "search",
            "--format",
            "{{.Name}}",
            &format!("{}/alice", registry.addr),
        ])
        .ok();
    let names: BTreeSet<&str> = out.lines().collect();
    assert_eq!(
        names,
        [
            format!("{}/alice/base", registry.addr).as_str(),
            format!("{}/alice/copy", registry.addr).as_str(),
        ]
        .into(),
        "{out}"
    );
    let out = d
        .berth(&["search", "--list-tags", &registry.reference("alice/copy")])
        .ok();
    assert!(out.lines().any(|l| l.ends_with(" v1")), "{out}");

    // Pushing where she may only read is refused.
    let shared = registry.reference("shared/app:v1");
    d.docker(&["tag", &copy, &shared]).ok();
    let out = d.docker(&["push", &shared]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr.contains("unauthorized") || out.stderr.contains("denied"),
        "{out:#?}"
    );

    // A second daemon pulls what she pushed, byte for byte.
    let b = Daemon::start();
    assert!(login(&b, &registry, "alice", "alice-pw").status.success());
    let out = b.docker(&["pull", &copy]).ok();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let out = b.docker(&["run", "--rm", &copy, "cat", "/layer1.txt"]).ok();
    assert_eq!(out, "1 tokens\n");
}
