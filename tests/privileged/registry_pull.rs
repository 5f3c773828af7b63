//! `docker pull` / `docker run` against berthd from a real registry
//! (Debian's `docker-registry`), with images put there by `skopeo copy`.

use berth_tests::daemon::Daemon;
use berth_tests::registry::{Registry, five_layer_layout};

#[test]
fn docker_pulls_a_five_layer_image_and_runs_it() {
    let registry = Registry::start();
    let image = registry.push_five_layer("test/app:v1", "first");
    let reference = registry.reference("test/app:v1");

    let d = Daemon::start();
    let out = d.docker(&["pull", &reference]).ok();
    assert!(out.contains("v1: Pulling from test/app"), "{out}");
    assert_eq!(out.matches("Pull complete").count(), 5, "{out}");
    assert!(
        out.contains(&format!("Digest: {}", image.manifest_digest)),
        "{out}"
    );
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {reference}")),
        "{out}"
    );
    let id = d.image_id(&reference);
    assert_eq!(id, image.image_id);

    // Every layer, the zstd one included, made it into the rootfs.
    let out = d
        .docker(&[
            "run",
            "--rm",
            &reference,
            "cat",
            "/layer1.txt",
            "/layer4.txt",
        ])
        .ok();
    assert_eq!(out, "1 first\n4 first\n");

    // Stored layers are never fetched again.
    let out = d.docker(&["pull", &reference]).ok();
    assert_eq!(out.matches("Already exists").count(), 5, "{out}");
    assert!(
        out.contains(&format!("Status: Image is up to date for {reference}")),
        "{out}"
    );
    let pulls = d
        .past_events(Some("image"))
        .into_iter()
        .filter(|e| e["Action"] == "pull")
        .count();
    assert_eq!(pulls, 2);
}

#[test]
fn docker_run_pulls_a_missing_image_first() {
    let registry = Registry::start();
    registry.push_five_layer("team/run:v2", "run");
    let reference = registry.reference("team/run:v2");

    let d = Daemon::start();
    let out = d.docker(&["run", "--rm", &reference, "cat", "/layer2.txt"]);
    assert!(out.status.success(), "{out:#?}");
    assert_eq!(out.stdout, "2 run\n");
    assert!(
        out.stderr
            .contains(&format!("Unable to find image '{reference}' locally")),
        "{out:#?}"
    );
}

#[test]
fn an_unknown_tag_or_repository_is_a_clear_error_and_changes_nothing() {
    let registry = Registry::start();
    registry.push_five_layer("test/app:v1", "x");
    let d = Daemon::start();
    let before = d.images();

    let out = d.docker(&["pull", &registry.reference("test/app:nope")]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "manifest for {} not found: manifest unknown",
            registry.reference("test/app:nope")
        )),
        "{out:#?}"
    );
    let out = d.docker(&["pull", &registry.reference("no/such:v1")]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(out.stderr.contains("not found"), "{out:#?}");
    assert_eq!(d.images(), before);
    d.assert_graph_scratch_empty();
}

#[test]
fn login_checks_credentials_and_pulls_send_them() {
    let registry = Registry::start_with_auth("berth", "s3cret");
    registry.push_five_layer("private/app:v1", "auth");
    let reference = registry.reference("private/app:v1");
    let d = Daemon::start();

    // Anonymous: the registry's 401 comes through.
    let out = d.docker(&["pull", &reference]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(out.stderr.contains("unauthorized"), "{out:#?}");

    // Bad password: moby's text, and nothing stored.
    let out = d.docker_with_input(
        &["login", "-u", "berth", "--password-stdin", &registry.addr],
        Some(b"wrong\n"),
    );
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(out.stderr.contains("401 Unauthorized"), "{out:#?}");

    let out = d.docker_with_input(
        &["login", "-u", "berth", "--password-stdin", &registry.addr],
        Some(b"s3cret\n"),
    );
    assert!(out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("Login Succeeded"), "{out:#?}");
    let out = d.docker(&["pull", &reference]).ok();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");

    // berth login / pull / logout, same file format as the docker CLI.
    let d2 = Daemon::start();
    let out = d2.berth_with_input(
        &["login", "-u", "berth", "--password-stdin", &registry.addr],
        Some(b"s3cret\n"),
    );
    assert!(out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("Login Succeeded"), "{out:#?}");
    let config = std::fs::read_to_string(d2.dir().join("docker-config/config.json"))
        .expect("berth login wrote config.json");
    assert!(
        config.contains("YmVydGg6czNjcmV0"),
        "base64 of berth:s3cret: {config}"
    );
    let out = d2.berth(&["pull", "-q", &reference]).ok();
    assert_eq!(out.trim(), reference);
    let out = d2.berth(&["logout", &registry.addr]).ok();
    assert!(out.contains("Removing login credentials"), "{out}");
    let out = d2.berth(&["pull", &registry.reference("private/app:v1")]);
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stderr.contains("unauthorized"), "{out:#?}");
}

#[test]
fn berth_pull_prints_docker_s_progress_lines() {
    let registry = Registry::start();
    let image = registry.push_five_layer("cli/app:v1", "cli");
    let reference = registry.reference("cli/app:v1");
    let d = Daemon::start();
    let out = d.berth(&["pull", &reference]).ok();
    assert!(out.contains("v1: Pulling from cli/app"), "{out}");
    for layer in &image.layer_digests {
        let id: String = layer
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect();
        assert!(out.contains(&format!("{id}: Pull complete")), "{id}: {out}");
    }
    assert!(
        out.contains(&format!("Digest: {}", image.manifest_digest)),
        "{out}"
    );
    let out = d
        .berth(&["run", "--rm", &reference, "cat", "/layer3.txt"])
        .ok();
    assert_eq!(out, "3 cli\n");
}

#[test]
fn a_corrupt_or_truncated_blob_commits_nothing_and_keeps_the_previous_image() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let old = five_layer_layout(&tmp.path().join("old"), "v1", "old");
    registry.push_layout(&tmp.path().join("old"), "v1", "test/app:v1");
    let new = five_layer_layout(&tmp.path().join("new"), "v1", "new");
    registry.push_layout(&tmp.path().join("new"), "v1", "test/app:v2");
    let d = Daemon::start();
    let v1 = registry.reference("test/app:v1");
    let v2 = registry.reference("test/app:v2");
    d.docker(&["pull", &v1]).ok();
    let before = d.images();

    // Same size, other bytes: the digest check refuses it.
    let victim = registry.blob_file(&new.layer_digests[2]);
    let mut bytes = std::fs::read(&victim).expect("read blob");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&victim, &bytes).expect("corrupt blob");
    let out = d.docker(&["pull", &v2]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(out.stderr.contains("digest mismatch"), "{out:#?}");
    assert_eq!(d.images(), before);

    // Shorter than its descriptor says.
    bytes.truncate(middle);
    std::fs::write(&victim, &bytes).expect("truncate blob");
    let out = d.docker(&["pull", &v2]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr.contains("size mismatch") || out.stderr.contains("failed to read blob"),
        "{out:#?}"
    );
    assert_eq!(d.images(), before);

    d.assert_graph_scratch_empty();
    let id = d.image_id(&v1);
    assert_eq!(id, old.image_id);
    let out = d.docker(&["run", "--rm", &v1, "cat", "/layer3.txt"]).ok();
    assert_eq!(out, "3 old\n");
}

/// Changes a gzip blob's header MTIME: it still decompresses to the same
/// tar (so its extraction succeeds whole, diff id and all) while its digest
/// is another. Returns the original bytes.
fn touch_gzip_mtime(blob: &std::path::Path) -> Vec<u8> {
    let original = std::fs::read(blob).expect("read blob");
    assert_eq!(original[..2], [0x1f, 0x8b], "the test needs a gzip layer");
    let mut bytes = original.clone();
    bytes[4] ^= 0xff;
    std::fs::write(blob, &bytes).expect("rewrite blob");
    original
}

#[test]
fn a_blob_that_extracts_whole_but_fails_its_digest_stores_no_layer() {
    // The layer is extracted while its blob downloads: only the blob's
    // digest, known at its very end, may let the layer be published.
    let registry = Registry::start();
    let image = registry.push_five_layer("test/whole:v1", "whole");
    let reference = registry.reference("test/whole:v1");
    let victim = registry.blob_file(&image.layer_digests[2]);
    let original = touch_gzip_mtime(&victim);
    let d = Daemon::start();
    let before = d.images();

    let out = d.docker(&["pull", &reference]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(out.stderr.contains("digest mismatch"), "{out:#?}");
    assert_eq!(d.images(), before);
    d.assert_graph_scratch_empty();

    // The blob as it was: that layer is fetched and extracted again (the
    // others may have been stored by the failed pull).
    std::fs::write(&victim, original).expect("restore blob");
    let out = d.docker(&["pull", &reference]).ok();
    let id: String = image.layer_digests[2]
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect();
    assert!(out.contains(&format!("{id}: Pull complete")), "{id}: {out}");
    assert!(
        !out.contains(&format!("{id}: Already exists")),
        "{id}: {out}"
    );
    let id = d.image_id(&reference);
    assert_eq!(id, image.image_id);
}
