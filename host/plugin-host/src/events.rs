//! Plugin events: loads, swaps, unloads, failures and refusals, broadcast
//! to whoever listens (the engine forwards them to `/events`).

use std::time::SystemTime;

/// What happened to a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginEventKind {
    /// A plugin was loaded (at start or because it appeared).
    Load,
    /// A new version replaced a working one.
    Swap,
    /// The plugin was removed from the directory.
    Unload,
    /// A call failed (trap, deadline, memory limit, invalid result).
    Fail,
    /// A plugin (or a replacement) was refused at load.
    Refuse,
    /// The admin enabled the plugin.
    Enable,
    /// The admin disabled the plugin.
    Disable,
    /// An authz plugin denied an API request.
    Deny,
}

impl PluginEventKind {
    /// Whether the event changes which plugins serve (as opposed to the
    /// outcome of one call: a failure, a denial).
    pub fn changes_plugins(self) -> bool {
        !matches!(self, PluginEventKind::Fail | PluginEventKind::Deny)
    }
}

/// One plugin event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PluginEvent {
    /// What happened.
    pub kind: PluginEventKind,
    /// The plugin's name (the plugin directory, for a refused scan of it).
    pub plugin: String,
    /// Its version, when known.
    pub version: Option<String>,
    /// Human-readable detail.
    pub message: String,
    /// When.
    pub time: SystemTime,
}
