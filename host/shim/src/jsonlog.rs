//! Docker's `json-file` log format: one JSON object per line,
//! `{"log":"hi\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}`.
//!
//! The shim writes it, the exec driver reads it. Both sides follow moby:
//! - splitting (`daemon/logger/copier.go`): output is cut at newlines; a line
//!   longer than 16 KiB is logged in 16 KiB pieces without a trailing newline
//!   ("partial" messages, all stamped with the time of the first piece);
//!   output that ends without a newline is logged as a partial message too;
//! - encoding (`daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go`): Go's
//!   JSON string escaping including `<`, `>`, `&`, U+2028 and U+2029, and
//!   invalid UTF-8 replaced by U+FFFD; `time` in RFC 3339 with nanoseconds.

use serde::Deserialize;

use crate::protocol::StreamKind;
use crate::time::Timestamp;

/// Longest piece of a line logged as one message (moby's `defaultBufSize`).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// Appends one json-file line for `message` (which carries its own trailing
/// newline unless it is a partial message) to `out`.
pub fn encode_entry(out: &mut Vec<u8>, stream: StreamKind, message: &[u8], time: Timestamp) {
    out.extend_from_slice(b"{\"log\":");
    write_json_string(out, message);
    out.extend_from_slice(b",\"stream\":\"");
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(time.to_rfc3339_nano().as_bytes());
    out.extend_from_slice(b"\"}\n");
}

/// Escapes `s` as a JSON string the way Go's encoder does for logs.
fn write_json_string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut rest = s;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                escape_str(out, valid, HEX);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // The prefix is valid UTF-8 by definition of `valid_up_to`.
                escape_str(out, std::str::from_utf8(valid).unwrap_or_default(), HEX);
                // Go's decoder yields one U+FFFD per undecodable byte.
                out.extend_from_slice(b"\\ufffd");
                rest = &after[1..];
            }
        }
    }
    out.push(b'"');
}

fn escape_str(out: &mut Vec<u8>, s: &str, hex: &[u8; 16]) {
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                let b = c as u8;
                out.extend_from_slice(b"\\u00");
                out.push(hex[usize::from(b >> 4)]);
                out.push(hex[usize::from(b & 0xf)]);
            }
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            _ => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// Cuts a container's output stream into log messages like moby's copier.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    /// Time of the first piece of the partial line being logged, if any.
    partial_since: Option<Timestamp>,
}

impl LineSplitter {
    /// A splitter with nothing buffered.
    pub fn new() -> LineSplitter {
        LineSplitter::default()
    }

    /// Bytes waiting for their newline.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds output read at `now`; calls `emit(message, time)` for every
    /// message that is complete.
    pub fn push(
        &mut self,
        mut data: &[u8],
        now: Timestamp,
        emit: &mut impl FnMut(&[u8], Timestamp),
    ) {
        while !data.is_empty() {
            let take = (MAX_MESSAGE_BYTES - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            let mut start = 0;
            while let Some(i) = self.buf[start..].iter().position(|&b| b == b'\n') {
                let end = start + i + 1;
                let time = self.partial_since.take().unwrap_or(now);
                emit(&self.buf[start..end], time);
                start = end;
            }
            self.buf.drain(..start);
            if self.buf.len() == MAX_MESSAGE_BYTES {
                let time = *self.partial_since.get_or_insert(now);
                emit(&self.buf, time);
                self.buf.clear();
            }
        }
    }

    /// The stream ended: logs what is left as a partial message.
    pub fn finish(&mut self, now: Timestamp, emit: &mut impl FnMut(&[u8], Timestamp)) {
        if !self.buf.is_empty() {
            let time = *self.partial_since.get_or_insert(now);
            emit(&self.buf, time);
            self.buf.clear();
        }
        self.partial_since = None;
    }
}

/// One decoded json-file line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The message, with its newline unless it is a partial message.
    pub log: String,
    /// Which stream it came from.
    pub stream: StreamKind,
    /// When the shim read it.
    pub time: Timestamp,
}

/// A json-file line that cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON of the json-file shape.
    #[error("malformed json-file log line: {0}")]
    Json(#[from] serde_json::Error),
    /// A `stream` other than stdout/stderr.
    #[error("unknown log stream {0:?}")]
    Stream(String),
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    log: String,
    #[serde(default)]
    stream: String,
    time: Timestamp,
}

/// Decodes one json-file line (with or without its trailing newline).
pub fn decode_entry(line: &[u8]) -> Result<LogEntry, DecodeError> {
    let raw: RawEntry = serde_json::from_slice(line)?;
    let stream = match raw.stream.as_str() {
        // moby's reader treats a missing stream as stdout.
        "" | "stdout" => StreamKind::Stdout,
        "stderr" => StreamKind::Stderr,
        other => return Err(DecodeError::Stream(other.to_owned())),
    };
    Ok(LogEntry {
        log: raw.log,
        stream,
        time: raw.time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: u32) -> Timestamp {
        Timestamp::from_unix(1_714_564_800, n)
    }

    fn split(chunks: &[&[u8]]) -> Vec<(Vec<u8>, Timestamp)> {
        let mut splitter = LineSplitter::new();
        let mut out = Vec::new();
        let mut emit = |m: &[u8], time| out.push((m.to_vec(), time));
        for (i, chunk) in chunks.iter().enumerate() {
            splitter.push(chunk, t(i as u32 + 1), &mut emit);
        }
        splitter.finish(t(99), &mut emit);
        out
    }

    #[test]
    fn encodes_like_moby() {
        let mut out = Vec::new();
        encode_entry(&mut out, StreamKind::Stdout, b"hi\n", t(123_456_789));
        assert_eq!(
            out,
            b"{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"time\":\"2024-05-01T12:00:00.123456789Z\"}\n"
        );
        out.clear();
        encode_entry(
            &mut out,
            StreamKind::Stderr,
            "a\"\\<>&\t\r\u{1}é\u{2028}\n".as_bytes(),
            t(0),
        );
        let text = String::from_utf8(out.clone()).expect("utf8");
        assert_eq!(
            text,
            "{\"log\":\"a\\\"\\\\\\u003c\\u003e\\u0026\\u0009\\r\\u0001é\\u2028\\n\",\"stream\":\"stderr\",\"time\":\"2024-05-01T12:00:00Z\"}\n"
        );
        let back = decode_entry(&out).expect("decode");
        assert_eq!(back.log, "a\"\\<>&\t\r\u{1}é\u{2028}\n");
    }

    #[test]
    fn replaces_invalid_utf8_per_byte() {
        let mut out = Vec::new();
        encode_entry(&mut out, StreamKind::Stdout, b"a\xffb\xe2\x82", t(0));
        let entry = decode_entry(&out).expect("decode");
        assert_eq!(entry.log, "a\u{fffd}b\u{fffd}\u{fffd}");
    }

    #[test]
    fn splits_at_newlines_across_reads() {
        let out = split(&[b"one\ntw", b"o\n\nthree"]);
        let messages: Vec<_> = out.iter().map(|(m, _)| m.as_slice()).collect();
        assert_eq!(messages, [&b"one\n"[..], b"two\n", b"\n", b"three"]);
        // Complete lines carry the time of the read that completed them; the
        // unterminated tail is stamped when the stream ended.
        assert_eq!(out[0].1, t(1));
        assert_eq!(out[1].1, t(2));
        assert_eq!(out[3].1, t(99));
    }

    #[test]
    fn cuts_long_lines_into_16k_partials_with_the_first_time() {
        let long = vec![b'x'; MAX_MESSAGE_BYTES * 2 + 10];
        let mut line = long.clone();
        line.push(b'\n');
        let out = split(&[&line[..100], &line[100..], b"next\n"]);
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].0.len(), MAX_MESSAGE_BYTES);
        assert_eq!(out[1].0.len(), MAX_MESSAGE_BYTES);
        assert_eq!(out[2].0, [&[b'x'; 10][..], b"\n"].concat());
        assert!(out[..3].iter().all(|(_, time)| *time == t(2)));
        assert_eq!(out[3], (b"next\n".to_vec(), t(3)));
        let joined: Vec<u8> = out[..3].iter().flat_map(|(m, _)| m.clone()).collect();
        assert_eq!(joined, line);
    }

    #[test]
    fn decodes_dockers_lines_and_rejects_garbage() {
        let line = br#"{"log":"hello\n","stream":"stderr","time":"2019-01-01T00:00:00.5Z"}"#;
        let entry = decode_entry(line).expect("decode");
        assert_eq!(entry.stream, StreamKind::Stderr);
        assert_eq!(entry.log, "hello\n");
        assert_eq!(entry.time.to_rfc3339_nano(), "2019-01-01T00:00:00.5Z");
        let with_attrs = br#"{"log":"x","attrs":{"a":"b"},"time":"2019-01-01T00:00:00Z"}"#;
        assert_eq!(
            decode_entry(with_attrs).expect("attrs").stream,
            StreamKind::Stdout
        );
        assert!(decode_entry(b"{\"log\":\"x\"").is_err());
        assert!(
            decode_entry(br#"{"log":"x","stream":"stdin","time":"2019-01-01T00:00:00Z"}"#).is_err()
        );
    }
}
