//! `--platform` on pull end to end (issue 11): an OCI index holding two
//! platforms, built by the test and copied with `skopeo copy --all`, pulled
//! through the API's `platform=`, `berth pull --platform` and `docker pull
//! --platform`; a platform the index lacks is moby's `no matching
//! manifest` error and changes nothing.

use std::fs;
use std::path::Path;

use berth_tests::daemon::Daemon;
use berth_tests::registry::{Compression, Registry, file_layer, write_layout};
use sha2::{Digest, Sha256};

/// Writes, at `layout`, two images (amd64 and arm64, each with
/// `/arch.txt` naming its architecture) and an OCI index over both tagged
/// `tag`. Returns the index's digest.
fn two_platform_layout(layout: &Path, tag: &str) -> String {
    let mut entries = Vec::new();
    for arch in ["amd64", "arm64"] {
        let layer = file_layer("arch.txt", &format!("{arch}\n"));
        let image = write_layout(layout, arch, arch, &[(layer, Compression::Gzip)]);
        let hex = image.manifest_digest.trim_start_matches("sha256:");
        let size = fs::metadata(layout.join("blobs/sha256").join(hex))
            .expect("manifest blob")
            .len();
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": image.manifest_digest, "size": size,
            "platform": {"architecture": arch, "os": "linux"},
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .expect("index json");
    let digest = format!(
        "sha256:{}",
        Sha256::digest(&index)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    fs::write(
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
        &index,
    )
    .expect("write index blob");
    let top = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest, "size": index.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&top).expect("index.json"),
    )
    .expect("write index.json");
    digest
}

fn architecture(d: &Daemon, reference: &str) -> String {
    d.docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Os}}/{{.Architecture}}",
        reference,
    ])
    .ok()
    .trim()
    .to_owned()
}

#[test]
fn pull_platform_picks_from_an_index_through_the_api_berth_and_docker() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = tmp.path().join("layout");
    let index = two_platform_layout(&layout, "multi");
    let out = registry.skopeo_copy(&layout, "multi", "multi/app:v1", &["--all"]);
    assert!(out.status.success(), "skopeo copy --all: {out:#?}");
    let reference = registry.reference("multi/app:v1");
    let d = Daemon::start();

    let out = d
        .docker(&["pull", "--platform", "linux/arm64", &reference])
        .ok();
    assert!(out.contains(&format!("Digest: {index}")), "{out}");
    assert_eq!(architecture(&d, &reference), "linux/arm64");
    // The test's arm64 image carries the amd64 busybox, so it runs here.
    let out = d
        .docker(&["run", "--rm", &reference, "cat", "/arch.txt"])
        .ok();
    assert_eq!(out, "arm64\n");

    d.berth(&["pull", "--platform", "linux/amd64", &reference])
        .ok();
    assert_eq!(architecture(&d, &reference), "linux/amd64");

    let r = d.http(
        "POST",
        &format!(
            "/images/create?fromImage={}&tag=v1&platform=linux%2Farm64",
            registry.reference("multi/app")
        ),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains("errorDetail"), "{}", r.text());
    assert_eq!(architecture(&d, &reference), "linux/arm64");

    // A platform the index lacks: moby's text, nothing changed.
    let out = d.docker(&["pull", "--platform", "linux/s390x", &reference]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr
            .contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{out:#?}"
    );
    let out = d.berth(&["pull", "--platform", "linux/s390x", &reference]);
    assert!(!out.status.success(), "{out:#?}");
    assert!(
        out.stderr.contains("no matching manifest for linux/s390x"),
        "{out:#?}"
    );
    assert_eq!(architecture(&d, &reference), "linux/arm64");
}
