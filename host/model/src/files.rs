//! What crosses the seam for `docker cp` (`/containers/{id}/archive`):
//! the container's file system as the graph driver reaches it from the
//! host, the stat of a path, and the options of an extraction.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// moby's `container.PathStat` (`api/types/container/container.go`): the
/// JSON that `X-Docker-Container-Path-Stat` carries, base64-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    /// The base name of the path as the client asked for it.
    pub name: String,
    /// `st_size`.
    pub size: i64,
    /// Go's `os.FileMode` bits (see [`go_file_mode`]), not `st_mode`.
    pub mode: u32,
    /// The modification time, RFC 3339 with nanoseconds.
    pub mtime: String,
    /// For a symlink, the container path it resolves to (moby resolves
    /// it in the container's scope); empty otherwise.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go's `io/fs.FileMode` type bits (`io/fs/fs.go`).
pub mod go_mode {
    /// `ModeDir`.
    pub const DIR: u32 = 1 << 31;
    /// `ModeSymlink`.
    pub const SYMLINK: u32 = 1 << 27;
    /// `ModeDevice`.
    pub const DEVICE: u32 = 1 << 26;
    /// `ModeNamedPipe`.
    pub const NAMED_PIPE: u32 = 1 << 25;
    /// `ModeSocket`.
    pub const SOCKET: u32 = 1 << 24;
    /// `ModeSetuid`.
    pub const SETUID: u32 = 1 << 23;
    /// `ModeSetgid`.
    pub const SETGID: u32 = 1 << 22;
    /// `ModeCharDevice`.
    pub const CHAR_DEVICE: u32 = 1 << 21;
    /// `ModeSticky`.
    pub const STICKY: u32 = 1 << 20;
}

/// `st_mode` as Go's `os.FileMode` (Go's `fillFileStatFromSys` in
/// `os/stat_linux.go`): the permission bits kept, the type and the
/// set-id/sticky bits moved to Go's own positions. The docker CLI reads
/// the stat header's `mode` with Go's methods (`IsDir`), so the raw
/// `st_mode` would be misread.
pub fn go_file_mode(st_mode: u32) -> u32 {
    const S_IFMT: u32 = 0o170000;
    let mut mode = st_mode & 0o777;
    mode |= match st_mode & S_IFMT {
        0o060000 => go_mode::DEVICE,
        0o020000 => go_mode::DEVICE | go_mode::CHAR_DEVICE,
        0o040000 => go_mode::DIR,
        0o010000 => go_mode::NAMED_PIPE,
        0o120000 => go_mode::SYMLINK,
        0o140000 => go_mode::SOCKET,
        _ => 0,
    };
    if st_mode & 0o4000 != 0 {
        mode |= go_mode::SETUID;
    }
    if st_mode & 0o2000 != 0 {
        mode |= go_mode::SETGID;
    }
    if st_mode & 0o1000 != 0 {
        mode |= go_mode::STICKY;
    }
    mode
}

/// A container's file system as the daemon reaches it from the host: its
/// mounted rootfs and the mounts the container has on top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFs {
    /// The host path of the mounted rootfs (overlay merged dir, or vfs copy).
    pub root: PathBuf,
    /// The container's mounts, parents before children.
    pub mounts: Vec<FsMount>,
    /// `HostConfig.ReadonlyRootfs`: nothing is written outside a mount.
    pub readonly_rootfs: bool,
}

/// One mount of the container, as a copy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsMount {
    /// Where in the container.
    pub destination: PathBuf,
    /// The host path mounted there; `None` for a mount that exists only in
    /// the container's mount namespace (tmpfs), which a copy refuses.
    pub source: Option<PathBuf>,
    /// Mounted read-only: a copy into it is refused.
    pub read_only: bool,
}

/// The query of `PUT /containers/{id}/archive`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractOptions {
    /// `noOverwriteDirNonDir`: an entry may not replace a directory with a
    /// non-directory or the other way round.
    pub no_overwrite_dir_non_dir: bool,
    /// `copyUIDGID`: the container's `Config.User`, whose uid and gid
    /// (looked up in the container's own `/etc/passwd` and `/etc/group`)
    /// every entry gets instead of the tar's.
    pub copy_uid_gid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_file_modes_match_gos_bits() {
        // Values printed by Go: fs.FileMode of a 0755 dir, a 0644 file,
        // a symlink 0777, a setuid 04755 file, a char device 0666.
        assert_eq!(go_file_mode(0o040755), 0x8000_01ed);
        assert_eq!(go_file_mode(0o100644), 0o644);
        assert_eq!(go_file_mode(0o120777), 0x0800_01ff);
        assert_eq!(go_file_mode(0o104755), 0x0080_01ed);
        assert_eq!(go_file_mode(0o020666), 0x0420_01b6);
    }

    #[test]
    fn the_stat_header_has_mobys_field_names() {
        let stat = PathStat {
            name: "f".into(),
            size: 3,
            mode: 0o644,
            mtime: "2024-01-01T00:00:00Z".into(),
            link_target: String::new(),
        };
        let json = serde_json::to_string(&stat).expect("json");
        assert_eq!(
            json,
            r#"{"name":"f","size":3,"mode":420,"mtime":"2024-01-01T00:00:00Z","linkTarget":""}"#
        );
    }
}
