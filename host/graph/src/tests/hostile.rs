//! Hostile layer tars: nothing may be written outside the layer, the import
//! fails (or neutralises the entry) with a message naming the entry, and a
//! failed import leaves nothing in the store.

use std::fs;
use std::os::unix::fs::FileTypeExt;

use super::{Fixture, Tar};
use crate::GraphError;

/// Imports `tar`, expects a refusal mentioning `needle`, and checks that
/// nothing escaped and nothing was kept.
fn refused(tar: Vec<u8>, needle: &str) {
    let f = Fixture::vfs();
    let err = f.import(&tar, Some("hostile")).unwrap_err();
    let msg = format!("{err}");
    assert!(
        msg.contains(needle),
        "error {msg:?} should mention {needle:?}"
    );
    assert!(
        matches!(err.kind(), crate::ErrorKind::InvalidParameter),
        "{err:?} should be an invalid-parameter error"
    );
    f.assert_sentinel_untouched();
    f.assert_empty();
}

#[test]
fn dot_dot_paths_are_refused() {
    refused(
        Tar::new()
            .file("ok", "x")
            .raw(
                tar::EntryType::Regular,
                "../../sentinel/secret",
                "",
                "pwned",
            )
            .build(),
        "'..'",
    );
    refused(
        Tar::new()
            .raw(tar::EntryType::Regular, "a/../../x", "", "pwned")
            .build(),
        "'..'",
    );
}

#[test]
fn absolute_paths_are_made_relative() {
    let f = Fixture::vfs();
    let abs = f.sentinel().join("secret").display().to_string();
    let tar = Tar::new()
        .raw(tar::EntryType::Regular, &abs, "", "inside")
        .build();
    let report = f.import(&tar, Some("abs")).unwrap();
    f.assert_sentinel_untouched();
    let stored = f
        .layer_diff(&report.diff_id)
        .join(abs.trim_start_matches('/'));
    assert_eq!(fs::read_to_string(stored).unwrap(), "inside");
}

#[test]
fn writing_through_an_absolute_symlink_is_refused() {
    let f = Fixture::vfs();
    let target = f.sentinel().display().to_string();
    drop(f);
    refused(
        Tar::new()
            .symlink("evil", &target)
            .file("evil/pwned", "x")
            .build(),
        "outside the layer",
    );
    refused(
        Tar::new()
            .symlink("etc", "/etc")
            .file("etc/passwd", "x")
            .build(),
        "outside the layer",
    );
}

#[test]
fn escaping_relative_symlinks_and_chains_are_refused() {
    refused(
        Tar::new()
            .symlink("up", "../../../../../../../..")
            .file("up/pwned", "x")
            .build(),
        "outside the layer",
    );
    refused(
        Tar::new()
            .symlink("a", "b")
            .symlink("b", "c/../../..")
            .dir("c/")
            .file("a/pwned", "x")
            .build(),
        "outside the layer",
    );
}

#[test]
fn a_file_replaces_a_symlink_instead_of_writing_through_it() {
    let f = Fixture::vfs();
    let target = f.sentinel().join("secret").display().to_string();
    let tar = Tar::new()
        .symlink("link", &target)
        .file("link", "replaced")
        .build();
    let report = f.import(&tar, Some("replace")).unwrap();
    f.assert_sentinel_untouched();
    let hex = report.diff_id.strip_prefix("sha256:").unwrap();
    let link = f.graph.root().join("layers").join(hex).join("diff/link");
    assert!(fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(fs::read_to_string(link).unwrap(), "replaced");
}

#[test]
fn hard_links_out_of_the_layer_are_refused() {
    // Absolute: resolved inside the layer, where no /etc/shadow exists.
    refused(
        Tar::new().hardlink("shadow", "/etc/shadow").build(),
        "not an earlier entry",
    );
    refused(
        Tar::new()
            .raw(tar::EntryType::Link, "x", "../../sentinel/secret", "")
            .build(),
        "outside the layer",
    );
    let f = Fixture::vfs();
    let target = f.sentinel().display().to_string();
    drop(f);
    refused(
        Tar::new()
            .symlink("evil", &target)
            .hardlink("x", "evil/secret")
            .build(),
        "outside the layer",
    );
    refused(
        Tar::new().dir("d/").hardlink("x", "d").build(),
        "is a directory",
    );
}

#[test]
fn device_nodes_are_skipped_with_a_warning() {
    let f = Fixture::vfs();
    let tar = Tar::new()
        .file("keep", "x")
        .special(tar::EntryType::Char, "dev-null")
        .special(tar::EntryType::Block, "dev-sda")
        .build();
    let report = f.import(&tar, Some("devices")).unwrap();
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("dev-null"));
    let diff = f.layer_diff(&report.diff_id);
    assert!(diff.join("keep").exists());
    assert!(!diff.join("dev-null").exists());
    assert!(!diff.join("dev-sda").exists());
}

#[test]
fn huge_names_are_refused() {
    let long_component = format!("dir/{}", "n".repeat(300));
    refused(
        Tar::new().file(&long_component, "x").build(),
        "more than 255",
    );
    let long_path = (0..50)
        .map(|_| "d".repeat(99))
        .collect::<Vec<_>>()
        .join("/");
    refused(Tar::new().file(&long_path, "x").build(), "more than 4095");
}

#[test]
fn invalid_whiteouts_and_root_entries_are_refused() {
    refused(
        Tar::new().file("a/.wh...", "").build(),
        "whiteout of an invalid name",
    );
    refused(
        Tar::new()
            .raw(tar::EntryType::Symlink, "./", "/etc", "")
            .build(),
        "layer root",
    );
}

#[test]
fn garbage_and_truncated_input_change_nothing() {
    let f = Fixture::vfs();
    for input in [
        b"this is not a tar archive, not even close..........".repeat(20),
        Vec::new(),
        {
            let mut t = super::small_rootfs();
            t.truncate(1500);
            t
        },
    ] {
        let err = f.import(&input, Some("garbage")).unwrap_err();
        assert!(
            matches!(
                err,
                GraphError::InvalidArchive { .. } | GraphError::UnsafeEntry { .. }
            ),
            "{err:?}"
        );
        f.assert_empty();
    }
}

#[test]
fn fifos_are_created_and_setuid_bits_kept() {
    let f = Fixture::vfs();
    let report = f.import(&super::small_rootfs(), Some("small")).unwrap();
    let diff = f.layer_diff(&report.diff_id);
    assert!(
        fs::symlink_metadata(diff.join("run-fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tool = fs::metadata(diff.join("bin/tool")).unwrap();
    assert_eq!(tool.permissions().mode() & 0o7777, 0o4755);
    assert_eq!(tool.mtime(), 1_700_000_000);
    let link = fs::metadata(diff.join("bin/tool-link")).unwrap();
    assert_eq!(link.ino(), tool.ino(), "hard link kept");
    assert_eq!(
        fs::read_link(diff.join("bin/sh")).unwrap().to_str(),
        Some("/bin/tool"),
        "absolute symlink targets are stored unchanged"
    );
}

#[test]
fn entries_under_a_file_or_a_symlink_loop_are_the_tars_fault() {
    // Found by the extraction property test: these were internal errors
    // (a 500), though the archive alone is to blame.
    refused(
        Tar::new().file("b", "x").file("b/a", "y").build(),
        "not a directory",
    );
    refused(
        Tar::new()
            .special(tar::EntryType::Fifo, "p")
            .file("p/a", "y")
            .build(),
        "not a directory",
    );
    refused(
        Tar::new().symlink("l", "l").file("l/a", "y").build(),
        "not a directory",
    );
    // Under a dangling symlink: creating the parent answers EEXIST.
    refused(
        Tar::new().symlink("a", "b").file("a/a", "y").build(),
        "not a directory",
    );
}
