//! Attach through berthd, end to end: several clients at once each get
//! the streams they asked for (attached before the start, or to a running
//! container), a TTY streams raw and follows resize, and large output
//! reaches `berth run`, `docker run` and the json-file log whole.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use berth_tests::daemon::Daemon;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// What `seq 1 N` prints.
fn seq(n: u32) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}

/// Creates a container from a JSON body; returns its id.
#[track_caller]
fn create(d: &Daemon, name: &str, body: &str) -> String {
    let r = d.http(
        "POST",
        &format!("/containers/create?name={name}"),
        body.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["Id"].as_str().expect("Id").to_owned()
}

#[track_caller]
fn start(d: &Daemon, name: &str) {
    let r = d.http("POST", &format!("/containers/{name}/start"), b"");
    assert_eq!(r.status, 204, "{}", r.text());
}

/// Opens a hijacked attach session with `query`; fails unless it is
/// upgraded.
#[track_caller]
fn attach(d: &Daemon, name: &str, query: &str) -> UnixStream {
    let (head, conn) = d.http_hijack(&format!("/containers/{name}/attach?stream=1&{query}"));
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    conn
}

/// Reads a multiplexed stream to its end: (stdout, stderr).
#[track_caller]
fn demux(conn: &mut UnixStream) -> (String, String) {
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("read the attach stream");
    let mut decoder = berth_api::stream::FrameDecoder::new();
    decoder.push(&raw);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while let Some((stream, data)) = decoder.next_frame().expect("valid frame") {
        match stream as u8 {
            1 => out.extend_from_slice(&data),
            2 => err.extend_from_slice(&data),
            other => panic!("a frame of stream {other}"),
        }
    }
    assert_eq!(decoder.pending(), 0, "the stream ended inside a frame");
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

#[test]
fn clients_attached_before_the_start_each_get_their_streams_whole() {
    let d = ready();
    create(
        &d,
        "multi",
        r#"{"Image":"busybox","Cmd":["sh","-c","echo err >&2; seq 1 30000"]}"#,
    );
    let mut out_only = attach(&d, "multi", "stdout=1");
    let mut err_only = attach(&d, "multi", "stderr=1");
    let mut both = attach(&d, "multi", "stdout=1&stderr=1");
    // Started as soon as the clients have their answers, as `docker run`
    // does: none of them may miss a byte.
    start(&d, "multi");
    let lines = seq(30000);
    assert_eq!(demux(&mut out_only), (lines.clone(), String::new()));
    assert_eq!(demux(&mut err_only), (String::new(), "err\n".to_owned()));
    assert_eq!(demux(&mut both), (lines.clone(), "err\n".to_owned()));
    assert_eq!(d.docker(&["wait", "multi"]).ok().trim(), "0");
    // The log has every byte too.
    let logs = d.berth(&["logs", "multi"]);
    assert_eq!((logs.stdout, logs.stderr), (lines, "err\n".to_owned()));
    d.berth(&["rm", "multi"]).ok();
}

#[test]
fn clients_attached_to_a_running_container_each_get_their_streams() {
    let d = ready();
    create(
        &d,
        "live",
        r#"{"Image":"busybox","OpenStdin":true,"Cmd":["sh","-c","read x; echo \"out $x\"; echo \"err $x\" >&2"]}"#,
    );
    start(&d, "live");
    let mut out_only = attach(&d, "live", "stdout=1");
    let mut err_only = attach(&d, "live", "stderr=1");
    let mut typing = attach(&d, "live", "stdin=1&stdout=1&stderr=1");
    // The process reads only now, so every client is attached before it
    // prints.
    typing.write_all(b"go\n").expect("stdin");
    assert_eq!(demux(&mut out_only), ("out go\n".to_owned(), String::new()));
    assert_eq!(demux(&mut err_only), (String::new(), "err go\n".to_owned()));
    assert_eq!(
        demux(&mut typing),
        ("out go\n".to_owned(), "err go\n".to_owned())
    );
    assert_eq!(d.docker(&["wait", "live"]).ok().trim(), "0");
    d.berth(&["rm", "live"]).ok();
}

#[test]
fn a_tty_streams_raw_and_follows_resize() {
    let d = ready();
    create(
        &d,
        "term",
        r#"{"Image":"busybox","Tty":true,"OpenStdin":true,"Cmd":["sh","-c","read x; stty size; echo \"got $x\""]}"#,
    );
    start(&d, "term");
    let (head, mut conn) = d.http_hijack("/containers/term/attach?stream=1&stdin=1&stdout=1");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("application/vnd.docker.raw-stream"),
        "{head}"
    );
    let r = d.http("POST", "/containers/term/resize?h=30&w=100", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    conn.write_all(b"go\n").expect("stdin");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("read");
    // Raw: the terminal's echo and output with CRLF, no frame headers.
    assert_eq!(
        String::from_utf8_lossy(&raw),
        "go\r\n30 100\r\ngot go\r\n",
        "{raw:?}"
    );
    assert_eq!(d.docker(&["wait", "term"]).ok().trim(), "0");
    d.berth(&["rm", "term"]).ok();
}

#[test]
fn large_output_reaches_both_clis_whole() {
    let d = ready();
    let lines = seq(100_000);
    let out = d.berth(&["run", "--rm", "busybox", "seq", "1", "100000"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout == lines, "berth run lost or mangled output");
    let out = d.docker(&["run", "--rm", "busybox", "seq", "1", "100000"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout == lines, "docker run lost or mangled output");
    let out = d.docker_with_input(
        &["run", "-i", "--rm", "busybox", "cat"],
        Some(lines.as_bytes()),
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout == lines, "docker run -i lost or mangled output");
}
