//! A layer is written back as the tar it came as (`crate::tarsplit`):
//! save and push keep an image's diff ids and so its id, whatever tool
//! wrote its tars.

use std::io::{Cursor, Write};

use sha2::{Digest, Sha256};

use super::{Fixture, Tar, config_json};
use crate::GraphError;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A tar as another tool writes it, with what berth's own writer does
/// differently: entries out of order, owner names, PAX records, a path
/// and a link target longer than a header holds, a file of no content, a
/// fifo, and the end-of-archive blocks padded to a 10 KiB record as GNU
/// tar pads them.
fn foreign_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, size: u64, mtime: u64| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(mtime);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_username("builder").expect("uname");
        h.set_groupname("staff").expect("gname");
        h
    };
    b.append_data(
        &mut header(tar::EntryType::Directory, 0o755, 0, 1_600_000_001),
        "zeta/",
        std::io::empty(),
    )
    .expect("dir");
    b.append_data(
        &mut header(tar::EntryType::Regular, 0o640, 5, 1_600_000_002),
        "zeta/file",
        &b"hello"[..],
    )
    .expect("file");
    b.append_pax_extensions([("SCHILY.xattr.user.origin", &b"elsewhere"[..])])
        .expect("pax");
    b.append_data(
        &mut header(tar::EntryType::Regular, 0o600, 0, 1_600_000_003),
        "alpha",
        std::io::empty(),
    )
    .expect("empty file");
    let long = format!("zeta/{}/{}", "d".repeat(90), "f".repeat(60));
    b.append_data(
        &mut header(tar::EntryType::Regular, 0o644, 700, 1_600_000_004),
        &long,
        &[7u8; 700][..],
    )
    .expect("long path");
    b.append_link(
        &mut header(tar::EntryType::Symlink, 0o777, 0, 1_600_000_005),
        "alpha-link",
        format!("/{}", "t".repeat(150)),
    )
    .expect("long symlink");
    b.append_link(
        &mut header(tar::EntryType::Link, 0o644, 0, 1_600_000_006),
        "zeta/hard",
        "zeta/file",
    )
    .expect("hard link");
    b.append_data(
        &mut header(tar::EntryType::Fifo, 0o644, 0, 1_600_000_007),
        "pipe",
        std::io::empty(),
    )
    .expect("fifo");
    let mut tar = b.into_inner().expect("finish");
    tar.resize(tar.len().div_ceil(10240) * 10240, 0);
    tar
}

fn written_back(f: &Fixture, diff_id: &str) -> Result<Vec<u8>, GraphError> {
    let mut out = Vec::new();
    f.graph.write_layer(diff_id, &mut out)?;
    Ok(out)
}

#[test]
fn a_layer_is_written_back_as_the_tar_it_came_as() {
    for f in [Fixture::vfs(), Fixture::overlay()] {
        let tar = foreign_tar();
        let report = f.graph.add_layer(Cursor::new(tar.clone()), None).unwrap();
        assert_eq!(report.diff_id, format!("sha256:{}", sha256_hex(&tar)));
        assert_eq!(written_back(&f, &report.diff_id).unwrap(), tar);

        // A compressed layer is written back as the tar inside it.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let other = Tar::new()
            .dir("b/")
            .file("b/z", "z")
            .file("a", &"x".repeat(3000))
            .build();
        gz.write_all(&other).unwrap();
        let report = f
            .graph
            .add_layer(Cursor::new(gz.finish().unwrap()), None)
            .unwrap();
        assert_eq!(written_back(&f, &report.diff_id).unwrap(), other);

        // A whiteout of a name that only begins like an entry's directory,
        // or of one whited out before its entry came, removes nothing
        // of this tar.
        let kept = Tar::new()
            .file("ab/x", "x")
            .file(".wh.a", "")
            .file("ab/.wh.x2", "")
            .file("ab/x2", "y")
            .build();
        let report = f.graph.add_layer(Cursor::new(kept.clone()), None).unwrap();
        assert_eq!(written_back(&f, &report.diff_id).unwrap(), kept);
    }
}

#[test]
fn a_saved_image_of_foreign_tars_keeps_its_id() {
    let f = Fixture::vfs();
    let tar = foreign_tar();
    let hex = sha256_hex(&tar);
    f.graph.add_layer(Cursor::new(tar), None).unwrap();
    let config = config_json(std::slice::from_ref(&hex), "foreign");
    let id = f.graph.create_image(&config, Some("foreign:1")).unwrap();
    let mut archive = Vec::new();
    f.graph
        .save(&["foreign:1".to_owned()], &mut archive)
        .unwrap();
    let mut members = Vec::new();
    for entry in tar::Archive::new(Cursor::new(archive)).entries().unwrap() {
        members.push(entry.unwrap().path().unwrap().display().to_string());
    }
    assert!(
        members.contains(&format!("blobs/sha256/{}", &id[7..])),
        "the config is saved as it is: {members:?}"
    );
    assert!(
        members.contains(&format!("blobs/sha256/{hex}")),
        "{members:?}"
    );
}

#[test]
fn a_tar_that_cannot_be_replayed_is_written_the_deterministic_way() {
    let f = Fixture::overlay();
    // A path written twice keeps only its second content.
    let twice = Tar::new().file("a", "first").file("a", "second").build();
    // A whiteout of a file of the same tar removes it.
    let removed = Tar::new().file("a", "gone").file(".wh.a", "").build();
    // ... or a directory of it whose own entry never came.
    let under = Tar::new().file("d/e/f", "gone").file(".wh.d", "").build();
    for tar in [twice, removed, under] {
        let report = f.graph.add_layer(Cursor::new(tar.clone()), None).unwrap();
        let hex = report.diff_id.strip_prefix("sha256:").unwrap();
        assert!(
            !f.data_root()
                .join("layers")
                .join(hex)
                .join(crate::tarsplit::SPLIT_FILE)
                .exists(),
            "no record is kept"
        );
        let out = written_back(&f, &report.diff_id).unwrap();
        assert_ne!(out, tar);
        // Still a tar of the layer as stored.
        let mut names = Vec::new();
        for entry in tar::Archive::new(Cursor::new(out)).entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        assert!(!names.is_empty());
    }
}

#[test]
fn a_layer_changed_on_disk_is_refused_rather_than_written_wrong() {
    let f = Fixture::vfs();
    let tar = Tar::new().file("a", "hello").file("b", "world").build();
    let report = f.graph.add_layer(Cursor::new(tar), None).unwrap();
    let diff = f.layer_diff(&report.diff_id);
    // Same length, other bytes: the digest tells.
    std::fs::write(diff.join("a"), "HELLO").unwrap();
    let err = written_back(&f, &report.diff_id).unwrap_err();
    assert!(matches!(err, GraphError::LayerChanged { .. }), "{err}");
    assert!(err.to_string().contains("digest"), "{err}");
    // Another length: the file tells.
    std::fs::write(diff.join("b"), "longer world").unwrap();
    let err = written_back(&f, &report.diff_id).unwrap_err();
    assert!(matches!(err, GraphError::LayerChanged { .. }), "{err}");
    assert!(err.to_string().contains("12 bytes, not 5"), "{err}");
    // A symlink put in a file's place is not followed out of the layer.
    std::fs::remove_file(diff.join("b")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", diff.join("b")).unwrap();
    let err = written_back(&f, &report.diff_id).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}
