//! Support code shared by berth's integration tests.
//!
//! - [`busybox`]: a tiny root filesystem and image tarball built from Debian's
//!   `busybox-static`, so that no test ever pulls an image.
//! - [`cmd`]: external commands, always under a timeout.
//! - [`dns_stub`]: a one-name DNS responder on an address of the test's.
//! - [`require`]: loud preconditions. A test that cannot run on a machine fails
//!   and says what is missing; it never passes silently.

pub mod busybox;
pub mod cmd;
pub mod daemon;
pub mod dns_stub;
pub mod hostlink;
pub mod http;
pub mod image_archive;
pub mod netlab;
pub mod pki;
pub mod registry;
pub mod regproxy;
pub mod require;
pub mod tlsreg;
pub mod tokenauth;

/// Path of a binary built by this workspace (`berthd`, `berth`, `berth-runc`,
/// `berth-shim`), next to the test executable's `deps/` directory.
///
/// Cargo builds every binary of the workspace before running integration
/// tests of a package that depends on them only when asked, so
/// `.ci/run` builds the workspace first; this fails loudly if the binary is
/// missing.
pub fn workspace_bin(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/privileged-xxxx -> target/debug/
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (`cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// The build's scratch directory, `target/tmp` (what cargo calls
/// `CARGO_TARGET_TMPDIR`; that variable is only set while compiling the test
/// binaries, not this support library): derived from the test executable's
/// path, `target/<profile>/deps/<test>`.
pub fn target_tmp() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("test executable lives in target/<profile>/deps");
    target.join("tmp")
}
