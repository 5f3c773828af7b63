//! Services berthd offers every plugin: structured logging and configuration.
//!
//! ```no_run
//! use berth_plugin_sdk::host::{self, Level};
//!
//! let depth = host::config("max-depth").unwrap_or_else(|| "64".into());
//! host::log(Level::Info, "planning", &[("max-depth", &depth)]);
//! ```

use crate::bindings::plugin_imports::berth::plugin::host as wit;
use crate::bindings::plugin_imports::berth::plugin::types::LogLevel;

/// Severity of a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Diagnostics for developers.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected the plugin could handle.
    Warn,
    /// Something failed.
    Error,
}

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// Writes a structured record to berthd's log. berthd tags it with the
/// plugin's name and version; `fields` become key/value fields.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    wit::log(level.into(), message, &fields);
}

/// Logs `message` at [`Level::Info`] without fields.
pub fn info(message: &str) {
    log(Level::Info, message, &[]);
}

/// Logs `message` at [`Level::Warn`] without fields.
pub fn warn(message: &str) {
    log(Level::Warn, message, &[]);
}

/// Logs `message` at [`Level::Error`] without fields.
pub fn error(message: &str) {
    log(Level::Error, message, &[]);
}

/// The value of `key` in this plugin's configuration: the manifest's
/// `[config]` table, overridden by the admin's grants file.
pub fn config(key: &str) -> Option<String> {
    wit::config(key)
}

/// Every configuration entry of this plugin, sorted by key.
pub fn config_entries() -> Vec<(String, String)> {
    wit::config_entries()
}
