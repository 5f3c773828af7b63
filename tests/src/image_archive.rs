//! Image archives built by the tests (`docker load` input): a docker-archive
//! of a multi-layer image on top of the busybox rootfs, with a history.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes` as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A layer tar of regular files (`(path, content)`), and `.wh.` whiteouts
/// for the paths in `deleted`.
pub fn layer_tar(files: &[(&str, &str)], deleted: &[&str]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).expect("append");
    };
    for (path, content) in files {
        add(path, content.as_bytes());
    }
    for path in deleted {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let wh = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        add(&wh, b"");
    }
    b.into_inner().expect("finish layer")
}

/// The busybox rootfs tarball and `extra` layers on top as a
/// docker-archive of one image tagged `tags`; its history has one entry
/// per layer plus an `ENV` entry that made no layer. Returns the image id.
pub fn multi_layer_archive(path: &Path, extra: &[Vec<u8>], tags: &[&str]) -> String {
    let base = fs::read(crate::busybox::shared_tarball()).expect("busybox tarball");
    let mut layers = vec![base];
    layers.extend(extra.iter().cloned());
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let mut history = vec![serde_json::json!({
        "created": "2024-01-01T00:00:00Z", "created_by": "ADD busybox / # buildkit"})];
    history.push(serde_json::json!({
        "created": "2024-01-01T00:00:01Z", "created_by": "ENV LAYERS=many", "empty_layer": true}));
    for i in 1..layers.len() {
        history.push(serde_json::json!({
            "created": "2024-01-02T00:00:00Z", "created_by": format!("RUN layer {i}"),
            "comment": format!("layer {i}")}));
    }
    let config = serde_json::json!({
        "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
        "os": "linux",
        "created": "2024-01-02T00:00:00Z",
        "config": {"Env": ["PATH=/bin", "LAYERS=many"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    })
    .to_string()
    .into_bytes();
    let config_hex = sha256_hex(&config);
    let file = fs::File::create(path).expect("create archive");
    let mut b = tar::Builder::new(file);
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).expect("append");
    };
    let mut names = Vec::new();
    for layer in &layers {
        let name = format!("{}/layer.tar", sha256_hex(layer));
        add(&name, layer);
        names.push(name);
    }
    add(&format!("{config_hex}.json"), &config);
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"), "RepoTags": tags, "Layers": names}]);
    add("manifest.json", manifest.to_string().as_bytes());
    b.finish().expect("finish archive");
    format!("sha256:{config_hex}")
}
