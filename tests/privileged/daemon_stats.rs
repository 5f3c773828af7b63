//! `docker stats` against berthd (issue 10, observation): samples read
//! from the container's real cgroup (v1 on this machine), rendered by the
//! real docker CLI and by `berth stats`.

use std::time::{Duration, Instant};

use berth_tests::daemon::Daemon;

/// A size as go-units prints it (`20.5MiB`, `64MiB`, `0B`), in bytes.
fn parse_size(text: &str) -> f64 {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("not a size: {text:?}"));
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unknown unit {other:?} in {text:?}"),
    };
    number * scale
}

#[test]
fn docker_stats_shows_a_memory_hogs_usage_and_its_pids() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // 20 MiB in the container's tmpfs /dev/shm: memory charged to its
    // cgroup (shmem, not reclaimable page cache), then two processes.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "hog",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/shm/fill bs=1048576 count=20 2>/dev/null; \
         sleep 300 & exec sleep 301",
    ])
    .ok();
    d.docker(&["create", "--name", "idle", "busybox", "true"])
        .ok();

    // The API: wait (bounded) until both processes run.
    let deadline = Instant::now() + Duration::from_secs(30);
    let sample = loop {
        let r = d.http("GET", "/containers/hog/stats?stream=false", b"");
        assert_eq!(r.status, 200, "{}", r.text());
        let sample = r.json();
        if sample["pids_stats"]["current"] == 2 {
            break sample;
        }
        assert!(Instant::now() < deadline, "never 2 pids: {sample}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(sample["name"], "/hog", "{sample}");
    assert_eq!(sample["memory_stats"]["limit"], 64 << 20, "{sample}");
    assert!(
        sample["memory_stats"]["usage"].as_u64().unwrap_or(0) >= 20 << 20,
        "{sample}"
    );
    // cgroup v1: per-CPU times, and a primed precpu read before `read`.
    assert!(
        sample["cpu_stats"]["cpu_usage"]["percpu_usage"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{sample}"
    );
    assert!(sample["precpu_stats"]["system_cpu_usage"].as_u64() > Some(0));
    assert_ne!(sample["preread"], "0001-01-01T00:00:00Z", "{sample}");
    assert!(sample["cpu_stats"]["online_cpus"].as_u64() >= Some(1));
    // A stopped container: moby's zeroed sample.
    let idle = d
        .http("GET", "/containers/idle/stats?stream=false", b"")
        .json();
    assert_eq!(idle["read"], "0001-01-01T00:00:00Z", "{idle}");
    assert_eq!(idle["memory_stats"], serde_json::json!({}), "{idle}");
    let r = d.http(
        "GET",
        "/containers/hog/stats?stream=true&one-shot=true",
        b"",
    );
    assert_eq!(r.status, 400, "{}", r.text());

    // The docker CLI renders it.
    let table = d.docker(&["stats", "--no-stream"]).ok();
    let header = table.lines().next().unwrap_or_default();
    for column in ["CPU %", "MEM USAGE / LIMIT", "MEM %", "BLOCK I/O", "PIDS"] {
        assert!(header.contains(column), "{table}");
    }
    assert!(table.contains("hog"), "{table}");
    assert!(!table.contains("idle"), "only running ones: {table}");
    let out = d
        .docker(&[
            "stats",
            "--no-stream",
            "-a",
            "--format",
            "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.BlockIO}}|{{.PIDs}}",
        ])
        .ok();
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('|').collect()).collect();
    let hog = rows
        .iter()
        .find(|r| r[0] == "hog")
        .unwrap_or_else(|| panic!("{out}"));
    let (usage, limit) = hog[2].split_once(" / ").unwrap_or_else(|| panic!("{out}"));
    assert!(parse_size(usage) >= 20.0 * 1024.0 * 1024.0, "{out}");
    assert_eq!(limit, "64MiB", "{out}");
    let mem_percent: f64 = hog[3].trim_end_matches('%').parse().unwrap_or(0.0);
    assert!((30.0..=100.0).contains(&mem_percent), "{out}");
    assert!(hog[1].ends_with('%'), "{out}");
    assert_eq!(hog[5], "2", "{out}");
    let idle = rows
        .iter()
        .find(|r| r[0] == "idle")
        .unwrap_or_else(|| panic!("-a shows stopped ones: {out}"));
    assert_eq!((idle[2], idle[5]), ("0B / 0B", "0"), "{out}");

    // berth's own table.
    let out = d.berth(&["stats", "--no-stream"]).ok();
    let row = out
        .lines()
        .find(|l| l.contains("hog"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("/ 64MiB"), "{out}");
    assert!(row.trim_end().ends_with(" 2"), "{out}");
    let out = d.berth(&["stats", "--no-stream", "-a"]).ok();
    assert!(out.contains("idle"), "{out}");

    d.docker(&["rm", "-f", "hog", "idle"]).ok();
    assert!(d.container_ids().is_empty(), "{:?}", d.container_ids());
}
