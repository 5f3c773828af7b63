//! Capability sets of the container process: bounding set, the three
//! `capset(2)` sets and the ambient set (capabilities(7)).

use nix::errno::Errno;

use crate::config::CapSets;

/// `_LINUX_CAPABILITY_VERSION_3` from linux/capability.h.
const CAP_V3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Removes every capability up to `last_cap` that is not in `bounding`
/// from the bounding set (needs `CAP_SETPCAP`, so it runs before the user
/// switch).
pub(crate) fn drop_bounding(bounding: u64, last_cap: u8) -> Result<(), Errno> {
    for cap in 0..=last_cap {
        if bounding & (1u64 << cap) == 0 {
            // SAFETY: plain prctl with integer arguments.
            let rc =
                unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
            if rc < 0 {
                return Err(Errno::last());
            }
        }
    }
    Ok(())
}

/// Sets the effective, permitted and inheritable sets in one `capset(2)`.
pub(crate) fn set(sets: &CapSets) -> Result<(), Errno> {
    let mut header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let split = |mask: u64| (mask as u32, (mask >> 32) as u32);
    let (e0, e1) = split(sets.effective);
    let (p0, p1) = split(sets.permitted);
    let (i0, i1) = split(sets.inheritable);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: header and two data structs as capset(2) expects for v3.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Raises each ambient capability (it must be permitted and inheritable).
pub(crate) fn raise_ambient(ambient: u64, last_cap: u8) -> Result<(), Errno> {
    for cap in 0..=last_cap {
        if ambient & (1u64 << cap) != 0 {
            // SAFETY: plain prctl with integer arguments.
            let rc = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    libc::c_ulong::from(cap),
                    0,
                    0,
                )
            };
            if rc < 0 {
                return Err(Errno::last());
            }
        }
    }
    Ok(())
}

/// The highest capability number this kernel knows
/// (`/proc/sys/kernel/cap_last_cap`; 40, `CAP_CHECKPOINT_RESTORE`, if it
/// cannot be read). The runtime reads it once per container.
pub fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}
