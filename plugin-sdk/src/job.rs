//! The `job-handler` world: jobs the Engine runs like Unix processes.
//!
//! A job handler offers one or more named jobs. berthd adds them to the
//! Engine's handler table, so they run with `berth job run NAME ARGS...` or
//! `POST /berth/jobs/NAME`. During a call the job's stdin, stdout and stderr
//! are the plugin's standard streams: use `std::io` as in any program. The
//! value returned by [`JobHandler::run`] is the job's exit status.
//!
//! # Example
//!
//! ```no_run
//! use std::io::{BufRead, Write};
//! use berth_plugin_sdk::job::{Job, JobHandler, JobInfo};
//! use berth_plugin_sdk::{register_job_handler, PluginInfo};
//!
//! struct Upper;
//!
//! impl JobHandler for Upper {
//!     fn new() -> Self {
//!         Upper
//!     }
//!
//!     fn info(&self) -> PluginInfo {
//!         PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), "text tools")
//!     }
//!
//!     fn jobs(&self) -> Vec<JobInfo> {
//!         vec![JobInfo::new("upper", "[PREFIX]", "upper-cases stdin")]
//!     }
//!
//!     fn run(&mut self, job: &Job) -> i32 {
//!         let prefix = job.args.first().cloned().unwrap_or_default();
//!         let mut out = std::io::stdout().lock();
//!         for line in std::io::stdin().lock().lines() {
//!             let Ok(line) = line else {
//!                 eprintln!("stdin is not UTF-8");
//!                 return 1;
//!             };
//!             if writeln!(out, "{prefix}{}", line.to_uppercase()).is_err() {
//!                 return 1;
//!             }
//!         }
//!         0
//!     }
//! }
//!
//! register_job_handler!(Upper);
//! ```
//!
//! Its manifest, `text.toml` beside `text.wasm`:
//!
//! ```toml
//! name = "text"
//! version = "1.0.0"
//! world = "job-handler"
//! wit = "1.0.0"
//! ```

use std::io::Write;

use crate::PluginInfo;
pub use crate::bindings::job_handler::berth::plugin::graph_admin::{
    GcReport, ImageUsage, LayerUsage, StoreUsage,
};
use crate::bindings::job_handler::exports::berth::plugin::job as wit_job;
use crate::bindings::plugin_imports::berth::plugin::types as wit_types;

/// Exit status of a job asked for a name its handler does not offer,
/// like a shell's "command not found".
pub const EXIT_UNKNOWN_JOB: i32 = 127;

/// One job a handler offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// The job's name (`[a-z0-9][a-z0-9._-]*`), unique in the daemon.
    pub name: String,
    /// Argument synopsis for help output, e.g. `[--dry-run]`.
    pub usage: String,
    /// One line of help.
    pub summary: String,
}

impl JobInfo {
    /// A job called `name`.
    pub fn new(name: &str, usage: &str, summary: &str) -> Self {
        Self {
            name: name.to_owned(),
            usage: usage.to_owned(),
            summary: summary.to_owned(),
        }
    }
}

/// One call of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Which of the handler's jobs is called.
    pub name: String,
    /// Arguments after the job name.
    pub args: Vec<String>,
    /// Environment passed by the caller, in order.
    pub env: Vec<(String, String)>,
}

impl Job {
    /// The value of the last `key` in [`Job::env`], if any.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A plugin that adds jobs to berthd's Engine.
pub trait JobHandler {
    /// Creates the handler. Called once per call: the host gives every call a
    /// fresh instance.
    fn new() -> Self
    where
        Self: Sized;

    /// Who the plugin is; must match the manifest.
    fn info(&self) -> PluginInfo;

    /// The jobs this handler offers.
    fn jobs(&self) -> Vec<JobInfo>;

    /// Runs `job` with the caller's stdio as standard streams and returns its
    /// exit status (0 for success). Only names listed by [`JobHandler::jobs`]
    /// reach this method.
    fn run(&mut self, job: &Job) -> i32;
}

/// The image store's maintenance functions: need the `graph-admin`
/// capability, granted by the admin in the grants file.
pub mod graph_admin {
    use super::{GcReport, StoreUsage};
    use crate::bindings::job_handler::berth::plugin::graph_admin as wit;

    /// The image store's disk use, like `GET /system/df`.
    pub fn disk_usage() -> Result<StoreUsage, String> {
        wit::disk_usage()
    }

    /// Garbage-collects the layers the active graph policy selects;
    /// `dry_run` only reports what would be removed.
    pub fn gc(dry_run: bool) -> Result<GcReport, String> {
        wit::gc(dry_run)
    }
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Adapts a [`JobHandler`] to the generated export traits.
    pub struct Export<T>(core::marker::PhantomData<T>);

    impl<T: JobHandler> crate::bindings::job_handler::Guest for Export<T> {
        fn describe() -> wit_types::HandlerInfo {
            let handler = T::new();
            wit_types::HandlerInfo {
                plugin: handler.info().into(),
                jobs: handler
                    .jobs()
                    .into_iter()
                    .map(|job| wit_types::JobInfo {
                        name: job.name,
                        usage: job.usage,
                        summary: job.summary,
                    })
                    .collect(),
            }
        }
    }

    impl<T: JobHandler> wit_job::Guest for Export<T> {
        fn run(name: String, args: Vec<String>, env: Vec<(String, String)>) -> i32 {
            let mut handler = T::new();
            let status = if handler.jobs().iter().any(|job| job.name == name) {
                handler.run(&Job { name, args, env })
            } else {
                eprintln!("no job named {name:?} in this plugin");
                EXIT_UNKNOWN_JOB
            };
            // The instance is dropped after the call, not exited: flush what
            // `std::io`'s buffers hold so the caller sees all of it.
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().flush();
            status
        }
    }
}

/// Exports `$handler`, a [`JobHandler`], as this component's `job-handler`
/// world. Use it once, at the top level of a plugin crate.
#[macro_export]
macro_rules! register_job_handler {
    ($handler:ty) => {
        #[doc(hidden)]
        type __BerthJobHandlerExport = $crate::job::__private::Export<$handler>;
        $crate::bindings::job_handler::__export_job_handler!(
            __BerthJobHandlerExport with_types_in $crate::bindings::job_handler
        );
    };
}
