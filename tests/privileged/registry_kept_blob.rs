//! A layer pulled as gzip is pushed as it came (issue 11): the graph keeps
//! the blob a pull received, and a push to another registry uploads it
//! byte for byte instead of writing the layer as a tar and compressing it
//! again; a kept blob that no longer matches its digest is not sent (the
//! layer is recompressed).

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use berth_tests::daemon::Daemon;
use berth_tests::registry::{Compression, Registry, file_layer, write_layout};
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// Recompresses every gzip layer of the layout's single image at the best
/// level with a file name in the gzip header (as other tools may), so that
/// no blob is what berth's own compression would make of the layer.
/// Returns the layer digests, bottom first.
fn recompress_layout(layout: &Path) -> Vec<String> {
    let index_path = layout.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&fs::read(&index_path).expect("index")).expect("index json");
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .expect("manifest digest")
        .to_owned();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(blob_path(layout, &manifest_digest)).expect("manifest"))
            .expect("manifest json");
    let mut digests = Vec::new();
    for layer in manifest["layers"].as_array_mut().expect("layers") {
        let digest = layer["digest"].as_str().expect("digest").to_owned();
        assert!(
            layer["mediaType"]
                .as_str()
                .expect("media type")
                .ends_with("+gzip"),
            "{layer}"
        );
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&fs::read(blob_path(layout, &digest)).expect("blob")[..])
            .read_to_end(&mut tar)
            .expect("gunzip");
        let mut gz = flate2::GzBuilder::new()
            .filename("layer.tar")
            .write(Vec::new(), flate2::Compression::best());
        gz.write_all(&tar).expect("gzip");
        let blob = gz.finish().expect("gzip");
        let new = sha256(&blob);
        fs::write(blob_path(layout, &new), &blob).expect("write blob");
        layer["digest"] = new.clone().into();
        layer["size"] = blob.len().into();
        digests.push(new);
    }
    let manifest = serde_json::to_vec(&manifest).expect("manifest json");
    let digest = sha256(&manifest);
    fs::write(blob_path(layout, &digest), &manifest).expect("write manifest");
    index["manifests"][0]["digest"] = digest.into();
    index["manifests"][0]["size"] = manifest.len().into();
    fs::write(&index_path, serde_json::to_vec(&index).expect("index json")).expect("index");
    digests
}

/// The files under `dir` whose parent directory is named `name`.
fn files_in_dirs_named(dir: &Path, name: &str, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        let file_type = entry.file_type().expect("file type");
        if file_type.is_dir() && !file_type.is_symlink() {
            files_in_dirs_named(&path, name, found);
        } else if file_type.is_file() && dir.file_name().is_some_and(|n| n == name) {
            found.push(path);
        }
    }
}

#[test]
fn a_layer_pulled_as_gzip_is_pushed_to_another_registry_byte_for_byte() {
    let source = Registry::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = tmp.path().join("layout");
    let layers: Vec<(Vec<u8>, Compression)> = (1..=4)
        .map(|n| {
            (
                file_layer(&format!("kept{n}.txt"), &format!("{n} kept\n")),
                Compression::Gzip,
            )
        })
        .collect();
    write_layout(&layout, "v1", "amd64", &layers);
    let digests = recompress_layout(&layout);
    source.push_layout(&layout, "v1", "kept/app:v1");
    let pulled = source.reference("kept/app:v1");

    let d = Daemon::start();
    d.docker(&["pull", &pulled]).ok();

    // Another registry: nothing to find or mount there, so every layer is
    // uploaded, each as the blob it was pulled as.
    let target = Registry::start();
    let copy = target.reference("copy/app:v1");
    d.docker(&["tag", &pulled, &copy]).ok();
    let out = d.docker(&["push", &copy]).ok();
    assert_eq!(out.matches(": Pushed").count(), 5, "{out}");
    for digest in &digests {
        assert!(
            target.blob_file(digest).exists(),
            "blob {digest} was not pushed as pulled:\n{out}"
        );
    }

    // A kept blob damaged behind berthd's back (a crash may cut one
    // short) is not sent: that layer is recompressed, the others go as
    // they came, and the push succeeds.
    let mut kept = Vec::new();
    files_in_dirs_named(&d.data_root(), "gzip", &mut kept);
    assert_eq!(kept.len(), 5, "{kept:?}");
    let damaged = kept[0].clone();
    let damaged_digest = format!(
        "sha256:{}",
        damaged.file_name().expect("name").to_string_lossy()
    );
    assert!(digests.contains(&damaged_digest), "{damaged_digest}");
    fs::write(&damaged, b"cut short").expect("damage the kept blob");
    let third = Registry::start();
    let again = third.reference("again/app:v1");
    d.docker(&["tag", &pulled, &again]).ok();
    let out = d.docker(&["push", &again]).ok();
    assert_eq!(out.matches(": Pushed").count(), 5, "{out}");
    for digest in &digests {
        assert_eq!(
            third.blob_file(digest).exists(),
            *digest != damaged_digest,
            "{digest}:\n{out}"
        );
    }
    assert!(d.log().contains("does not match its digest"), "{}", d.log());
}

/// A layer that came as zstd (no blob kept: a push sends gzip) and layers
/// from tars another tool wrote are written back as the tars they came
/// as: `docker save` → `docker load` into a second daemon, and a push from
/// there, keep the image's diff ids and so its id.
#[test]
fn a_saved_loaded_and_pushed_image_keeps_its_id() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let image = registry.push_five_layer("keeps/app:v1", "keeps");
    let pulled = registry.reference("keeps/app:v1");

    let a = Daemon::start();
    a.docker(&["pull", &pulled]).ok();
    assert_eq!(a.image_id(&pulled), image.image_id);
    let archive = tmp.path().join("saved.tar");
    a.docker(&["save", "-o", archive.to_str().expect("utf-8"), &pulled])
        .ok();

    let b = Daemon::start();
    let out = b
        .docker(&["load", "-i", archive.to_str().expect("utf-8")])
        .ok();
    assert!(out.contains(&format!("Loaded image: {pulled}")), "{out}");
    assert_eq!(b.image_id(&pulled), image.image_id);

    let copy = registry.reference("keeps/copy:v1");
    b.docker(&["tag", &pulled, &copy]).ok();
    b.docker(&["push", &copy]).ok();
    let manifest = registry.manifest("keeps/copy", "v1");
    assert_eq!(
        manifest["config"]["digest"].as_str(),
        Some(image.image_id.as_str()),
        "{manifest:#}"
    );
    let out = b.docker(&["run", "--rm", &copy, "cat", "/layer4.txt"]).ok();
    assert_eq!(out, "4 keeps\n");
}
