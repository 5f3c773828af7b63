//! The plugin directory watcher: one debounced task that rescans.
//!
//! File events only say "something changed"; the rescan compares every
//! plugin's files with what is loaded, so a burst of events (an editor's
//! save, a copy in several writes, a manifest and a component replaced one
//! after the other) costs one or two rescans and nothing is missed.

use std::path::Path;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::new_debouncer;
use tokio::sync::mpsc;

use crate::{PluginError, PluginHost};

/// How long the directory must be quiet before a rescan.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchHandle {
    task: tokio::task::JoinHandle<()>,
}

impl WatchHandle {
    /// Stops watching.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn watch_error(e: impl std::fmt::Display) -> PluginError {
    PluginError::Setup {
        what: "plugin directory watcher",
        reason: e.to_string(),
    }
}

impl PluginHost {
    /// Watches the plugin directory (creating it if missing) and rescans
    /// after every burst of changes. Must be called inside a tokio runtime.
    pub fn watch(&self) -> Result<WatchHandle, PluginError> {
        let Some(dir) = self.plugin_dir().map(Path::to_path_buf) else {
            return Err(watch_error("no plugin directory is configured"));
        };
        std::fs::create_dir_all(&dir).map_err(|source| PluginError::Write {
            path: dir.clone(),
            source,
        })?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut debouncer = new_debouncer(DEBOUNCE, None, move |result| {
            // The receiver only goes away with the task, when watching stops.
            let _ = tx.send(result);
        })
        .map_err(watch_error)?;
        debouncer
            .watch(&dir, RecursiveMode::Recursive)
            .map_err(watch_error)?;

        let host = self.clone();
        let task = tokio::spawn(async move {
            // The debouncer lives as long as the task.
            let _debouncer = debouncer;
            while let Some(result) = rx.recv().await {
                if let Err(errors) = result {
                    for error in errors {
                        tracing::warn!(error = %error, "plugin directory watch error");
                    }
                }
                // Coalesce whatever queued up meanwhile into this rescan.
                while rx.try_recv().is_ok() {}
                host.rescan().await;
            }
        });
        Ok(WatchHandle { task })
    }
}
