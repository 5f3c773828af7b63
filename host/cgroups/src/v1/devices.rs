//! v1 devices controller
//! (Documentation/admin-guide/cgroup-v1/devices.rst): each rule is written
//! to `devices.allow` or `devices.deny` as `type major:minor access`.
//!
//! Rules are applied in spec order, so the usual OCI spec (first "deny all",
//! then the allowed devices) leaves exactly the allowed set. runc 1.1
//! additionally diffs against the current rules to avoid a short deny-all
//! window when *updating* a running container; berth applies device rules
//! at creation, before any task runs, where that window does not matter.

use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::common;
use crate::error::{CgroupError, Result};

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceRule {
    pub allow: bool,
    /// `a`, `b` or `c`.
    pub kind: char,
    /// `None` is the wildcard `*`.
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// A non-empty subset of `rwm`, in that order.
    pub access: String,
}

impl DeviceRule {
    /// The line the kernel parses.
    pub fn line(&self) -> String {
        let number = |n: Option<i64>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            number(self.major),
            number(self.minor),
            self.access
        )
    }
}

/// Validates the OCI rules: device type `a`, `b` or `c` (cgroups know no
/// other types), access letters from `rwm` (default `rwm`), non-negative
/// numbers.
pub(crate) fn rules(spec: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>> {
    spec.iter().map(rule).collect()
}

fn rule(spec: &LinuxDeviceCgroup) -> Result<DeviceRule> {
    let invalid = |reason: String| CgroupError::InvalidResource {
        resource: "devices",
        reason,
    };
    let kind = match spec.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C => 'c',
        other => {
            return Err(invalid(format!(
                "device type {:?} cannot be used in a cgroup rule (only a, b, c)",
                other.as_str()
            )));
        }
    };
    for number in [spec.major(), spec.minor()].into_iter().flatten() {
        if number < 0 {
            return Err(invalid(format!(
                "negative device number {number} in rule {spec}"
            )));
        }
    }
    let requested = spec.access().as_deref().unwrap_or("rwm");
    let requested = if requested.is_empty() {
        "rwm"
    } else {
        requested
    };
    if let Some(bad) = requested.chars().find(|c| !"rwm".contains(*c)) {
        return Err(invalid(format!(
            "access {requested:?} has {bad:?}; only r, w and m are allowed"
        )));
    }
    let access: String = "rwm".chars().filter(|c| requested.contains(*c)).collect();
    Ok(DeviceRule {
        allow: spec.allow(),
        kind,
        major: spec.major(),
        minor: spec.minor(),
        access,
    })
}

pub(super) fn apply(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    for rule in rules {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        common::write(&dir.join(file), rule.line())?;
    }
    Ok(())
}
