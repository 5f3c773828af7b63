//! Linux capabilities: Docker's default set and `--cap-add`/`--cap-drop`.

use oci_spec::runtime::{Capabilities, Capability};

use super::SpecError;

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

/// Docker's default capabilities (moby `oci/caps/defaults.go`). Their mask
/// is `0x00000000a80425fb`, what `CapEff` shows in a root container.
pub const DOCKER_DEFAULT: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// A set of capabilities, by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapabilitySet(u64);

impl CapabilitySet {
    /// Docker's default set.
    pub fn docker_default() -> CapabilitySet {
        let mut set = CapabilitySet(0);
        for name in DOCKER_DEFAULT {
            if let Some(bit) = bit_of(name) {
                set.0 |= 1 << bit;
            }
        }
        set
    }

    /// Every known capability (what `--privileged` grants).
    pub fn all() -> CapabilitySet {
        CapabilitySet(ALL.iter().fold(0, |acc, (bit, _, _)| acc | 1 << bit))
    }

    /// The set of a `/proc/<pid>/status` mask (`CapBnd`, `CapEff`);
    /// capabilities this module does not know are left out.
    pub fn from_mask(mask: u64) -> CapabilitySet {
        CapabilitySet(mask & CapabilitySet::all().0)
    }

    /// The bitmask as `/proc/<pid>/status` prints it in `CapEff`.
    pub fn mask(self) -> u64 {
        self.0
    }

    /// Names (`CAP_...`) of the capabilities in the set, by number.
    pub fn names(self) -> Vec<&'static str> {
        ALL.iter()
            .filter(|(bit, _, _)| self.0 & 1 << bit != 0)
            .map(|(_, name, _)| *name)
            .collect()
    }

    /// The set as OCI capabilities.
    pub fn to_oci(self) -> Capabilities {
        ALL.iter()
            .filter(|(bit, _, _)| self.0 & 1 << bit != 0)
            .map(|(_, _, cap)| *cap)
            .collect()
    }

    /// Applies `--privileged`, `--cap-add` and `--cap-drop` to `self` with
    /// moby's rules (`oci/caps/utils.go`, `TweakCapabilities`): privileged
    /// gets everything; `ALL` in adds means everything but the drops; `ALL`
    /// in drops means only the adds; otherwise drop, then add. Names are
    /// case-insensitive, with or without the `CAP_` prefix.
    ///
    /// "Everything" is `available`, the daemon's bounding set: a process
    /// cannot grant a capability it lacks (capset(2) fails with `EPERM`),
    /// and moby ≥ 23 likewise lists only the capabilities of its own
    /// bounding set as "all" (`caps.GetAllCapabilities`), so that
    /// `--privileged` works where the daemon itself is confined. Anything
    /// else outside `available` is refused by name.
    pub fn tweak(
        self,
        adds: &[String],
        drops: &[String],
        privileged: bool,
        available: CapabilitySet,
    ) -> Result<CapabilitySet, SpecError> {
        if privileged {
            return Ok(available);
        }
        let adds = normalize(adds, "CapAdd")?;
        let drops = normalize(drops, "CapDrop")?;
        let all = available.0;
        let (add_all, add) = adds;
        let (drop_all, drop) = drops;
        let set = CapabilitySet(if add_all {
            all & !drop
        } else if drop_all {
            add
        } else {
            (self.0 & !drop) | add
        });
        match CapabilitySet(set.0 & !available.0).names().first() {
            Some(missing) => Err(SpecError::UnavailableCapability((*missing).to_owned())),
            None => Ok(set),
        }
    }
}

fn bit_of(name: &str) -> Option<u8> {
    ALL.iter()
        .find(|(_, n, _)| *n == name)
        .map(|(bit, _, _)| *bit)
}

/// moby `validateCapabilities`: every `CapAdd` and `CapDrop` name is a
/// capability (with or without `CAP_`, any case) or `ALL`. The engine asks
/// at create, so a typo fails `docker create`, not the later start.
pub fn validate_names(adds: &[String], drops: &[String]) -> Result<(), SpecError> {
    normalize(adds, "CapAdd")?;
    normalize(drops, "CapDrop")?;
    Ok(())
}

/// Parses capability names into (`ALL` present, mask of the others);
/// `field` names the list in the error.
fn normalize(names: &[String], field: &'static str) -> Result<(bool, u64), SpecError> {
    let mut all = false;
    let mut mask = 0u64;
    for raw in names {
        let upper = raw.trim().to_ascii_uppercase();
        if upper == "ALL" {
            all = true;
            continue;
        }
        let name = if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        };
        let bit = bit_of(&name).ok_or(SpecError::UnknownCapability { field, name })?;
        mask |= 1 << bit;
    }
    Ok((all, mask))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_default_set_is_cap_eff_a80425fb() {
        assert_eq!(
            CapabilitySet::docker_default().mask(),
            0x0000_0000_a804_25fb
        );
        assert_eq!(CapabilitySet::docker_default().to_oci().len(), 14);
    }

    #[test]
    fn all_is_every_known_capability() {
        assert_eq!(CapabilitySet::all().mask(), (1u64 << 41) - 1);
        assert_eq!(CapabilitySet::all().names().len(), 41);
    }

    #[test]
    fn adds_and_drops_follow_mobys_rules() {
        let default = CapabilitySet::docker_default();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let tweaked = default
            .tweak(
                &s(&["sys_admin", "CAP_NET_ADMIN"]),
                &s(&["chown", "Cap_Kill"]),
                false,
                CapabilitySet::all(),
            )
            .expect("tweak");
        let names = tweaked.names();
        assert!(names.contains(&"CAP_SYS_ADMIN") && names.contains(&"CAP_NET_ADMIN"));
        assert!(!names.contains(&"CAP_CHOWN") && !names.contains(&"CAP_KILL"));
        assert_eq!(names.len(), 14);

        let only = default
            .tweak(
                &s(&["NET_BIND_SERVICE"]),
                &s(&["ALL"]),
                false,
                CapabilitySet::all(),
            )
            .expect("drop all");
        assert_eq!(only.names(), ["CAP_NET_BIND_SERVICE"]);

        let most = default
            .tweak(
                &s(&["all"]),
                &s(&["SYS_ADMIN"]),
                false,
                CapabilitySet::all(),
            )
            .expect("add all");
        assert_eq!(most.mask(), CapabilitySet::all().mask() & !(1 << 21));

        let privileged = default
            .tweak(&[], &s(&["ALL"]), true, CapabilitySet::all())
            .expect("privileged");
        assert_eq!(privileged, CapabilitySet::all());
    }

    #[test]
    fn all_means_what_the_daemon_holds() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // A daemon without CAP_SYS_RESOURCE (24), as root on this machine.
        let bounding = CapabilitySet::from_mask(0x1ff_feff_ffff);
        let default = CapabilitySet::docker_default();
        assert_eq!(
            default.tweak(&[], &[], true, bounding).expect("privileged"),
            bounding
        );
        let most = default
            .tweak(&s(&["ALL"]), &[], false, bounding)
            .expect("add all");
        assert_eq!(most, bounding);
        let err = default
            .tweak(&s(&["SYS_RESOURCE"]), &[], false, bounding)
            .expect_err("not available");
        assert!(err.to_string().contains("CAP_SYS_RESOURCE"), "{err}");
        assert_eq!(CapabilitySet::from_mask(u64::MAX), CapabilitySet::all());
    }

    #[test]
    fn unknown_names_are_rejected() {
        let err = CapabilitySet::docker_default()
            .tweak(&["CAP_FLY".to_owned()], &[], false, CapabilitySet::all())
            .expect_err("unknown");
        assert!(err.to_string().contains("CAP_FLY"), "{err}");
    }

    #[test]
    fn names_are_validated_like_mobys() {
        let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        validate_names(
            &names(&["net_admin", "CAP_SYS_TIME", "ALL"]),
            &names(&["all"]),
        )
        .expect("known names in any case, with or without CAP_");
        let err = validate_names(&names(&["NET_ADMIN", "fly"]), &[]).expect_err("fly");
        assert_eq!(
            err.to_string(),
            r#"invalid CapAdd: unknown capability: "CAP_FLY""#
        );
        let err = validate_names(&[], &names(&["CAP_NOPE"])).expect_err("nope");
        assert_eq!(
            err.to_string(),
            r#"invalid CapDrop: unknown capability: "CAP_NOPE""#
        );
    }
}
