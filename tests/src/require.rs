//! Preconditions that fail loudly.

/// Fails the calling test unless it runs as root.
pub fn root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (namespaces, mounts, cgroups); run the privileged suite as root"
    );
}

/// Fails the calling test unless `program` is on `PATH`, naming the Debian
/// package that provides it.
pub fn program(program: &str, debian_package: &str) -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{program}` is not on PATH: install the Debian package `{debian_package}`");
}
