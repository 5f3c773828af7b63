//! `docker push` / `berth push` from one berthd to a real registry
//! (Debian's `docker-registry`), pulled back into a second berthd with its
//! own data root; `docker search` / `berth search` through the registry's
//! catalog.

use berth_tests::daemon::Daemon;
use berth_tests::registry::{Registry, five_layer_layout, gzip_five_layer_layout};
use berth_tests::regproxy::{Fault, FaultProxy};

/// The `TAG: digest: sha256:... size: N` line's digest.
fn pushed_digest(out: &str, tag: &str) -> String {
    let prefix = format!("{tag}: digest: ");
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no digest line for {tag} in {out}"));
    let digest = line.split_whitespace().next().expect("digest").to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{line}"
    );
    digest
}

#[test]
fn a_pushed_image_pulls_into_a_second_daemon_with_the_same_ids() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let image = gzip_five_layer_layout(&tmp.path().join("layout"), "trip");
    registry.push_layout(&tmp.path().join("layout"), "v1", "test/app:v1");
    let source = registry.reference("test/app:v1");
    let copy = registry.reference("copy/app:v2");

    let a = Daemon::start();
    a.docker(&["pull", &source]).ok();
    a.docker(&["tag", &source, &copy]).ok();
    let out = a.docker(&["push", &copy]).ok();
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/copy/app]",
            registry.addr
        )),
        "{out}"
    );
    // Every layer came from test/app of this registry: mounted, never
    // recompressed or uploaded.
    assert_eq!(out.matches("Mounted from test/app").count(), 5, "{out}");
    assert!(!out.contains("Pushed"), "{out}");
    let digest = pushed_digest(&out, "v2");

    // A second daemon with its own data root pulls the same image.
    let b = Daemon::start();
    let out = b.docker(&["pull", &copy]).ok();
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(b.image_id(&copy), image.image_id);
    assert_eq!(a.image_id(&copy), image.image_id);
    let out = b
        .docker(&["run", "--rm", &copy, "cat", "/layer1.txt", "/layer4.txt"])
        .ok();
    assert_eq!(out, "1 trip\n4 trip\n");

    // Pushed again: every blob is found, the manifest is the same.
    let out = a.docker(&["push", &copy]).ok();
    assert_eq!(out.matches("Layer already exists").count(), 5, "{out}");
    assert_eq!(pushed_digest(&out, "v2"), digest);

    // A layer made in berth (a commit) is written, compressed and
    // uploaded; the base layers are mounted. `berth push` this time.
    let cid = a
        .docker(&["create", &source, "sh", "-c", "echo made > /made.txt"])
        .ok();
    let cid = cid.trim();
    a.docker(&["start", "-a", cid]).ok();
    let made = registry.reference("made/app:v1");
    a.docker(&["commit", cid, &made]).ok();
    let out = a.berth(&["push", &made]).ok();
    assert_eq!(out.matches("Mounted from").count(), 5, "{out}");
    assert_eq!(out.matches(": Pushed").count(), 1, "{out}");
    let made_digest = pushed_digest(&out, "v1");
    // The second push compresses nothing: the digests agree.
    let out = a.berth(&["push", &made]).ok();
    assert_eq!(out.matches("Layer already exists").count(), 6, "{out}");
    assert_eq!(pushed_digest(&out, "v1"), made_digest);
    let out = b.berth(&["pull", &made]).ok();
    assert!(out.contains(&format!("Digest: {made_digest}")), "{out}");
    assert_eq!(b.image_id(&made), a.image_id(&made));
    let out = b.docker(&["run", "--rm", &made, "cat", "/made.txt"]).ok();
    assert_eq!(out, "made\n");

    let pushes = a
        .past_events(Some("image"))
        .into_iter()
        .filter(|e| e["Action"] == "push")
        .count();
    assert_eq!(pushes, 4);
}

#[test]
fn a_push_needs_a_local_image_and_the_registry_s_credentials() {
    let registry = Registry::start_with_auth("berth", "s3cret");
    let a = Daemon::start();

    // moby's message for an image that is not there, in-band after the
    // first line.
    let missing = registry.reference("none/app:v1");
    let out = a.docker(&["push", &missing]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "An image does not exist locally with the tag: {}/none/app",
            registry.addr
        )),
        "{out:#?}"
    );

    a.import_busybox("base:1");
    let name = registry.reference("private/app:v1");
    a.docker(&["tag", "base:1", &name]).ok();
    let out = a.docker(&["push", &name]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(out.stderr.contains("unauthorized"), "{out:#?}");

    let out = a.docker_with_input(
        &["login", "-u", "berth", "--password-stdin", &registry.addr],
        Some(b"s3cret\n"),
    );
    assert!(out.status.success(), "{out:#?}");
    let out = a.docker(&["push", &name]).ok();
    let digest = pushed_digest(&out, "v1");

    // The layer berth imported is pushed as berth writes it, the same
    // blob every time.
    let out = a.docker(&["push", &name]).ok();
    assert_eq!(out.matches("Layer already exists").count(), 1, "{out}");
    assert_eq!(pushed_digest(&out, "v1"), digest);

    let b = Daemon::start();
    let out = b.docker_with_input(
        &["login", "-u", "berth", "--password-stdin", &registry.addr],
        Some(b"s3cret\n"),
    );
    assert!(out.status.success(), "{out:#?}");
    let out = b.docker(&["pull", &name]).ok();
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    let out = b.docker(&["run", "--rm", &name, "echo", "ran"]).ok();
    assert_eq!(out, "ran\n");
}

#[test]
fn search_lists_a_registry_s_repositories_through_its_catalog() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    five_layer_layout(&tmp.path().join("layout"), "v1", "search");
    for repo in ["team/app:v1", "team/app-tools:v1", "other/db:v1"] {
        registry.push_layout(&tmp.path().join("layout"), "v1", repo);
    }
    let d = Daemon::start();
    let term = format!("{}/app", registry.addr);
    let out = d.docker(&["search", "--format", "{{.Name}}", &term]).ok();
    let mut names: Vec<&str> = out.lines().collect();
    names.sort_unstable();
    assert_eq!(
        names,
        vec![
            format!("{}/team/app", registry.addr),
            format!("{}/team/app-tools", registry.addr),
        ],
        "{out}"
    );
    let out = d
        .docker(&["search", "--limit", "1", "--format", "{{.Name}}", &term])
        .ok();
    assert_eq!(out.lines().count(), 1, "{out}");
    // Catalog results are not official: the filter leaves none.
    let out = d
        .docker(&[
            "search",
            "--filter",
            "is-official=true",
            "--format",
            "{{.Name}}",
            &term,
        ])
        .ok();
    assert_eq!(out, "");
    let out = d.docker(&["search", "--filter", "color=red", &term]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(out.stderr.contains("invalid filter 'color'"), "{out:#?}");

    let out = d.berth(&["search", &format!("{}/db", registry.addr)]).ok();
    assert!(out.starts_with("NAME"), "{out}");
    assert!(
        out.contains(&format!("{}/other/db", registry.addr)),
        "{out}"
    );
    let out = d.berth(&["search", "--limit", "101", &term]);
    assert!(!out.status.success(), "{out:#?}");
    assert!(
        out.stderr
            .contains("limit 101 is outside the range of [1, 100]"),
        "{out:#?}"
    );
}

#[test]
fn search_list_tags_reads_every_page_of_a_repository_s_tags() {
    let registry = Registry::start();
    registry.push_five_layer("team/app:v1", "tags");
    // More tags than one page (berth asks 50 at a time): the rest are
    // only reached through the registry's `Link` header.
    let more: Vec<String> = (0..64).map(|n| format!("t{n:02}")).collect();
    registry.retag("team/app", "v1", &more);
    let mut want: Vec<String> = more.clone();
    want.push("v1".to_owned());
    want.sort();
    // Debian's registry sends every tag at once: the proxy pages them, 7
    // a page, linking each page to the next as paginating registries do.
    let proxy = FaultProxy::start(&registry.addr, Fault::TagPages { page: 7 });
    let head = registry.response_head("/v2/team/app/tags/list?n=7");
    assert!(
        !head.contains("rel=\"next\""),
        "no longer needs the proxy: {head}"
    );

    let d = Daemon::start();
    let repo = format!("{}/team/app", proxy.addr);
    let out = d.berth(&["search", "--list-tags", &repo]).ok();
    let mut lines = out.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "TAG"], "{out}");
    let rows: Vec<(String, String)> = lines
        .map(|l| {
            let mut cols = l.split_whitespace();
            let name = cols.next().unwrap_or_default().to_owned();
            (name, cols.next().unwrap_or_default().to_owned())
        })
        .collect();
    assert!(rows.iter().all(|(name, _)| *name == repo), "{out}");
    let mut tags: Vec<String> = rows.into_iter().map(|(_, t)| t).collect();
    tags.sort();
    assert_eq!(tags, want, "{out}");

    // The API: the limit caps the tags; filters select repositories and
    // are refused here, as is a reference with a tag.
    let path = format!("/images/search?term={repo}&listTags=true&limit=3");
    let response = d.http("GET", &path, b"");
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    let listed = body.as_array().expect("an array");
    assert_eq!(listed.len(), 3, "{body}");
    for entry in listed {
        assert_eq!(entry["name"], repo.as_str(), "{body}");
        let tag = entry["tag"].as_str().unwrap_or_default();
        assert!(want.iter().any(|t| t == tag), "{body}");
    }
    let out = d.berth(&["search", "--list-tags", "-f", "stars=3", &repo]);
    assert!(!out.status.success(), "{out:#?}");
    assert!(
        out.stderr
            .contains("filters are not applicable when listing tags"),
        "{out:#?}"
    );
    let out = d.berth(&["search", "--list-tags", &format!("{repo}:v1")]);
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stderr.contains("without a tag or digest"), "{out:#?}");
    // A repository the registry does not have: its own error, a 404.
    let missing = format!("{}/team/none", proxy.addr);
    let response = d.http(
        "GET",
        &format!("/images/search?term={missing}&listTags=true"),
        b"",
    );
    assert_eq!(response.status, 404, "{}", response.text());
    assert!(
        response
            .text()
            .contains("repository name not known to registry"),
        "{}",
        response.text()
    );
}
