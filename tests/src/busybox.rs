//! A busybox root filesystem built from Debian's `busybox-static`.
//!
//! Tests never pull images: they build this rootfs (a static busybox, its
//! applet links, `/etc/passwd` and `/etc/group` with a few users) and either
//! use it as an OCI bundle's rootfs or import it as an image tarball.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

/// Where Debian's `busybox-static` installs its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Users every test rootfs knows, as `/etc/passwd` lines.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
berth:x:1000:1000:berth test user:/home/berth:/bin/sh\n";

const GROUP: &str = "root:x:0:\n\
daemon:x:1:\n\
wheel:x:10:berth\n\
audio:x:29:berth\n\
nogroup:x:65534:\n\
berth:x:1000:\n";

fn static_busybox() -> &'static Path {
    let path = Path::new(BUSYBOX);
    assert!(
        path.is_file(),
        "{BUSYBOX} is missing: install the Debian package `busybox-static`"
    );
    path
}

/// Lists busybox's applets (`busybox --list`).
fn applets() -> Vec<String> {
    let out = crate::cmd::run([BUSYBOX, "--list"], std::time::Duration::from_secs(10)).ok();
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Builds a busybox root filesystem in `dir` (which must exist and be empty).
pub fn build_rootfs(dir: &Path) {
    let busybox = static_busybox();
    for sub in [
        "bin",
        "etc",
        "dev",
        "proc",
        "sys",
        "tmp",
        "root",
        "home/berth",
        "var",
        "run",
    ] {
        fs::create_dir_all(dir.join(sub)).expect("create rootfs dir");
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).expect("chmod tmp");
    fs::copy(busybox, dir.join("bin/busybox")).expect("copy busybox");
    for applet in applets() {
        if applet == "busybox" {
            continue;
        }
        let _ = symlink("busybox", dir.join("bin").join(&applet));
    }
    fs::write(dir.join("etc/passwd"), PASSWD).expect("write passwd");
    fs::write(dir.join("etc/group"), GROUP).expect("write group");
    fs::write(dir.join("etc/hostname"), "busybox\n").expect("write hostname");
    std::os::unix::fs::chown(dir.join("home/berth"), Some(1000), Some(1000)).expect("chown home");
}

/// Builds the rootfs and packs it as an uncompressed tarball (the format of
/// `docker export`, accepted by `docker import` and `berth import`).
pub fn build_tarball(path: &Path) {
    build_tarball_with(path, |_| {});
}

/// Like [`build_tarball`], with `mutate` applied to the rootfs before it
/// is packed (variant images: a symlink or a FIFO where the runtime looks,
/// an extra binary).
pub fn build_tarball_with(path: &Path, mutate: impl FnOnce(&Path)) {
    let staging = tempfile::tempdir().expect("tempdir");
    build_rootfs(staging.path());
    mutate(staging.path());
    pack_tarball(staging.path(), path);
}

/// Packs the directory `dir` as an uncompressed tarball at `path`, links
/// and FIFOs as they are.
pub fn pack_tarball(dir: &Path, path: &Path) {
    let file = fs::File::create(path).expect("create tarball");
    let mut builder = tar::Builder::new(file);
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir).expect("pack rootfs");
    builder.finish().expect("finish tarball");
}

/// A rootfs tarball shared by every test process of one build.
///
/// It lives in the target dir's scratch dir (`target/tmp`), so nothing is
/// left in `/tmp`, and it is built once: written to a unique temp name, then
/// renamed into place, so concurrent test processes never see half a file.
pub fn shared_tarball() -> PathBuf {
    static TARBALL: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TARBALL
        .get_or_init(|| {
            let dir = crate::target_tmp().join("berth-fixtures");
            fs::create_dir_all(&dir).expect("create fixture dir");
            // Bump the version when the rootfs recipe changes, so a stale build is not reused.
            let path = dir.join("busybox-v1.tar");
            if !path.is_file() {
                let staging = dir.join(format!("busybox.tar.{}", std::process::id()));
                build_tarball(&staging);
                fs::rename(&staging, &path).expect("publish busybox tarball");
            }
            path
        })
        .clone()
}
