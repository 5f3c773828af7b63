//! The stats types live in `berth-model` (they cross the exec driver's seam
//! to the engine); what is left here is how cgroup files spell "no limit".

pub use berth_model::stats::{
    BlkioEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, PidsStats, Stats, ThrottlingData,
};

/// v1 reports "no limit" as the largest page-aligned counter value
/// (`PAGE_COUNTER_MAX * PAGE_SIZE`, 0x7FFFFFFFFFFFF000 with 4 KiB pages,
/// 0x7FFFFFFFFFFF0000 with 64 KiB pages); anything from there up is "none".
pub(crate) fn v1_limit(value: u64) -> Option<u64> {
    (value < 0x7FFF_FFFF_FFFF_0000).then_some(value)
}
