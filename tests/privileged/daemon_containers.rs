//! Containers through berthd: `berth run`, the real `docker` CLI driving
//! the basic lifecycle, Docker's defaults inside a container, exit codes,
//! and containers surviving `kill -9` of the daemon.

use berth_tests::daemon::Daemon;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

#[test]
fn berth_run_streams_output_stdin_and_exit_codes() {
    let d = ready();
    let out = d.berth(&["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!((out.code(), out.stdout.as_str()), (0, "hi\n"), "{out:?}");
    let out = d.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo oops >&2; exit 3",
    ]);
    assert_eq!((out.code(), out.stderr.as_str()), (3, "oops\n"), "{out:?}");
    let out = d.berth_with_input(&["run", "-i", "--rm", "busybox", "cat"], Some(b"piped\n"));
    assert_eq!((out.code(), out.stdout.as_str()), (0, "piped\n"), "{out:?}");
    // --rm removed them all.
    assert!(d.container_ids().is_empty(), "{:?}", d.container_ids());
    // Their lifecycle is in the events stream, in Docker's format.
    let actions: Vec<String> = d
        .past_events(Some("container"))
        .iter()
        .map(|e| e["Action"].as_str().unwrap_or_default().to_owned())
        .collect();
    for wanted in ["create", "start", "die", "destroy"] {
        assert!(
            actions.iter().any(|a| a == wanted),
            "{wanted} missing: {actions:?}"
        );
    }

    // A missing executable fails like docker: 127, a clear message.
    let out = d.berth(&["run", "--rm", "busybox", "/no/such/binary"]);
    assert_eq!(out.code(), 127, "{out:?}");
    assert!(
        out.stderr.starts_with("Error response from daemon:"),
        "{}",
        out.stderr
    );
}

#[test]
fn berth_detached_lifecycle_logs_stop_wait_rm() {
    let d = ready();
    let id = d
        .berth(&[
            "run",
            "-d",
            "--name",
            "ticker",
            "busybox",
            "sh",
            "-c",
            "echo started; exec sleep 100",
        ])
        .ok();
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let ps = d.berth(&["ps"]).ok();
    assert!(
        ps.lines()
            .any(|l| l.ends_with("ticker") && l.contains("Up ")),
        "{ps}"
    );
    let logs = d.berth(&["logs", "ticker"]).ok();
    assert_eq!(logs, "started\n");
    let inspect: serde_json::Value =
        serde_json::from_str(&d.berth(&["inspect", "ticker"]).ok()).unwrap();
    assert_eq!(inspect[0]["State"]["Running"], true);
    assert!(inspect[0]["State"]["Pid"].as_i64().unwrap() > 0);
    // The paths inspect reports are the exec driver's files.
    let file = |key: &str| {
        let path = inspect[0][key].as_str().unwrap_or_default().to_owned();
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{key} {path:?}: {e}"))
    };
    assert!(file("LogPath").contains("started"));
    assert_eq!(file("HostnamePath"), format!("{}\n", &id[..12]));
    assert!(file("HostsPath").starts_with("127.0.0.1\tlocalhost"));
    assert!(file("ResolvConfPath").contains("nameserver"));

    // Removing a running container needs force.
    let out = d.berth(&["rm", "ticker"]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("You cannot remove a running container"),
        "{}",
        out.stderr
    );

    // `sleep` is PID 1 of its namespace and has no SIGTERM handler, so the
    // kernel ignores SIGTERM: stop escalates to SIGKILL after -t (137).
    d.berth(&["stop", "-t", "1", "ticker"]).ok();
    let code = d.berth(&["wait", "ticker"]).ok();
    assert_eq!(code.trim(), "137");
    let ps = d.berth(&["ps", "-a"]).ok();
    assert!(
        ps.lines()
            .any(|l| l.ends_with("ticker") && l.contains("Exited (137)")),
        "{ps}"
    );
    // A process that handles SIGTERM ends with it.
    d.berth(&[
        "run",
        "-d",
        "--name",
        "trapper",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 143' TERM; while true; do sleep 0.2; done",
    ])
    .ok();
    d.berth(&["stop", "-t", "30", "trapper"]).ok();
    assert_eq!(d.berth(&["wait", "trapper"]).ok().trim(), "143");
    d.berth(&["rm", "trapper"]).ok();
    d.berth(&["rm", "ticker"]).ok();
    assert!(d.container_ids().is_empty());
}

#[test]
fn docker_cli_drives_the_basic_lifecycle() {
    let d = ready();
    let out = d.docker(&["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!((out.code(), out.stdout.as_str()), (0, "hi\n"), "{out:?}");
    let out = d.docker_with_input(&["run", "-i", "--rm", "busybox", "cat"], Some(b"hi\n"));
    assert_eq!((out.code(), out.stdout.as_str()), (0, "hi\n"), "{out:?}");
    let out = d.docker(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.code(), 3, "{out:?}");

    d.docker(&[
        "run",
        "-d",
        "--name",
        "x",
        "busybox",
        "sh",
        "-c",
        "echo up; exec sleep 100",
    ])
    .ok();
    let ps = d.docker(&["ps", "--format", "{{.Names}} {{.Status}}"]).ok();
    assert!(ps.lines().any(|l| l.starts_with("x Up")), "{ps}");
    let logs = d.docker(&["logs", "x"]).ok();
    assert_eq!(logs, "up\n");
    let running = d
        .docker(&["inspect", "--format", "{{.State.Running}}", "x"])
        .ok();
    assert_eq!(running.trim(), "true");
    d.docker(&["stop", "-t", "1", "x"]).ok();
    let code = d.docker(&["wait", "x"]).ok();
    // PID 1 without a SIGTERM handler: killed after the timeout.
    assert_eq!(code.trim(), "137");
    let ps = d
        .docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .ok();
    assert!(ps.lines().any(|l| l.starts_with("x Exited (137)")), "{ps}");

    d.docker(&["start", "x"]).ok();
    d.docker(&["kill", "x"]).ok();
    let code = d.docker(&["wait", "x"]).ok();
    assert_eq!(code.trim(), "137");
    d.docker(&["run", "-d", "--name", "y", "busybox", "sleep", "100"])
        .ok();
    d.docker(&["rm", "-f", "x", "y"]).ok();
    let ps = d.docker(&["ps", "-a", "-q"]).ok();
    assert!(ps.trim().is_empty(), "{ps}");
}

#[test]
fn containers_see_dockers_defaults_and_requested_limits() {
    let d = ready();
    // Docker masks /proc/kcore (absent on kernels without it, then it stays
    // absent) and /proc/timer_list and /proc/keys (bind mounts of /dev/null).
    let kcore_expected = if std::path::Path::new("/proc/kcore").exists() {
        "0"
    } else {
        "absent"
    };
    let script = "grep CapEff /proc/self/status; hostname; id -u; \
                  if [ -e /proc/kcore ]; then wc -c < /proc/kcore; else echo absent; fi; \
                  wc -c < /proc/timer_list; wc -c < /proc/keys; \
                  cat /sys/fs/cgroup/memory/memory.limit_in_bytes; \
                  cat /sys/fs/cgroup/pids/pids.max";
    let out = d.docker(&[
        "run",
        "--rm",
        "-h",
        "myhost",
        "-u",
        "1000",
        "-m",
        "64m",
        "--pids-limit",
        "50",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    let memory = (64u64 << 20).to_string();
    assert_eq!(
        lines,
        [
            "CapEff:\t0000000000000000",
            "myhost",
            "1000",
            kcore_expected,
            "0",
            "0",
            memory.as_str(),
            "50"
        ],
        "{out:?}"
    );
    // As root the bounding set is Docker's default.
    let out = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert_eq!(out.stdout.trim(), "CapEff:\t00000000a80425fb", "{out:?}");
}

#[test]
fn containers_survive_kill_9_of_the_daemon() {
    let mut d = ready();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "survivor",
        "busybox",
        "sh",
        "-c",
        "echo before; exec sleep 100",
    ])
    .ok();
    let inspect: serde_json::Value =
        serde_json::from_str(&d.berth(&["inspect", "survivor"]).ok()).unwrap();
    let pid = inspect[0]["State"]["Pid"].as_i64().unwrap();
    d.kill9();
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "container died with berthd"
    );
    d.restart();
    let ps = d.berth(&["ps"]).ok();
    assert!(
        ps.lines()
            .any(|l| l.ends_with("survivor") && l.contains("Up ")),
        "{ps}"
    );
    assert_eq!(d.berth(&["logs", "survivor"]).ok(), "before\n");
    d.berth(&["stop", "-t", "1", "survivor"]).ok();
    assert_eq!(d.berth(&["wait", "survivor"]).ok().trim(), "137");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

/// The frames of a multiplexed attach stream, as (stream byte, text).
fn frames(raw: &[u8]) -> Vec<(u8, String)> {
    let mut decoder = berth_api::stream::FrameDecoder::new();
    decoder.push(raw);
    let mut out = Vec::new();
    while let Some((stream, data)) = decoder.next_frame().expect("valid frame") {
        out.push((stream as u8, String::from_utf8_lossy(&data).into_owned()));
    }
    assert_eq!(decoder.pending(), 0, "a partial frame is left: {raw:?}");
    out
}

#[test]
fn attach_with_logs_replays_the_log_before_live_output() {
    use std::io::{Read, Write};
    let d = ready();
    d.berth(&[
        "run",
        "-d",
        "-i",
        "--name",
        "replay",
        "busybox",
        "sh",
        "-c",
        "echo one; echo err >&2; read x; echo \"got $x\"",
    ])
    .ok();
    // Wait until both lines are in the log (bounded: the CLI's timeout).
    let deadline = std::time::Instant::now() + berth_tests::daemon::CLI_TIMEOUT;
    loop {
        let logs = d.berth(&["logs", "replay"]);
        if logs.stdout.contains("one") && logs.stderr.contains("err") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the container's output never reached its log: {logs:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // logs=1&stream=1: the log first, then the live session, whose input
    // the process reads.
    let (head, mut conn) =
        d.http_hijack("/containers/replay/attach?logs=1&stream=1&stdin=1&stdout=1&stderr=1");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    conn.write_all(b"two\n").unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    assert_eq!(
        frames(&raw),
        [
            (1, "one\n".to_owned()),
            (2, "err\n".to_owned()),
            (1, "got two\n".to_owned())
        ]
    );
    let code = d.docker(&["wait", "replay"]).ok();
    assert_eq!(code.trim(), "0");

    // logs=1&stream=0 on the exited container: just the log, filtered by
    // stream, then the connection ends.
    let (head, mut conn) = d.http_hijack("/containers/replay/attach?logs=1&stream=0&stdout=1");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    assert_eq!(
        frames(&raw),
        [(1, "one\n".to_owned()), (1, "got two\n".to_owned())]
    );
}

/// The numbers of `line-N` records in `output`, in order.
fn line_numbers(output: &str) -> Vec<u32> {
    output
        .lines()
        .map(|l| {
            l.strip_prefix("line-")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected log line {l:?} in {output}"))
        })
        .collect()
}

/// `docker run -d` of a container that prints `line-0` .. `line-(count-1)`,
/// one every `pause_us` microseconds, into a json-file log rotated at 1 kB
/// with 3 files; its id.
fn run_counting(d: &Daemon, count: u32, pause_us: u32) -> String {
    let script = format!(
        "i=0; while [ $i -lt {count} ]; do echo line-$i; usleep {pause_us}; i=$((i+1)); done"
    );
    d.docker(&[
        "run",
        "-d",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        &script,
    ])
    .ok()
    .trim()
    .to_owned()
}

#[test]
fn json_file_logs_rotate_and_the_none_driver_keeps_nothing() {
    let d = ready();
    // ~70 bytes a record, one record at a time: a 1 kB file holds about 14,
    // so 100 records rotate many times and 3 files keep the newest ~40.
    let id = run_counting(&d, 100, 2000);
    assert_eq!(d.docker(&["wait", &id]).ok().trim(), "0");
    let kept = line_numbers(&d.docker(&["logs", &id]).ok());
    let first = *kept.first().expect("some records kept");
    assert!(first > 0, "the oldest records were rotated out: {kept:?}");
    assert_eq!(kept, (first..100).collect::<Vec<_>>(), "a contiguous tail");
    let tail = line_numbers(&d.docker(&["logs", "--tail", "20", &id]).ok());
    assert_eq!(
        tail,
        (80..100).collect::<Vec<_>>(),
        "--tail spans the files"
    );
    let log_path = d.docker(&["inspect", "-f", "{{.LogPath}}", &id]).ok();
    let log_path = log_path.trim();
    for kept in [format!("{log_path}.1"), format!("{log_path}.2")] {
        assert!(std::path::Path::new(&kept).is_file(), "{kept} kept");
    }
    assert!(!std::path::Path::new(&format!("{log_path}.3")).exists());
    d.docker(&["rm", &id]).ok();
    assert!(
        !std::path::Path::new(&format!("{log_path}.1")).exists(),
        "rotated files go with the container"
    );

    // A follower goes on across rotations (3 files hold all 30 records, so
    // every one of them must arrive, in order).
    let id = run_counting(&d, 30, 30000);
    let followed = d.docker(&["logs", "-f", &id]).ok();
    assert_eq!(line_numbers(&followed), (0..30).collect::<Vec<_>>());
    d.docker(&["rm", "-f", &id]).ok();

    // The none driver: attach still streams, logs refuses, nothing on disk.
    let out = d.docker(&[
        "run",
        "--rm",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "hi",
    ]);
    assert_eq!((out.code(), out.stdout.as_str()), (0, "hi\n"), "{out:?}");
    let id = d
        .docker(&["run", "-d", "--log-driver", "none", "busybox", "echo", "hi"])
        .ok()
        .trim()
        .to_owned();
    assert_eq!(d.docker(&["wait", &id]).ok().trim(), "0");
    let out = d.docker(&["logs", &id]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("configured logging driver does not support reading"),
        "{out:?}"
    );
    assert_eq!(
        d.docker(&["inspect", "-f", "{{.LogPath}}", &id])
            .ok()
            .trim(),
        ""
    );
    d.docker(&["rm", &id]).ok();

    // Options the driver does not know are refused at create.
    let out = d.docker(&["run", "--rm", "--log-opt", "max-sise=1m", "busybox", "true"]);
    assert_eq!(out.code(), 125, "{out:?}");
    assert!(
        out.stderr
            .contains("unknown log opt 'max-sise' for json-file log driver"),
        "{out:?}"
    );
}
