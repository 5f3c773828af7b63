//! The `disk-usage` job: the image store's disk use, like `docker system df`.
//!
//! `berth job run disk-usage [--verbose|--json]`. Needs the `graph-admin`
//! capability (granted to the built-in copy).

use std::fmt::Display;
use std::io::Write;

use berth_plugin_sdk::job::{Job, JobHandler, JobInfo, StoreUsage, graph_admin};
use berth_plugin_sdk::{PluginInfo, register_job_handler};

struct DiskUsageJob;

/// `1234567` -> `1.2MB`, in Docker's decimal units.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One line of the summary table, in `docker system df`'s columns.
fn row(out: &mut impl Write, cells: [&dyn Display; 5]) -> std::io::Result<()> {
    let [kind, total, active, size, reclaimable] = cells;
    writeln!(
        out,
        "{kind:<12}{total:>8}{active:>8}{size:>12}{reclaimable:>14}"
    )
}

fn summary(usage: &StoreUsage, out: &mut impl Write, verbose: bool) -> std::io::Result<()> {
    let reclaimable: u64 = usage
        .layers
        .iter()
        .filter(|l| l.images == 0 && l.containers == 0)
        .map(|l| l.size)
        .sum();
    let active = usage.images.iter().filter(|i| i.containers > 0).count();
    row(out, [&"TYPE", &"TOTAL", &"ACTIVE", &"SIZE", &"RECLAIMABLE"])?;
    row(
        out,
        [
            &"Images",
            &usage.images.len(),
            &active,
            &human(usage.layers_size),
            &human(reclaimable),
        ],
    )?;
    row(
        out,
        [
            &"Layers",
            &usage.layers.len(),
            &usage.layers.iter().filter(|l| l.containers > 0).count(),
            &human(usage.layers_size),
            &human(reclaimable),
        ],
    )?;
    row(
        out,
        [
            &"Containers",
            &"-",
            &"-",
            &human(usage.containers_size),
            &"-",
        ],
    )?;
    if verbose {
        writeln!(out)?;
        writeln!(
            out,
            "{:<73} {:>10} {:>7} {:>11}",
            "LAYER", "SIZE", "IMAGES", "CONTAINERS"
        )?;
        for layer in &usage.layers {
            writeln!(
                out,
                "{:<73} {:>10} {:>7} {:>11}",
                layer.id,
                human(layer.size),
                layer.images,
                layer.containers
            )?;
        }
    }
    Ok(())
}

fn json(usage: &StoreUsage, out: &mut impl Write) -> std::io::Result<()> {
    let layers: Vec<String> = usage
        .layers
        .iter()
        .map(|l| {
            format!(
                "{{\"Id\":{},\"Size\":{},\"Images\":{},\"Containers\":{}}}",
                json_string(&l.id),
                l.size,
                l.images,
                l.containers
            )
        })
        .collect();
    let images: Vec<String> = usage
        .images
        .iter()
        .map(|i| {
            let tags: Vec<String> = i.tags.iter().map(|t| json_string(t)).collect();
            format!(
                "{{\"Id\":{},\"RepoTags\":[{}],\"Size\":{},\"SharedSize\":{},\"Containers\":{}}}",
                json_string(&i.id),
                tags.join(","),
                i.size,
                i.shared_size,
                i.containers
            )
        })
        .collect();
    writeln!(
        out,
        "{{\"LayersSize\":{},\"ContainersSize\":{},\"Layers\":[{}],\"Images\":[{}]}}",
        usage.layers_size,
        usage.containers_size,
        layers.join(","),
        images.join(",")
    )
}

impl JobHandler for DiskUsageJob {
    fn new() -> Self {
        DiskUsageJob
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "disk-usage",
            env!("CARGO_PKG_VERSION"),
            "reports the image store's disk use",
        )
    }

    fn jobs(&self) -> Vec<JobInfo> {
        vec![JobInfo::new(
            "disk-usage",
            "[--verbose|--json]",
            "show the image store's disk use",
        )]
    }

    fn run(&mut self, job: &Job) -> i32 {
        let (mut verbose, mut as_json) = (false, false);
        for arg in &job.args {
            match arg.as_str() {
                "-v" | "--verbose" => verbose = true,
                "--json" => as_json = true,
                other => {
                    eprintln!(
                        "disk-usage: unknown argument {other:?}; usage: disk-usage [--verbose|--json]"
                    );
                    return 2;
                }
            }
        }
        let usage = match graph_admin::disk_usage() {
            Ok(usage) => usage,
            Err(message) => {
                eprintln!("disk-usage: {message}");
                return 1;
            }
        };
        let mut out = std::io::stdout().lock();
        let written = if as_json {
            json(&usage, &mut out)
        } else {
            summary(&usage, &mut out, verbose)
        };
        match written {
            Ok(()) => 0,
            Err(_) => 1,
        }
    }
}

register_job_handler!(DiskUsageJob);
