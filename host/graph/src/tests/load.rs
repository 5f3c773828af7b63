//! `docker load`: docker-archive and OCI layout archives, and hostile
//! archives that must change nothing.

use std::io::{Cursor, Write};

use super::{Fixture, Tar, config_json};
use crate::compress::sha256_hex;
use crate::{ErrorKind, GraphError};

/// An archive member builder that takes bytes.
pub(crate) struct Archive {
    b: tar::Builder<Vec<u8>>,
}

impl Archive {
    pub fn new() -> Self {
        Self {
            b: tar::Builder::new(Vec::new()),
        }
    }

    pub fn file(mut self, name: &str, data: &[u8]) -> Self {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        self.b.append_data(&mut h, name, data).unwrap();
        self
    }

    /// A member with a name `tar::Builder` would refuse (`..`, absolute).
    pub fn raw_name(mut self, name: &str, data: &[u8]) -> Self {
        let mut h = tar::Header::new_old();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        self.b.append_link(&mut h, name, target).unwrap();
        self
    }

    pub fn build(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

fn layer(n: u32) -> Vec<u8> {
    Tar::new()
        .dir("./")
        .file(&format!("./file-{n}"), &format!("content {n}\n"))
        .build()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A docker-archive of one image of `layers` (as stored in the archive,
/// possibly compressed; `plain` their uncompressed forms), tagged `tags`.
fn docker_archive(plain: &[Vec<u8>], stored: &[Vec<u8>], tags: &[&str]) -> (Vec<u8>, String) {
    let hexes: Vec<String> = plain.iter().map(|l| sha256_hex(l)).collect();
    let config = config_json(&hexes, "load");
    let config_hex = sha256_hex(&config);
    let mut a = Archive::new().file(&format!("blobs/sha256/{config_hex}"), &config);
    let mut names = Vec::new();
    for layer in stored {
        let name = format!("blobs/sha256/{}", sha256_hex(layer));
        a = a.file(&name, layer);
        names.push(name);
    }
    let manifest = serde_json::json!([{
        "Config": format!("blobs/sha256/{config_hex}"),
        "RepoTags": tags,
        "Layers": names,
    }]);
    let a = a.file("manifest.json", manifest.to_string().as_bytes());
    (a.build(), format!("sha256:{config_hex}"))
}

fn refused(f: &Fixture, archive: Vec<u8>) -> String {
    let err = f.graph.load(Cursor::new(archive)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{err}");
    assert!(
        matches!(err, GraphError::InvalidImageArchive { .. }),
        "{err:?}"
    );
    err.to_string()
}

#[test]
fn a_docker_archive_loads_with_plain_gzip_and_zstd_layers_and_its_tags() {
    let f = Fixture::vfs();
    let plain = vec![layer(1), layer(2), layer(3)];
    let stored = vec![
        plain[0].clone(),
        gzip(&plain[1]),
        zstd::encode_all(Cursor::new(&plain[2]), 3).unwrap(),
    ];
    let (archive, id) = docker_archive(&plain, &stored, &["app:1", "docker.io/library/app:2"]);
    let report = f.graph.load(Cursor::new(archive)).unwrap();
    assert_eq!(report.images.len(), 1);
    assert_eq!(report.images[0].id, id);
    assert_eq!(report.images[0].tags, ["app:1", "app:2"]);
    let details = f.graph.inspect("app:2").unwrap();
    assert_eq!(details.id, id);
    let diff_ids: Vec<String> = plain
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    assert_eq!(details.layers, diff_ids);
    assert!(f.layer_diff(&diff_ids[2]).join("file-3").is_file());
    // Loading it again reuses everything and moves nothing.
    let (again, _) = docker_archive(&plain, &stored, &["app:1"]);
    assert_eq!(f.graph.load(Cursor::new(again)).unwrap().images[0].id, id);
    let tmp: Vec<_> = std::fs::read_dir(f.graph.root().join("tmp"))
        .unwrap()
        .collect();
    assert!(tmp.is_empty(), "the spool is removed: {tmp:?}");
}

#[test]
fn an_oci_layout_loads_with_its_reference_annotations() {
    let f = Fixture::vfs();
    let plain = [layer(1), layer(2)];
    let hexes: Vec<String> = plain.iter().map(|l| sha256_hex(l)).collect();
    let config = config_json(&hexes, "oci");
    let config_hex = sha256_hex(&config);
    let gz: Vec<Vec<u8>> = plain.iter().map(|l| gzip(l)).collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{config_hex}"),
            "size": config.len(),
        },
        "layers": gz.iter().map(|l| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": format!("sha256:{}", sha256_hex(l)),
            "size": l.len(),
        })).collect::<Vec<_>>(),
    })
    .to_string();
    let manifest_hex = sha256_hex(manifest.as_bytes());
    let descriptor = |annotations: serde_json::Value| {
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_hex}"),
            "size": manifest.len(),
            "annotations": annotations,
        })
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [
            descriptor(serde_json::json!({"org.opencontainers.image.ref.name": "web:1.0"})),
            descriptor(serde_json::json!({"io.containerd.image.name": "docker.io/library/web:2.0",
                "org.opencontainers.image.ref.name": "2.0"})),
            descriptor(serde_json::json!({"org.opencontainers.image.ref.name": "latest"})),
        ],
    });
    let mut a = Archive::new()
        .file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .file("index.json", index.to_string().as_bytes())
        .file(&format!("blobs/sha256/{config_hex}"), &config)
        .file(&format!("blobs/sha256/{manifest_hex}"), manifest.as_bytes());
    for l in &gz {
        a = a.file(&format!("blobs/sha256/{}", sha256_hex(l)), l);
    }
    let report = f.graph.load(Cursor::new(a.build())).unwrap();
    let id = format!("sha256:{config_hex}");
    let tags: Vec<Vec<String>> = report.images.iter().map(|i| i.tags.clone()).collect();
    assert_eq!(tags, [vec!["web:1.0"], vec!["web:2.0"], vec![]]);
    assert!(report.images.iter().all(|i| i.id == id));
    assert_eq!(f.graph.resolve("web:1.0").unwrap(), id);
    assert_eq!(f.graph.resolve("web:2.0").unwrap(), id);
}

#[test]
fn a_symlinked_layer_inside_the_archive_is_followed() {
    // docker 1.10–17.x wrote a layer shared by two images once and a
    // symlink `../<id>/layer.tar` for the second.
    let f = Fixture::vfs();
    let plain = layer(1);
    let hex = sha256_hex(&plain);
    let config = config_json(std::slice::from_ref(&hex), "old");
    let manifest = serde_json::json!([{
        "Config": "cfg.json", "RepoTags": ["old:1"], "Layers": ["b/layer.tar"],
    }]);
    let archive = Archive::new()
        .file("cfg.json", &config)
        .file("a/layer.tar", &plain)
        .symlink("b/layer.tar", "../a/layer.tar")
        .file("manifest.json", manifest.to_string().as_bytes())
        .build();
    let report = f.graph.load(Cursor::new(archive)).unwrap();
    assert_eq!(
        report.images[0].id,
        format!("sha256:{}", sha256_hex(&config))
    );
}

/// A fixture holding `old:1`, and the check that a refused load left it
/// and nothing else.
fn with_previous_image() -> (Fixture, String) {
    let f = Fixture::vfs();
    let (archive, id) = docker_archive(&[layer(9)], &[layer(9)], &["app:1"]);
    f.graph.load(Cursor::new(archive)).unwrap();
    (f, id)
}

fn assert_intact(f: &Fixture, id: &str) {
    assert_eq!(f.graph.resolve("app:1").unwrap(), id);
    assert_eq!(f.graph.images().unwrap().len(), 1);
    let store = f.graph.store();
    assert_eq!(store.list(crate::records::LAYERS).unwrap().len(), 1);
    let tmp: Vec<_> = std::fs::read_dir(f.graph.root().join("tmp"))
        .unwrap()
        .collect();
    assert!(tmp.is_empty(), "tmp/ is not empty: {tmp:?}");
    let layers: Vec<_> = std::fs::read_dir(f.graph.root().join("layers"))
        .unwrap()
        .collect();
    assert_eq!(layers.len(), 1, "{layers:?}");
    f.assert_sentinel_untouched();
}

#[test]
fn hostile_archives_are_refused_and_change_nothing() {
    let (f, id) = with_previous_image();
    let plain = [layer(1), layer(2)];
    let hexes: Vec<String> = plain.iter().map(|l| sha256_hex(l)).collect();
    let config = config_json(&hexes, "x");
    let manifest = |layers: &[&str]| {
        serde_json::json!([{"Config": "c.json", "RepoTags": ["app:1"], "Layers": layers}])
            .to_string()
            .into_bytes()
    };
    let good = || {
        Archive::new()
            .file("c.json", &config)
            .file("l1.tar", &plain[0])
    };

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not a tar",
            b"this is not a tar archive at all, just words".repeat(40),
            "not a tar archive",
        ),
        ("empty tar", Archive::new().build(), "no manifest.json"),
        (
            "dot-dot member",
            good().raw_name("../escape", b"x").build(),
            "climbs out",
        ),
        (
            "absolute member",
            good().raw_name("/etc/escape", b"x").build(),
            "absolute",
        ),
        (
            "symlink out",
            good()
                .symlink("l2.tar", "../../etc/passwd")
                .file("manifest.json", &manifest(&["l1.tar", "l2.tar"]))
                .build(),
            "points outside",
        ),
        (
            "absolute symlink",
            good()
                .symlink("l2.tar", "/etc/passwd")
                .file("manifest.json", &manifest(&["l1.tar", "l2.tar"]))
                .build(),
            "points outside",
        ),
        (
            "missing layer",
            good()
                .file("manifest.json", &manifest(&["l1.tar", "l2.tar"]))
                .build(),
            "holds no file \"l2.tar\"",
        ),
        (
            "mismatching layer",
            good()
                .file("l2.tar", &layer(3))
                .file("manifest.json", &manifest(&["l1.tar", "l2.tar"]))
                .build(),
            "has diff id",
        ),
        (
            "layer count",
            good().file("manifest.json", &manifest(&["l1.tar"])).build(),
            "layers length mismatch",
        ),
        (
            "blob digest",
            good()
                .file(&format!("blobs/sha256/{}", hexes[1]), &layer(4))
                .file(
                    "manifest.json",
                    &manifest(&["l1.tar", &format!("blobs/sha256/{}", hexes[1])]),
                )
                .build(),
            "does not match its digest",
        ),
        (
            "huge json",
            good()
                .file(
                    "manifest.json",
                    &vec![b' '; crate::MAX_ARCHIVE_JSON as usize + 1],
                )
                .build(),
            "more than",
        ),
        (
            "bad json",
            good().file("manifest.json", b"[{").build(),
            "manifest.json is not valid",
        ),
        (
            "a layer that is not a tar",
            good()
                .file("l2.tar", b"plainly not a tar stream")
                .file("manifest.json", &manifest(&["l1.tar", "l2.tar"]))
                .build(),
            "layer l2.tar",
        ),
    ];
    for (what, archive, expect) in cases {
        let message = refused(&f, archive);
        assert!(message.contains(expect), "{what}: {message}");
        assert_intact(&f, &id);
    }
}

#[test]
fn history_counts_empty_layers_and_tags_the_top_entry() {
    let f = Fixture::vfs();
    let plain = [
        layer(1),
        Tar::new().file("./big", &"x".repeat(1000)).build(),
    ];
    let hexes: Vec<String> = plain.iter().map(|l| sha256_hex(l)).collect();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": hexes.iter().map(|h| format!("sha256:{h}")).collect::<Vec<_>>()},
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": "ADD rootfs"},
            {"created": "2024-01-02T00:00:00Z", "created_by": "ENV A=b", "empty_layer": true},
            {"created": "2024-01-03T00:00:00Z", "created_by": "RUN big", "comment": "c"},
        ],
    })
    .to_string()
    .into_bytes();
    let config_hex = sha256_hex(&config);
    let manifest = serde_json::json!([{"Config": "c.json", "RepoTags": ["h:1", "h:2"],
        "Layers": ["a.tar", "b.tar"]}]);
    let archive = Archive::new()
        .file("c.json", &config)
        .file("a.tar", &plain[0])
        .file("b.tar", &plain[1])
        .file("manifest.json", manifest.to_string().as_bytes())
        .build();
    f.graph.load(Cursor::new(archive)).unwrap();
    let history = f.graph.history("h:1").unwrap();
    let rows: Vec<(&str, &str, u64, Vec<String>)> = history
        .iter()
        .map(|h| (h.id.as_str(), h.created_by.as_str(), h.size, h.tags.clone()))
        .collect();
    let id = format!("sha256:{config_hex}");
    assert_eq!(
        rows,
        [
            (
                id.as_str(),
                "RUN big",
                1000,
                vec!["h:1".to_owned(), "h:2".to_owned()]
            ),
            ("<missing>", "ENV A=b", 0, vec![]),
            (
                "<missing>",
                "ADD rootfs",
                "content 1\n".len() as u64,
                vec![]
            ),
        ]
    );
    assert_eq!(history[0].comment, "c");
    assert_eq!(history[0].created, 1_704_240_000);
    assert!(matches!(
        f.graph.history("nope").unwrap_err(),
        GraphError::ImageNotFound { .. }
    ));
}
