//! `berth stats [--no-stream] [-a] [CONTAINER...]`: the docker CLI's table
//! (`cli/command/container/stats*.go`), computed the way it computes it
//! from the daemon's samples.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use berth_api::container::ContainerSummary;
use berth_api::container::stats::{BlkioStats, MemoryStats, StatsResponse};
use berth_api::units::{bytes_size, human_size};

use super::Result;
use crate::format::{short_id, table};
use crate::http::{Client, query, segment};

/// The table's columns, docker's.
const HEADER: [&str; 8] = [
    "CONTAINER ID",
    "NAME",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET I/O",
    "BLOCK I/O",
    "PIDS",
];

/// Runs the command: one table with `no_stream`, else a table a second
/// (the screen cleared in between, as docker does) until interrupted.
pub async fn stats(
    client: &Client,
    no_stream: bool,
    all: bool,
    containers: &[String],
) -> Result<i32> {
    // A sample per container: the first with the daemon's primed precpu
    // (stream=false), the next ones one-shot, against the previous one.
    let mut previous: HashMap<String, StatsResponse> = HashMap::new();
    loop {
        let targets = targets(client, all, containers).await?;
        let mut rows = Vec::new();
        let mut failed = false;
        let reads = targets.iter().map(|(id, _)| {
            let primed = !previous.contains_key(id);
            sample(client, id, primed)
        });
        for ((id, name), read) in targets
            .iter()
            .zip(futures_util::future::join_all(reads).await)
        {
            match read {
                Ok(mut now) => {
                    if let Some(before) = previous.get(id) {
                        now.precpu_stats = before.cpu_stats.clone();
                    }
                    rows.push(row(id, name, &now));
                    previous.insert(id.clone(), now);
                }
                Err(e) => {
                    super::print_error(&e);
                    failed = true;
                }
            }
        }
        let text = table(&HEADER, &rows);
        if no_stream {
            print!("{text}");
            return Ok(i32::from(failed));
        }
        // Clear the screen and go home, as the docker CLI redraws.
        print!("\x1b[2J\x1b[H{text}");
        std::io::stdout().flush()?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The containers to show, `(id, name)`: the ones named, or the running
/// ones (every one with `all`), as `docker ps` lists them.
async fn targets(client: &Client, all: bool, named: &[String]) -> Result<Vec<(String, String)>> {
    if !named.is_empty() {
        return Ok(named.iter().map(|n| (n.clone(), n.clone())).collect());
    }
    let list: Vec<ContainerSummary> = client
        .get_json(&format!(
            "/containers/json{}",
            query(&[("all", if all { "1" } else { "0" })])
        ))
        .await?;
    Ok(list
        .into_iter()
        .map(|c| {
            let name = c
                .names
                .first()
                .map(|n| n.trim_start_matches('/').to_owned())
                .unwrap_or_default();
            (c.id, name)
        })
        .collect())
}

async fn sample(client: &Client, id: &str, primed: bool) -> Result<StatsResponse> {
    let mode = if primed {
        [("stream", "0")].as_slice()
    } else {
        [("stream", "0"), ("one-shot", "1")].as_slice()
    };
    client
        .get_json(&format!("/containers/{}/stats{}", segment(id), query(mode)))
        .await
}

fn row(reference: &str, name: &str, s: &StatsResponse) -> Vec<String> {
    let id = if s.id.is_empty() { reference } else { &s.id };
    let name = if s.name.is_empty() {
        name
    } else {
        s.name.trim_start_matches('/')
    };
    let memory = memory_usage(&s.memory_stats);
    let limit = s.memory_stats.limit;
    let mem_percent = if limit == 0 {
        0.0
    } else {
        memory as f64 / limit as f64 * 100.0
    };
    let (read, write) = block_io(&s.blkio_stats);
    vec![
        short_id(id),
        name.to_owned(),
        format!("{:.2}%", cpu_percent(s)),
        format!("{} / {}", bytes_size(memory), bytes_size(limit)),
        format!("{mem_percent:.2}%"),
        // berth has no container networks yet (the host's only).
        "0B / 0B".to_owned(),
        format!("{} / {}", human_size(read as i64), human_size(write as i64)),
        s.pids_stats.current.to_string(),
    ]
}

/// The CLI's `calculateCPUPercentUnix`: the container's share of the
/// host's CPU time between the two samples, times the CPUs.
fn cpu_percent(s: &StatsResponse) -> f64 {
    let cpu_delta = s
        .cpu_stats
        .cpu_usage
        .total_usage
        .saturating_sub(s.precpu_stats.cpu_usage.total_usage) as f64;
    let system_delta = s
        .cpu_stats
        .system_cpu_usage
        .saturating_sub(s.precpu_stats.system_cpu_usage) as f64;
    let cpus = match s.cpu_stats.online_cpus {
        0 => s.cpu_stats.cpu_usage.percpu_usage.len() as f64,
        n => f64::from(n),
    };
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    }
}

/// The CLI's `calculateMemUsageUnixNoCache`: usage less the inactive page
/// cache (`total_inactive_file` on cgroup v1, `inactive_file` on v2).
fn memory_usage(m: &MemoryStats) -> u64 {
    let inactive = m
        .stats
        .get("total_inactive_file")
        .or_else(|| m.stats.get("inactive_file"))
        .copied()
        .unwrap_or(0);
    if inactive < m.usage {
        m.usage - inactive
    } else {
        m.usage
    }
}

/// The CLI's `calculateBlockIO`: bytes read and written, summed over
/// devices, by the first letter of the operation.
fn block_io(b: &BlkioStats) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for entry in b.io_service_bytes_recursive.iter().flatten() {
        match entry.op.bytes().next() {
            Some(b'r' | b'R') => read += entry.value,
            Some(b'w' | b'W') => write += entry.value,
            _ => {}
        }
    }
    (read, write)
}

#[cfg(test)]
mod tests {
    use berth_api::container::stats::BlkioStatEntry;

    use super::*;

    #[test]
    fn the_row_is_computed_as_the_docker_cli_does() {
        let mut s = StatsResponse::zeroed("/web", "0123456789abcdef0123");
        s.cpu_stats.cpu_usage.total_usage = 3_000;
        s.cpu_stats.system_cpu_usage = 20_000;
        s.cpu_stats.online_cpus = 2;
        s.precpu_stats.cpu_usage.total_usage = 1_000;
        s.precpu_stats.system_cpu_usage = 10_000;
        s.memory_stats.usage = 12 << 20;
        s.memory_stats.limit = 64 << 20;
        s.memory_stats
            .stats
            .insert("total_inactive_file".into(), 2 << 20);
        s.pids_stats.current = 4;
        let entry = |op: &str, value| BlkioStatEntry {
            major: 8,
            minor: 0,
            op: op.into(),
            value,
        };
        s.blkio_stats.io_service_bytes_recursive = Some(vec![
            entry("Read", 4096),
            entry("Write", 1_000_000),
            entry("Total", 1_004_096),
            entry("write", 500_000),
        ]);
        assert_eq!(
            row("web", "web", &s),
            [
                "0123456789ab",
                "web",
                // (2000 / 10000) * 2 CPUs
                "40.00%",
                "10MiB / 64MiB",
                "15.62%",
                "0B / 0B",
                "4.096kB / 1.5MB",
                "4",
            ]
        );
    }

    #[test]
    fn a_zeroed_sample_renders_zeros() {
        let s = StatsResponse::zeroed("/off", "abc");
        let r = row("abc", "off", &s);
        assert_eq!(r[2..5], ["0.00%", "0B / 0B", "0.00%"]);
        assert_eq!(r[7], "0");
    }
}
