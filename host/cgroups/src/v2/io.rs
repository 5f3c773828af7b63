//! v2 io controller ("IO" in cgroup-v2.rst): the per-device counters of
//! `io.stat` for `docker stats`.

use std::path::Path;

use crate::common;
use crate::error::{CgroupError, Result};
use crate::stats::{BlkioEntry, BlkioStats};

/// `io.stat`: one line per device, `MAJOR:MINOR key=value ...` (`rbytes`,
/// `wbytes`, `rios`, `wios`, `dbytes`, `dios`). moby (`daemon/stats_unix.go`
/// `statsV2`) reports bytes and operations as `read` / `write` entries,
/// lower case; so does berth. Without the io controller enabled the file
/// is missing: no entries, as moby answers then.
pub(super) fn stats(dir: &Path) -> Result<BlkioStats> {
    let path = dir.join("io.stat");
    let Some(content) = common::read_optional(&path)? else {
        return Ok(BlkioStats::default());
    };
    let bad = |line: &str, reason: &str| CgroupError::Parse {
        path: path.clone(),
        content: line.to_string(),
        reason: reason.to_string(),
    };
    let mut stats = BlkioStats::default();
    for line in content.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let device = fields.next().unwrap_or_default();
        let (major, minor) = common::parse_device(device)
            .ok_or_else(|| bad(line, "expected a MAJOR:MINOR device"))?;
        let mut counters = [0u64; 4];
        for field in fields {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| bad(line, "expected key=value"))?;
            let slot = match key {
                "rbytes" => 0,
                "wbytes" => 1,
                "rios" => 2,
                "wios" => 3,
                // dbytes, dios, and what newer kernels add: not in
                // Docker's sample.
                _ => continue,
            };
            counters[slot] = value
                .parse()
                .map_err(|_| bad(line, "expected a counter value"))?;
        }
        let entry = |op: &str, value: u64| BlkioEntry {
            major,
            minor,
            op: op.to_string(),
            value,
        };
        stats.io_service_bytes.push(entry("read", counters[0]));
        stats.io_service_bytes.push(entry("write", counters[1]));
        stats.io_serviced.push(entry("read", counters[2]));
        stats.io_serviced.push(entry("write", counters[3]));
    }
    Ok(stats)
}
