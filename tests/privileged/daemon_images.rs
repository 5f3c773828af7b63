//! Image archives and history (issue 11, the image part): `docker load`
//! of docker-archive and OCI layout archives, `docker history`, through
//! the real `docker` CLI, `berth` and skopeo as a peer that reads and
//! writes the formats.

use std::path::Path;
use std::time::Duration;

use berth_tests::daemon::Daemon;
use berth_tests::image_archive::{layer_tar, multi_layer_archive};

const SKOPEO_TIMEOUT: Duration = Duration::from_secs(120);

fn skopeo(args: &[&str]) -> String {
    let skopeo = berth_tests::require::program("skopeo", "skopeo");
    let mut argv = vec![skopeo.to_string_lossy().into_owned()];
    argv.extend(
        ["--insecure-policy"]
            .iter()
            .chain(args)
            .map(|s| (*s).to_owned()),
    );
    berth_tests::cmd::run(argv, SKOPEO_TIMEOUT).ok()
}

/// The four layers on top of busybox: files, and a whiteout of one.
fn extra_layers() -> Vec<Vec<u8>> {
    vec![
        layer_tar(&[("layer1", "one\n")], &[]),
        layer_tar(&[("layer2", "two\n")], &[]),
        layer_tar(&[("etc/motd", "three\n")], &[]),
        layer_tar(&[("layer4", "four\n")], &["layer1"]),
    ]
}

/// Packs a directory (an OCI layout) into a tar file.
fn tar_dir(dir: &Path, out: &Path) {
    let file = std::fs::File::create(out).expect("create tar");
    let mut b = tar::Builder::new(file);
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).expect("pack");
    b.finish().expect("finish");
}

#[test]
fn daemon_images_docker_load_of_a_five_layer_archive_runs_and_shows_its_history() {
    berth_tests::require::root();
    let d = Daemon::start();
    let work = tempfile::tempdir().expect("tempdir");
    let archive = work.path().join("multi.tar");
    let id = multi_layer_archive(&archive, &extra_layers(), &["multi:5"]);
    let archive_s = archive.to_str().expect("utf-8");

    let out = d.docker(&["load", "-i", archive_s]).ok();
    assert_eq!(out, "Loaded image: multi:5\n");
    let inspect = d
        .docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{len .RootFS.Layers}}",
            "multi:5",
        ])
        .ok();
    assert_eq!(inspect.trim(), format!("{id} 5"));
    let run = d
        .docker(&[
            "run",
            "--rm",
            "multi:5",
            "sh",
            "-c",
            "cat /layer2 /etc/motd /layer4; test -e /layer1 || echo whited-out; echo $LAYERS",
        ])
        .ok();
    assert_eq!(run, "two\nthree\nfour\nwhited-out\nmany\n");

    // History: newest first, the image id on top, `<missing>` below, the
    // empty ENV entry counted without a layer.
    let ids = d.docker(&["history", "-q", "--no-trunc", "multi:5"]).ok();
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert_eq!(ids[0], id);
    assert!(ids[1..].iter().all(|i| *i == "<missing>"), "{ids:?}");
    let table = d
        .docker(&[
            "history",
            "--format",
            "{{.CreatedBy}}|{{.Size}}|{{.Comment}}",
            "multi:5",
        ])
        .ok();
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows[0], "RUN layer 4|5B|layer 4", "{rows:?}");
    assert_eq!(rows[4], "ENV LAYERS=many|0B|", "{rows:?}");
    assert!(rows[5].starts_with("ADD busybox / # buildkit|"), "{rows:?}");
    let berth = d.berth(&["history", "multi:5"]).ok();
    assert!(berth.starts_with("IMAGE"), "{berth}");
    assert!(
        berth.contains(&id[7..19]) && berth.contains("<missing>"),
        "{berth}"
    );

    // Not an archive: a clear error, and the image is still there.
    let bad = d.docker_with_input(
        &["load"],
        Some(b"no tar here, just text".repeat(64).as_slice()),
    );
    assert_ne!(bad.code(), 0);
    assert!(bad.stderr.contains("invalid image archive"), "{bad:?}");
    assert_eq!(d.docker(&["images", "-q", "--no-trunc"]).ok().trim(), id);
}

#[test]
fn daemon_images_load_reads_what_skopeo_writes_as_an_oci_layout() {
    berth_tests::require::root();
    let d = Daemon::start();
    let work = tempfile::tempdir().expect("tempdir");
    let archive = work.path().join("multi.tar");
    let id = multi_layer_archive(&archive, &extra_layers()[..2], &["multi:3"]);
    // skopeo as the peer: docker-archive → OCI layout (gzip layers).
    let oci = work.path().join("oci");
    skopeo(&[
        "copy",
        "--dest-compress-format",
        "gzip",
        &format!("docker-archive:{}", archive.display()),
        &format!("oci:{}:multi:oci", oci.display()),
    ]);
    let oci_tar = work.path().join("oci.tar");
    tar_dir(&oci, &oci_tar);
    let out = d
        .berth(&["load", "-i", oci_tar.to_str().expect("utf-8")])
        .ok();
    assert_eq!(out, "Loaded image: multi:oci\n");
    // skopeo writes an OCI config of its own: the image id is its digest.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(oci.join("index.json")).expect("index"))
            .expect("json");
    let manifest_digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(oci.join("blobs/sha256").join(&manifest_digest[7..])).expect("manifest"),
    )
    .expect("json");
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .expect("config digest");
    let loaded = d
        .docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{len .RootFS.Layers}}",
            "multi:oci",
        ])
        .ok();
    assert_eq!(loaded.trim(), format!("{config_digest} 3"));
    assert_ne!(config_digest, id);
    let run = d
        .docker(&["run", "--rm", "multi:oci", "cat", "/layer2"])
        .ok();
    assert_eq!(run, "two\n");
}
