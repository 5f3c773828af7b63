//! `docker save`: the archive docker 25+ writes, deterministic, read back
//! by `load`.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use super::Fixture;
use super::Tar;
use super::load::Archive;
use crate::compress::sha256_hex;

fn members(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut a = tar::Archive::new(Cursor::new(archive));
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(name, data);
    }
    out
}

fn json(m: &BTreeMap<String, Vec<u8>>, name: &str) -> serde_json::Value {
    serde_json::from_slice(&m[name]).unwrap()
}

/// Two images sharing their base layer, one with a whiteout, loaded from
/// a docker-archive whose tars berth did not write.
fn two_images(f: &Fixture) {
    let base = Tar::new()
        .dir("etc/")
        .file("etc/passwd", "root\n")
        .file("gone", "x")
        .symlink("sh", "/bin/busybox")
        .build();
    let top = Tar::new().file(".wh.gone", "").file("new", "n\n").build();
    let config = |layers: &[&Vec<u8>], salt: &str| {
        let ids: Vec<String> = layers.iter().map(|l| sha256_hex(l)).collect();
        super::config_json(&ids, salt)
    };
    let c1 = config(&[&base], "one");
    let c2 = config(&[&base, &top], "two");
    let manifest = serde_json::json!([
        {"Config": "c1.json", "RepoTags": ["one:1"], "Layers": ["base.tar"]},
        {"Config": "c2.json", "RepoTags": ["two:1"], "Layers": ["base.tar", "top.tar"]},
    ]);
    let archive = Archive::new()
        .file("c1.json", &c1)
        .file("c2.json", &c2)
        .file("base.tar", &base)
        .file("top.tar", &top)
        .file("manifest.json", manifest.to_string().as_bytes())
        .build();
    f.graph.load(Cursor::new(archive)).unwrap();
}

#[test]
fn save_writes_a_docker_archive_that_is_an_oci_layout_with_shared_layers_once() {
    let f = Fixture::vfs();
    two_images(&f);
    let mut out = Vec::new();
    f.graph
        .save(&["one:1".into(), "two:1".into(), "one:1".into()], &mut out)
        .unwrap();
    let m = members(&out);
    assert_eq!(
        json(&m, "oci-layout"),
        serde_json::json!({"imageLayoutVersion": "1.0.0"})
    );
    let manifest = json(&m, "manifest.json");
    assert_eq!(manifest.as_array().unwrap().len(), 2);
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["one:1"]));
    assert_eq!(manifest[1]["Layers"][0], manifest[0]["Layers"][0]);
    let blobs = m.keys().filter(|k| k.starts_with("blobs/sha256/")).count();
    // 2 layers, 2 configs, 2 manifests.
    assert_eq!(blobs, 6, "{:?}", m.keys().collect::<Vec<_>>());
    for (name, data) in &m {
        if let Some(hex) = name.strip_prefix("blobs/sha256/") {
            assert_eq!(sha256_hex(data), hex, "{name}");
        }
    }
    let index = json(&m, "index.json");
    assert_eq!(
        index["manifests"][1]["annotations"]["io.containerd.image.name"],
        "docker.io/library/two:1"
    );
    assert_eq!(
        json(&m, "repositories")["two"]["1"],
        manifest[1]["Config"].as_str().unwrap()["blobs/sha256/".len()..]
    );
    // The whiteout goes back as `.wh.gone`.
    let top = &m[manifest[1]["Layers"][1].as_str().unwrap()];
    let names: Vec<String> = members(top).into_keys().collect();
    assert_eq!(names, [".wh.gone", "new"]);
    assert!(matches!(
        f.graph.save(&["nope".into()], &mut Vec::new()).unwrap_err(),
        crate::GraphError::ImageNotFound { .. }
    ));
}

#[test]
fn save_load_save_round_trips_to_identical_ids() {
    let f = Fixture::vfs();
    two_images(&f);
    let names = ["one:1".to_owned(), "two:1".to_owned()];
    let mut first = Vec::new();
    f.graph.save(&names, &mut first).unwrap();
    let g = Fixture::vfs();
    let report = g.graph.load(Cursor::new(first.clone())).unwrap();
    let first_manifest = json(&members(&first), "manifest.json");
    for (i, image) in report.images.iter().enumerate() {
        assert_eq!(
            format!("blobs/sha256/{}", &image.id[7..]),
            first_manifest[i]["Config"].as_str().unwrap()
        );
    }
    let mut second = Vec::new();
    g.graph.save(&names, &mut second).unwrap();
    let (m1, m2) = (members(&first), members(&second));
    assert_eq!(
        m1.keys().collect::<Vec<_>>(),
        m2.keys().collect::<Vec<_>>(),
        "a loaded archive saves to the same members"
    );
    for (name, data) in &m1 {
        if data != &m2[name] && name.starts_with("blobs/") {
            let inner = |d: &[u8]| {
                let mut a = tar::Archive::new(Cursor::new(d.to_vec()));
                a.entries()
                    .map(|es| {
                        es.map(|e| {
                            let e = e.unwrap();
                            let h = e.header();
                            format!(
                                "{} {:o} {} {:?}",
                                e.path().unwrap().display(),
                                h.mode().unwrap(),
                                h.mtime().unwrap(),
                                h.entry_type()
                            )
                        })
                        .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            };
            panic!(
                "{name} differs: {:?} vs {:?}",
                inner(data),
                inner(&m2[name])
            );
        }
    }
    assert_eq!(first, second, "a loaded archive saves to the same bytes");
    // The container sees the same files through the reloaded image.
    let two = g.graph.inspect("two:1").unwrap();
    assert_eq!(two.layers.len(), 2);
}
