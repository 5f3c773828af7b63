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
    out.push(b'"');
    let mut rest = s;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                escape_str(out, valid);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // The prefix is valid UTF-8 by definition of `valid_up_to`.
                escape_str(out, std::str::from_utf8(valid).unwrap_or_default());
                // Go's decoder yields one U+FFFD per undecodable byte.
                out.extend_from_slice(b"\\ufffd");
                rest = &after[1..];
            }
        }
    }
    out.push(b'"');
}

/// Marks `0xe2` in [`ESCAPES`]: it starts U+2028 and U+2029, which are
/// escaped, and other characters, which are copied.
const MAYBE_SEPARATOR: u8 = u8::MAX;

/// The escape of each byte of a valid UTF-8 string that Go's log encoder
/// does not copy as it is (length 0: copied).
const ESCAPES: [(u8, [u8; 6]); 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut table = [(0u8, [0u8; 6]); 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = match byte {
            b'"' => (2, *b"\\\"    "),
            b'\\' => (2, *b"\\\\    "),
            b'\n' => (2, *b"\\n    "),
            b'\r' => (2, *b"\\r    "),
            0x00..=0x1f | b'<' | b'>' | b'&' => (
                6,
                [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(byte >> 4) as usize],
                    HEX[(byte & 0xf) as usize],
                ],
            ),
            0xe2 => (MAYBE_SEPARATOR, [0; 6]),
            _ => (0, [0; 6]),
        };
        b += 1;
    }
    table
};

/// Escapes a valid UTF-8 string: runs of bytes that need no escape are
/// copied at once and runs of control bytes (a stream of zeros) are
/// written into place, so that a byte costs a table lookup and a copy.
fn escape_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // A run copied as it is.
        let plain = bytes[i..]
            .iter()
            .position(|&b| ESCAPES[usize::from(b)].0 != 0)
            .unwrap_or(bytes.len() - i);
        out.extend_from_slice(&bytes[i..i + plain]);
        i += plain;
        let Some(&first) = bytes.get(i) else { break };
        let (len, escape) = &ESCAPES[usize::from(first)];
        match *len {
            MAYBE_SEPARATOR => {
                match bytes.get(i + 1..i + 3) {
                    Some([0x80, 0xa8]) => out.extend_from_slice(b"\\u2028"),
                    Some([0x80, 0xa9]) => out.extend_from_slice(b"\\u2029"),
                    // Another character: copied as it is.
                    _ => {
                        out.push(first);
                        i += 1;
                        continue;
                    }
                }
                i += 3;
            }
            6 => {
                // A run of \u00XX escapes, written into place.
                let run = bytes[i..]
                    .iter()
                    .position(|&b| ESCAPES[usize::from(b)].0 != 6)
                    .unwrap_or(bytes.len() - i);
                let start = out.len();
                out.resize(start + 6 * run, 0);
                write_escape_run(&mut out[start..], &bytes[i..i + run]);
                i += run;
            }
            len => {
                out.extend_from_slice(&escape[..usize::from(len)]);
                i += 1;
            }
        }
    }
}

/// Writes the `\u00XX` escapes of `run` (bytes that all escape to six
/// bytes) into `dst`, six bytes each. A stretch of one repeated byte (a
/// stream of zeros, the common case) is escaped once and then doubled in
/// place, so it costs a memcpy rather than a lookup and a copy per byte.
fn write_escape_run(dst: &mut [u8], run: &[u8]) {
    let mut k = 0;
    while let Some(&b) = run.get(k) {
        let same = run[k..]
            .iter()
            .position(|&c| c != b)
            .unwrap_or(run.len() - k);
        let region = &mut dst[6 * k..6 * (k + same)];
        region[..6].copy_from_slice(&ESCAPES[usize::from(b)].1);
        let mut filled = 6;
        while filled < region.len() {
            let n = filled.min(region.len() - filled);
            region.copy_within(..n, filled);
            filled += n;
        }
        k += same;
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
    /// message that is complete. Messages are cut straight from `data`
    /// when nothing is buffered; only an unfinished tail is copied.
    pub fn push(
        &mut self,
        mut data: &[u8],
        now: Timestamp,
        emit: &mut impl FnMut(&[u8], Timestamp),
    ) {
        while !data.is_empty() {
            if !self.buf.is_empty() {
                data = self.push_buffered(data, now, emit);
                continue;
            }
            let window = &data[..data.len().min(MAX_MESSAGE_BYTES)];
            let end = match memchr::memchr(b'\n', window) {
                Some(i) => {
                    let time = self.partial_since.take().unwrap_or(now);
                    emit(&data[..=i], time);
                    i + 1
                }
                None if window.len() == MAX_MESSAGE_BYTES => {
                    let time = *self.partial_since.get_or_insert(now);
                    emit(window, time);
                    MAX_MESSAGE_BYTES
                }
                None => {
                    self.buf.extend_from_slice(data);
                    data.len()
                }
            };
            data = &data[end..];
        }
    }

    /// Completes the buffered line (or piece) with the start of `data`;
    /// returns the rest.
    fn push_buffered<'d>(
        &mut self,
        data: &'d [u8],
        now: Timestamp,
        emit: &mut impl FnMut(&[u8], Timestamp),
    ) -> &'d [u8] {
        let room = MAX_MESSAGE_BYTES - self.buf.len();
        let window = &data[..data.len().min(room)];
        let taken = match memchr::memchr(b'\n', window) {
            Some(i) => i + 1,
            None => window.len(),
        };
        self.buf.extend_from_slice(&data[..taken]);
        if self.buf.ends_with(b"\n") {
            let time = self.partial_since.take().unwrap_or(now);
            emit(&self.buf, time);
            self.buf.clear();
        } else if self.buf.len() == MAX_MESSAGE_BYTES {
            let time = *self.partial_since.get_or_insert(now);
            emit(&self.buf, time);
            self.buf.clear();
        }
        &data[taken..]
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

    /// Go's escaping written per character, as the encoder was first
    /// written: the reference the byte scanner must match.
    fn escape_per_char(s: &str) -> Vec<u8> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = Vec::new();
        for c in s.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                    let b = c as u8;
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 0xf)]);
                }
                '\u{2028}' => out.extend_from_slice(b"\\u2028"),
                '\u{2029}' => out.extend_from_slice(b"\\u2029"),
                _ => out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
            }
        }
        out
    }

    #[test]
    fn the_byte_scanner_escapes_exactly_like_the_per_character_rules() {
        // Every character class: ASCII, escapes, 2- to 4-byte characters,
        // the 0xe2 characters around U+2028/U+2029, at any position.
        let alphabet: Vec<char> = (0u32..0x80)
            .filter_map(char::from_u32)
            .chain([
                'é', '\u{7ff}', '\u{2027}', '\u{2028}', '\u{2029}', '\u{202a}', '€',
            ])
            .chain([
                '\u{20ac}',
                '\u{2fff}',
                '\u{e000}',
                '\u{fffd}',
                '😀',
                '\u{10ffff}',
            ])
            .collect();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let len = (next() % 40) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let mut out = Vec::new();
            escape_str(&mut out, &s);
            assert_eq!(out, escape_per_char(&s), "{s:?}");
        }
        let zeros = "\0".repeat(5000);
        let mut out = Vec::new();
        escape_str(&mut out, &zeros);
        assert_eq!(out, escape_per_char(&zeros));
        // Runs of one repeated control byte (escaped once, then doubled in
        // place) of every length up to past a few doublings, back to back
        // with runs of another and with single ones.
        for len in 1..70 {
            for s in [
                "\0".repeat(len),
                format!("{}{}a", "\u{1}".repeat(len), "\u{1f}".repeat(len / 2 + 1)),
                format!("<{}\u{2}>{}&", "\0".repeat(len), "\u{3}\u{4}".repeat(len)),
            ] {
                let mut out = Vec::new();
                escape_str(&mut out, &s);
                assert_eq!(out, escape_per_char(&s), "{s:?}");
            }
        }
    }

    /// The splitter as first written (buffer everything, then cut): the
    /// reference for the one that cuts straight from the input.
    fn split_buffering(chunks: &[Vec<u8>]) -> Vec<(Vec<u8>, Timestamp)> {
        let mut out = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut partial_since: Option<Timestamp> = None;
        for (n, chunk) in chunks.iter().enumerate() {
            let now = t(n as u32 + 1);
            let mut data = &chunk[..];
            while !data.is_empty() {
                let take = (MAX_MESSAGE_BYTES - buf.len()).min(data.len());
                buf.extend_from_slice(&data[..take]);
                data = &data[take..];
                let mut start = 0;
                while let Some(i) = buf[start..].iter().position(|&b| b == b'\n') {
                    let end = start + i + 1;
                    out.push((
                        buf[start..end].to_vec(),
                        partial_since.take().unwrap_or(now),
                    ));
                    start = end;
                }
                buf.drain(..start);
                if buf.len() == MAX_MESSAGE_BYTES {
                    out.push((buf.clone(), *partial_since.get_or_insert(now)));
                    buf.clear();
                }
            }
        }
        if !buf.is_empty() {
            out.push((buf, *partial_since.get_or_insert(t(99))));
        }
        out
    }

    #[test]
    fn cutting_from_the_input_gives_the_messages_and_times_buffering_gives() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..300 {
            // Lines from empty to a few times the 16 KiB piece, in reads of
            // any size.
            let mut stream = Vec::new();
            for _ in 0..(next() % 8) {
                let len = match next() % 4 {
                    0 => 0,
                    1 => (next() % 100) as usize,
                    2 => MAX_MESSAGE_BYTES - 1 + (next() % 3) as usize,
                    _ => (next() % (3 * MAX_MESSAGE_BYTES as u64)) as usize,
                };
                stream.extend(std::iter::repeat_n(b'x', len));
                if next() % 5 != 0 {
                    stream.push(b'\n');
                }
            }
            let mut chunks = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let n = (1 + next() % (2 * MAX_MESSAGE_BYTES as u64)) as usize;
                let n = n.min(rest.len());
                chunks.push(rest[..n].to_vec());
                rest = &rest[n..];
            }
            let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            assert_eq!(split(&refs), split_buffering(&chunks));
        }
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
