//! Linux capabilities by name (linux/capability.h) and `CapAdd`/`CapDrop`
//! resolved (moby `oci/caps/utils.go`).

use serde::{Deserialize, Serialize};

use super::ModelError;

/// Every capability the kernel knows, by number (the index).
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A capability by number (`CAP_CHOWN` is 0).
pub type Capability = u8;

/// Docker's default capabilities (moby `oci/caps/defaults.go`); mask
/// `0x00000000a80425fb`, what `CapEff` shows in a root container.
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

/// A set of capabilities as a bit mask (bit n is capability n).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilitySet(u64);

impl CapabilitySet {
    /// Docker's defaults.
    pub fn docker_default() -> CapabilitySet {
        CapabilitySet(
            DOCKER_DEFAULT
                .iter()
                .filter_map(|n| bit_of(n))
                .fold(0, |m, b| m | 1 << b),
        )
    }

    /// Every capability the kernel knows.
    pub fn all() -> CapabilitySet {
        CapabilitySet((1u64 << NAMES.len()) - 1)
    }

    /// From a mask (`CapBnd` of /proc/self/status); unknown bits dropped.
    pub fn from_mask(mask: u64) -> CapabilitySet {
        CapabilitySet(mask & CapabilitySet::all().0)
    }

    /// The mask.
    pub fn mask(self) -> u64 {
        self.0
    }

    /// The names in the set, by number.
    pub fn names(self) -> Vec<&'static str> {
        NAMES
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, name)| *name)
            .collect()
    }
}

fn bit_of(name: &str) -> Option<usize> {
    NAMES.iter().position(|n| *n == name)
}

/// `CapAdd` and `CapDrop` with their names resolved (any case, with or
/// without `CAP_`, or `ALL`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityTweak {
    add_all: bool,
    add: CapabilitySet,
    drop_all: bool,
    drop: CapabilitySet,
}

impl CapabilityTweak {
    /// moby `validateCapabilities`: every name is a capability or `ALL`.
    pub fn new(adds: &[String], drops: &[String]) -> Result<CapabilityTweak, ModelError> {
        let (add_all, add) = normalize(adds, "CapAdd")?;
        let (drop_all, drop) = normalize(drops, "CapDrop")?;
        Ok(CapabilityTweak {
            add_all,
            add,
            drop_all,
            drop,
        })
    }

    /// moby `TweakCapabilities`: privileged gets `available`; `ALL` in
    /// adds is everything but the drops; `ALL` in drops is only the adds;
    /// else drop, then add. "Everything" is `available`, the daemon's
    /// bounding set (capset(2) cannot grant more, moby ≥ 23 likewise).
    /// Err names the first capability outside `available`.
    pub fn apply(
        self,
        privileged: bool,
        available: CapabilitySet,
    ) -> Result<CapabilitySet, &'static str> {
        if privileged {
            return Ok(available);
        }
        let set = if self.add_all {
            available.0 & !self.drop.0
        } else if self.drop_all {
            self.add.0
        } else {
            (CapabilitySet::docker_default().0 & !self.drop.0) | self.add.0
        };
        match CapabilitySet(set & !available.0).names().first() {
            Some(missing) => Err(missing),
            None => Ok(CapabilitySet(set)),
        }
    }
}

fn normalize(names: &[String], field: &'static str) -> Result<(bool, CapabilitySet), ModelError> {
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
        let bit = bit_of(&name).ok_or(ModelError::UnknownCapability { field, name })?;
        mask |= 1 << bit;
    }
    Ok((all, CapabilitySet(mask)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    fn tweak(adds: &[&str], drops: &[&str]) -> CapabilityTweak {
        CapabilityTweak::new(&s(adds), &s(drops)).expect("known names")
    }

    #[test]
    fn dockers_default_set_is_cap_eff_a80425fb() {
        assert_eq!(
            CapabilitySet::docker_default().mask(),
            0x0000_0000_a804_25fb
        );
        assert_eq!(CapabilitySet::docker_default().names().len(), 14);
    }

    #[test]
    fn all_is_every_known_capability() {
        assert_eq!(CapabilitySet::all().mask(), (1u64 << 41) - 1);
        assert_eq!(CapabilitySet::all().names().len(), 41);
    }

    #[test]
    fn adds_and_drops_follow_mobys_rules() {
        let all = CapabilitySet::all();
        let tweaked = tweak(&["sys_admin", "CAP_NET_ADMIN"], &["chown", "Cap_Kill"])
            .apply(false, all)
            .expect("tweak");
        let names = tweaked.names();
        assert!(names.contains(&"CAP_SYS_ADMIN") && names.contains(&"CAP_NET_ADMIN"));
        assert!(!names.contains(&"CAP_CHOWN") && !names.contains(&"CAP_KILL"));
        assert_eq!(names.len(), 14);

        let only = tweak(&["NET_BIND_SERVICE"], &["ALL"])
            .apply(false, all)
            .expect("drop all");
        assert_eq!(only.names(), ["CAP_NET_BIND_SERVICE"]);

        let most = tweak(&["all"], &["SYS_ADMIN"])
            .apply(false, all)
            .expect("add all");
        assert_eq!(most.mask(), all.mask() & !(1 << 21));

        let privileged = tweak(&[], &["ALL"]).apply(true, all).expect("privileged");
        assert_eq!(privileged, all);
    }

    #[test]
    fn all_means_what_the_daemon_holds() {
        // A daemon without CAP_SYS_RESOURCE (24), as root on this machine.
        let bounding = CapabilitySet::from_mask(0x1ff_feff_ffff);
        assert_eq!(
            tweak(&[], &[]).apply(true, bounding).expect("privileged"),
            bounding
        );
        assert_eq!(
            tweak(&["ALL"], &[])
                .apply(false, bounding)
                .expect("add all"),
            bounding
        );
        let missing = tweak(&["SYS_RESOURCE"], &[])
            .apply(false, bounding)
            .expect_err("not available");
        assert_eq!(missing, "CAP_SYS_RESOURCE");
        assert_eq!(CapabilitySet::from_mask(u64::MAX), CapabilitySet::all());
    }

    #[test]
    fn names_are_validated_like_mobys() {
        CapabilityTweak::new(&s(&["net_admin", "CAP_SYS_TIME", "ALL"]), &s(&["all"]))
            .expect("known names in any case, with or without CAP_");
        let err = CapabilityTweak::new(&s(&["NET_ADMIN", "fly"]), &[]).expect_err("fly");
        assert_eq!(
            err.to_string(),
            r#"invalid CapAdd: unknown capability: "CAP_FLY""#
        );
        let err = CapabilityTweak::new(&[], &s(&["CAP_NOPE"])).expect_err("nope");
        assert_eq!(
            err.to_string(),
            r#"invalid CapDrop: unknown capability: "CAP_NOPE""#
        );
    }
}
