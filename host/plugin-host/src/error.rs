//! The plugin host's error type.
//!
//! Every error that comes out of a plugin is wrapped with the plugin's name
//! and version before it leaves this crate (STYLE.md rule 6), so that the
//! daemon's log, the API and the CLI always say which plugin failed.

use std::path::PathBuf;
use std::time::SystemTime;

/// What went wrong loading, managing or calling a plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// Reading a file of the plugin directory, the grants file or the cache.
    #[error("failed to read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Writing the compilation cache or a scratch directory.
    #[error("failed to write {path}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A manifest that does not parse or breaks a rule.
    #[error("invalid manifest {path}: {reason}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The admin's grants file does not parse or breaks a rule.
    #[error("invalid grants file {path}: {reason}")]
    Grants {
        /// The grants file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The plugin targets a WIT version this host does not implement.
    #[error(
        "plugin {plugin} {version} targets berth:plugin WIT {wanted}, \
         but this berthd supports {supported}"
    )]
    IncompatibleWit {
        /// The plugin's name.
        plugin: String,
        /// The plugin's version.
        version: String,
        /// The WIT version the plugin was built against.
        wanted: semver::Version,
        /// The versions this host supports, described.
        supported: String,
    },

    /// The manifest asks for a capability the admin has not granted, or a
    /// capability its world cannot have.
    #[error("plugin {plugin} {version} asks for capability {capability}: {reason}")]
    Capability {
        /// The plugin's name.
        plugin: String,
        /// The plugin's version.
        version: String,
        /// The capability.
        capability: String,
        /// Why it is refused.
        reason: String,
    },

    /// The file is not a component this host can run, or it does not
    /// implement the world its manifest names.
    #[error("plugin {plugin} {version}: {path} is not a usable component: {reason}")]
    Component {
        /// The plugin's name.
        plugin: String,
        /// The plugin's version.
        version: String,
        /// The component file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The component loaded but its `describe` failed or disagreed with the
    /// manifest.
    #[error("plugin {plugin} {version} failed its describe check: {reason}")]
    Describe {
        /// The plugin's name.
        plugin: String,
        /// The plugin's version.
        version: String,
        /// What failed or disagreed.
        reason: String,
    },

    /// A call trapped, ran out of time or memory, or returned an error.
    #[error("plugin {plugin} {version}: {call} failed: {reason}")]
    Call {
        /// The plugin's name.
        plugin: String,
        /// The plugin's version.
        version: String,
        /// The call (`plan-rootfs`, `job image-gc`, ...).
        call: String,
        /// What kind of failure.
        kind: CallFailure,
        /// What happened, in words.
        reason: String,
    },

    /// The plugin failed repeatedly and is resting until `until`.
    #[error(
        "plugin {plugin} {version} is failing ({failures} consecutive failures, \
         last: {last_error}); calls resume after its backoff"
    )]
    Backoff {
        /// The plugin's name.
        plugin: String,
        /// The plugin's version.
        version: String,
        /// Consecutive failed calls.
        failures: u32,
        /// The last failure.
        last_error: String,
        /// When calls resume.
        until: SystemTime,
    },

    /// The plugin is disabled by the admin.
    #[error("plugin {plugin} is disabled")]
    Disabled {
        /// The plugin's name.
        plugin: String,
    },

    /// An admin operation the host does not allow on this plugin.
    #[error("plugin {plugin}: {reason}")]
    Refused {
        /// The plugin's name.
        plugin: String,
        /// Why the operation is refused.
        reason: String,
    },

    /// No plugin (or no job) by that name.
    #[error("no {what} named {name:?}")]
    NotFound {
        /// What was looked for (`plugin`, `job`, ...).
        what: &'static str,
        /// The name asked for.
        name: String,
    },

    /// Two plugins offer the same job.
    #[error("job {job} of plugin {plugin} is already offered by plugin {owner}")]
    JobConflict {
        /// The job.
        job: String,
        /// The plugin refused.
        plugin: String,
        /// The plugin that offers the job already.
        owner: String,
    },

    /// Listing the plugin directory failed (an unreadable directory, an I/O
    /// error mid-listing): the scan is refused and the plugins loaded from
    /// the directory keep serving.
    #[error("failed to list the plugin directory {dir}")]
    ScanDir {
        /// The plugin directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The scan of the plugin directory panicked: refused like
    /// [`PluginError::ScanDir`].
    #[error("the scan of the plugin directory {dir} panicked: {reason}")]
    ScanPanicked {
        /// The plugin directory.
        dir: PathBuf,
        /// The panic's message.
        reason: String,
    },

    /// The plugin host itself could not be set up (engine, linker, watcher).
    #[error("plugin host setup: {what}: {reason}")]
    Setup {
        /// The part being set up.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

/// Why a call failed: lets callers and tests tell a deadline from a trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallFailure {
    /// The epoch deadline passed (an infinite loop, or simply too slow).
    Timeout,
    /// The store's memory limit stopped a growth.
    MemoryLimit,
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access).
    Trap,
    /// The plugin returned an error value (e.g. a policy refusing a request).
    Returned,
    /// The host rejected what the plugin returned (an invalid plan).
    InvalidResult,
    /// Instantiation failed (e.g. the instance pool is exhausted).
    Instantiate,
}

impl PluginError {
    /// The call failure kind, when this is a failed call.
    pub fn call_failure(&self) -> Option<CallFailure> {
        match self {
            PluginError::Call { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}
