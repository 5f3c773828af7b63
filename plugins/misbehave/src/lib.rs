//! A deliberately broken job handler, for the host's tests: each job fails
//! in one of the ways a plugin can, and `misbehave-ok` shows the plugin is
//! still usable afterwards.
//!
//! Not built into berthd and not meant for a plugin directory.

use std::io::Write;

use berth_plugin_sdk::job::{Job, JobHandler, JobInfo};
use berth_plugin_sdk::{PluginInfo, register_job_handler};

struct Misbehave;

/// Spins forever without calling the host: only the epoch deadline stops it.
fn spin() -> i32 {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

/// Allocates and touches memory until the store's limit stops it.
fn bomb() -> i32 {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
}

impl JobHandler for Misbehave {
    fn new() -> Self {
        Misbehave
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "misbehave",
            env!("CARGO_PKG_VERSION"),
            "fails on purpose (tests)",
        )
    }

    fn jobs(&self) -> Vec<JobInfo> {
        [
            "misbehave-spin",
            "misbehave-bomb",
            "misbehave-panic",
            "misbehave-read",
            "misbehave-ok",
        ]
        .into_iter()
        .map(|name| JobInfo::new(name, "", "test job"))
        .collect()
    }

    fn run(&mut self, job: &Job) -> i32 {
        match job.name.as_str() {
            "misbehave-spin" => spin(),
            "misbehave-bomb" => bomb(),
            "misbehave-panic" => panic!("misbehave-panic was asked to panic"),
            // Blocks in a host call (reading stdin) rather than in wasm: only
            // the host's outer deadline can stop it.
            "misbehave-read" => {
                let mut input = Vec::new();
                match std::io::Read::read_to_end(&mut std::io::stdin(), &mut input) {
                    Ok(_) => 0,
                    Err(_) => 1,
                }
            }
            _ => match writeln!(std::io::stdout(), "alive") {
                Ok(()) => 0,
                Err(_) => 1,
            },
        }
    }
}

register_job_handler!(Misbehave);
