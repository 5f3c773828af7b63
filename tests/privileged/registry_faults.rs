//! Bad input and a crash mid-pull (issue 11), through a proxy in front of
//! the real registry that damages what it passes on: a manifest that is
//! not JSON, a blob with other bytes, a blob cut short mid-stream, and
//! blobs served slowly enough to `kill -9` berthd in the middle of a pull,
//! uploads taken slowly enough to `kill -9` it in the middle of a push.
//! Every failure is a clear error that commits nothing (no image, nothing
//! left in the graph's scratch dir) and keeps the previous image with the
//! tag; after the crash the store is consistent and the pull (or the push)
//! succeeds.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::daemon::Daemon;
use berth_tests::registry::{Compression, Registry, file_layer, five_layer_layout, write_layout};
use berth_tests::regproxy::{Fault, FaultProxy};

#[test]
fn a_bad_manifest_or_blob_from_the_wire_commits_nothing_and_keeps_the_tag() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let old = five_layer_layout(&tmp.path().join("old"), "v1", "old");
    registry.push_layout(&tmp.path().join("old"), "v1", "test/app:v1");
    five_layer_layout(&tmp.path().join("new"), "v1", "new");
    registry.push_layout(&tmp.path().join("new"), "v1", "test/app:v2");
    let proxy = FaultProxy::start(&registry.addr, Fault::None);
    let d = Daemon::start();
    let app = proxy.reference("test/app:v1");
    d.docker(&["pull", &app]).ok();
    // The tag moves to v2's content only if a pull of v2 under it succeeds.
    let out = d
        .docker(&["tag", &app, &proxy.reference("test/app:keep")])
        .ok();
    assert!(out.is_empty(), "{out}");
    let before = d.images();
    let v2 = proxy.reference("test/app:v2");

    proxy.set(Fault::ManifestNotJson);
    let out = d.docker(&["pull", &v2]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "cannot parse the manifest of {v2}: not a JSON manifest"
        )),
        "{out:#?}"
    );
    assert_eq!(d.images(), before);

    proxy.set(Fault::BlobWrongDigest);
    let out = d.docker(&["pull", &v2]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(out.stderr.contains("digest mismatch"), "{out:#?}");
    assert_eq!(d.images(), before);

    proxy.set(Fault::BlobTruncated);
    let out = d.docker(&["pull", &v2]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr.contains("failed to read blob") || out.stderr.contains("size mismatch"),
        "{out:#?}"
    );
    assert_eq!(d.images(), before);
    d.assert_graph_scratch_empty();

    let id = d.image_id(&app);
    assert_eq!(id, old.image_id);
    let out = d.docker(&["run", "--rm", &app, "cat", "/layer3.txt"]).ok();
    assert_eq!(out, "3 old\n");

    // The wire healed, the same pull works.
    proxy.set(Fault::None);
    let out = d.docker(&["pull", &v2]).ok();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let out = d.docker(&["run", "--rm", &v2, "cat", "/layer3.txt"]).ok();
    assert_eq!(out, "3 new\n");
}

/// The background `docker pull`: killed and reaped however the test
/// ends (it is bounded by that, not by a timeout of its own).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `docker pull reference` against `d`, in the background.
fn spawn_pull(d: &Daemon, reference: &str) -> KillOnDrop {
    let docker = berth_tests::require::program("docker", "docker-ce-cli (or docker.io)");
    KillOnDrop(
        Command::new(docker)
            .arg("-H")
            .arg(d.host())
            .args(["pull", reference])
            .env("DOCKER_CONFIG", d.dir().join("docker-config"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docker pull"),
    )
}

/// Waits (bounded) until a blob is part-way into the graph's scratch dir.
fn wait_for_a_partial_blob(d: &Daemon) {
    let scratch = d.data_root().join("graph/tmp");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let partial = std::fs::read_dir(&scratch)
            .expect("graph tmp")
            .filter_map(Result::ok)
            .any(|e| e.metadata().is_ok_and(|m| m.len() > 0));
        if partial {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no blob was ever being downloaded: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_client_gone_mid_pull_leaves_no_temp_file_behind() {
    // The client goes away while the layers download. Whether the pull
    // then runs on or stops, every temp blob and staging directory it made
    // is removed by its owner, wherever that is (the pull's future, a
    // blocking task): the scratch dir empties (bounded wait; a blob path
    // re-created by a write left over would stay), and a pull afterwards
    // succeeds and leaves it empty too.
    let registry = Registry::start();
    let image = registry.push_five_layer("test/gone:v1", "gone");
    let proxy = FaultProxy::start(
        &registry.addr,
        Fault::BlobSlow {
            chunk: 8 * 1024,
            pause_ms: 20,
        },
    );
    let reference = proxy.reference("test/gone:v1");
    let d = Daemon::start();

    let pull = spawn_pull(&d, &reference);
    wait_for_a_partial_blob(&d);
    drop(pull);
    let scratch = d.data_root().join("graph/tmp");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::read_dir(&scratch)
        .expect("graph tmp")
        .next()
        .is_some()
    {
        assert!(
            Instant::now() < deadline,
            "temp files stayed after the client left: {:?}",
            std::fs::read_dir(&scratch)
                .expect("graph tmp")
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy.set(Fault::None);
    let out = d.docker(&["pull", &reference]).ok();
    assert!(
        out.contains(&format!("Digest: {}", image.manifest_digest)),
        "{out}"
    );
    d.assert_graph_scratch_empty();
}

#[test]
fn kill_9_mid_pull_leaves_a_consistent_store_and_the_pull_then_succeeds() {
    let registry = Registry::start();
    let image = registry.push_five_layer("test/crash:v1", "crash");
    let proxy = FaultProxy::start(
        &registry.addr,
        Fault::BlobSlow {
            chunk: 8 * 1024,
            pause_ms: 20,
        },
    );
    let reference = proxy.reference("test/crash:v1");
    let mut d = Daemon::start();
    let before = d.images();

    let pull = spawn_pull(&d, &reference);
    wait_for_a_partial_blob(&d);
    d.kill9();
    drop(pull);

    d.restart();
    d.assert_graph_scratch_empty();
    assert_eq!(d.images(), before, "a killed pull left an image");

    proxy.set(Fault::None);
    let out = d.docker(&["pull", &reference]).ok();
    assert!(
        out.contains(&format!("Digest: {}", image.manifest_digest)),
        "{out}"
    );
    let id = d.image_id(&reference);
    assert_eq!(id, image.image_id);
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
    assert_eq!(out, "1 crash\n4 crash\n");
    d.assert_graph_scratch_empty();
}

/// A tar of `count` empty files (`d<n>/f<m>`, 1000 a directory): a blob
/// of some hundred KiB whose extraction takes long.
fn many_files_layer(count: usize) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for n in 0..count {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder
            .append_data(
                &mut header,
                format!("d{}/f{}", n / 1000, n % 1000),
                std::io::empty(),
            )
            .expect("append layer file");
    }
    builder.into_inner().expect("finish layer tar")
}

#[test]
fn a_layer_that_fails_while_others_are_pulled_answers_after_they_cleaned_up() {
    // Three layers are pulled at once: busybox fails its digest at once,
    // while the other two, sent slowly, are downloading and being
    // extracted, each with a temp blob and a staging directory in the
    // graph's scratch dir; the second holds 20000 files, so its extraction
    // runs on for a while after its download stops (through the chunks
    // already sent to it) and then removes what it made. The error may
    // reach the client only once that work has ended and those files are
    // gone: a download can be cancelled, an extraction cannot.
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = tmp.path().join("layout");
    let image = write_layout(
        &layout,
        "v1",
        "amd64",
        &[
            (many_files_layer(20_000), Compression::Gzip),
            (file_layer("small.txt", "small\n"), Compression::Gzip),
        ],
    );
    registry.push_layout(&layout, "v1", "test/mixed:v1");
    let proxy = FaultProxy::start(
        &registry.addr,
        Fault::OneBlobWrongDigest {
            digest: image.layer_digests[0].clone(),
            chunk: 8 * 1024,
            pause_ms: 10,
        },
    );
    let reference = proxy.reference("test/mixed:v1");
    let d = Daemon::start();
    let before = d.images();

    for _ in 0..3 {
        let out = d.docker(&["pull", &reference]);
        // Right after the error, nothing waited for.
        d.assert_graph_scratch_empty();
        assert_eq!(out.code(), 1, "{out:#?}");
        assert!(out.stderr.contains("digest mismatch"), "{out:#?}");
        assert_eq!(d.images(), before);
    }

    proxy.set(Fault::None);
    let out = d.docker(&["pull", &reference]).ok();
    assert!(
        out.contains(&format!("Digest: {}", image.manifest_digest)),
        "{out}"
    );
    d.assert_graph_scratch_empty();
    let out = d
        .docker(&["run", "--rm", &reference, "cat", "/small.txt", "/d19/f999"])
        .ok();
    assert_eq!(out, "small\n");
}

/// Files under `root` that an interrupted write leaves: tempfile's
/// `.tmp*` names and the push's `push-*` blob files.
fn temp_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp") || name.starts_with("push-") {
                found.push(path.clone());
            }
            // Layers' own files are the images' content, not temp files.
            let content = path.ends_with("layers") || path.ends_with("flat");
            if entry.file_type().is_ok_and(|t| t.is_dir()) && !content {
                dirs.push(path);
            }
        }
    }
    found
}

#[test]
fn kill_9_mid_push_leaves_a_consistent_store_and_the_push_then_succeeds() {
    let registry = Registry::start();
    let proxy = FaultProxy::start(
        &registry.addr,
        Fault::UploadSlow {
            chunk: 4 * 1024,
            pause_ms: 20,
        },
    );
    let reference = proxy.reference("test/pushcrash:v1");
    let mut d = Daemon::start();
    // A layer no registry has seen: the push must compress and upload it.
    let id = d.import_busybox(&reference);
    let before = d.images();

    let docker = berth_tests::require::program("docker", "docker-ce-cli (or docker.io)");
    let push = KillOnDrop(
        Command::new(docker)
            .arg("-H")
            .arg(d.host())
            .args(["push", &reference])
            .env("DOCKER_CONFIG", d.dir().join("docker-config"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docker push"),
    );
    // Wait (bounded) until the layer's upload is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.uploaded() == 0 {
        assert!(
            Instant::now() < deadline,
            "no blob was ever being uploaded: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    d.kill9();
    drop(push);

    d.restart();
    d.assert_graph_scratch_empty();
    let left = temp_files(&d.data_root());
    assert!(left.is_empty(), "a killed push left temp files: {left:?}");
    assert_eq!(d.images(), before, "a killed push changed the images");
    let out = d
        .docker(&["run", "--rm", &reference, "busybox", "echo", "intact"])
        .ok();
    assert_eq!(out, "intact\n");

    proxy.set(Fault::None);
    let out = d.docker(&["push", &reference]).ok();
    assert_eq!(out.matches(": Pushed").count(), 1, "{out}");
    let prefix = "v1: digest: ";
    let digest = out
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest line in {out}"))
        .to_owned();
    d.assert_graph_scratch_empty();

    // A second daemon pulls the same manifest and the same image.
    let other = Daemon::start();
    let out = other.docker(&["pull", &reference]).ok();
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    let pulled = other.image_id(&reference);
    let manifest = registry.manifest("test/pushcrash", &digest);
    assert_eq!(pulled, manifest["config"]["digest"], "{manifest}");
    // The pushing daemon's image is untouched (an imported layer writes
    // back as another tar, so the pushed config may get another id).
    let local = d.image_id(&reference);
    assert_eq!(local, id);
    let out = other
        .docker(&["run", "--rm", &reference, "busybox", "echo", "pulled"])
        .ok();
    assert_eq!(out, "pulled\n");
}
