//! Static facts about the host and the build for `version` and `info`.

use std::path::Path;

use berth_api::system::{ComponentVersion, InfoResponse, Platform, VersionResponse, go_arch};
use berth_api::version::{CURRENT, MINIMUM};
use berth_engine::daemon::handlers::SystemFacts;
use berth_engine::daemon::spec::ULIMIT_NAMES;
use berth_engine::daemon::sysinfo::CgroupFeatures;
use berth_engine::daemon::sysinfo::{CgroupnsMode, SysInfo};
use nix::sys::resource::{Resource, getrlimit};

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn os_pretty_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_owned())
            })
        })
        .unwrap_or_else(|| "Linux".to_owned())
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}

/// A stable daemon id, kept in `<data-root>/engine-id`.
pub fn engine_id(data_root: &Path) -> String {
    let path = data_root.join("engine-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return id.trim().to_owned();
    }
    let id = berth_engine::daemon::names::generate_id();
    if let Err(e) = berth_fsutil::write_atomic(&path, id.as_bytes(), 0o644) {
        tracing::warn!(error = %e, "cannot persist the engine id");
    }
    id
}

/// `CAP_SYS_RESOURCE` (capability 24) in a `/proc/<pid>/status` text's
/// `CapEff` mask.
fn has_cap_sys_resource(status: &str) -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    cap_mask(status, "CapEff").is_some_and(|mask| mask & (1 << CAP_SYS_RESOURCE) != 0)
}

/// A capability mask field (`CapBnd`, `CapEff`) of a `/proc/<pid>/status`
/// text.
fn cap_mask(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
}

/// The text of `/proc/self/status` (empty when it cannot be read), read
/// once at start for [`sysinfo`] and [`bounding_capabilities`].
pub fn own_status() -> String {
    std::fs::read_to_string("/proc/self/status").unwrap_or_default()
}

/// berthd's bounding set, from its `status` text: the most a container can
/// get (all known capabilities when it cannot be read).
pub fn bounding_capabilities(status: &str) -> berth_exec::spec::CapabilitySet {
    berth_exec::spec::CapabilitySet::from_mask(cap_mask(status, "CapBnd").unwrap_or(u64::MAX))
}

/// The `RLIMIT_*` of a Docker ulimit name.
fn resource(name: &str) -> Option<Resource> {
    Some(match name {
        "as" => Resource::RLIMIT_AS,
        "core" => Resource::RLIMIT_CORE,
        "cpu" => Resource::RLIMIT_CPU,
        "data" => Resource::RLIMIT_DATA,
        "fsize" => Resource::RLIMIT_FSIZE,
        "locks" => Resource::RLIMIT_LOCKS,
        "memlock" => Resource::RLIMIT_MEMLOCK,
        "msgqueue" => Resource::RLIMIT_MSGQUEUE,
        "nice" => Resource::RLIMIT_NICE,
        "nofile" => Resource::RLIMIT_NOFILE,
        "nproc" => Resource::RLIMIT_NPROC,
        "rss" => Resource::RLIMIT_RSS,
        "rtprio" => Resource::RLIMIT_RTPRIO,
        "rttime" => Resource::RLIMIT_RTTIME,
        "sigpending" => Resource::RLIMIT_SIGPENDING,
        "stack" => Resource::RLIMIT_STACK,
        _ => return None,
    })
}

/// What this host offers containers: the cgroup features (none when no
/// cgroup filesystem is mounted) and berthd's own process limits and
/// capabilities (`status`: [`own_status`]), which every shim and container
/// init inherits.
pub fn sysinfo(cgroups: Option<&CgroupFeatures>, status: &str) -> SysInfo {
    let defaults = SysInfo::default();
    let hard_rlimits = ULIMIT_NAMES
        .iter()
        .filter_map(|name| {
            let (_, hard) = getrlimit(resource(name)?).ok()?;
            (hard != nix::sys::resource::RLIM_INFINITY).then(|| ((*name).to_owned(), hard))
        })
        .collect();
    let oom_score_adj = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    // The root cpuset's lists, or this machine's CPUs when unknown.
    let mut features = cgroups.cloned().unwrap_or_else(CgroupFeatures::none);
    if features.cpus.is_empty() {
        features.cpus.clone_from(&defaults.cgroups.cpus);
    }
    if features.mems.is_empty() {
        features.mems.clone_from(&defaults.cgroups.mems);
    }
    SysInfo {
        cgroups: features,
        cap_sys_resource: has_cap_sys_resource(status),
        oom_score_adj,
        hard_rlimits,
        // dockerd: private where the kernel has only cgroup v2.
        default_cgroupns_mode: match cgroups {
            Some(c) if c.version == 2 => CgroupnsMode::Private,
            _ => CgroupnsMode::Host,
        },
        ..defaults
    }
}

/// Collects the facts once at start.
pub fn collect(data_root: &Path, sysinfo: &SysInfo, cgroup_version: Option<u8>) -> SystemFacts {
    let version = env!("CARGO_PKG_VERSION").to_owned();
    let kernel = kernel_release();
    let details: serde_json::Map<String, serde_json::Value> = [
        ("ApiVersion", CURRENT.to_string()),
        ("MinAPIVersion", MINIMUM.to_string()),
        ("GitCommit", String::new()),
        ("GoVersion", "n/a (Rust)".to_owned()),
        ("Os", "linux".to_owned()),
        ("Arch", go_arch().to_owned()),
        ("KernelVersion", kernel.clone()),
        ("BuildTime", String::new()),
        ("Experimental", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
    .collect();
    let cgroup_version = cgroup_version.map_or_else(String::new, |v| v.to_string());
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    SystemFacts {
        version: VersionResponse {
            platform: Platform {
                name: "berth".to_owned(),
            },
            components: vec![ComponentVersion {
                name: "Engine".to_owned(),
                version: version.clone(),
                details: Some(details),
            }],
            version: version.clone(),
            api_version: CURRENT.to_string(),
            min_api_version: MINIMUM.to_string(),
            git_commit: String::new(),
            go_version: "n/a (Rust)".to_owned(),
            os: "linux".to_owned(),
            arch: go_arch().to_owned(),
            kernel_version: kernel.clone(),
            experimental: false,
            build_time: String::new(),
        },
        info: InfoResponse {
            id: engine_id(data_root),
            docker_root_dir: data_root.display().to_string(),
            memory_limit: sysinfo.cgroups.memory_limit,
            swap_limit: sysinfo.cgroups.swap_limit,
            cpu_cfs_period: sysinfo.cgroups.cpu_cfs_period,
            cpu_cfs_quota: sysinfo.cgroups.cpu_cfs_quota,
            cpu_shares: sysinfo.cgroups.cpu_shares,
            cpu_set: sysinfo.cgroups.cpuset,
            pids_limit: sysinfo.cgroups.pids_limit,
            oom_kill_disable: false,
            kernel_version: kernel,
            operating_system: os_pretty_name(),
            os_type: "linux".to_owned(),
            architecture: std::env::consts::ARCH.to_owned(),
            ncpu: sysinfo.ncpu,
            mem_total: mem_total(),
            name: hostname,
            server_version: version,
            cgroup_driver: "cgroupfs".to_owned(),
            cgroup_version,
            logging_driver: "json-file".to_owned(),
            security_options: vec!["name=seccomp,profile=builtin".to_owned()],
            default_runtime: "berth".to_owned(),
            runtimes: [(
                "berth".to_owned(),
                serde_json::json!({"path": "berth-shim"}),
            )]
            .into_iter()
            .collect(),
            ..InfoResponse::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_sys_resource_is_bit_24_of_cap_eff() {
        let status =
            |eff: &str| format!("Name:\tberthd\nCapPrm:\t000001ffffffffff\nCapEff:\t{eff}\n");
        assert!(has_cap_sys_resource(&status("000001ffffffffff")));
        assert!(!has_cap_sys_resource(&status("000001fffeffffff")));
        assert!(!has_cap_sys_resource("no capabilities line"));
    }

    #[test]
    fn every_docker_ulimit_name_is_an_rlimit() {
        for name in ULIMIT_NAMES {
            assert!(resource(name).is_some(), "{name}");
        }
    }

    #[test]
    fn the_engine_id_is_kept_in_the_data_root() {
        let dir = tempfile::tempdir().unwrap();
        let id = engine_id(dir.path());
        assert_eq!(id.len(), 64);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("engine-id")).unwrap(),
            id
        );
        assert_eq!(engine_id(dir.path()), id);
    }

    #[test]
    fn info_reports_the_probed_features() {
        let dir = tempfile::tempdir().unwrap();
        let sys = SysInfo {
            cgroups: berth_engine::daemon::sysinfo::CgroupFeatures {
                swap_limit: false,
                cpuset: false,
                ..SysInfo::default().cgroups
            },
            ..SysInfo::default()
        };
        let info = collect(dir.path(), &sys, Some(1)).info;
        assert!(info.memory_limit && info.cpu_cfs_quota && info.pids_limit);
        assert!(!info.swap_limit && !info.cpu_set);
        assert_eq!(info.cgroup_version, "1");
        assert_eq!(info.cgroup_driver, "cgroupfs");
    }
}
