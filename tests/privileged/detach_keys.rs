//! Detach keys (moby `container/stream/attach.go`, `term.NewEscapeProxy`):
//! on a TTY session the key sequence (ctrl-p,ctrl-q unless the client
//! names another) ends the client's session and leaves the container or
//! exec running. The docker CLI matches the keys itself and leaves; a raw
//! API client relies on berthd's own proxy; `berth` does as the docker CLI.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;

use berth_tests::daemon::Daemon;

use crate::daemon_tty::OnPty;

/// Typed into an interactive shell; the answer (42) is not in the echo.
const ASK: &[u8] = b"echo $((40+2))\r";

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// The real docker CLI on a pty, a client of `d`.
fn docker_on_pty(d: &Daemon, args: &[&str]) -> OnPty {
    let docker = berth_tests::require::program("docker", "docker-ce-cli (or docker.io)");
    let mut command = Command::new(docker);
    command
        .arg("-H")
        .arg(d.host())
        .args(args)
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CLI_HINTS", "false");
    OnPty::spawn_command(command, 24, 80)
}

#[track_caller]
fn assert_running(d: &Daemon, name: &str) {
    let out = d.docker(&["inspect", "-f", "{{.State.Running}}", name]);
    assert_eq!(out.ok().trim(), "true", "{name} runs on after the detach");
}

/// Reads `stream` until `want` appears.
#[track_caller]
fn read_until(stream: &mut UnixStream, want: &str) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains(want) {
        let n = stream.read(&mut buf).expect("read the stream");
        assert!(
            n > 0,
            "stream ended before {want:?}: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
}

/// The stream ends (EOF) without anything but echo: the detach closed it.
#[track_caller]
fn read_to_end(stream: &mut UnixStream) {
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .expect("the session ended (EOF before the read timeout)");
}

#[test]
fn docker_run_it_detaches_with_ctrl_p_ctrl_q_and_the_container_runs_on() {
    let d = ready();
    let mut t = docker_on_pty(&d, &["run", "-it", "--name", "r1", "busybox", "sh"]);
    t.send(ASK);
    t.expect_output("42");
    t.send(b"\x10\x11");
    let (code, seen) = t.wait_exit();
    assert_eq!(code, 0, "docker run exits 0 on detach: {seen:?}");
    assert_running(&d, "r1");
    // The shell still reads its terminal: a new attach gets an answer.
    let mut t = docker_on_pty(&d, &["attach", "r1"]);
    t.send(ASK);
    t.expect_output("42");
    t.send(b"exit\r");
    assert_eq!(t.wait_exit().0, 0);
    d.docker(&["rm", "-f", "r1"]).ok();
}

#[test]
fn docker_attach_and_exec_detach_with_their_keys() {
    let d = ready();
    d.docker(&["run", "-d", "-it", "--name", "a1", "busybox", "sh"])
        .ok();
    let mut t = docker_on_pty(&d, &["attach", "--detach-keys", "ctrl-x,x", "a1"]);
    t.send(ASK);
    t.expect_output("42");
    t.send(b"\x18x");
    // docker attach reports the detach as its error (docker run does not).
    let (code, seen) = t.wait_exit();
    assert_eq!(code, 1, "{seen:?}");
    assert!(seen.contains("read escape sequence"), "{seen:?}");
    assert_running(&d, "a1");
    // The exec's DetachKeys go to berthd (refused there before).
    let mut t = docker_on_pty(
        &d,
        &[
            "exec",
            "-it",
            "--detach-keys",
            "ctrl-x,x",
            "a1",
            "sh",
            "-c",
            "echo $((40+2)); exec sleep 4242",
        ],
    );
    t.expect_output("42");
    t.send(b"\x18x");
    let (code, seen) = t.wait_exit();
    assert_eq!(code, 1, "{seen:?}");
    assert!(seen.contains("read escape sequence"), "{seen:?}");
    let ps = d.docker(&["exec", "a1", "ps", "-o", "args"]).ok();
    assert!(ps.contains("sleep 4242"), "the exec runs on: {ps:?}");
    d.docker(&["rm", "-f", "a1"]).ok();
}

#[test]
fn berthd_detaches_an_api_client_on_the_keys() {
    let d = ready();
    d.docker(&["run", "-d", "-it", "--name", "h1", "busybox", "sh"])
        .ok();
    // A client that does not match the keys itself: berthd's proxy does,
    // with the default sequence.
    let (head, mut stream) =
        d.http_hijack("/containers/h1/attach?stream=1&stdin=1&stdout=1&stderr=1");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(ASK).unwrap();
    read_until(&mut stream, "42");
    // Split across writes: the proxy holds ctrl-p until the next byte.
    stream.write_all(b"\x10").unwrap();
    stream.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    stream.write_all(b"\x11").unwrap();
    read_to_end(&mut stream);
    assert_running(&d, "h1");
    let events = d.past_events(Some("container"));
    assert!(
        events.iter().any(|e| e["Action"] == "detach"),
        "a detach event: {events:?}"
    );

    // An exec with its own keys, through the API.
    let r = d.http(
        "POST",
        "/containers/h1/exec",
        br#"{"Cmd":["sh"],"Tty":true,"AttachStdin":true,"AttachStdout":true,"DetachKeys":"ctrl-x,x"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let exec_id = r.json()["Id"].as_str().unwrap().to_owned();
    let inspect = d.http("GET", &format!("/exec/{exec_id}/json"), b"");
    assert_eq!(inspect.json()["DetachKeys"], "GHg=", "ctrl-x,x as bytes");
    let (head, mut stream) = d.http_hijack(&format!("/exec/{exec_id}/start"));
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // ctrl-p,ctrl-q are plain input to this exec.
    stream.write_all(b"\x10\x11").unwrap();
    stream.write_all(ASK).unwrap();
    read_until(&mut stream, "42");
    stream.write_all(b"\x18x").unwrap();
    read_to_end(&mut stream);
    let inspect = d.http("GET", &format!("/exec/{exec_id}/json"), b"");
    assert_eq!(inspect.json()["Running"], true, "the exec runs on");
    let events = d.past_events(Some("container"));
    assert!(
        events
            .iter()
            .any(|e| e["Action"] == "exec_detach" && e["Actor"]["Attributes"]["execID"] == exec_id),
        "an exec_detach event: {events:?}"
    );

    // moby's refusal of a bad spec, before anything is attached.
    let (head, mut stream) =
        d.http_hijack("/containers/h1/attach?stream=1&stdin=1&detachKeys=ctrl-P");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    read_until(&mut stream, "Invalid detach keys (ctrl-P) provided");
    d.docker(&["rm", "-f", "h1"]).ok();
}

#[test]
fn berth_run_attach_and_exec_take_detach_keys() {
    let d = ready();
    let mut t = OnPty::spawn(
        &d,
        &[
            "run",
            "-it",
            "--detach-keys",
            "ctrl-x,x",
            "--name",
            "b1",
            "busybox",
            "sh",
        ],
        24,
        80,
    );
    t.send(ASK);
    t.expect_output("42");
    t.send(b"\x18x");
    assert_eq!(t.wait_exit().0, 0);
    assert_running(&d, "b1");
    let mut t = OnPty::spawn(&d, &["attach", "b1"], 24, 80);
    t.send(ASK);
    t.expect_output("42");
    t.send(b"\x10\x11");
    let (code, seen) = t.wait_exit();
    assert_eq!(code, 1, "as docker attach: {seen:?}");
    assert!(seen.contains("read escape sequence"), "{seen:?}");
    assert_running(&d, "b1");
    let mut t = OnPty::spawn(
        &d,
        &[
            "exec",
            "-it",
            "--detach-keys",
            "a,b",
            "b1",
            "sh",
            "-c",
            "echo $((40+2)); exec sleep 4343",
        ],
        24,
        80,
    );
    t.expect_output("42");
    t.send(b"ab");
    let (code, seen) = t.wait_exit();
    assert_eq!(code, 1, "as docker exec: {seen:?}");
    assert!(seen.contains("read escape sequence"), "{seen:?}");
    let ps = d.docker(&["exec", "b1", "ps", "-o", "args"]).ok();
    assert!(ps.contains("sleep 4343"), "the exec runs on: {ps:?}");
    d.docker(&["rm", "-f", "b1"]).ok();
}
