//! The embedded DNS server of user-defined networks, end to end with real
//! traffic: berthd (host/network `dns`, the engine's `name_service`)
//! serves each user network's names on its gateway, containers resolve
//! each other by name and alias on their own network only, and other
//! names are forwarded to the resolvers of the daemon's
//! `--dns-resolv-conf` — here a fake upstream on a loopback address of
//! the test's, so the host's `/etc/resolv.conf` is never read or touched.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use berth_tests::cmd::Output;
use berth_tests::daemon::Daemon;

/// Where the fake upstream listens (port 53: berthd asks `nameserver`s
/// there). Only this test uses the address.
const UPSTREAM: &str = "127.0.0.153";

/// The external name the fake upstream knows, and its answer.
const EXTERNAL: (&str, [u8; 4]) = ("external.berth-dns.test", [192, 0, 2, 53]);

/// A fake upstream resolver on `UPSTREAM:53`: an A answer for
/// [`EXTERNAL`], NXDOMAIN for every other name. Stops when dropped.
struct FakeUpstream {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeUpstream {
    fn start() -> FakeUpstream {
        let socket =
            UdpSocket::bind((UPSTREAM, 53)).expect("the fake upstream binds 127.0.0.153:53");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stopped.load(Ordering::SeqCst) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(reply) = answer(&buf[..n]) {
                    let _ = socket.send_to(&reply, peer);
                }
            }
        });
        FakeUpstream {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The reply to a one-question query (RFC 1035 4.1): the question echoed,
/// then an A record for [`EXTERNAL`] or NXDOMAIN.
fn answer(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // The question: labels up to the root, then type and class.
    let mut at = 12;
    let mut labels = Vec::new();
    while *query.get(at)? != 0 {
        let len = usize::from(query[at]);
        labels.push(String::from_utf8_lossy(query.get(at + 1..at + 1 + len)?).to_lowercase());
        at += 1 + len;
    }
    let question_end = at + 5;
    let qtype = u16::from_be_bytes([*query.get(at + 1)?, *query.get(at + 2)?]);
    let known = labels.join(".") == EXTERNAL.0;
    let mut reply = query.get(..question_end)?.to_vec();
    reply[2] = 0x81; // response, recursion desired
    reply[3] = if known { 0x80 } else { 0x83 }; // RA; NOERROR or NXDOMAIN
    reply[6..12].copy_from_slice(&[0, 0, 0, 0, 0, 0]);
    if known && qtype == 1 {
        reply[7] = 1;
        // A pointer to the question's name, A, IN, TTL 60, 4 bytes.
        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        reply.extend_from_slice(&EXTERNAL.1);
    }
    Some(reply)
}

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {out:?}");
    out.stdout.trim().to_owned()
}

/// Runs a throwaway busybox on `network` and returns its output.
fn run_on(d: &Daemon, network: &str, command: &[&str]) -> Output {
    let mut args = vec!["run", "--rm", "--network", network, "busybox"];
    args.extend_from_slice(command);
    d.docker(&args)
}

#[test]
fn containers_on_a_user_network_resolve_each_other_and_the_rest_is_forwarded() {
    berth_tests::require::root();
    let upstream = FakeUpstream::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        format!("nameserver {UPSTREAM}\nsearch berth-dns.test\noptions ndots:0\n"),
    )
    .expect("resolv.conf");
    let resolv = resolv.to_str().expect("utf-8 path").to_owned();
    let d = Daemon::start_with(&["--dns-resolv-conf", &resolv]);
    d.import_busybox("busybox");
    ok(&d.docker(&["network", "create", "front"]), "create front");
    ok(&d.docker(&["network", "create", "other"]), "create other");
    let gateway = ok(
        &d.docker(&[
            "network",
            "inspect",
            "front",
            "--format",
            "{{(index .IPAM.Config 0).Gateway}}",
        ]),
        "front's gateway",
    );

    ok(
        &d.docker(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "front",
            "--network-alias",
            "site",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && echo hello-dns > /www/index.html && exec httpd -f -p 80 -h /www",
        ]),
        "run web",
    );

    // A container on a user network asks its network's gateway, with the
    // search and options of the daemon's resolver configuration.
    let conf = ok(
        &run_on(&d, "front", &["cat", "/etc/resolv.conf"]),
        "resolv.conf",
    );
    assert_eq!(
        conf,
        format!("nameserver {gateway}\nsearch berth-dns.test\noptions ndots:0"),
        "{conf}"
    );

    // By name and by alias, with real HTTP traffic. httpd may need a
    // moment to listen: bounded retries, nothing timed is asserted.
    for name in ["web", "site"] {
        let url = format!("http://{name}/");
        let mut last = None;
        for _ in 0..50 {
            // busybox 1.35's own `wget -T` crashes (SIGSEGV): `timeout`
            // bounds each try instead.
            let out = run_on(
                &d,
                "front",
                &["timeout", "5", "wget", "-q", "-O", "-", &url],
            );
            if out.status.success() {
                last = None;
                assert_eq!(out.stdout.trim(), "hello-dns", "{url}");
                break;
            }
            last = Some(out);
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(last.is_none(), "wget {url}: {last:?}");
    }

    // Isolation: on another network, web is not a name (the upstream,
    // asked in its place, says NXDOMAIN).
    let out = run_on(&d, "other", &["nslookup", "web"]);
    assert!(
        !out.status.success(),
        "web resolved from another network: {out:?}"
    );

    // A name the networks do not have goes to the upstream.
    let out = run_on(&d, "front", &["nslookup", EXTERNAL.0]);
    let text = ok(&out, "nslookup external");
    assert!(text.contains("192.0.2.53"), "{text}");

    // The default bridge has no names and keeps the host's resolvers.
    let conf = ok(
        &run_on(&d, "bridge", &["cat", "/etc/resolv.conf"]),
        "bridge resolv.conf",
    );
    assert!(!conf.contains(&gateway), "{conf}");

    // Stopping web withdraws its names.
    ok(&d.docker(&["rm", "-f", "web"]), "rm web");
    let out = run_on(&d, "front", &["nslookup", "web"]);
    assert!(
        !out.status.success(),
        "web still resolves after rm: {out:?}"
    );

    ok(
        &d.docker(&["network", "rm", "front", "other"]),
        "network rm",
    );
    drop(d);
    drop(upstream);
}
