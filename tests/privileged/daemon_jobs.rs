//! The job API runs only the jobs meant for it: every job in berthd's
//! handler table is called through `POST /berth/jobs/{name}` with hostile
//! args (socket addresses, host paths, climbing paths, huge strings, NUL
//! bytes), and nothing outside the daemon's own directories is created or
//! removed, no listener is added, internal jobs and the Docker operations
//! (which run only through their own routes) are refused, and the daemon
//! keeps serving.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use berth_tests::daemon::{Daemon, listening_sockets};

/// How long one job call may take before the test stops reading: jobs that
/// stream (`system_events`) run until the client goes.
const CALL_BOUND: Duration = Duration::from_secs(3);

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One request whose answer is read for at most [`CALL_BOUND`]: the status
/// (`None` when the daemon had not answered by then: a stream that goes on)
/// and what was read.
fn call(d: &Daemon, path: &str) -> (Option<u16>, String) {
    let mut stream = UnixStream::connect(d.socket()).expect("connect");
    stream
        .set_read_timeout(Some(CALL_BOUND))
        .expect("read timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("send");
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    (status, text)
}

/// Every file under `dir` with its content (a snapshot to compare).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).expect("read canary dir").flatten() {
            let path = entry.path();
            let content = if path.is_dir() {
                todo.push(path.clone());
                b"<dir>".to_vec()
            } else {
                std::fs::read(&path).unwrap_or_else(|_| b"<unreadable>".to_vec())
            };
            files.insert(path.display().to_string(), content);
        }
    }
    files
}

#[test]
fn every_job_called_with_hostile_args_stays_inside_the_daemon() {
    let d = Daemon::start();
    d.import_busybox("walk");
    let pid = d.pid();
    // Files a hostile job call would touch: a canary directory outside the
    // daemon's, with a file in it, and the host's own.
    let canary = tempfile::Builder::new()
        .prefix("berth-walk-")
        .tempdir()
        .expect("canary dir");
    let victim = canary.path().join("victim");
    std::fs::write(&victim, b"keep me").expect("victim file");
    let before = snapshot(canary.path());
    let shadow = std::fs::read("/etc/shadow").expect("read /etc/shadow");
    let listeners = listening_sockets(pid);
    assert!(
        listeners
            .iter()
            .any(|l| l.ends_with(&d.socket().display().to_string())),
        "berthd's own socket is not among its listeners: {listeners:?}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let pwned = canary.path().join("x/pwned.sock");
    let climbing = format!("../../../../../..{}", victim.display());
    // Large, yet within the longest URI hyper accepts (64 KiB).
    let huge = "A".repeat(25_000);
    let hostile: Vec<Vec<(&str, String)>> = vec![
        vec![("arg", format!("unix://{}", pwned.display()))],
        vec![("arg", format!("unix://{}", victim.display()))],
        vec![("arg", format!("tcp://127.0.0.1:{port}"))],
        vec![
            ("arg", victim.display().to_string()),
            ("arg", "/etc/shadow".to_owned()),
            ("env", "fromSrc=/etc/shadow".to_owned()),
        ],
        vec![
            ("arg", climbing.clone()),
            ("env", format!("repo={climbing}")),
        ],
        vec![("arg", huge.clone()), ("env", format!("K={huge}"))],
        vec![
            ("arg", "\0/etc/shadow".to_owned()),
            ("env", "fromSrc=\0".to_owned()),
        ],
    ];

    let listed = d.http("GET", "/berth/jobs", b"").json();
    let jobs = listed.as_array().expect("the handler table is a list");
    assert!(jobs.len() > 20, "{listed}");
    let mut internal = Vec::new();
    for job in jobs {
        let name = job["Name"].as_str().expect("job name");
        let exposure = job["Exposure"].as_str().unwrap_or_default();
        assert!(
            ["api", "route", "internal"].contains(&exposure),
            "{name} has no exposure: {job}"
        );
        for args in &hostile {
            let query: Vec<String> = args
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect();
            let path = format!("/berth/jobs/{}?{}", encode(name), query.join("&"));
            let (status, answer) = call(&d, &path);
            match exposure {
                "internal" => {
                    assert_eq!(status, Some(403), "{name} ran for the API: {answer}");
                    assert!(
                        answer.contains("is internal to the daemon"),
                        "{name}: {answer}"
                    );
                }
                "route" => {
                    assert_eq!(
                        status,
                        Some(403),
                        "{name} ran through the job API: {answer}"
                    );
                    assert!(
                        answer.contains("runs only through its own API route"),
                        "{name}: {answer}"
                    );
                }
                _ => {}
            }
            assert!(
                !pwned.parent().is_some_and(Path::exists),
                "{name} created {} ({:?})",
                pwned.display(),
                args
            );
            assert_eq!(
                snapshot(canary.path()),
                before,
                "{name} changed files outside the daemon's directories"
            );
        }
        if exposure == "internal" {
            internal.push(name.to_owned());
        }
    }
    assert!(
        internal.contains(&"serveapi".to_owned()),
        "serveapi is not internal: {internal:?}"
    );

    // The images/create route takes no host path either.
    let (status, answer) = call(&d, "/images/create?fromSrc=%2Fetc%2Fshadow&repo=shadow");
    assert_eq!(status, Some(400), "{answer}");
    assert!(!d.berth(&["images"]).ok().contains("shadow"));

    assert_eq!(
        std::fs::read("/etc/shadow").expect("read /etc/shadow"),
        shadow
    );
    assert_eq!(snapshot(canary.path()), before);
    // No listener came or went, and the daemon is the same one, serving.
    assert_eq!(listening_sockets(pid), listeners);
    assert_eq!(d.pid(), pid);
    assert_eq!(d.http("GET", "/_ping", b"").status, 200);
    let out = d.docker(&["version", "--format", "{{.Server.Os}}"]);
    assert_eq!(out.ok().trim(), "linux");
    assert!(d.berth(&["images"]).ok().contains("walk"));
}

#[test]
fn job_ls_shows_which_jobs_are_callable() {
    let d = Daemon::start();
    let table = d.berth(&["job", "ls"]).ok();
    let header = table.lines().next().unwrap_or_default();
    assert!(header.contains("CALLABLE"), "{table}");
    let row = |job: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(job))
            .unwrap_or_else(|| panic!("{job} missing: {table}"))
            .to_owned()
    };
    assert!(row("serveapi").contains(" internal "), "{table}");
    assert!(row("container_create").contains(" route "), "{table}");
    assert!(row("disk-usage").contains(" api "), "{table}");
    let out = d.berth_with_input(&["job", "run", "serveapi", "unix:///tmp/x.sock"], Some(b""));
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("job serveapi is internal to the daemon and cannot be run through the API"),
        "{}",
        out.stderr
    );
    assert!(!Path::new("/tmp/x.sock").exists());
}
