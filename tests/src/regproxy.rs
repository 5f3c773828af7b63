//! A small HTTP proxy in front of the test registry that damages what it
//! passes on, for the bad-input and crash tests: a manifest that is not
//! JSON, a blob whose bytes do not match its digest, a blob cut short
//! mid-stream, blobs served slowly enough to kill berthd mid-pull, one
//! blob damaged while the others come slowly (a layer that fails while
//! others are still being pulled), or uploads taken slowly enough to kill
//! it mid-push.
//!
//! It speaks just enough HTTP/1.1 for a registry client: one request per
//! connection (it answers `Connection: close`), request bodies sized by
//! `Content-Length` (a chunked request body is answered 501), the client's
//! `Host` passed on (the registry builds its upload `Location`s from it, so
//! they lead back through the proxy), the upstream response read whole and
//! passed on with the fault applied.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the proxy does to the responses it passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: a plain proxy.
    None,
    /// Every manifest body becomes text that is not JSON (the digest
    /// header dropped, the length fixed).
    ManifestNotJson,
    /// Every blob keeps its length but has one byte flipped.
    BlobWrongDigest,
    /// Every blob announces its full length and the connection closes
    /// after half of it.
    BlobTruncated,
    /// Every blob is sent `chunk` bytes at a time, `pause_ms` apart.
    BlobSlow {
        /// Bytes per write.
        chunk: usize,
        /// Milliseconds between writes.
        pause_ms: u64,
    },
    /// The blob `digest` (`sha256:<hex>`) keeps its length but has one
    /// byte flipped, sent at once; every other blob is sent `chunk` bytes
    /// at a time, `pause_ms` apart.
    OneBlobWrongDigest {
        /// The blob damaged.
        digest: String,
        /// Bytes per write of the other blobs.
        chunk: usize,
        /// Milliseconds between those writes.
        pause_ms: u64,
    },
    /// Every tag list is cut into pages of `page` tags in lexical order,
    /// each with the distribution spec's `Link: <...>; rel="next"` header
    /// to the next (`last=`), as registries that paginate answer
    /// (Debian's `docker-registry` ignores `n` and sends all at once).
    TagPages {
        /// Tags per page.
        page: usize,
    },
    /// Every request body (blob uploads, manifests) is read from the
    /// client `chunk` bytes at a time, `pause_ms` apart.
    UploadSlow {
        /// Bytes per read.
        chunk: usize,
        /// Milliseconds between reads.
        pause_ms: u64,
    },
}

/// A running proxy; stopped on drop.
pub struct FaultProxy {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    fault: Arc<Mutex<Fault>>,
    stop: Arc<AtomicBool>,
    uploaded: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy to `upstream` (`127.0.0.1:PORT`) applying `fault`.
    pub fn start(upstream: &str, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("proxy addr").to_string();
        let fault = Arc::new(Mutex::new(fault));
        let stop = Arc::new(AtomicBool::new(false));
        let uploaded = Arc::new(AtomicU64::new(0));
        let thread = {
            let (fault, stop, upstream) =
                (Arc::clone(&fault), Arc::clone(&stop), upstream.to_owned());
            let uploaded = Arc::clone(&uploaded);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let fault = fault.lock().unwrap_or_else(|p| p.into_inner()).clone();
                            let upstream = upstream.clone();
                            let uploaded = Arc::clone(&uploaded);
                            std::thread::spawn(move || {
                                let _ = serve(client, &upstream, fault, &uploaded);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        FaultProxy {
            addr,
            fault,
            stop,
            uploaded,
            thread: Some(thread),
        }
    }

    /// Applies `fault` to the connections accepted from now on.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }

    /// The bytes of `PUT`/`PATCH` request bodies (uploads) passed on so far.
    pub fn uploaded(&self) -> u64 {
        self.uploaded.load(Ordering::Relaxed)
    }

    /// `127.0.0.1:PORT/repo:tag` through the proxy.
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.addr)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads the request head, forwards it (and its body) upstream with
/// `Connection: close`, and passes the response back with `fault` applied.
fn serve(
    mut client: TcpStream,
    upstream: &str,
    fault: Fault,
    uploaded: &AtomicU64,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while find(&head, b"\r\n\r\n").is_none() {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let get = request_line.starts_with("GET ");
    let upload = request_line.starts_with("PUT ") || request_line.starts_with("PATCH ");
    let mut forwarded = format!("{request_line}\r\n");
    let mut host = None;
    let mut length = 0usize;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let (name, value) = (name.to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "connection" => continue,
            "host" => host = Some(value.to_owned()),
            "content-length" => length = value.parse().unwrap_or(0),
            "transfer-encoding" if value.eq_ignore_ascii_case("chunked") => {
                return client.write_all(
                    b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
            _ => {}
        }
        forwarded.push_str(line);
        forwarded.push_str("\r\n");
    }
    if host.is_none() {
        forwarded.push_str(&format!("Host: {upstream}\r\n"));
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(Duration::from_secs(30)))?;
    up.write_all(forwarded.as_bytes())?;
    let (chunk, pause) = match fault {
        Fault::UploadSlow { chunk, pause_ms } => (chunk.max(1), Duration::from_millis(pause_ms)),
        _ => (64 * 1024, Duration::ZERO),
    };
    let mut buf = vec![0u8; chunk];
    let mut left = length;
    while left > 0 {
        let n = client.read(&mut buf[..chunk.min(left)])?;
        if n == 0 {
            return Ok(());
        }
        up.write_all(&buf[..n])?;
        left -= n;
        if upload {
            uploaded.fetch_add(n as u64, Ordering::Relaxed);
        }
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    let Some(split) = find(&response, b"\r\n\r\n") else {
        return client.write_all(&response);
    };
    let (head, body) = (&response[..split], &response[split + 4..]);
    let head = String::from_utf8_lossy(head).into_owned();
    let ok = head.starts_with("HTTP/1.1 200");
    let manifest = get && ok && path.contains("/manifests/");
    let blob = get && ok && path.contains("/blobs/");
    let mut body = body.to_vec();
    let mut head_lines: Vec<String> = head.split("\r\n").map(str::to_owned).collect();
    let set_length = |lines: &mut Vec<String>, len: usize| {
        lines.retain(|l| !l.to_ascii_lowercase().starts_with("content-length:"));
        lines.push(format!("Content-Length: {len}"));
    };
    match fault {
        Fault::ManifestNotJson if manifest => {
            body = b"<html>this is not a manifest</html>".to_vec();
            head_lines.retain(|l| !l.to_ascii_lowercase().starts_with("docker-content-digest:"));
            set_length(&mut head_lines, body.len());
        }
        Fault::BlobWrongDigest if blob && !body.is_empty() => {
            let middle = body.len() / 2;
            body[middle] ^= 0xff;
        }
        Fault::BlobTruncated if blob => {
            let half = body.len() / 2;
            client.write_all(format!("{}\r\n\r\n", head_lines.join("\r\n")).as_bytes())?;
            client.write_all(&body[..half])?;
            return client.flush();
        }
        Fault::TagPages { page } if get && ok && path.contains("/tags/list") => {
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let mut tags: Vec<String> = value["tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            tags.sort();
            let last = path
                .split_once('?')
                .map(|(_, q)| q)
                .unwrap_or_default()
                .split('&')
                .find_map(|kv| kv.strip_prefix("last="))
                .unwrap_or_default()
                .to_owned();
            let rest: Vec<String> = tags.into_iter().filter(|t| *t > last).collect();
            let page = page.max(1);
            let shown: Vec<String> = rest.iter().take(page).cloned().collect();
            if rest.len() > page
                && let Some(end) = shown.last()
            {
                let base = path.split('?').next().unwrap_or_default();
                head_lines.push(format!("Link: <{base}?n={page}&last={end}>; rel=\"next\""));
            }
            value_body(&mut body, &value["name"], &shown);
            set_length(&mut head_lines, body.len());
        }
        Fault::BlobSlow { chunk, pause_ms } if blob => {
            return send_slowly(&mut client, &head_lines, &body, chunk, pause_ms);
        }
        Fault::OneBlobWrongDigest {
            ref digest,
            chunk,
            pause_ms,
        } if blob => {
            if !path.ends_with(&format!("/blobs/{digest}")) {
                return send_slowly(&mut client, &head_lines, &body, chunk, pause_ms);
            }
            if !body.is_empty() {
                let middle = body.len() / 2;
                body[middle] ^= 0xff;
            }
        }
        _ => {}
    }
    client.write_all(format!("{}\r\n\r\n", head_lines.join("\r\n")).as_bytes())?;
    client.write_all(&body)?;
    client.flush()
}

/// Sends a response `chunk` bytes at a time, `pause_ms` apart.
fn send_slowly(
    client: &mut TcpStream,
    head_lines: &[String],
    body: &[u8],
    chunk: usize,
    pause_ms: u64,
) -> std::io::Result<()> {
    client.write_all(format!("{}\r\n\r\n", head_lines.join("\r\n")).as_bytes())?;
    for part in body.chunks(chunk.max(1)) {
        client.write_all(part)?;
        client.flush()?;
        std::thread::sleep(Duration::from_millis(pause_ms));
    }
    Ok(())
}

/// A tag list body: `{"name": ..., "tags": [...]}`.
fn value_body(body: &mut Vec<u8>, name: &serde_json::Value, tags: &[String]) {
    *body =
        serde_json::to_vec(&serde_json::json!({"name": name, "tags": tags})).unwrap_or_default();
}
