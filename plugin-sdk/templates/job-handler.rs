//! {{name}}: a berth job handler. `berth job run {{name}} ARGS...` runs
//! [`Handler::run`] with the job's stdin, stdout and stderr as this
//! component's standard streams; its return value is the exit status.

use std::io::Write;

use berth_plugin_sdk::job::{Job, JobHandler, JobInfo};
use berth_plugin_sdk::{PluginInfo, host, register_job_handler};

/// The plugin's name, as in `{{name}}.toml`.
const NAME: &str = "{{name}}";

struct Handler;

impl JobHandler for Handler {
    fn new() -> Self {
        Handler
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(NAME, env!("CARGO_PKG_VERSION"), "{{summary}}")
    }

    fn jobs(&self) -> Vec<JobInfo> {
        vec![JobInfo::new(NAME, "[ARGS...]", "greets and prints its arguments")]
    }

    fn run(&mut self, job: &Job) -> i32 {
        // `[config]` values from the admin's grants file, as strings.
        let greeting = host::config("greeting").unwrap_or_else(|| "hello".to_owned());
        let mut out = std::io::stdout().lock();
        let written = writeln!(out, "{greeting} from {NAME}")
            .and_then(|()| job.args.iter().try_for_each(|arg| writeln!(out, "{arg}")));
        match written {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{NAME}: {e}");
                1
            }
        }
    }
}

register_job_handler!(Handler);
