//! v2 device control. cgroup v2 has no devices interface files; access is
//! decided by an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE`
//! attached to the cgroup (cgroup-v2.rst "Device controller"), as runc and
//! crun do.
//!
//! Rule semantics follow v1's as runc normalises them: a rule for all
//! devices with all access (`a *:* rwm`) resets the default (allow or deny)
//! and drops earlier rules; after that the *last* matching rule decides. An
//! allow rule matches when every requested access bit is in the rule; a
//! deny rule matches when any requested bit is. A request no rule matches
//! gets the default.
//!
//! The program is attached with `BPF_F_ALLOW_MULTI`; applying device rules
//! again attaches another program, and the kernel then requires every
//! attached program to allow an access: updates can only restrict.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::error::{CgroupError, Result};
use crate::v1::DeviceRule;

/// One eBPF instruction (`struct bpf_insn`, linux/bpf.h).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high nibble.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes (linux/bpf_common.h, linux/bpf.h).
pub(crate) const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
pub(crate) const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub(crate) const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
pub(crate) const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
pub(crate) const ALU64_MOV_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
pub(crate) const JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub(crate) const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
pub(crate) const JSET_K: u8 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
pub(crate) const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }:
// access_type = (access << 16) | type.
const DEV_BLOCK: i32 = 1; // BPF_DEVCG_DEV_BLOCK
const DEV_CHAR: i32 = 2; // BPF_DEVCG_DEV_CHAR
const ACC_MKNOD: i32 = 1; // BPF_DEVCG_ACC_MKNOD
const ACC_READ: i32 = 2; // BPF_DEVCG_ACC_READ
const ACC_WRITE: i32 = 4; // BPF_DEVCG_ACC_WRITE

// Registers: r1 = ctx, r2 = type, r3 = access, r4 = major, r5 = minor,
// r6 = scratch, r0 = verdict.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;
const R6: u8 = 6;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// Rules after the last full reset, and the default that reset chose.
fn normalize(rules: &[DeviceRule]) -> (bool, Vec<&DeviceRule>) {
    // A cgroup v2 without a program allows everything: that is the
    // starting default.
    let mut default_allow = true;
    let mut kept = Vec::new();
    for rule in rules {
        let everything = rule.kind == 'a' && rule.access == "rwm";
        if everything {
            default_allow = rule.allow;
            kept.clear();
        } else {
            kept.push(rule);
        }
    }
    (default_allow, kept)
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |bits, c| {
        bits | match c {
            'm' => ACC_MKNOD,
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            _ => 0,
        }
    })
}

/// Generates the device filter program for `rules`, or `None` when the
/// rules allow everything (no program needed).
pub(crate) fn program(rules: &[DeviceRule]) -> Option<Vec<Insn>> {
    let (default_allow, kept) = normalize(rules);
    if default_allow && kept.iter().all(|r| r.allow) {
        return None;
    }
    let mut prog = vec![
        insn(LDX_MEM_W, R2, R1, 0, 0),
        insn(ALU32_AND_K, R2, 0, 0, 0xffff),
        insn(LDX_MEM_W, R3, R1, 0, 0),
        insn(ALU32_RSH_K, R3, 0, 0, 16),
        insn(LDX_MEM_W, R4, R1, 4, 0),
        insn(LDX_MEM_W, R5, R1, 8, 0),
    ];
    // Last rule first: the first block that matches returns.
    for rule in kept.iter().rev() {
        prog.extend(rule_block(rule));
    }
    prog.push(insn(ALU64_MOV_K, R0, 0, 0, i32::from(default_allow)));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    Some(prog)
}

/// One rule: each check jumps past the block's end when it fails; the
/// block ends by returning the rule's verdict.
fn rule_block(rule: &DeviceRule) -> Vec<Insn> {
    // Checks are built with off = -1 meaning "to the end of the block",
    // fixed up once the block's length is known.
    let mut block = Vec::new();
    match rule.kind {
        'b' => block.push(insn(JNE_K, R2, 0, -1, DEV_BLOCK)),
        'c' => block.push(insn(JNE_K, R2, 0, -1, DEV_CHAR)),
        _ => {}
    }
    let bits = access_bits(&rule.access);
    if rule.allow {
        // Every requested bit must be allowed by this rule.
        let outside = !bits & (ACC_MKNOD | ACC_READ | ACC_WRITE);
        if outside != 0 {
            block.push(insn(JSET_K, R3, 0, -1, outside));
        }
    } else {
        // Any requested bit in the rule denies.
        block.push(insn(ALU64_MOV_X, R6, R3, 0, 0));
        block.push(insn(ALU32_AND_K, R6, 0, 0, bits));
        block.push(insn(JEQ_K, R6, 0, -1, 0));
    }
    if let Some(major) = rule.major {
        block.push(insn(JNE_K, R4, 0, -1, major as i32));
    }
    if let Some(minor) = rule.minor {
        block.push(insn(JNE_K, R5, 0, -1, minor as i32));
    }
    block.push(insn(ALU64_MOV_K, R0, 0, 0, i32::from(rule.allow)));
    block.push(insn(EXIT, 0, 0, 0, 0));
    let len = block.len();
    for (i, instruction) in block.iter_mut().enumerate() {
        if instruction.off == -1 {
            // Jump target: the first instruction after the block.
            instruction.off = (len - i - 1) as i16;
        }
    }
    block
}

// bpf(2) commands and constants (linux/bpf.h).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;

/// The `BPF_PROG_LOAD` part of `union bpf_attr`, up to
/// `expected_attach_type`; the kernel accepts a shorter attr and zeroes the
/// rest.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a properly sized, initialised #[repr(C)] prefix of
    // union bpf_attr and outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Loads the program for `rules` and attaches it to the cgroup `dir`.
pub(super) fn apply(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let Some(prog) = program(rules) else {
        return Ok(());
    };
    let failed = |action, source| CgroupError::DeviceFilter {
        path: dir.to_path_buf(),
        action,
        source,
    };
    let license = c"Apache";
    let mut log = vec![0u8; 64 * 1024];
    let mut load = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        ..ProgLoadAttr::default()
    };
    let prog_fd = bpf(BPF_PROG_LOAD, &mut load).map_err(|e| {
        let verifier = String::from_utf8_lossy(&log);
        let verifier = verifier.trim_end_matches('\0').trim();
        let source = if verifier.is_empty() {
            e
        } else {
            std::io::Error::new(e.kind(), format!("{e}; verifier: {verifier}"))
        };
        failed("load", source)
    })?;
    // SAFETY: bpf(BPF_PROG_LOAD) returned a new descriptor we own.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(prog_fd as i32) };
    let cgroup = std::fs::File::open(dir).map_err(|e| failed("open the cgroup for", e))?;
    let mut attach = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attach).map_err(|e| failed("attach", e))?;
    // The cgroup now holds the program; our descriptors can go.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the generated program the way the kernel would for one access,
    /// supporting exactly the opcodes `program` emits.
    fn run(prog: &[Insn], kind: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | kind, major, minor];
        let mut regs = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as u32 as u64;
            let mut next = pc + 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "loads only from ctx");
                    regs[dst] = u64::from(ctx[(i.off / 4) as usize]);
                }
                ALU32_AND_K => regs[dst] = (regs[dst] as u32 & imm as u32) as u64,
                ALU32_RSH_K => regs[dst] = ((regs[dst] as u32) >> imm) as u64,
                ALU64_MOV_K => regs[dst] = imm,
                ALU64_MOV_X => regs[dst] = regs[src],
                JEQ_K | JNE_K | JSET_K => {
                    let taken = match i.code {
                        JEQ_K => regs[dst] == imm,
                        JNE_K => regs[dst] != imm,
                        _ => regs[dst] & imm != 0,
                    };
                    if taken {
                        next = pc + 1 + i.off as usize;
                    }
                }
                EXIT => return regs[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
            pc = next;
        }
    }

    fn rule(
        allow: bool,
        kind: char,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: access.to_string(),
        }
    }

    const C: u32 = DEV_CHAR as u32;
    const B: u32 = DEV_BLOCK as u32;
    const R: u32 = ACC_READ as u32;
    const W: u32 = ACC_WRITE as u32;
    const M: u32 = ACC_MKNOD as u32;

    #[test]
    fn deny_all_then_allow_listed_devices() {
        let rules = [
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"), // /dev/null
            rule(true, 'c', Some(1), Some(5), "r"),   // /dev/zero, read only
            rule(true, 'c', Some(136), None, "rw"),   // any pty
        ];
        let prog = program(&rules).expect("a program");
        assert_eq!(run(&prog, C, R | W, 1, 3), 1);
        assert_eq!(run(&prog, C, M, 1, 3), 1);
        assert_eq!(run(&prog, C, R, 1, 5), 1);
        assert_eq!(run(&prog, C, R | W, 1, 5), 0, "write not allowed on zero");
        assert_eq!(run(&prog, C, W, 136, 7), 1);
        assert_eq!(run(&prog, C, M, 136, 7), 0);
        assert_eq!(run(&prog, B, R, 1, 3), 0, "block 1:3 is not char 1:3");
        assert_eq!(run(&prog, C, R, 8, 0), 0, "unlisted");
    }

    #[test]
    fn allow_all_with_a_deny_exception_and_last_rule_wins() {
        let rules = [
            rule(true, 'a', None, None, "rwm"),
            rule(false, 'b', Some(8), None, "w"),
            rule(true, 'b', Some(8), Some(1), "rw"),
        ];
        let prog = program(&rules).expect("a program");
        assert_eq!(run(&prog, B, R, 8, 0), 1, "read not denied");
        assert_eq!(run(&prog, B, R | W, 8, 0), 0, "write denied");
        assert_eq!(run(&prog, B, R | W, 8, 1), 1, "later allow wins");
        assert_eq!(run(&prog, C, W, 1, 3), 1);
    }

    #[test]
    fn allow_everything_needs_no_program() {
        assert!(program(&[]).is_none());
        assert!(program(&[rule(true, 'a', None, None, "rwm")]).is_none());
        assert!(
            program(&[
                rule(false, 'a', None, None, "rwm"),
                rule(true, 'a', None, None, "rwm")
            ])
            .is_none()
        );
    }
}
