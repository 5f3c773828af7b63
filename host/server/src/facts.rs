//! Static facts about the host and the build for `version` and `info`.

use std::path::Path;

use berth_api::system::{ComponentVersion, InfoResponse, Platform, VersionResponse};
use berth_api::version::{CURRENT, MINIMUM};
use berth_engine::daemon::handlers::SystemFacts;

/// Go's name for the architecture (what Docker clients expect in `Arch`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

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
fn engine_id(data_root: &Path) -> String {
    let path = data_root.join("engine-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return id.trim().to_owned();
    }
    let id = berth_engine::daemon::names::generate_id();
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, &id)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .is_err()
    {
        tracing::warn!(path = %path.display(), "cannot persist the engine id");
    }
    id
}

/// Collects the facts once at start.
pub fn collect(data_root: &Path) -> SystemFacts {
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
    let cgroup_version = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    };
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
            memory_limit: true,
            swap_limit: cgroup_version == "2"
                || Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists(),
            cpu_cfs_period: true,
            cpu_cfs_quota: true,
            pids_limit: true,
            kernel_version: kernel,
            operating_system: os_pretty_name(),
            os_type: "linux".to_owned(),
            architecture: std::env::consts::ARCH.to_owned(),
            ncpu: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
            mem_total: mem_total(),
            name: hostname,
            server_version: version,
            cgroup_driver: "cgroupfs".to_owned(),
            cgroup_version: cgroup_version.to_owned(),
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
