//! An example job handler exercising everything a job sees: arguments,
//! environment, stdin, stdout, stderr and the exit status.
//!
//! Jobs:
//! - `example-echo ARGS...`: prints the arguments, one per line.
//! - `example-env [NAME...]`: prints `NAME=value` for the named (or all)
//!   environment entries.
//! - `example-cat`: copies stdin to stdout and prints a byte count on stderr.
//! - `example-exit CODE [MESSAGE]`: prints MESSAGE on stderr, exits with CODE.
//! - `example-version`: prints the plugin's version (the hot-reload tests
//!   tell the two builds apart by it).
//! - `example-scratch`: increments a counter in `/scratch/counter` and
//!   prints it; works only when the admin granted `scratch-dir`.

use std::io::{Read, Write};

use berth_plugin_sdk::job::{Job, JobHandler, JobInfo};
use berth_plugin_sdk::{PluginInfo, host, register_job_handler};

/// The version this build reports; the `next` feature builds the 1.1.0
/// variant used to test replacing a plugin.
const VERSION: &str = if cfg!(feature = "next") {
    "1.1.0"
} else {
    env!("CARGO_PKG_VERSION")
};

struct Example;

fn echo(job: &Job) -> std::io::Result<i32> {
    let mut out = std::io::stdout().lock();
    for arg in &job.args {
        writeln!(out, "{arg}")?;
    }
    Ok(0)
}

fn env(job: &Job) -> std::io::Result<i32> {
    let mut out = std::io::stdout().lock();
    if job.args.is_empty() {
        for (key, value) in &job.env {
            writeln!(out, "{key}={value}")?;
        }
        return Ok(0);
    }
    let mut status = 0;
    for name in &job.args {
        match job.env(name) {
            Some(value) => writeln!(out, "{name}={value}")?,
            None => {
                eprintln!("{name} is not set");
                status = 1;
            }
        }
    }
    Ok(status)
}

fn cat() -> std::io::Result<i32> {
    let mut input = Vec::new();
    std::io::stdin().lock().read_to_end(&mut input)?;
    std::io::stdout().lock().write_all(&input)?;
    eprintln!("{} bytes", input.len());
    Ok(0)
}

fn exit(job: &Job) -> std::io::Result<i32> {
    let Some(code) = job.args.first() else {
        eprintln!("usage: example-exit CODE [MESSAGE]");
        return Ok(2);
    };
    let Ok(code) = code.parse::<i32>() else {
        eprintln!("example-exit: {code:?} is not an exit status");
        return Ok(2);
    };
    if let Some(message) = job.args.get(1) {
        eprintln!("{message}");
    }
    Ok(code)
}

/// `/scratch` exists only when the host preopened the plugin's scratch
/// directory (the `scratch-dir` capability).
fn scratch() -> std::io::Result<i32> {
    let path = "/scratch/counter";
    let count = match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse::<u64>().unwrap_or(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let count = count + 1;
    std::fs::write(path, count.to_string())?;
    writeln!(std::io::stdout(), "{count}")?;
    Ok(0)
}

impl JobHandler for Example {
    fn new() -> Self {
        Example
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "example-job",
            VERSION,
            "example jobs: echo, env, cat, exit, version",
        )
    }

    fn jobs(&self) -> Vec<JobInfo> {
        vec![
            JobInfo::new(
                "example-echo",
                "ARGS...",
                "print the arguments, one per line",
            ),
            JobInfo::new("example-env", "[NAME...]", "print environment entries"),
            JobInfo::new(
                "example-cat",
                "",
                "copy stdin to stdout, count bytes on stderr",
            ),
            JobInfo::new(
                "example-exit",
                "CODE [MESSAGE]",
                "exit with CODE after printing MESSAGE on stderr",
            ),
            JobInfo::new("example-version", "", "print the plugin's version"),
            JobInfo::new(
                "example-scratch",
                "",
                "count calls in the scratch directory",
            ),
        ]
    }

    fn run(&mut self, job: &Job) -> i32 {
        host::log(
            host::Level::Debug,
            "running",
            &[("job", &job.name), ("args", &job.args.len().to_string())],
        );
        let result = match job.name.as_str() {
            "example-echo" => echo(job),
            "example-env" => env(job),
            "example-cat" => cat(),
            "example-exit" => exit(job),
            "example-version" => writeln!(std::io::stdout(), "{VERSION}").map(|()| 0),
            "example-scratch" => scratch(),
            other => {
                eprintln!("no job {other:?}");
                Ok(127)
            }
        };
        result.unwrap_or_else(|error| {
            eprintln!("{}: {error}", job.name);
            1
        })
    }
}

register_job_handler!(Example);
