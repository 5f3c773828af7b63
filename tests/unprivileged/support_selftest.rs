//! The test support code itself.

use berth_tests::busybox;

#[test]
fn busybox_tarball_has_a_shell_and_users() {
    let tarball = busybox::shared_tarball();
    let mut archive = tar::Archive::new(std::fs::File::open(&tarball).unwrap());
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path().unwrap().to_string_lossy().into_owned();
            path.trim_start_matches("./").to_owned()
        })
        .collect();
    for wanted in ["bin/busybox", "bin/sh", "etc/passwd", "etc/group"] {
        assert!(
            names.iter().any(|n| n == wanted),
            "{wanted} missing from {names:?}"
        );
    }
}
