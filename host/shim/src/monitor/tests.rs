//! The monitor loop against plain child processes (no root needed).

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;
use std::time::Duration;

use berth_shim::jsonlog::{LogEntry, decode_entry};
use berth_shim::protocol::{
    ContainerStatus, FrameKind, Reply, Request, ShimState, StreamKind, read_message,
    read_stream_frame, write_message,
};

use super::*;
use crate::container_ops::tests::ProcessOps;

struct Harness {
    dir: tempfile::TempDir,
    config: MonitorConfig,
    pid: Pid,
    handle: Option<JoinHandle<ExitRecord>>,
}

#[derive(Clone, Copy, Default)]
struct Flags {
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
}

fn config(dir: &std::path::Path, flags: Flags) -> MonitorConfig {
    MonitorConfig {
        args: ShimArgs {
            id: "c1".into(),
            // The test runtime runs plain processes: no bundle, no state.
            bundle: dir.join("bundle"),
            state_root: dir.join("state"),
            socket: dir.join("sock"),
            log: dir.join("c1-json.log"),
            log_rotation: None,
            no_log: false,
            exit_file: dir.join("exit.json"),
            tty: flags.tty,
            open_stdin: flags.open_stdin,
            stdin_once: flags.stdin_once,
            console_size: Some((24, 80)),
        },
        reap_strays: false,
        trim_memory: false,
    }
}

fn spawn_with(runtime: ProcessOps, flags: Flags) -> Harness {
    spawn_configured(runtime, flags, |_| {})
}

/// [`spawn_with`] with the shim's arguments adjusted by `adjust`.
fn spawn_configured(
    runtime: ProcessOps,
    flags: Flags,
    adjust: impl FnOnce(&mut ShimArgs),
) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path(), flags);
    adjust(&mut config.args);
    let monitor = Monitor::create(config.clone(), runtime).expect("create");
    let pid = monitor.pid();
    let handle = std::thread::spawn(move || monitor.run());
    Harness {
        dir,
        config,
        pid,
        handle: Some(handle),
    }
}

fn spawn(argv: &[&str], flags: Flags) -> Harness {
    spawn_with(ProcessOps::new(argv), flags)
}

impl Harness {
    fn connect(&self) -> UnixStream {
        let stream = UnixStream::connect(&self.config.args.socket).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        stream
    }

    fn call(&self, request: &Request) -> Reply {
        let mut stream = self.connect();
        write_message(&mut stream, request).expect("send");
        read_message(&mut stream).expect("reply")
    }

    /// Attaches a new client: its connection and the shim's reply.
    fn attach(&self, stdin: bool, stdout: bool, stderr: bool) -> (UnixStream, Reply) {
        let mut stream = self.connect();
        let request = Request::Attach {
            stdin,
            stdout,
            stderr,
        };
        write_message(&mut stream, &request).expect("attach");
        let reply = read_message(&mut stream).expect("attach reply");
        (stream, reply)
    }

    fn start(&self) {
        match self.call(&Request::Start) {
            Reply::Started { pid, .. } => assert_eq!(pid, self.pid.as_raw()),
            other => panic!("start: {other:?}"),
        }
    }

    fn join(&mut self) -> ExitRecord {
        self.handle
            .take()
            .expect("running")
            .join()
            .expect("monitor thread")
    }

    fn log(&self) -> Vec<LogEntry> {
        std::fs::read(&self.config.args.log)
            .expect("log")
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| decode_entry(l).expect("log line"))
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.handle.is_some() {
            // A failing test must not leave its child behind.
            let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
            let _ = self.join();
        }
        let _ = &self.dir;
    }
}

/// Reads attach frames until the exit frame; returns (stdout, stderr, exit).
fn drain_attach(stream: &mut UnixStream) -> (Vec<u8>, Vec<u8>, ExitRecord) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    loop {
        match read_stream_frame(stream).expect("frame") {
            Some((FrameKind::Output(StreamKind::Stdout), data)) => out.extend(data),
            Some((FrameKind::Output(StreamKind::Stderr), data)) => err.extend(data),
            Some((FrameKind::Exit, json)) => {
                let record = serde_json::from_slice(&json).expect("exit record");
                assert!(read_stream_frame(stream).expect("eof").is_none());
                return (out, err, record);
            }
            Some((kind, _)) => panic!("unexpected frame {kind:?}"),
            None => panic!("stream ended without an exit frame"),
        }
    }
}

#[test]
fn logs_both_streams_and_records_the_exit_code() {
    let mut h = spawn(
        &["sh", "-c", "echo hi; echo oops >&2; exit 3"],
        Flags::default(),
    );
    assert!(matches!(
        h.call(&Request::State),
        Reply::State(ShimState {
            status: ContainerStatus::Created,
            started_at: None,
            ..
        })
    ));
    h.start();
    let record = h.join();
    assert_eq!(
        (record.exit_code, record.signal, record.oom_killed),
        (3, None, false)
    );
    assert!(record.started_at.is_some());
    assert_eq!(
        ExitRecord::read(&h.config.args.exit_file).expect("read"),
        Some(record)
    );
    let mut entries = h.log();
    entries.sort_by_key(|e| e.stream as u8);
    let lines: Vec<_> = entries.iter().map(|e| (e.stream, e.log.as_str())).collect();
    assert_eq!(
        lines,
        [(StreamKind::Stdout, "hi\n"), (StreamKind::Stderr, "oops\n")]
    );
    assert!(
        !h.config.args.socket.exists(),
        "the socket goes with the shim"
    );
}

#[test]
fn the_none_driver_logs_nothing_but_attach_still_sees_output() {
    let mut h = spawn_configured(
        ProcessOps::new(&["sh", "-c", "echo hi"]),
        Flags::default(),
        |args| args.no_log = true,
    );
    let (mut stream, reply) = h.attach(false, true, true);
    assert!(matches!(reply, Reply::Attached { .. }), "{reply:?}");
    h.start();
    let (stdout, _, record) = drain_attach(&mut stream);
    assert_eq!((stdout.as_slice(), record.exit_code), (&b"hi\n"[..], 0));
    assert_eq!(h.join().exit_code, 0);
    assert!(!h.config.args.log.exists(), "no log file with --no-log");
}

#[test]
fn a_rotated_log_keeps_max_files_of_the_newest_records() {
    // One line at a time (the pauses keep each line its own read, hence its
    // own write), so that the log fills and rotates many times.
    let mut h = spawn_configured(
        ProcessOps::new(&[
            "sh",
            "-c",
            "i=0; while [ $i -lt 30 ]; do echo line-$i; sleep 0.01; i=$((i+1)); done",
        ]),
        Flags::default(),
        |args| {
            args.log_rotation = Some(berth_shim::logfile::Rotation {
                max_size: 200,
                max_files: 3,
            });
        },
    );
    h.start();
    assert_eq!(h.join().exit_code, 0);
    let log = &h.config.args.log;
    let files = [
        berth_shim::logfile::rotated_path(log, 2),
        berth_shim::logfile::rotated_path(log, 1),
        log.clone(),
    ];
    assert!(!berth_shim::logfile::rotated_path(log, 3).exists());
    let mut lines = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).expect("rotated file");
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            lines.push(decode_entry(line).expect("record").log);
        }
    }
    // The newest records, in order, the last one included.
    assert_eq!(lines.last().map(String::as_str), Some("line-29\n"));
    let first: usize = lines[0]
        .trim_start_matches("line-")
        .trim_end()
        .parse()
        .expect("numbered line");
    let expected: Vec<String> = (first..30).map(|i| format!("line-{i}\n")).collect();
    assert_eq!(lines, expected);
    assert!(first > 0, "the oldest records were dropped");
}

#[test]
fn a_signal_gives_128_plus_n_and_wait_answers_every_waiter() {
    let mut h = spawn(&["sleep", "100"], Flags::default());
    h.start();
    let waiters: Vec<UnixStream> = (0..2)
        .map(|_| {
            let mut s = h.connect();
            write_message(&mut s, &Request::Wait).expect("wait");
            s
        })
        .collect();
    assert!(matches!(
        h.call(&Request::State),
        Reply::State(ShimState {
            status: ContainerStatus::Running,
            ..
        })
    ));
    assert_eq!(
        h.call(&Request::Kill {
            signal: libc::SIGKILL,
            all: false
        }),
        Reply::Ok
    );
    for mut waiter in waiters {
        match read_message::<Reply>(&mut waiter).expect("exited") {
            Reply::Exited(record) => assert_eq!((record.exit_code, record.signal), (137, Some(9))),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(h.join().exit_code, 137);
}

#[test]
fn attach_before_start_sees_all_output() {
    let mut h = spawn(
        &["sh", "-c", "echo one; echo two >&2; echo three"],
        Flags::default(),
    );
    let (mut attach, reply) = h.attach(false, true, true);
    assert_eq!(reply, Reply::Attached { stdin: false });
    h.start();
    let (out, err, record) = drain_attach(&mut attach);
    assert_eq!(out, b"one\nthree\n");
    assert_eq!(err, b"two\n");
    assert_eq!(record.exit_code, 0);
    h.join();
}

#[test]
fn stdin_once_closes_stdin_when_the_client_half_closes() {
    let flags = Flags {
        open_stdin: true,
        stdin_once: true,
        ..Flags::default()
    };
    let mut h = spawn(&["cat"], flags);
    let (mut attach, reply) = h.attach(true, true, true);
    assert_eq!(reply, Reply::Attached { stdin: true });
    h.start();
    attach.write_all(b"hello\nworld\n").expect("stdin");
    attach.shutdown(Shutdown::Write).expect("half-close");
    let (out, _, record) = drain_attach(&mut attach);
    assert_eq!(out, b"hello\nworld\n");
    assert_eq!(record.exit_code, 0);
    h.join();
}

#[test]
fn without_stdin_once_stdin_stays_open_for_the_next_client() {
    let flags = Flags {
        open_stdin: true,
        ..Flags::default()
    };
    let mut h = spawn(&["sh", "-c", "read a; read b; echo \"$a $b\""], flags);
    h.start();
    for word in ["first\n", "second\n"] {
        let (mut attach, reply) = h.attach(true, false, false);
        assert_eq!(reply, Reply::Attached { stdin: true });
        attach.write_all(word.as_bytes()).expect("stdin");
        attach.shutdown(Shutdown::Both).expect("close");
    }
    assert_eq!(h.join().exit_code, 0);
    let entries = h.log();
    assert_eq!(
        entries.last().map(|e| e.log.as_str()),
        Some("first second\n")
    );
}

#[test]
fn stdin_is_refused_when_the_container_has_none() {
    let mut h = spawn(&["cat"], Flags::default());
    let (mut attach, reply) = h.attach(true, true, false);
    assert_eq!(reply, Reply::Attached { stdin: false });
    h.start();
    // cat reads /dev/null and exits at once.
    let (out, _, record) = drain_attach(&mut attach);
    assert!(out.is_empty());
    assert_eq!(record.exit_code, 0);
    h.join();
}

#[test]
fn tty_output_is_logged_as_stdout_and_resize_works() {
    let flags = Flags {
        tty: true,
        ..Flags::default()
    };
    let mut h = spawn(&["sh", "-c", "stty size; echo tty-out"], flags);
    assert_eq!(
        h.call(&Request::Resize {
            height: 30,
            width: 100
        }),
        Reply::Ok
    );
    h.start();
    assert_eq!(h.join().exit_code, 0);
    let text: String = h.log().iter().map(|e| e.log.clone()).collect();
    assert!(h.log().iter().all(|e| e.stream == StreamKind::Stdout));
    assert!(text.contains("30 100\r\n"), "{text:?}");
    assert!(text.contains("tty-out\r\n"), "{text:?}");
}

#[test]
fn resize_without_a_tty_and_requests_after_exit_are_refused() {
    let h = spawn(&["sleep", "100"], Flags::default());
    assert!(matches!(
        h.call(&Request::Resize {
            height: 1,
            width: 1
        }),
        Reply::Error(_)
    ));
    h.start();
    assert_eq!(h.call(&Request::Start), Reply::NotRunning);
    assert!(matches!(
        h.call(&Request::Kill {
            signal: 4242,
            all: false
        }),
        Reply::Error(_)
    ));
    assert_eq!(h.call(&Request::Pause), Reply::Ok);
    assert!(matches!(
        h.call(&Request::State),
        Reply::State(ShimState {
            status: ContainerStatus::Paused,
            ..
        })
    ));
    assert_eq!(h.call(&Request::Resume), Reply::Ok);
    // Drop kills it.
}

#[test]
fn a_malformed_request_gets_an_error_and_the_shim_keeps_going() {
    let mut h = spawn(&["true"], Flags::default());
    let mut bad = h.connect();
    bad.write_all(&[0, 0, 0, 3, b'{', b'x', b'}'])
        .expect("write");
    assert!(matches!(
        read_message::<Reply>(&mut bad).expect("reply"),
        Reply::Error(_)
    ));
    let mut huge = h.connect();
    huge.write_all(&u32::MAX.to_be_bytes()).expect("write");
    assert!(matches!(
        read_message::<Reply>(&mut huge).expect("reply"),
        Reply::Error(_)
    ));
    h.start();
    assert_eq!(h.join().exit_code, 0);
}

#[test]
fn the_oom_count_sets_the_flag() {
    let mut runtime = ProcessOps::new(&["true"]);
    runtime.oom_kills = 1;
    let mut h = spawn_with(runtime, Flags::default());
    h.start();
    assert!(h.join().oom_killed);
}

#[test]
fn long_lines_are_logged_in_16k_pieces() {
    let mut h = spawn(
        &["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' x; echo"],
        Flags::default(),
    );
    h.start();
    assert_eq!(h.join().exit_code, 0);
    let entries = h.log();
    let sizes: Vec<usize> = entries.iter().map(|e| e.log.len()).collect();
    assert_eq!(sizes, [16384, 16384, 40000 - 2 * 16384 + 1]);
    assert!(entries[2].log.ends_with('\n'));
}

#[test]
fn a_failed_create_writes_a_127_exit_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), Flags::default());
    let failure = match Monitor::create(config.clone(), ProcessOps::new(&["/definitely/not/here"]))
    {
        Ok(_) => panic!("create must fail"),
        Err(failure) => failure,
    };
    assert_eq!(failure.exit_code, Some(127), "{}", failure.message);
    let record = ExitRecord::read(&config.args.exit_file)
        .expect("read")
        .expect("record");
    assert_eq!(record.exit_code, 127);
    assert!(record.error.is_some());
    assert!(!config.args.socket.exists());
}

#[test]
fn a_slow_attached_client_loses_no_output() {
    let mut h = spawn(
        &["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' y"],
        Flags::default(),
    );
    let (mut attach, _) = h.attach(false, true, false);
    h.start();
    // Do not read for a while: the shim must stop reading the container,
    // not buffer without bound.
    std::thread::sleep(Duration::from_millis(500));
    let mut total = 0;
    // A frame's payload may be as large as the protocol allows.
    let mut buf = vec![0u8; berth_shim::protocol::MAX_STREAM_FRAME_LEN];
    let mut header = [0u8; 5];
    loop {
        attach.read_exact(&mut header).expect("header");
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        attach.read_exact(&mut buf[..len]).expect("payload");
        if header[0] == 0xff {
            break;
        }
        total += len;
    }
    assert_eq!(total, 3_000_000);
    assert_eq!(h.join().exit_code, 0);
}

mod exec;
