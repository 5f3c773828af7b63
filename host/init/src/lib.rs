//! berth's container init for `docker run --init` (`HostConfig.Init`).
//!
//! The executable ([`BINARY`], built static by this crate's build script
//! from `reaper/main.rs`) runs as PID 1 of the container in front of its
//! command, forwards signals to it, reaps zombies and exits with the
//! command's status, as Docker's `docker-init` (tini) does. berthd embeds
//! it and writes it out once at start ([`install`]); the exec driver
//! bind-mounts that file read-only at [`CONTAINER_PATH`] and prepends it
//! to the process's arguments (moby `daemon/oci_linux.go`).

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

#[path = "../reaper/exit.rs"]
mod exit;

pub use exit::exit_code;

/// The static executable.
pub const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"));

/// Where a container sees its init (moby: `/sbin/` + `docker-init`).
pub const CONTAINER_PATH: &str = "/sbin/docker-init";

/// The argument between the init and the container's command.
pub const SEPARATOR: &str = "--";

/// Writes [`BINARY`] to `path` (mode 0755) through a temporary file and a
/// rename, so that a container starting meanwhile never binds a partly
/// written file.
pub fn install(path: &Path) -> io::Result<()> {
    let temp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o755)
        .open(&temp)?;
    file.write_all(BINARY)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    use super::*;

    /// Whether a 64-bit little-endian ELF file has a `PT_INTERP` program
    /// header (elf(5)).
    fn has_interpreter(elf: &[u8]) -> bool {
        assert_eq!(&elf[..6], b"\x7fELF\x02\x01", "a 64-bit LE ELF file");
        let u16_at = |at: usize| usize::from(u16::from_le_bytes([elf[at], elf[at + 1]]));
        let phoff = u64::from_le_bytes(elf[32..40].try_into().expect("8 bytes")) as usize;
        let (size, count) = (u16_at(54), u16_at(56));
        (0..count).any(|i| {
            let at = phoff + i * size;
            u32::from_le_bytes(elf[at..at + 4].try_into().expect("4 bytes")) == 3
        })
    }

    #[test]
    fn exit_codes_follow_the_shell() {
        // WIFEXITED with 0, 3, 255.
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(255 << 8), 255);
        // Killed by SIGTERM (15), SIGKILL (9), with a core dump (0x80).
        assert_eq!(exit_code(15), 143);
        assert_eq!(exit_code(9), 137);
        assert_eq!(exit_code(11 | 0x80), 139);
    }

    #[test]
    fn the_binary_is_static_and_runs_its_command_with_its_status() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("berth-init");
        install(&path).expect("install");
        let meta = std::fs::metadata(&path).expect("installed");
        assert_eq!(meta.permissions().mode() & 0o777, 0o755);
        // No program interpreter (ELF `PT_INTERP`, what makes ldd list a
        // loader): nothing of the image's libc is needed.
        assert!(!has_interpreter(BINARY), "berth-init is dynamically linked");
        let status = |args: &[&str]| {
            Command::new(&path)
                .args(args)
                .status()
                .expect("run berth-init")
                .code()
        };
        assert_eq!(status(&["--", "sh", "-c", "exit 7"]), Some(7));
        assert_eq!(status(&["true"]), Some(0));
        assert_eq!(status(&["--", "sh", "-c", "kill -TERM $$"]), Some(143));
        assert_eq!(status(&["--", "/nonexistent"]), Some(127));
        assert_eq!(status(&[]), Some(1));
        // The command starts with no signal blocked (the init blocks them
        // all for itself): SigBlk of the child's own status.
        let out = Command::new(&path)
            .args(["--", "grep", "^SigBlk:", "/proc/self/status"])
            .output()
            .expect("run berth-init");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .nth(1),
            Some("0000000000000000")
        );
    }
}
