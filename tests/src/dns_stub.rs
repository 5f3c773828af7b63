//! A tiny UDP DNS responder for the tests of the embedded DNS server and
//! of containers' name servers: it knows one external name
//! ([`EXTERNAL`]) and says NXDOMAIN for every other, on an address of the
//! test's choosing (a loopback or bridge address), so no query leaves the
//! machine.

use std::net::{IpAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The external name the stub knows, and its answer.
pub const EXTERNAL: (&str, [u8; 4]) = ("external.berth-dns.test", [192, 0, 2, 53]);

/// Writes a `resolv.conf` for a test daemon's `--dns-resolv-conf` into
/// `dir`: `nameserver` (the test's own upstream, or an address where no
/// one answers), search `berth-dns.test`, `ndots:0`. Returns its path.
pub fn host_resolv_conf(dir: &std::path::Path, nameserver: &str) -> String {
    let path = dir.join("resolv.conf");
    std::fs::write(
        &path,
        format!("nameserver {nameserver}\nsearch berth-dns.test\noptions ndots:0\n"),
    )
    .expect("resolv.conf");
    path.to_str().expect("utf-8 path").to_owned()
}

/// The responder on port 53 of one address; it stops when dropped.
pub struct DnsStub {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsStub {
    /// Starts answering on `addr`:53; fails the test when the address
    /// cannot be bound.
    pub fn start(addr: &str) -> DnsStub {
        let ip: IpAddr = addr
            .parse()
            .unwrap_or_else(|e| panic!("stub address {addr:?}: {e}"));
        let socket = UdpSocket::bind((ip, 53))
            .unwrap_or_else(|e| panic!("the DNS stub cannot bind {addr}:53: {e}"));
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
        DnsStub {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for DnsStub {
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
