//! Resource usage of a running container for `docker stats`: its cgroup's
//! counters (libcontainer's cgroup manager, v1 or v2) and the host's CPU
//! clock they are measured against.
//!
//! Everything here is blocking file I/O and forks nothing: berthd runs it
//! itself, on the engine's bounded blocking pool (the engine calls
//! [`ExecDriver::stats`] from there), never on an async worker.

use std::io;
use std::path::Path;

use berth_model::Timestamp;
use berth_model::stats::ResourceSample;
use berth_shim::protocol::error_chain;

use berth_libcontainer::CgroupManager;

use super::stats_cache::Lookup;
use super::{ExecDriver, validate_id};
use crate::client::exists;
use crate::error::ExecError;

/// `USER_HZ`, the unit of `/proc/stat`: 100 on every Linux architecture
/// (proc(5); moby's `GetClockTicks` returns the same constant).
const USER_HZ: u64 = 100;

impl ExecDriver {
    /// One sample of the container's resource usage; `None` when it is not
    /// running (no runtime state, or it went away while being read).
    /// Blocking: call it from a blocking thread.
    pub fn stats(&self, id: &str) -> Result<Option<ResourceSample>, ExecError> {
        validate_id(id)?;
        let state_root = self.runtime_root();
        let state_file = state_root.join(id).join(berth_libcontainer::STATE_FILE);
        let read = Timestamp::now();
        let cgroup = self.inner.cgroups.get(id, &state_file, || {
            berth_libcontainer::Container::load(&state_root, id).map(|c| c.cgroup().clone())
        });
        let stats = match cgroup {
            Lookup::Gone => return Ok(None),
            Lookup::Found(cgroup) => {
                cgroup
                    .stats()
                    .map_err(|source| berth_libcontainer::Error::Cgroup {
                        id: id.to_owned(),
                        source,
                    })
            }
            Lookup::Load(e) => Err(e),
            Lookup::Stat(e) => return Err(ExecError::io("stat", &state_file, e)),
        };
        let stats = match stats {
            Ok(stats) => stats,
            // The container exited between the check and the reads: its
            // state (and cgroup) went with it. That is "not running", not
            // an error.
            Err(_) if !exists(&state_file) => return Ok(None),
            Err(e) => {
                return Err(ExecError::Shim {
                    id: id.to_owned(),
                    message: format!("cannot read the container's stats: {}", error_chain(&e)),
                });
            }
        };
        let host = host_counters(Path::new("/proc"))?;
        Ok(Some(ResourceSample {
            read,
            stats,
            system_cpu_usage: host.system_cpu_usage,
            online_cpus: host.online_cpus,
            host_memory: host.memory,
        }))
    }
}

/// What the host contributes to a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HostCounters {
    system_cpu_usage: u64,
    online_cpus: u32,
    memory: u64,
}

fn host_counters(proc: &Path) -> Result<HostCounters, ExecError> {
    let read = |name: &str| {
        let path = proc.join(name);
        std::fs::read_to_string(&path).map_err(|e| ExecError::io("read", &path, e))
    };
    let stat_path = proc.join("stat");
    let (system_cpu_usage, online_cpus) = parse_proc_stat(&read("stat")?).ok_or_else(|| {
        ExecError::io(
            "parse",
            &stat_path,
            io::Error::new(io::ErrorKind::InvalidData, "no `cpu` line of 7 counters"),
        )
    })?;
    let meminfo_path = proc.join("meminfo");
    let memory = parse_mem_total(&read("meminfo")?).ok_or_else(|| {
        ExecError::io(
            "parse",
            &meminfo_path,
            io::Error::new(io::ErrorKind::InvalidData, "no MemTotal line"),
        )
    })?;
    Ok(HostCounters {
        system_cpu_usage,
        online_cpus,
        memory,
    })
}

/// moby's `getSystemCPUUsage` (`daemon/stats_unix.go`): the first seven
/// counters of the `cpu` line (user, nice, system, idle, iowait, irq,
/// softirq) in ns, and the number of `cpuN` lines as the CPUs online.
fn parse_proc_stat(content: &str) -> Option<(u64, u32)> {
    let mut usage = None;
    let mut cpus = 0u32;
    for line in content.lines() {
        let mut fields = line.split_whitespace();
        let Some(name) = fields.next() else {
            continue;
        };
        if name == "cpu" {
            let ticks: Vec<u64> = fields
                .take(7)
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            if ticks.len() < 7 {
                return None;
            }
            usage = Some(ticks.iter().sum::<u64>() * (1_000_000_000 / USER_HZ));
        } else if name.len() > 3 && name.starts_with("cpu") {
            cpus += 1;
        }
    }
    Some((usage?, cpus))
}

/// `MemTotal:  16314200 kB` of `/proc/meminfo`, in bytes.
fn parse_mem_total(content: &str) -> Option<u64> {
    let line = content.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_cpu_usage_and_online_cpus_are_mobys() {
        let stat = "cpu  100 2 30 400 5 6 7 8 0 0\n\
                    cpu0 50 1 15 200 2 3 3 4 0 0\n\
                    cpu1 50 1 15 200 3 3 4 4 0 0\n\
                    intr 1 2 3\nctxt 99\n";
        // 100+2+30+400+5+6+7 ticks at USER_HZ 100: steal (8) is not counted.
        assert_eq!(parse_proc_stat(stat), Some((5_500_000_000, 2)));
        assert_eq!(parse_proc_stat("cpu 1 2 3\n"), None, "too few counters");
        assert_eq!(parse_proc_stat("intr 1\n"), None, "no cpu line");
    }

    #[test]
    fn mem_total_is_read_in_bytes() {
        let meminfo = "MemTotal:       16314200 kB\nMemFree:  1 kB\n";
        assert_eq!(parse_mem_total(meminfo), Some(16_314_200 * 1024));
        assert_eq!(parse_mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn this_hosts_proc_reads() {
        let host = host_counters(Path::new("/proc")).unwrap();
        assert!(host.online_cpus >= 1, "{host:?}");
        assert!(host.system_cpu_usage > 0 && host.memory > 0, "{host:?}");
    }
}
