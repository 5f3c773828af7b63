//! Docker's default seccomp profile, as data.
//!
//! The facts (which syscalls, which argument rules, which capability
//! unlocks what) follow moby's `profiles/seccomp/default.json`; the table is
//! berth's own. The profile is an allow-list: everything not listed returns
//! `EPERM`. Rules carry conditions on the container's capabilities and on
//! the host architecture, resolved when the profile is built, exactly as
//! Docker resolves them against the container's bounding set.
//!
//! Docker also gates `ptrace`, `process_vm_readv` and `process_vm_writev`
//! on kernel ≥ 4.8 (older kernels let ptrace bypass seccomp); berth needs a
//! newer kernel anyway (4.13 for OOM counting), so they are always allowed.

use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall,
};

/// Docker's default capability set (moby `oci/caps/defaults.go`), the set
/// [`docker_default_profile`] assumes.
pub const DOCKER_DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Always allowed, whatever the capabilities and architecture.
const ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    // No io_uring_enter, io_uring_register, io_uring_setup: moby#46762
    // (Docker 25) took them off the allow-list because operations
    // submitted through a ring are not seen by seccomp; they fall to the
    // default action (EPERM).
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
];

/// `AF_VSOCK` (linux/socket.h): sockets of every family but vsock are
/// allowed, so containers cannot talk to the hypervisor.
const AF_VSOCK: u64 = 40;

/// `personality(2)` values allowed: `PER_LINUX` (0), `UNAME26` (0x0008),
/// `PER_LINUX32` (0x20000), `PER_LINUX32 | UNAME26` (0x20008), and the
/// query value 0xffffffff.
const PERSONALITIES: [u64; 5] = [0x0, 0x0008, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// The namespace flags of clone(2): `CLONE_NEWNS | CLONE_NEWCGROUP |
/// CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
/// CLONE_NEWNET`. Without CAP_SYS_ADMIN, clone is allowed only when none of
/// them is set.
const CLONE_NAMESPACE_FLAGS: u64 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;

/// Syscalls unlocked by one capability.
const BY_CAPABILITY: &[(Capability, &[&str])] = &[
    (Capability::DacReadSearch, &["open_by_handle_at"]),
    (
        Capability::SysAdmin,
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    (Capability::SysBoot, &["reboot"]),
    (Capability::SysChroot, &["chroot"]),
    (
        Capability::SysModule,
        &["delete_module", "init_module", "finit_module"],
    ),
    (Capability::SysPacct, &["acct"]),
    (
        Capability::SysPtrace,
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    (Capability::SysRawio, &["iopl", "ioperm"]),
    (
        Capability::SysTime,
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    (Capability::SysTtyConfig, &["vhangup"]),
    (
        Capability::SysNice,
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    (Capability::Syslog, &["syslog"]),
    (Capability::Bpf, &["bpf"]),
    (Capability::Perfmon, &["perf_event_open"]),
];

/// The host architecture family, as Docker's per-architecture rules name it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    X86_64,
    X86,
    Aarch64,
    Arm,
    S390x,
    Ppc64le,
    Riscv64,
    Other,
}

fn native_family() -> Family {
    match std::env::consts::ARCH {
        "x86_64" => Family::X86_64,
        "x86" => Family::X86,
        "aarch64" => Family::Aarch64,
        "arm" => Family::Arm,
        "s390x" => Family::S390x,
        "powerpc64" if cfg!(target_endian = "little") => Family::Ppc64le,
        "riscv64" => Family::Riscv64,
        _ => Family::Other,
    }
}

/// Syscalls that exist (or matter) only on some architectures.
fn arch_specific(family: Family) -> &'static [&'static str] {
    match family {
        Family::X86_64 => &["arch_prctl", "modify_ldt"],
        Family::X86 => &["modify_ldt"],
        Family::Aarch64 | Family::Arm => &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
        Family::S390x => &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
        Family::Ppc64le => &["sync_file_range2", "swapcontext"],
        Family::Riscv64 => &["riscv_flush_icache"],
        Family::Other => &[],
    }
}

/// The architectures a filter must cover on this host: the native one and
/// the compat ABIs its kernel can run (a 32-bit binary must not escape the
/// filter through the compat syscall table).
fn architectures(family: Family) -> Vec<Arch> {
    match family {
        Family::X86_64 => vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32],
        Family::Aarch64 => vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm],
        Family::S390x => vec![Arch::ScmpArchS390x, Arch::ScmpArchS390],
        Family::Riscv64 => vec![Arch::ScmpArchRiscv64],
        _ => Vec::new(),
    }
}

fn allow(names: &[&str]) -> LinuxSyscall {
    let mut rule = LinuxSyscall::default();
    rule.set_names(names.iter().map(|n| (*n).to_string()).collect());
    rule.set_action(LinuxSeccompAction::ScmpActAllow);
    rule
}

fn arg(
    index: usize,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: Option<u64>,
) -> LinuxSeccompArg {
    let builder = LinuxSeccompArgBuilder::default()
        .index(index)
        .op(op)
        .value(value);
    let builder = match value_two {
        Some(two) => builder.value_two(two),
        None => builder,
    };
    // Every field has a default, so building cannot fail.
    builder
        .build()
        .expect("LinuxSeccompArgBuilder with all fields set")
}

fn allow_if(name: &str, condition: LinuxSeccompArg) -> LinuxSyscall {
    let mut rule = allow(&[name]);
    rule.set_args(Some(vec![condition]));
    rule
}

/// Docker's default profile for Docker's default capability set
/// ([`DOCKER_DEFAULT_CAPABILITIES`]): default action `SCMP_ACT_ERRNO` with
/// `EPERM`.
pub fn docker_default_profile() -> LinuxSeccomp {
    docker_default_profile_for(&DOCKER_DEFAULT_CAPABILITIES)
}

/// Docker's default profile with its capability-conditional rules resolved
/// for `caps` (the container's bounding set): e.g. with `CAP_SYS_ADMIN`,
/// `mount`, `unshare`, `setns` and namespace-creating `clone` are allowed.
pub fn docker_default_profile_for(caps: &[Capability]) -> LinuxSeccomp {
    let family = native_family();
    let has = |cap: Capability| caps.contains(&cap);
    let mut rules = vec![allow(ALLOWED)];
    rules.push(allow_if(
        "socket",
        arg(0, LinuxSeccompOperator::ScmpCmpNe, AF_VSOCK, None),
    ));
    for personality in PERSONALITIES {
        rules.push(allow_if(
            "personality",
            arg(0, LinuxSeccompOperator::ScmpCmpEq, personality, None),
        ));
    }
    let specific = arch_specific(family);
    if !specific.is_empty() {
        rules.push(allow(specific));
    }
    for (cap, names) in BY_CAPABILITY {
        if has(*cap) {
            rules.push(allow(names));
        }
    }
    if !has(Capability::SysAdmin) {
        // clone's flags are its first argument, except on s390 where the
        // stack pointer comes first.
        let flags_index = if family == Family::S390x { 1 } else { 0 };
        rules.push(allow_if(
            "clone",
            arg(
                flags_index,
                LinuxSeccompOperator::ScmpCmpMaskedEq,
                CLONE_NAMESPACE_FLAGS,
                Some(0),
            ),
        ));
        // clone3 passes its flags in a struct seccomp cannot inspect:
        // answer ENOSYS so that libcs fall back to clone, which is checked.
        let mut clone3 = LinuxSyscall::default();
        clone3.set_names(vec!["clone3".to_string()]);
        clone3.set_action(LinuxSeccompAction::ScmpActErrno);
        clone3.set_errno_ret(Some(libc::ENOSYS as u32));
        rules.push(clone3);
    }
    let mut profile = LinuxSeccomp::default();
    profile.set_default_action(LinuxSeccompAction::ScmpActErrno);
    profile.set_default_errno_ret(Some(libc::EPERM as u32));
    let arches = architectures(family);
    if !arches.is_empty() {
        profile.set_architectures(Some(arches));
    }
    profile.set_syscalls(Some(rules));
    profile
}
