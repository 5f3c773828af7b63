//! A compiled filter as raw classic-BPF instructions, loadable with one
//! system call and no allocation: safe to load in a child between `fork`
//! and `execve` (e.g. in a `pre_exec` hook), where libseccomp's own
//! `seccomp_load` (which generates the program, allocating) is not.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{FromRawFd, OwnedFd};

use libseccomp::ScmpFilterContext;

use super::SeccompError;

/// Flags of seccomp(2) `SECCOMP_SET_MODE_FILTER` (linux/seccomp.h).
pub(super) mod flags {
    pub const TSYNC: u32 = 1 << 0;
    pub const LOG: u32 = 1 << 1;
    pub const SPEC_ALLOW: u32 = 1 << 2;
    pub const WAIT_KILLABLE_RECV: u32 = 1 << 5;
}

/// `SECCOMP_SET_MODE_FILTER` (linux/seccomp.h).
const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;

/// A filter program ready for seccomp(2).
#[derive(Debug, Clone)]
pub struct BpfProgram {
    instructions: Vec<libc::sock_filter>,
    flags: u32,
}

impl BpfProgram {
    pub(super) fn export(context: &ScmpFilterContext, flags: u32) -> Result<Self, SeccompError> {
        let io = |source| SeccompError::Export { source };
        // SAFETY: memfd_create with a NUL-terminated name; the returned fd
        // (if valid) is owned by nobody else.
        let fd = unsafe { libc::memfd_create(c"berth-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io(std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh, valid descriptor we own.
        let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        context
            .export_bpf(&file)
            .map_err(|source| SeccompError::Load { source })?;
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.read_to_end(&mut bytes).map_err(io)?;
        // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } in host
        // byte order, as the kernel reads it.
        let instructions = bytes
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect::<Vec<_>>();
        if instructions.is_empty() || bytes.len() % 8 != 0 {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("libseccomp exported {} bytes of BPF", bytes.len()),
            )));
        }
        Ok(BpfProgram {
            instructions,
            flags,
        })
    }

    /// Number of BPF instructions (the kernel accepts at most 4096).
    pub fn len(&self) -> usize {
        self.instructions.len()
    }

    /// Always false: an exported program has at least one instruction.
    pub fn is_empty(&self) -> bool {
        self.instructions.is_empty()
    }

    /// Installs the program for the calling thread with seccomp(2).
    ///
    /// Async-signal-safe: one system call on memory allocated before; no
    /// allocation, no locks. Needs `no_new_privs` or `CAP_SYS_ADMIN` (see
    /// the module docs for the ordering). Returns the raw errno on failure
    /// because callers in a `pre_exec` hook cannot build rich errors.
    pub fn load(&self) -> Result<(), nix::errno::Errno> {
        let program = libc::sock_fprog {
            len: self.instructions.len() as libc::c_ushort,
            filter: self.instructions.as_ptr().cast_mut(),
        };
        // SAFETY: `program` points at `instructions`, alive for the call;
        // the kernel copies the program before returning.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                self.flags as libc::c_uint,
                &program as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            Err(nix::errno::Errno::last())
        } else {
            Ok(())
        }
    }
}
