//! Exec processes through the monitor loop, run by the test runtime as
//! plain children.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use berth_shim::protocol::{ExecProcess, Reply, Request, read_message, write_message};
use oci_spec::runtime::{BoxBuilder, ProcessBuilder};

use super::*;

/// A process spec running `argv` with `env`.
fn process(argv: &[&str], tty: bool) -> ExecProcess {
    let mut builder = ProcessBuilder::default()
        .args(argv.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .env(vec!["PATH=/usr/bin:/bin".to_owned(), "FOO=bar".to_owned()])
        .cwd("/")
        .terminal(tty);
    if tty {
        builder = builder.console_size(
            BoxBuilder::default()
                .height(33u64)
                .width(101u64)
                .build()
                .unwrap(),
        );
    }
    builder.build().unwrap()
}

impl Harness {
    /// Starts an exec: its connection and the shim's reply.
    fn exec(&self, exec_id: &str, process: ExecProcess, stdin: bool) -> (UnixStream, Reply) {
        let mut stream = self.connect();
        let request = Request::Exec {
            exec_id: exec_id.to_owned(),
            process: Box::new(process),
            stdin,
            stdout: true,
            stderr: true,
        };
        write_message(&mut stream, &request).expect("exec");
        let reply = read_message(&mut stream).expect("exec reply");
        (stream, reply)
    }
}

#[test]
fn an_exec_streams_both_outputs_takes_stdin_and_reports_its_exit_code() {
    let mut h = spawn(&["sleep", "100"], Flags::default());
    h.start();
    let script = "echo out; echo err >&2; echo $FOO; read x; echo got $x; cat; exit 3";
    let (mut stream, reply) = h.exec("e1", process(&["sh", "-c", script], false), true);
    let Reply::ExecStarted { pid } = reply else {
        panic!("exec: {reply:?}");
    };
    assert_ne!(pid, h.pid.as_raw(), "a process of its own");
    stream.write_all(b"hi\nrest\n").expect("stdin");
    // Half-close: without a TTY the process's stdin closes, `cat` ends.
    stream.shutdown(Shutdown::Write).expect("half-close");
    let (out, err, record) = drain_attach(&mut stream);
    assert_eq!(String::from_utf8_lossy(&out), "out\nbar\ngot hi\nrest\n");
    assert_eq!(String::from_utf8_lossy(&err), "err\n");
    assert_eq!(record.exit_code, 3);
    assert!(record.started_at.is_some());
    // The container runs on, and nothing of the exec reached its log.
    assert!(matches!(
        h.call(&Request::State),
        Reply::State(ShimState {
            status: ContainerStatus::Running,
            ..
        })
    ));
    assert!(
        std::fs::read(&h.config.args.log)
            .unwrap_or_default()
            .is_empty(),
        "exec output is not logged"
    );
    h.call(&Request::Kill {
        signal: 9,
        all: false,
    });
    assert_eq!(h.join().exit_code, 137);
}

#[test]
fn an_exec_killed_by_a_signal_gets_128_plus_n_and_several_run_at_once() {
    let mut h = spawn(&["sleep", "100"], Flags::default());
    h.start();
    let (mut slow, reply) = h.exec("slow", process(&["sleep", "100"], false), false);
    let Reply::ExecStarted { pid: slow_pid } = reply else {
        panic!("{reply:?}");
    };
    // The same id twice is refused while it runs.
    let (_, again) = h.exec("slow", process(&["true"], false), false);
    assert!(matches!(again, Reply::Error(_)), "{again:?}");
    let (mut quick, reply) = h.exec("quick", process(&["sh", "-c", "echo quick"], false), false);
    assert!(matches!(reply, Reply::ExecStarted { .. }), "{reply:?}");
    let (out, _, record) = drain_attach(&mut quick);
    assert_eq!((out.as_slice(), record.exit_code), (&b"quick\n"[..], 0));
    nix::sys::signal::kill(Pid::from_raw(slow_pid), Signal::SIGTERM).expect("kill");
    let (_, _, record) = drain_attach(&mut slow);
    assert_eq!((record.exit_code, record.signal), (143, Some(15)));
    h.call(&Request::Kill {
        signal: 9,
        all: false,
    });
    h.join();
}

#[test]
fn kill_exec_signals_that_exec_only_and_not_one_that_ended() {
    let mut h = spawn(&["sleep", "100"], Flags::default());
    h.start();
    let (mut slow, reply) = h.exec("probe", process(&["sleep", "100"], false), false);
    assert!(matches!(reply, Reply::ExecStarted { .. }), "{reply:?}");
    let (mut other, reply) = h.exec("other", process(&["sleep", "100"], false), false);
    assert!(matches!(reply, Reply::ExecStarted { .. }), "{reply:?}");
    let kill_exec = |h: &Harness, exec_id: &str, signal: i32| {
        h.call(&Request::KillExec {
            exec_id: exec_id.into(),
            signal,
        })
    };
    assert_eq!(kill_exec(&h, "probe", 9), Reply::Ok);
    let (_, _, record) = drain_attach(&mut slow);
    assert_eq!((record.exit_code, record.signal), (137, Some(9)));
    // Ended (and reaped), or never there: not running.
    assert_eq!(kill_exec(&h, "probe", 9), Reply::NotRunning);
    assert_eq!(kill_exec(&h, "nope", 9), Reply::NotRunning);
    assert!(matches!(kill_exec(&h, "other", 12345), Reply::Error(_)));
    // The other exec and the container run on.
    assert!(matches!(
        h.call(&Request::State),
        Reply::State(ShimState {
            status: ContainerStatus::Running,
            ..
        })
    ));
    assert_eq!(kill_exec(&h, "other", 15), Reply::Ok);
    let (_, _, record) = drain_attach(&mut other);
    assert_eq!(record.exit_code, 143);
    h.call(&Request::Kill {
        signal: 9,
        all: false,
    });
    h.join();
}

#[test]
fn a_tty_exec_gets_its_console_size_and_resizes() {
    let mut h = spawn(&["sleep", "100"], Flags::default());
    h.start();
    let script = "stty size; read x; stty size";
    let (mut stream, reply) = h.exec("t1", process(&["sh", "-c", script], true), true);
    assert!(matches!(reply, Reply::ExecStarted { .. }), "{reply:?}");
    // Wait for the first size before resizing.
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("33 101") {
        match read_stream_frame(&mut stream).expect("frame") {
            Some((FrameKind::Output(StreamKind::Stdout), data)) => seen.extend(data),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        h.call(&Request::ResizeExec {
            exec_id: "t1".into(),
            height: 40,
            width: 120
        }),
        Reply::Ok
    );
    assert!(matches!(
        h.call(&Request::ResizeExec {
            exec_id: "nope".into(),
            height: 1,
            width: 1
        }),
        Reply::NotRunning
    ));
    stream.write_all(b"go\n").expect("stdin");
    let (out, err, record) = drain_attach(&mut stream);
    assert!(err.is_empty(), "a TTY has one stream");
    assert!(
        String::from_utf8_lossy(&out).contains("40 120\r\n"),
        "{out:?}"
    );
    assert_eq!(record.exit_code, 0);
    h.call(&Request::Kill {
        signal: 9,
        all: false,
    });
    h.join();
}

#[test]
fn exec_is_refused_before_start_while_paused_and_after_exit() {
    let mut h = spawn(&["sleep", "100"], Flags::default());
    let (_, reply) = h.exec("e", process(&["true"], false), false);
    assert_eq!(reply, Reply::NotRunning, "not started yet");
    h.start();
    assert_eq!(h.call(&Request::Pause), Reply::Ok);
    let (_, reply) = h.exec("e", process(&["true"], false), false);
    assert!(
        matches!(&reply, Reply::Error(f) if f.message.contains("paused")),
        "{reply:?}"
    );
    assert_eq!(h.call(&Request::Resume), Reply::Ok);
    let (_, reply) = h.exec("e", process(&["/nonexistent/cmd"], false), false);
    assert!(
        matches!(&reply, Reply::Error(f) if f.exit_code == Some(127)),
        "{reply:?}"
    );
    h.call(&Request::Kill {
        signal: 9,
        all: false,
    });
    h.join();
}

#[test]
fn an_exec_still_running_when_init_exits_ends_with_an_exit_frame() {
    let mut h = spawn(&["sleep", "100"], Flags::default());
    h.start();
    let (mut stream, reply) = h.exec("e", process(&["sleep", "100"], false), false);
    assert!(matches!(reply, Reply::ExecStarted { .. }), "{reply:?}");
    h.call(&Request::Kill {
        signal: 9,
        all: false,
    });
    let (_, _, record) = drain_attach(&mut stream);
    assert_eq!(record.exit_code, 137);
    assert_eq!(h.join().exit_code, 137);
}
