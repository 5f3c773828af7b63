//! The `image-gc` job: garbage-collects unreferenced layers as the active
//! graph-layout policy plans it.
//!
//! `berth job run image-gc [--dry-run]` prints one line per removed layer and
//! a total. Needs the `graph-admin` capability (granted to the built-in copy).

use std::io::Write;

use berth_plugin_sdk::job::{Job, JobHandler, JobInfo, graph_admin};
use berth_plugin_sdk::{PluginInfo, host, register_job_handler};

struct ImageGc;

impl JobHandler for ImageGc {
    fn new() -> Self {
        ImageGc
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "image-gc",
            env!("CARGO_PKG_VERSION"),
            "removes layers no image or container uses, as the graph policy plans",
        )
    }

    fn jobs(&self) -> Vec<JobInfo> {
        vec![JobInfo::new(
            "image-gc",
            "[--dry-run]",
            "garbage-collect unreferenced layers",
        )]
    }

    fn run(&mut self, job: &Job) -> i32 {
        let mut dry_run = false;
        for arg in &job.args {
            match arg.as_str() {
                "--dry-run" | "-n" => dry_run = true,
                other => {
                    eprintln!("image-gc: unknown argument {other:?}; usage: image-gc [--dry-run]");
                    return 2;
                }
            }
        }
        let report = match graph_admin::gc(dry_run) {
            Ok(report) => report,
            Err(message) => {
                eprintln!("image-gc: {message}");
                return 1;
            }
        };
        let verb = if report.dry_run {
            "would remove"
        } else {
            "removed"
        };
        let mut out = std::io::stdout().lock();
        for layer in &report.removed {
            if writeln!(out, "{verb} {layer}").is_err() {
                return 1;
            }
        }
        let total = format!(
            "{verb} {} layers, {} bytes",
            report.removed.len(),
            report.reclaimed
        );
        host::info(&total);
        if writeln!(out, "{total}").is_err() {
            return 1;
        }
        0
    }
}

register_job_handler!(ImageGc);
