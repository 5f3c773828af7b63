//! The wire protocol between berthd's exec driver and a `berth-shim`.
//!
//! Two channels:
//!
//! - **Startup report**: the shim writes one JSON line, a [`StartupReport`],
//!   to the stdout pipe berthd gave it, then closes it. berthd reads to EOF.
//! - **Control socket**: a unix stream socket in the exec root. A client
//!   connects, sends one [`Request`] and reads one [`Reply`] (both as
//!   *messages*: a 4-byte big-endian length, then that many bytes of JSON).
//!   Two requests keep the connection open afterwards:
//!   - [`Request::Wait`]: the [`Reply::Exited`] comes when the container exits.
//!   - [`Request::Attach`]: after [`Reply::Attached`] the connection carries
//!     raw stdin bytes from the client (half-close = end of this client's
//!     stdin) and [stream frames](StreamFrameHeader) from the shim: output
//!     chunks, then one exit frame, then EOF.
//!   - [`Request::Exec`]: after [`Reply::ExecStarted`] the connection
//!     carries the exec process's stdin and output the same way as an
//!     attach, and its exit frame holds the exec process's own
//!     [`ExitRecord`].
//!
//! One request per connection keeps the shim's state machine small; connecting
//! to a local socket is cheap.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::exit::ExitRecord;
use crate::time::Timestamp;

/// The process an exec runs, as the OCI runtime spec describes it.
pub use oci_spec::runtime::Process as ExecProcess;

/// Upper bound of one message; requests and replies are small, so anything
/// larger is a protocol violation, not data.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// Length of a message header (big-endian `u32` payload length).
pub const MESSAGE_HEADER_LEN: usize = 4;

/// Length of a stream frame header: kind byte + big-endian `u32` length.
pub const STREAM_FRAME_HEADER_LEN: usize = 5;

/// Upper bound of one stream frame's payload.
pub const MAX_STREAM_FRAME_LEN: usize = 1024 * 1024;

// The stream a frame or a log line belongs to is the model's: the exec
// driver hands it to the engine as it is.
pub use berth_model::exec::StreamKind;

/// What a client asks the shim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Reply with a [`ShimState`].
    State,
    /// Start the created container (release its init from the exec fifo).
    Start,
    /// Send `signal` to the container's init, or to all its processes.
    Kill {
        /// Signal number.
        signal: i32,
        /// Signal every process of the container, not only init.
        all: bool,
    },
    /// Freeze the container's cgroup.
    Pause,
    /// Thaw the container's cgroup.
    Resume,
    /// Set the terminal size (TTY containers only).
    Resize {
        /// Rows.
        height: u16,
        /// Columns.
        width: u16,
    },
    /// Reply with [`Reply::Exited`] once the container has exited.
    Wait,
    /// Switch the connection to streaming (see the module docs).
    Attach {
        /// Forward this connection's bytes to the container's stdin.
        stdin: bool,
        /// Send stdout frames.
        stdout: bool,
        /// Send stderr frames.
        stderr: bool,
    },
    /// Runs `process` in the running container (`docker exec`): in its
    /// namespaces and cgroup, under its seccomp profile, reaped by the shim.
    /// The connection then streams as an attach does (see the module docs).
    Exec {
        /// The engine's id of the exec (names it in resizes and messages).
        exec_id: String,
        /// What to run: args, env, cwd, user, capabilities, terminal.
        process: Box<ExecProcess>,
        /// Give the process a stdin fed from this connection (else
        /// `/dev/null`); without a terminal, the connection's half-close
        /// closes it (moby's exec: `CloseStdin`).
        stdin: bool,
        /// Send stdout frames.
        stdout: bool,
        /// Send stderr frames.
        stderr: bool,
    },
    /// Sets the terminal size of a running exec process with a terminal.
    ResizeExec {
        /// The exec's id, as in [`Request::Exec`].
        exec_id: String,
        /// Rows.
        height: u16,
        /// Columns.
        width: u16,
    },
    /// Signals one running exec process (an overdue health probe is
    /// killed, as moby does); [`Reply::NotRunning`] when it has ended or
    /// never ran.
    KillExec {
        /// The exec's id, as in [`Request::Exec`].
        exec_id: String,
        /// Signal number.
        signal: i32,
    },
}

/// The shim's answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The request was carried out.
    Ok,
    /// Answer to [`Request::State`].
    State(ShimState),
    /// Answer to [`Request::Start`].
    Started {
        /// Host pid of the container's init.
        pid: i32,
        /// When the user process was released.
        started_at: Timestamp,
    },
    /// Answer to [`Request::Wait`] (and the end of an attach stream).
    Exited(ExitRecord),
    /// Answer to [`Request::Attach`]; stream frames follow.
    Attached {
        /// Whether this connection's bytes reach the container's stdin
        /// (requested, and the container was created with `OpenStdin` and
        /// its stdin is still open).
        stdin: bool,
    },
    /// Answer to [`Request::Exec`]: the process runs; stream frames follow.
    ExecStarted {
        /// Host pid of the exec process.
        pid: i32,
    },
    /// The request needs a running container and it has exited (or, for
    /// [`Request::Start`], was started already).
    NotRunning,
    /// The request failed.
    Error(ShimFailure),
}

/// A failure reported by the shim, with the exit code Docker gives a
/// container whose start failed this way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimFailure {
    /// What went wrong, as the runtime said it.
    pub message: String,
    /// For start failures: 127 (command not found), 126 (not executable),
    /// 128 (anything else); `None` for failures that are not start failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

impl ShimFailure {
    /// A failure that is not about starting the container.
    pub fn other(message: impl Into<String>) -> ShimFailure {
        ShimFailure {
            message: message.into(),
            exit_code: None,
        }
    }

    /// A start failure, classified as moby does (`daemon/start.go`,
    /// `setExitCodeFromError`): the runtime's message decides between
    /// "command not found" (127), "cannot invoke" (126) and unknown (128).
    /// The docker CLI applies the same rule to the error text to choose its
    /// own exit status, so the message must be passed on unchanged.
    pub fn start_failed(message: impl Into<String>) -> ShimFailure {
        let message = message.into();
        let exit_code = start_failure_exit_code(&message);
        ShimFailure {
            message,
            exit_code: Some(exit_code),
        }
    }
}

/// An error and its causes on one line, as the shim reports runtime
/// failures and the exec driver the failures it meets itself. A cause whose
/// text the line already holds is left out (libcontainer's messages often
/// repeat their source).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl std::fmt::Display for ShimFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Docker's exit code for a container whose start failed with `message`.
///
/// As in moby, "permission denied" wins over "not found" when a message has
/// both (a lookup that found a file it may not execute).
pub fn start_failure_exit_code(message: &str) -> i32 {
    let lower = message.to_ascii_lowercase();
    if lower.contains("permission denied") || lower.contains("exec format error") {
        126
    } else if lower.contains("executable file not found")
        || lower.contains("no such file or directory")
        || lower.contains("command not found")
    {
        127
    } else {
        128
    }
}

/// The container's lifecycle as the shim sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    /// Init exists and waits to be started.
    Created,
    /// The user process runs.
    Running,
    /// The cgroup is frozen.
    Paused,
    /// Init has exited; the shim is finishing up.
    Exited,
}

/// Answer to [`Request::State`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimState {
    /// Container id.
    pub id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Pid of the shim itself.
    pub shim_pid: i32,
    /// Lifecycle state.
    pub status: ContainerStatus,
    /// When the container was started, once it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// Whether the container has a TTY.
    pub tty: bool,
    /// Whether the container's stdin is open for attach.
    pub open_stdin: bool,
    /// The exit record once init has exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitRecord>,
}

/// The one line a shim writes to its startup pipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "snake_case")]
pub enum StartupReport {
    /// The container exists, its init waits for [`Request::Start`] and the
    /// control socket accepts connections.
    Created {
        /// Host pid of the container's init.
        pid: i32,
        /// Pid of the daemonised shim.
        shim_pid: i32,
    },
    /// Nothing was created; the shim has exited.
    Failed(ShimFailure),
}

/// Kinds of stream frame the shim sends to an attached client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Container output of the given stream.
    Output(StreamKind),
    /// The container exited; the payload is an [`ExitRecord`] as JSON and
    /// nothing follows.
    Exit,
}

impl FrameKind {
    const EXIT: u8 = 0xff;

    fn to_byte(self) -> u8 {
        match self {
            FrameKind::Output(kind) => kind as u8,
            FrameKind::Exit => Self::EXIT,
        }
    }

    fn from_byte(byte: u8) -> Option<FrameKind> {
        match byte {
            // Every kind the encoder writes decodes back; Docker's stdcopy
            // also takes stream type 0 (stdin) as a valid frame.
            0 => Some(FrameKind::Output(StreamKind::Stdin)),
            1 => Some(FrameKind::Output(StreamKind::Stdout)),
            2 => Some(FrameKind::Output(StreamKind::Stderr)),
            Self::EXIT => Some(FrameKind::Exit),
            _ => None,
        }
    }
}

/// The header of a stream frame: `[kind: u8][len: u32 BE]`, then `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFrameHeader {
    /// What the payload is.
    pub kind: FrameKind,
    /// Payload length.
    pub len: usize,
}

impl StreamFrameHeader {
    /// Encodes the header.
    pub fn encode(self) -> [u8; STREAM_FRAME_HEADER_LEN] {
        let len = u32::try_from(self.len).unwrap_or(u32::MAX).to_be_bytes();
        [self.kind.to_byte(), len[0], len[1], len[2], len[3]]
    }

    /// Decodes a header, refusing unknown kinds and oversized payloads.
    pub fn decode(
        bytes: [u8; STREAM_FRAME_HEADER_LEN],
    ) -> Result<StreamFrameHeader, ProtocolError> {
        let kind = FrameKind::from_byte(bytes[0]).ok_or(ProtocolError::UnknownFrame(bytes[0]))?;
        let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        if len > MAX_STREAM_FRAME_LEN {
            return Err(ProtocolError::TooLong {
                len,
                max: MAX_STREAM_FRAME_LEN,
            });
        }
        Ok(StreamFrameHeader { kind, len })
    }
}

/// Appends a stream frame (header + payload) to `out`.
pub fn encode_stream_frame(out: &mut Vec<u8>, kind: FrameKind, payload: &[u8]) {
    out.extend_from_slice(
        &StreamFrameHeader {
            kind,
            len: payload.len(),
        }
        .encode(),
    );
    out.extend_from_slice(payload);
}

/// A malformed message or frame.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A length field exceeds its bound.
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    TooLong {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A stream frame has an unknown kind byte.
    #[error("unknown stream frame kind {0:#04x}")]
    UnknownFrame(u8),
    /// The JSON did not match the expected type.
    #[error("malformed message: {0}")]
    Json(#[from] serde_json::Error),
    /// Reading or writing the socket failed.
    #[error("socket i/o: {0}")]
    Io(#[from] io::Error),
    /// The peer closed the connection before a complete message.
    #[error("connection closed before a complete message")]
    Eof,
}

/// Encodes `value` as a message (header + JSON).
pub fn encode_message<T: Serialize>(value: &T) -> Result<Vec<u8>, ProtocolError> {
    let json = serde_json::to_vec(value)?;
    if json.len() > MAX_MESSAGE_LEN {
        return Err(ProtocolError::TooLong {
            len: json.len(),
            max: MAX_MESSAGE_LEN,
        });
    }
    let mut out = Vec::with_capacity(MESSAGE_HEADER_LEN + json.len());
    // Bounded by MAX_MESSAGE_LEN above, so the cast cannot truncate.
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

/// The payload length announced by a message header, checked against
/// [`MAX_MESSAGE_LEN`].
pub fn message_len(header: [u8; MESSAGE_HEADER_LEN]) -> Result<usize, ProtocolError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_MESSAGE_LEN {
        return Err(ProtocolError::TooLong {
            len,
            max: MAX_MESSAGE_LEN,
        });
    }
    Ok(len)
}

/// Tries to take one complete message off the front of `buf`: `Ok(None)`
/// when more bytes are needed, otherwise the value and the bytes consumed.
pub fn decode_message<T: for<'de> Deserialize<'de>>(
    buf: &[u8],
) -> Result<Option<(T, usize)>, ProtocolError> {
    let Some(header) = buf.first_chunk::<MESSAGE_HEADER_LEN>() else {
        return Ok(None);
    };
    let len = message_len(*header)?;
    let end = MESSAGE_HEADER_LEN + len;
    if buf.len() < end {
        return Ok(None);
    }
    let value = serde_json::from_slice(&buf[MESSAGE_HEADER_LEN..end])?;
    Ok(Some((value, end)))
}

/// Writes one message to a blocking writer.
pub fn write_message<T: Serialize>(w: &mut impl Write, value: &T) -> Result<(), ProtocolError> {
    w.write_all(&encode_message(value)?)?;
    Ok(())
}

/// Reads one message from a blocking reader.
pub fn read_message<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> Result<T, ProtocolError> {
    let mut header = [0u8; MESSAGE_HEADER_LEN];
    read_exact_or_eof(r, &mut header)?;
    let mut body = vec![0u8; message_len(header)?];
    read_exact_or_eof(r, &mut body)?;
    Ok(serde_json::from_slice(&body)?)
}

/// Reads one stream frame from a blocking reader; `Ok(None)` at a clean EOF
/// between frames.
pub fn read_stream_frame(r: &mut impl Read) -> Result<Option<(FrameKind, Vec<u8>)>, ProtocolError> {
    let mut header = [0u8; STREAM_FRAME_HEADER_LEN];
    let mut got = 0;
    while got < header.len() {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(ProtocolError::Eof),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let header = StreamFrameHeader::decode(header)?;
    let mut payload = vec![0u8; header.len];
    read_exact_or_eof(r, &mut payload)?;
    Ok(Some((header.kind, payload)))
}

fn read_exact_or_eof(r: &mut impl Read, buf: &mut [u8]) -> Result<(), ProtocolError> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ProtocolError::Eof
        } else {
            ProtocolError::Io(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chains_are_one_line_without_repeated_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("{0}")]
        struct Wrapper(String, #[source] std::io::Error);
        let cause = || std::io::Error::other("permission denied");
        let err = Wrapper("exec \"/x\"".into(), cause());
        assert_eq!(error_chain(&err), "exec \"/x\": permission denied");
        // A message that already names its cause does not repeat it.
        let err = Wrapper("exec \"/x\": permission denied".into(), cause());
        assert_eq!(error_chain(&err), "exec \"/x\": permission denied");
    }

    fn record() -> ExitRecord {
        ExitRecord {
            exit_code: 137,
            signal: Some(9),
            oom_killed: true,
            started_at: Some(Timestamp::from_unix(1_714_564_800, 1)),
            finished_at: Timestamp::from_unix(1_714_564_801, 0),
            error: None,
        }
    }

    #[test]
    fn requests_and_replies_round_trip() {
        let requests = [
            Request::State,
            Request::Start,
            Request::Kill {
                signal: 15,
                all: false,
            },
            Request::Pause,
            Request::Resume,
            Request::Resize {
                height: 24,
                width: 80,
            },
            Request::Wait,
            Request::Attach {
                stdin: true,
                stdout: true,
                stderr: false,
            },
            Request::Exec {
                exec_id: "e1".into(),
                process: Box::default(),
                stdin: true,
                stdout: true,
                stderr: false,
            },
            Request::ResizeExec {
                exec_id: "e1".into(),
                height: 24,
                width: 80,
            },
            Request::KillExec {
                exec_id: "e1".into(),
                signal: 9,
            },
        ];
        for request in requests {
            let mut wire = Vec::new();
            write_message(&mut wire, &request).expect("write");
            let back: Request = read_message(&mut wire.as_slice()).expect("read");
            assert_eq!(back, request);
        }
        let replies = [
            Reply::Ok,
            Reply::Attached { stdin: true },
            Reply::ExecStarted { pid: 7 },
            Reply::NotRunning,
            Reply::Exited(record()),
            Reply::Started {
                pid: 42,
                started_at: Timestamp::from_unix(5, 6),
            },
            Reply::Error(ShimFailure::start_failed(
                "exec: \"nope\": executable file not found in $PATH",
            )),
            Reply::State(ShimState {
                id: "abc".into(),
                pid: 42,
                shim_pid: 41,
                status: ContainerStatus::Running,
                started_at: Some(Timestamp::from_unix(5, 6)),
                tty: false,
                open_stdin: true,
                exit: None,
            }),
        ];
        for reply in replies {
            let bytes = encode_message(&reply).expect("encode");
            let (back, used) = decode_message::<Reply>(&bytes)
                .expect("decode")
                .expect("complete");
            assert_eq!(used, bytes.len());
            assert_eq!(back, reply);
        }
    }

    #[test]
    fn the_wire_format_is_tagged_json_behind_a_length() {
        let bytes = encode_message(&Request::Kill {
            signal: 9,
            all: true,
        })
        .expect("encode");
        let json = br#"{"request":"kill","signal":9,"all":true}"#;
        assert_eq!(&bytes[..4], &(json.len() as u32).to_be_bytes());
        assert_eq!(&bytes[4..], json);
    }

    #[test]
    fn decode_waits_for_complete_messages_and_rejects_oversized_ones() {
        let bytes = encode_message(&Request::State).expect("encode");
        for cut in 0..bytes.len() {
            assert!(
                decode_message::<Request>(&bytes[..cut])
                    .expect("partial")
                    .is_none()
            );
        }
        let huge = ((MAX_MESSAGE_LEN + 1) as u32).to_be_bytes();
        assert!(matches!(
            decode_message::<Request>(&huge),
            Err(ProtocolError::TooLong { .. })
        ));
        let mut truncated = &bytes[..bytes.len() - 1];
        assert!(matches!(
            read_message::<Request>(&mut truncated),
            Err(ProtocolError::Eof)
        ));
        let garbage = [0, 0, 0, 2, b'{', b'x'];
        assert!(matches!(
            decode_message::<Request>(&garbage),
            Err(ProtocolError::Json(_))
        ));
    }

    #[test]
    fn stream_frames_round_trip_and_end_cleanly() {
        let mut wire = Vec::new();
        encode_stream_frame(&mut wire, FrameKind::Output(StreamKind::Stdout), b"hi\n");
        encode_stream_frame(&mut wire, FrameKind::Output(StreamKind::Stderr), b"");
        encode_stream_frame(&mut wire, FrameKind::Exit, b"{}");
        let mut r = wire.as_slice();
        assert_eq!(
            read_stream_frame(&mut r).expect("frame"),
            Some((FrameKind::Output(StreamKind::Stdout), b"hi\n".to_vec()))
        );
        assert_eq!(
            read_stream_frame(&mut r).expect("frame"),
            Some((FrameKind::Output(StreamKind::Stderr), Vec::new()))
        );
        assert_eq!(
            read_stream_frame(&mut r).expect("frame"),
            Some((FrameKind::Exit, b"{}".to_vec()))
        );
        assert_eq!(read_stream_frame(&mut r).expect("eof"), None);
        assert_eq!(
            StreamFrameHeader::decode([0, 0, 0, 0, 1])
                .expect("stdin")
                .kind,
            FrameKind::Output(StreamKind::Stdin)
        );
        assert!(matches!(
            StreamFrameHeader::decode([7, 0, 0, 0, 0]),
            Err(ProtocolError::UnknownFrame(7))
        ));
    }

    #[test]
    fn start_failures_get_dockers_exit_codes() {
        let not_found =
            ShimFailure::start_failed("exec: \"nope\": executable file not found in $PATH");
        assert_eq!(not_found.exit_code, Some(127));
        assert_eq!(
            start_failure_exit_code("exec /bin/x: No such file or directory"),
            127
        );
        assert_eq!(
            start_failure_exit_code("exec /etc/passwd: permission denied"),
            126
        );
        assert_eq!(
            start_failure_exit_code("cgroup: cannot write memory.limit"),
            128
        );
        assert_eq!(ShimFailure::other("x").exit_code, None);
    }

    #[test]
    fn stream_kinds_use_dockers_numbers_and_names() {
        assert_eq!(StreamKind::Stdin as u8, 0);
        assert_eq!(StreamKind::Stdout as u8, 1);
        assert_eq!(StreamKind::Stderr as u8, 2);
        for kind in [StreamKind::Stdin, StreamKind::Stdout, StreamKind::Stderr] {
            assert_eq!(StreamKind::parse(kind.as_str()), Some(kind));
        }
    }
}
