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

fn tar_names(file: &Path) -> Vec<String> {
    let out = berth_tests::cmd::run(
        ["tar", "tf", file.to_str().expect("utf-8")],
        Duration::from_secs(60),
    )
    .ok();
    out.lines().map(str::to_owned).collect()
}

#[test]
fn daemon_images_docker_save_is_read_by_skopeo_and_round_trips_through_load() {
    berth_tests::require::root();
    let d = Daemon::start();
    let work = tempfile::tempdir().expect("tempdir");
    let archive = work.path().join("multi.tar");
    multi_layer_archive(&archive, &extra_layers(), &["multi:5"]);
    d.docker(&["load", "-i", archive.to_str().expect("utf-8")])
        .ok();
    d.import_busybox("busybox");

    let saved = work.path().join("saved.tar");
    let saved_s = saved.to_str().expect("utf-8");
    d.docker(&["save", "-o", saved_s, "multi:5", "busybox"])
        .ok();
    let names = tar_names(&saved);
    for wanted in ["manifest.json", "index.json", "oci-layout", "repositories"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} in {names:?}");
    }
    // skopeo reads it as a docker-archive and copies it to an OCI layout.
    let inspect: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        &format!("docker-archive:{saved_s}:multi:5"),
    ]))
    .expect("skopeo inspect json");
    assert_eq!(
        inspect["Layers"].as_array().map(Vec::len),
        Some(5),
        "{inspect}"
    );
    let oci = work.path().join("oci");
    skopeo(&[
        "copy",
        &format!("docker-archive:{saved_s}:multi:5"),
        &format!("oci:{}:multi", oci.display()),
    ]);
    assert!(oci.join("index.json").is_file());
    // And as an OCI layout, since it is one too.
    // (`org.opencontainers.image.ref.name` is the tag, as docker writes it.)
    let oci_inspect: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", &format!("oci-archive:{saved_s}:5")]))
            .expect("skopeo inspect json");
    assert_eq!(oci_inspect["Layers"].as_array().map(Vec::len), Some(5));

    // Into a second daemon, and saved again: the same bytes.
    let e = Daemon::start();
    let loaded = e.berth(&["load", "-i", saved_s]).ok();
    assert_eq!(
        loaded,
        "Loaded image: multi:5\nLoaded image: busybox:latest\n"
    );
    let run = e
        .docker(&[
            "run",
            "--rm",
            "multi:5",
            "sh",
            "-c",
            "cat /layer4; test -e /layer1 || echo gone",
        ])
        .ok();
    assert_eq!(run, "four\ngone\n");
    let again = work.path().join("again.tar");
    let out = e.berth(&[
        "save",
        "-o",
        again.to_str().expect("utf-8"),
        "multi:5",
        "busybox",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        std::fs::read(&saved).expect("saved") == std::fs::read(&again).expect("again"),
        "save → load → save gives the same archive"
    );

    let bad = d.docker(&[
        "save",
        "-o",
        work.path().join("x.tar").to_str().expect("utf-8"),
        "nope",
    ]);
    assert_ne!(bad.code(), 0);
    assert!(
        bad.stderr.contains("No such image") || bad.stderr.contains("nope"),
        "{bad:?}"
    );
    assert!(!work.path().join("x.tar").exists());
}

#[test]
fn daemon_images_docker_export_of_a_stopped_container_holds_what_it_wrote() {
    berth_tests::require::root();
    let d = Daemon::start();
    let work = tempfile::tempdir().expect("tempdir");
    let archive = work.path().join("multi.tar");
    multi_layer_archive(&archive, &extra_layers(), &["multi:5"]);
    d.docker(&["load", "-i", archive.to_str().expect("utf-8")])
        .ok();
    d.docker(&[
        "run",
        "--name",
        "ex",
        "multi:5",
        "sh",
        "-c",
        "echo hi > /written; rm /layer2; ln -s /etc/shadow-outside /link",
    ])
    .ok();
    let out = work.path().join("ex.tar");
    d.docker(&["export", "-o", out.to_str().expect("utf-8"), "ex"])
        .ok();
    let names = tar_names(&out);
    for wanted in ["written", "layer4", "etc/motd", "bin/busybox", "link"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} in {names:?}");
    }
    for gone in ["layer1", "layer2"] {
        assert!(!names.iter().any(|n| n == gone), "{gone} in {names:?}");
    }
    let berth = work.path().join("ex2.tar");
    d.berth(&["export", "-o", berth.to_str().expect("utf-8"), "ex"])
        .ok();
    assert_eq!(tar_names(&berth), names);
    let missing = d.docker(&["export", "-o", "/dev/null", "nope"]);
    assert_ne!(missing.code(), 0);
}

#[test]
fn daemon_images_docker_commit_of_a_running_container_adds_a_layer_and_history() {
    berth_tests::require::root();
    let d = Daemon::start();
    let work = tempfile::tempdir().expect("tempdir");
    let archive = work.path().join("multi.tar");
    multi_layer_archive(&archive, &extra_layers(), &["multi:5"]);
    d.docker(&["load", "-i", archive.to_str().expect("utf-8")])
        .ok();
    d.docker(&["run", "-d", "--name", "live", "multi:5", "sleep", "1000"])
        .ok();
    d.docker(&["exec", "live", "sh", "-c", "echo live > /live; rm /layer2"])
        .ok();
    let id = d
        .docker(&[
            "commit",
            "-a",
            "me",
            "-m",
            "a snapshot",
            "-c",
            "CMD [\"cat\", \"/live\"]",
            "live",
            "snap:live",
        ])
        .ok();
    assert!(id.trim().starts_with("sha256:"), "{id}");
    // Still running after the freeze.
    let state = d
        .docker(&["inspect", "-f", "{{.State.Status}}", "live"])
        .ok();
    assert_eq!(state.trim(), "running");
    let run = d.docker(&["run", "--rm", "snap:live"]).ok();
    assert_eq!(run, "live\n");
    let gone = d
        .docker(&[
            "run",
            "--rm",
            "snap:live",
            "sh",
            "-c",
            "test -e /layer2 || echo gone",
        ])
        .ok();
    assert_eq!(gone, "gone\n");
    let layers = d
        .docker(&[
            "image",
            "inspect",
            "-f",
            "{{len .RootFS.Layers}} {{.Author}}",
            "snap:live",
        ])
        .ok();
    assert_eq!(layers.trim(), "6 me");
    let top = d
        .docker(&[
            "history",
            "--format",
            "{{.CreatedBy}}|{{.Comment}}",
            "snap:live",
        ])
        .ok();
    assert_eq!(top.lines().next(), Some("sleep 1000|a snapshot"), "{top}");
    // berth's verb, with the container stopped.
    d.docker(&["stop", "-t", "0", "live"]).ok();
    let out = d.berth(&["commit", "live", "snap:berth"]).ok();
    assert!(out.trim().starts_with("sha256:"), "{out}");
    d.docker(&["rm", "-f", "live"]).ok();
    let missing = d.docker(&["commit", "nope", "x:1"]);
    assert_ne!(missing.code(), 0);
}
