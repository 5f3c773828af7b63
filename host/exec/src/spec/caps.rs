//! Linux capabilities as OCI names them; the set itself, Docker's
//! defaults and `--cap-add`/`--cap-drop` are the container model's
//! (`berth_model::container::caps`).

use berth_model::container::CapabilitySet;
use oci_spec::runtime::{Capabilities, Capability};

/// Every capability the kernel knows (linux/capability.h), by number.
const ALL: [(u8, &str, Capability); 41] = [
    (0, "CAP_CHOWN", Capability::Chown),
    (1, "CAP_DAC_OVERRIDE", Capability::DacOverride),
    (2, "CAP_DAC_READ_SEARCH", Capability::DacReadSearch),
    (3, "CAP_FOWNER", Capability::Fowner),
    (4, "CAP_FSETID", Capability::Fsetid),
    (5, "CAP_KILL", Capability::Kill),
    (6, "CAP_SETGID", Capability::Setgid),
    (7, "CAP_SETUID", Capability::Setuid),
    (8, "CAP_SETPCAP", Capability::Setpcap),
    (9, "CAP_LINUX_IMMUTABLE", Capability::LinuxImmutable),
    (10, "CAP_NET_BIND_SERVICE", Capability::NetBindService),
    (11, "CAP_NET_BROADCAST", Capability::NetBroadcast),
    (12, "CAP_NET_ADMIN", Capability::NetAdmin),
    (13, "CAP_NET_RAW", Capability::NetRaw),
    (14, "CAP_IPC_LOCK", Capability::IpcLock),
    (15, "CAP_IPC_OWNER", Capability::IpcOwner),
    (16, "CAP_SYS_MODULE", Capability::SysModule),
    (17, "CAP_SYS_RAWIO", Capability::SysRawio),
    (18, "CAP_SYS_CHROOT", Capability::SysChroot),
    (19, "CAP_SYS_PTRACE", Capability::SysPtrace),
    (20, "CAP_SYS_PACCT", Capability::SysPacct),
    (21, "CAP_SYS_ADMIN", Capability::SysAdmin),
    (22, "CAP_SYS_BOOT", Capability::SysBoot),
    (23, "CAP_SYS_NICE", Capability::SysNice),
    (24, "CAP_SYS_RESOURCE", Capability::SysResource),
    (25, "CAP_SYS_TIME", Capability::SysTime),
    (26, "CAP_SYS_TTY_CONFIG", Capability::SysTtyConfig),
    (27, "CAP_MKNOD", Capability::Mknod),
    (28, "CAP_LEASE", Capability::Lease),
    (29, "CAP_AUDIT_WRITE", Capability::AuditWrite),
    (30, "CAP_AUDIT_CONTROL", Capability::AuditControl),
    (31, "CAP_SETFCAP", Capability::Setfcap),
    (32, "CAP_MAC_OVERRIDE", Capability::MacOverride),
    (33, "CAP_MAC_ADMIN", Capability::MacAdmin),
    (34, "CAP_SYSLOG", Capability::Syslog),
    (35, "CAP_WAKE_ALARM", Capability::WakeAlarm),
    (36, "CAP_BLOCK_SUSPEND", Capability::BlockSuspend),
    (37, "CAP_AUDIT_READ", Capability::AuditRead),
    (38, "CAP_PERFMON", Capability::Perfmon),
    (39, "CAP_BPF", Capability::Bpf),
    (40, "CAP_CHECKPOINT_RESTORE", Capability::CheckpointRestore),
];

/// The set as OCI capabilities.
pub fn to_oci(set: CapabilitySet) -> Capabilities {
    ALL.iter()
        .filter(|(bit, _, _)| set.mask() & 1 << bit != 0)
        .map(|(_, _, cap)| *cap)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oci_names_are_the_models() {
        assert_eq!(ALL.len(), berth_model::container::caps::NAMES.len());
        for (bit, name, cap) in ALL {
            assert_eq!(berth_model::container::caps::NAMES[usize::from(bit)], name);
            assert_eq!(serde_json::to_value(cap).ok(), Some(name.into()), "{name}");
        }
        assert_eq!(to_oci(CapabilitySet::docker_default()).len(), 14);
    }
}
