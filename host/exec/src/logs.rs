//! Reading a container's json-file log: `docker logs` with `--tail`,
//! `--since`, `--until`, `--timestamps`, stream selection and `--follow`.
//!
//! Semantics follow moby's json-file reader (`daemon/logger/jsonfilelog/
//! read.go` and `daemon/logs.go`): the files rotated out (`LOG.2`, `LOG.1`,
//! see [`berth_shim::logfile`]) are read before the current one; `tail`
//! counts the last N records across them (both streams), then `since`
//! (inclusive) and `until` filter by the record's time, then the stream
//! filter applies. With `timestamps`, each record's data starts with its
//! time in `RFC3339NanoFixed` and a space. `follow` keeps reading new
//! records, into the next file when the shim rotates, until the container
//! has exited and the file is drained (or `until` is passed).

use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use berth_model::exec::LogOptions;
use berth_shim::StreamKind;
use berth_shim::jsonlog::decode_entry;
use berth_shim::logfile::rotated_path;
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader};
use tokio::sync::mpsc;

use crate::error::ExecError;
pub use berth_model::exec::LogRecord;

/// How often a follower looks for new records at the end of the file.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// The records, in file order. Dropping it stops the reader.
#[derive(Debug)]
pub struct LogStream {
    rx: mpsc::Receiver<Result<LogRecord, ExecError>>,
}

impl LogStream {
    /// The next record; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<LogRecord, ExecError>> {
        self.rx.recv().await
    }
}

impl futures_util::Stream for LogStream {
    type Item = Result<LogRecord, ExecError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

/// Starts a reader of `path`. `exited` resolves once the container is not
/// running (and will write no more); only `follow` uses it.
pub(crate) fn spawn_reader<F>(path: PathBuf, options: LogOptions, exited: F) -> LogStream
where
    F: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        if let Err(e) = read_log(&path, &options, exited, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    LogStream { rx }
}

/// Why the reader stopped early.
enum Stop {
    /// The consumer went away.
    Closed,
    /// A record after `until`.
    Until,
}

async fn read_log<F>(
    path: &Path,
    options: &LogOptions,
    exited: F,
    tx: &mpsc::Sender<Result<LogRecord, ExecError>>,
) -> Result<(), ExecError>
where
    F: Future<Output = ()> + Send,
{
    let mut exited = std::pin::pin!(exited);
    let mut is_exited = false;
    // The log appears when the shim starts; a follower may come earlier.
    let Some(current) = open_when_there(path, options.follow, &mut exited, &mut is_exited).await?
    else {
        return Ok(());
    };
    // The files rotated out (`LOG.1` is the newest), opened right away so
    // that a rotation while we read cannot take them from us; then the
    // records to start from (`tail` counts across files).
    let owned = path.to_owned();
    let tail = options.tail;
    let (older, current, start) = tokio::task::spawn_blocking(move || {
        let mut older = open_rotated(&owned)?;
        let mut current = current;
        let start = tail_plan(&mut older, &mut current, tail)?;
        Ok::<_, io::Error>((older, current, start))
    })
    .await
    .map_err(|e| ExecError::io("scan log", path, io::Error::other(e)))?
    .map_err(|e| ExecError::io("scan log", path, e))?;

    let mut line = Vec::with_capacity(256);
    if read_rotated(older, &start.older, &mut line, options, tx)
        .await?
        .is_some()
    {
        return Ok(());
    }

    line.clear();
    let mut reader = BufReader::new(tokio::fs::File::from_std(current));
    reader
        .seek(SeekFrom::Start(start.current))
        .await
        .map_err(|e| ExecError::io("seek log", path, e))?;
    loop {
        reader
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| ExecError::io("read log", path, e))?;
        if line.last() == Some(&b'\n') {
            match emit(&line, options, tx).await {
                Ok(()) => {}
                Err(Stop::Closed | Stop::Until) => return Ok(()),
            }
            line.clear();
            continue;
        }
        // End of the file for now. Bytes of a record still being written
        // stay in `line`; the next `read_until` appends the rest.
        if !options.follow {
            return Ok(());
        }
        if rotated_away(reader.get_ref(), path).await {
            // The shim renamed (or removed) this file and writes no more to
            // it, but its last write may have landed after our last read:
            // read to the end, then go on with the new file.
            loop {
                reader
                    .read_until(b'\n', &mut line)
                    .await
                    .map_err(|e| ExecError::io("read log", path, e))?;
                if line.last() != Some(&b'\n') {
                    break;
                }
                if emit(&line, options, tx).await.is_err() {
                    return Ok(());
                }
                line.clear();
            }
            let Some(next) = open_when_there(path, true, &mut exited, &mut is_exited).await? else {
                return Ok(());
            };
            reader = BufReader::new(tokio::fs::File::from_std(next));
            line.clear();
            continue;
        }
        if is_exited {
            // The shim drains output and writes the exit record before it
            // reports the exit, so the file is complete: one more pass found
            // nothing, stop.
            return Ok(());
        }
        tokio::select! {
            () = &mut exited => is_exited = true,
            () = tokio::time::sleep(FOLLOW_POLL) => {}
            () = tx.closed() => return Ok(()),
        }
    }
}

/// Emits the records of the files rotated out, oldest first, each from
/// its offset in `offsets` (`None`: skipped by `tail`); `Some` when the
/// reader stops there.
async fn read_rotated(
    older: Vec<(PathBuf, std::fs::File)>,
    offsets: &[Option<u64>],
    line: &mut Vec<u8>,
    options: &LogOptions,
    tx: &mpsc::Sender<Result<LogRecord, ExecError>>,
) -> Result<Option<Stop>, ExecError> {
    for (index, (rotated, file)) in older.into_iter().enumerate() {
        let Some(offset) = offsets.get(index).copied().flatten() else {
            continue;
        };
        let mut reader = BufReader::new(tokio::fs::File::from_std(file));
        reader
            .seek(SeekFrom::Start(offset))
            .await
            .map_err(|e| ExecError::io("seek log", &rotated, e))?;
        // A rotated file is complete: read it to its end.
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', line)
                .await
                .map_err(|e| ExecError::io("read log", &rotated, e))?;
            if n == 0 {
                break;
            }
            if line.last() == Some(&b'\n')
                && let Err(stop) = emit(line, options, tx).await
            {
                return Ok(Some(stop));
            }
        }
    }
    Ok(None)
}

/// Opens the log at `path`; while it does not exist, waits for it when
/// following a container that has not exited (`None`: no log to read).
async fn open_when_there(
    path: &Path,
    follow: bool,
    exited: &mut Pin<&mut impl Future<Output = ()>>,
    is_exited: &mut bool,
) -> Result<Option<std::fs::File>, ExecError> {
    loop {
        match std::fs::File::open(path) {
            Ok(file) => return Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !follow || *is_exited {
                    return Ok(None);
                }
                tokio::select! {
                    () = exited.as_mut(), if !*is_exited => *is_exited = true,
                    () = tokio::time::sleep(FOLLOW_POLL) => {}
                }
            }
            Err(e) => return Err(ExecError::io("open log", path, e)),
        }
    }
}

/// Whether `path` now names another file than `file` (the shim rotated
/// it). The open file keeps its inode, so a new file cannot reuse it.
async fn rotated_away(file: &tokio::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(open) = file.metadata().await else {
        return false;
    };
    match tokio::fs::metadata(path).await {
        Ok(named) => named.ino() != open.ino() || named.dev() != open.dev(),
        Err(e) => e.kind() == io::ErrorKind::NotFound,
    }
}

/// The rotated files of the log at `path` that exist, oldest first.
fn open_rotated(path: &Path) -> io::Result<Vec<(PathBuf, std::fs::File)>> {
    let mut files = Vec::new();
    for n in 1.. {
        let rotated = rotated_path(path, n);
        match std::fs::File::open(&rotated) {
            Ok(file) => files.push((rotated, file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        }
    }
    files.reverse();
    Ok(files)
}

/// Where reading starts: an offset per rotated file (`None`: skipped) and
/// in the current one.
#[derive(Debug, PartialEq, Eq)]
struct Start {
    older: Vec<Option<u64>>,
    current: u64,
}

/// With `tail`, the last `n` complete records across the files (newest
/// file first until enough are found); without, everything.
fn tail_plan(
    older: &mut [(PathBuf, std::fs::File)],
    current: &mut std::fs::File,
    tail: Option<usize>,
) -> io::Result<Start> {
    let Some(mut wanted) = tail else {
        return Ok(Start {
            older: vec![Some(0); older.len()],
            current: 0,
        });
    };
    let mut start = Start {
        older: vec![None; older.len()],
        current: 0,
    };
    let (offset, found) = tail_start(current, wanted)?;
    start.current = offset;
    if found == wanted {
        return Ok(start);
    }
    wanted -= found;
    for (index, (_, file)) in older.iter_mut().enumerate().rev() {
        let (offset, found) = tail_start(file, wanted)?;
        start.older[index] = Some(offset);
        if found == wanted {
            break;
        }
        wanted -= found;
    }
    Ok(start)
}

async fn emit(
    line: &[u8],
    options: &LogOptions,
    tx: &mpsc::Sender<Result<LogRecord, ExecError>>,
) -> Result<(), Stop> {
    let entry = match decode_entry(line) {
        Ok(entry) => entry,
        // moby skips what it cannot decode rather than failing the stream;
        // a torn last line after a crash must not hide the rest.
        Err(_) => return Ok(()),
    };
    if options.since.is_some_and(|since| entry.time < since) {
        return Ok(());
    }
    if options.until.is_some_and(|until| entry.time > until) {
        return Err(Stop::Until);
    }
    let wanted = match entry.stream {
        StreamKind::Stdout => options.stdout,
        StreamKind::Stderr => options.stderr,
        StreamKind::Stdin => false,
    };
    if !wanted {
        return Ok(());
    }
    let data = if options.timestamps {
        let mut prefixed = entry.time.to_rfc3339_nano_fixed().into_bytes();
        prefixed.push(b' ');
        prefixed.extend_from_slice(entry.log.as_bytes());
        Bytes::from(prefixed)
    } else {
        Bytes::from(entry.log.into_bytes())
    };
    tx.send(Ok(LogRecord {
        stream: entry.stream,
        time: entry.time,
        data,
    }))
    .await
    .map_err(|_| Stop::Closed)
}

/// Where the last `n` complete records of `file` begin, and how many of
/// them there are (fewer than `n` when the file holds fewer: then from the
/// start). A trailing record without its newline is not counted: it is
/// still being written. Scans backwards in blocks, so a large log costs
/// little.
pub(crate) fn tail_start(file: &mut std::fs::File, n: usize) -> io::Result<(u64, usize)> {
    let len = file.metadata()?.len();
    const BLOCK: u64 = 64 * 1024;
    let mut buf = vec![0u8; BLOCK as usize];
    // The k-th newline from the end ends the k-th complete record from the
    // end, so the (n+1)-th precedes the first record wanted.
    let mut newlines = 0usize;
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let size = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..size])?;
        for i in (0..size).rev() {
            if buf[i] != b'\n' {
                continue;
            }
            newlines += 1;
            if newlines == n + 1 {
                return Ok((start + i as u64 + 1, n));
            }
        }
        end = start;
    }
    Ok((0, newlines))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_shim::Timestamp;
    use berth_shim::jsonlog::encode_entry;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_unix(1_714_564_800 + secs, 0)
    }

    /// A fixture log: `out-N` on stdout at second N for even N, `err-N` on
    /// stderr for odd N.
    fn fixture(records: i64) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        let mut out = Vec::new();
        for i in 0..records {
            let (stream, text) = if i % 2 == 0 {
                (StreamKind::Stdout, format!("out-{i}\n"))
            } else {
                (StreamKind::Stderr, format!("err-{i}\n"))
            };
            encode_entry(&mut out, stream, text.as_bytes(), t(i));
        }
        std::fs::write(&path, out).expect("write fixture");
        (dir, path)
    }

    fn all() -> LogOptions {
        LogOptions {
            stdout: true,
            stderr: true,
            ..LogOptions::default()
        }
    }

    async fn collect(path: &Path, options: LogOptions) -> Vec<String> {
        let mut stream = spawn_reader(path.to_owned(), options, std::future::ready(()));
        let mut out = Vec::new();
        while let Some(msg) = stream.next().await {
            let msg = msg.expect("record");
            out.push(String::from_utf8(msg.data.to_vec()).expect("utf8"));
        }
        out
    }

    /// A follower of `path` and the sender that reports the container's exit.
    fn follow(path: &Path) -> (LogStream, tokio::sync::oneshot::Sender<()>) {
        let (exit_tx, exit_rx) = tokio::sync::oneshot::channel::<()>();
        let options = LogOptions {
            follow: true,
            ..all()
        };
        let stream = spawn_reader(path.to_owned(), options, async move {
            let _ = exit_rx.await;
        });
        (stream, exit_tx)
    }

    /// Appends `bytes` to `path`, as the shim's writes do.
    fn append(path: &Path, bytes: &[u8]) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(bytes).expect("append");
    }

    #[tokio::test]
    async fn reads_everything_in_order() {
        let (_dir, path) = fixture(4);
        assert_eq!(
            collect(&path, all()).await,
            ["out-0\n", "err-1\n", "out-2\n", "err-3\n"]
        );
    }

    #[tokio::test]
    async fn filters_streams() {
        let (_dir, path) = fixture(4);
        let stdout_only = LogOptions {
            stderr: false,
            ..all()
        };
        assert_eq!(collect(&path, stdout_only).await, ["out-0\n", "out-2\n"]);
        let stderr_only = LogOptions {
            stdout: false,
            ..all()
        };
        assert_eq!(collect(&path, stderr_only).await, ["err-1\n", "err-3\n"]);
    }

    #[tokio::test]
    async fn tail_counts_records_of_both_streams_before_filtering() {
        let (_dir, path) = fixture(6);
        let tail = |n| LogOptions {
            tail: Some(n),
            ..all()
        };
        assert_eq!(collect(&path, tail(2)).await, ["out-4\n", "err-5\n"]);
        assert_eq!(collect(&path, tail(0)).await, Vec::<String>::new());
        assert_eq!(collect(&path, tail(100)).await.len(), 6);
        let tail_stdout = LogOptions {
            tail: Some(3),
            stderr: false,
            ..all()
        };
        assert_eq!(collect(&path, tail_stdout).await, ["out-4\n"]);
    }

    #[tokio::test]
    async fn since_is_inclusive_and_until_stops() {
        let (_dir, path) = fixture(6);
        let window = LogOptions {
            since: Some(t(2)),
            until: Some(t(4)),
            ..all()
        };
        assert_eq!(
            collect(&path, window).await,
            ["out-2\n", "err-3\n", "out-4\n"]
        );
    }

    #[tokio::test]
    async fn timestamps_use_the_fixed_nanosecond_format() {
        let (_dir, path) = fixture(1);
        let with_ts = LogOptions {
            timestamps: true,
            ..all()
        };
        assert_eq!(
            collect(&path, with_ts).await,
            ["2024-05-01T12:00:00.000000000Z out-0\n"]
        );
    }

    #[tokio::test]
    async fn a_torn_last_line_is_not_returned_and_a_missing_log_is_empty() {
        let (dir, path) = fixture(2);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(b"{\"log\":\"half");
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(collect(&path, all()).await, ["out-0\n", "err-1\n"]);
        let first_len = bytes.iter().position(|&b| b == b'\n').expect("newline") as u64 + 1;
        let mut file = std::fs::File::open(&path).expect("open");
        assert_eq!(tail_start(&mut file, 1).expect("tail"), (first_len, 1));
        assert_eq!(tail_start(&mut file, 5).expect("tail"), (0, 2));
        assert!(
            collect(&dir.path().join("missing.log"), all())
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn tail_scans_across_blocks() {
        let (_dir, path) = fixture(5000);
        let lines = collect(
            &path,
            LogOptions {
                tail: Some(3000),
                ..all()
            },
        )
        .await;
        assert_eq!(lines.len(), 3000);
        assert_eq!(lines[0], "out-2000\n");
        assert_eq!(lines[2999], "err-4999\n");
    }

    #[tokio::test]
    async fn follow_streams_new_records_until_the_container_exits() {
        let (_dir, path) = fixture(1);
        let (mut stream, exit_tx) = follow(&path);
        let first = stream.next().await.expect("first").expect("ok");
        assert_eq!(first.data, "out-0\n");
        // Append a record in two writes, as a slow writer would.
        let mut more = Vec::new();
        encode_entry(&mut more, StreamKind::Stderr, b"late\n", t(9));
        let (a, b) = more.split_at(10);
        append(&path, a);
        tokio::time::sleep(FOLLOW_POLL * 2).await;
        append(&path, b);
        let late = stream.next().await.expect("late").expect("ok");
        assert_eq!(
            (late.stream, late.data.as_ref()),
            (StreamKind::Stderr, &b"late\n"[..])
        );
        exit_tx.send(()).expect("signal exit");
        assert!(
            stream.next().await.is_none(),
            "the stream ends after the exit"
        );
    }

    /// Records `name-0` .. `name-(n-1)` at seconds `first..`, as a file.
    fn write_records(path: &Path, name: &str, first: i64, n: i64) {
        let mut out = Vec::new();
        for i in 0..n {
            let text = format!("{name}-{i}\n");
            encode_entry(&mut out, StreamKind::Stdout, text.as_bytes(), t(first + i));
        }
        std::fs::write(path, out).expect("write records");
    }

    #[tokio::test]
    async fn rotated_files_are_read_oldest_first_and_tail_spans_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        write_records(&rotated_path(&path, 2), "a", 0, 3);
        write_records(&rotated_path(&path, 1), "b", 10, 2);
        write_records(&path, "c", 20, 2);
        assert_eq!(
            collect(&path, all()).await,
            [
                "a-0\n", "a-1\n", "a-2\n", "b-0\n", "b-1\n", "c-0\n", "c-1\n"
            ]
        );
        let tail = |n| LogOptions {
            tail: Some(n),
            ..all()
        };
        assert_eq!(collect(&path, tail(1)).await, ["c-1\n"]);
        assert_eq!(collect(&path, tail(3)).await, ["b-1\n", "c-0\n", "c-1\n"]);
        assert_eq!(
            collect(&path, tail(6)).await,
            ["a-1\n", "a-2\n", "b-0\n", "b-1\n", "c-0\n", "c-1\n"]
        );
        assert_eq!(collect(&path, tail(100)).await.len(), 7);
        assert!(collect(&path, tail(0)).await.is_empty());
        let window = LogOptions {
            since: Some(t(2)),
            until: Some(t(20)),
            ..all()
        };
        assert_eq!(
            collect(&path, window).await,
            ["a-2\n", "b-0\n", "b-1\n", "c-0\n"]
        );
    }

    #[tokio::test]
    async fn follow_goes_on_in_the_new_file_after_a_rotation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        write_records(&path, "old", 0, 1);
        let (mut stream, exit_tx) = follow(&path);
        let first = stream.next().await.expect("first").expect("ok");
        assert_eq!(first.data, "old-0\n");
        // What the shim does: a last write to the full file, the rename, a
        // new file.
        let mut last = Vec::new();
        encode_entry(&mut last, StreamKind::Stdout, b"old-1\n", t(1));
        append(&path, &last);
        std::fs::rename(&path, rotated_path(&path, 1)).expect("rotate");
        tokio::time::sleep(FOLLOW_POLL * 2).await;
        write_records(&path, "new", 2, 2);
        let mut rest = Vec::new();
        for _ in 0..3 {
            let msg = stream.next().await.expect("record").expect("ok");
            rest.push(String::from_utf8(msg.data.to_vec()).expect("utf8"));
        }
        assert_eq!(rest, ["old-1\n", "new-0\n", "new-1\n"]);
        exit_tx.send(()).expect("signal exit");
        assert!(
            stream.next().await.is_none(),
            "the stream ends after the exit"
        );
    }
}
