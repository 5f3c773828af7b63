//! The crate's error type: every variant says what was done to what.

use std::path::PathBuf;

use crate::common::Controller;

/// Everything that can go wrong while managing a cgroup.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Reading a cgroup (or proc) file failed.
    #[error("failed to read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a value to a cgroup file failed.
    #[error("failed to write {value:?} to {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The value written.
        value: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Creating a cgroup directory failed.
    #[error("failed to create cgroup directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Removing a cgroup directory failed (after retrying while busy).
    #[error("failed to remove cgroup directory {path}")]
    RemoveDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Listing a cgroup directory failed.
    #[error("failed to list cgroup directory {path}")]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file's content did not have the expected shape.
    #[error("cannot parse {path}: {reason} (content {content:?})")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the file held (the offending line for multi-line files).
        content: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A line of `/proc/self/mountinfo` was malformed.
    #[error("malformed mountinfo line {line:?}: {reason}")]
    MountInfo {
        /// The line.
        line: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No cgroup filesystem is mounted where we looked.
    #[error("no cgroup filesystem found in the mount table")]
    NoCgroupFs,
    /// A v1 controller this manager needs is not mounted.
    #[error("cgroup v1 controller {controller} is not mounted")]
    ControllerNotMounted {
        /// The controller.
        controller: Controller,
    },
    /// The OCI `cgroupsPath` uses the systemd `slice:prefix:name` form.
    #[error(
        "cgroupsPath {path:?}: the systemd cgroup driver is not supported, use a cgroupfs path"
    )]
    SystemdPathUnsupported {
        /// The path as given.
        path: String,
    },
    /// The OCI `cgroupsPath` is not a usable path.
    #[error("invalid cgroupsPath {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A relative `cgroupsPath` needs the caller's own cgroup, which
    /// `/proc/self/cgroup` does not list for this hierarchy.
    #[error("own cgroup for {hierarchy} not found in /proc/self/cgroup")]
    OwnCgroupUnknown {
        /// The hierarchy (a controller name, or the unified hierarchy).
        hierarchy: String,
    },
    /// The spec asks for a swap limit but the kernel has no swap accounting
    /// (`memory.memsw.*` missing: booted without `swapaccount=1`, or no
    /// `CONFIG_MEMCG_SWAP`).
    #[error(
        "a swap limit was requested but the kernel has no swap accounting ({path} does not exist)"
    )]
    SwapAccountingUnavailable {
        /// The missing `memory.memsw.*` file.
        path: PathBuf,
    },
    /// A resource value in the spec is out of range or inconsistent.
    #[error("invalid resource {resource}: {reason}")]
    InvalidResource {
        /// The resource, as the OCI spec names it (`memory.swap`).
        resource: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The spec asks for something this cgroup version cannot do.
    #[error("{what} is not supported on {version}")]
    Unsupported {
        /// The field or feature.
        what: &'static str,
        /// `cgroup v1` or `cgroup v2`.
        version: &'static str,
    },
    /// The kernel accepted a write but kept another value (e.g. clamped
    /// `cpu.shares`).
    #[error("wrote {wanted:?} to {path} but the kernel kept {got:?}")]
    NotApplied {
        /// The file.
        path: PathBuf,
        /// The value written.
        wanted: String,
        /// The value the kernel reports.
        got: String,
    },
    /// The freezer did not reach the requested state in time.
    #[error("cgroup {path} did not become {wanted} (last state {last:?})")]
    FreezeTimeout {
        /// The file polled (`freezer.state` or `cgroup.events`).
        path: PathBuf,
        /// The state asked for (`FROZEN`, `thawed`, ...).
        wanted: &'static str,
        /// The state last read.
        last: String,
    },
    /// A v2 device-filter eBPF program could not be loaded or attached.
    #[error("failed to {action} the device filter for {path}")]
    DeviceFilter {
        /// The cgroup directory.
        path: PathBuf,
        /// What was being done (`load`, `attach`, ...).
        action: &'static str,
        /// The error of bpf(2) (or of opening the cgroup).
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand used throughout the crate.
pub type Result<T, E = CgroupError> = std::result::Result<T, E>;
