//! Detach keys: the key sequence that detaches a client from a TTY
//! container or exec (`ctrl-p,ctrl-q` unless the client names another).
//!
//! Two halves, both as moby's `github.com/moby/term` has them:
//! [`DetachKeys::parse`] is `term.ToBytes` (the `--detach-keys` syntax) and
//! [`EscapeScanner`] is the state of `term.NewEscapeProxy`, kept free of
//! I/O so that the daemon (on the attach/exec stdin it forwards) and the
//! `berth` CLI (on the local terminal) run the same matcher over their own
//! readers.

/// moby `term.ASCII`: the names `ToBytes` knows for control codes 0..=31,
/// in code order.
const CONTROL_NAMES: [&str; 32] = [
    "ctrl-@", "ctrl-a", "ctrl-b", "ctrl-c", "ctrl-d", "ctrl-e", "ctrl-f", "ctrl-g", "ctrl-h",
    "ctrl-i", "ctrl-j", "ctrl-k", "ctrl-l", "ctrl-m", "ctrl-n", "ctrl-o", "ctrl-p", "ctrl-q",
    "ctrl-r", "ctrl-s", "ctrl-t", "ctrl-u", "ctrl-v", "ctrl-w", "ctrl-x", "ctrl-y", "ctrl-z",
    "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_",
];

/// moby `container/stream/attach.go` `defaultEscapeSequence`: ctrl-p, ctrl-q.
const DEFAULT: [u8; 2] = [16, 17];

/// A key spec `term.ToBytes` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown character: '{0}'")]
pub struct InvalidDetachKeys(pub String);

/// A validated, non-empty detach key sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

impl Default for DetachKeys {
    /// ctrl-p, ctrl-q: what dockerd uses when the client names none.
    fn default() -> DetachKeys {
        DetachKeys(DEFAULT.to_vec())
    }
}

impl DetachKeys {
    /// moby `term.ToBytes`: comma-separated keys, each a single character
    /// (taken as its byte), one of `ctrl-@`, `ctrl-a` … `ctrl-z`, `ctrl-[`,
    /// `ctrl-\`, `ctrl-]`, `ctrl-^`, `ctrl-_` (lower case, as moby matches
    /// them), or `DEL`. The empty spec is the default sequence, as the
    /// daemon treats an absent `detachKeys`.
    pub fn parse(spec: &str) -> Result<DetachKeys, InvalidDetachKeys> {
        if spec.is_empty() {
            return Ok(DetachKeys::default());
        }
        let mut codes = Vec::new();
        for key in spec.split(',') {
            if let [byte] = key.as_bytes() {
                codes.push(*byte);
            } else if let Some(code) = CONTROL_NAMES.iter().position(|name| *name == key) {
                // Lossless: the table has 32 entries.
                codes.push(code as u8);
            } else if key == "DEL" {
                codes.push(127);
            } else {
                return Err(InvalidDetachKeys(key.to_owned()));
            }
        }
        Ok(DetachKeys(codes))
    }

    /// A sequence [`DetachKeys::parse`] made earlier, from its bytes (as an
    /// exec keeps them); none is the default sequence.
    pub fn from_bytes(bytes: &[u8]) -> DetachKeys {
        if bytes.is_empty() {
            DetachKeys::default()
        } else {
            DetachKeys(bytes.to_vec())
        }
    }

    /// The sequence's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A matcher of this sequence over a byte stream.
    pub fn scanner(&self) -> EscapeScanner {
        EscapeScanner {
            keys: self.0.clone(),
            held: 0,
        }
    }
}

/// What [`EscapeScanner::feed`] found in a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Forward these bytes (possibly none: a partial sequence is held back).
    Pass(Vec<u8>),
    /// The sequence was read: forward these bytes (what came before it in
    /// the chunk), then detach; the sequence itself is not forwarded and
    /// what follows it in the chunk is dropped (moby returns
    /// `EscapeError` instead of the rest of the read).
    Detach(Vec<u8>),
}

/// The state of moby's escape proxy (`term.escapeProxy`) over one input
/// stream.
///
/// moby matches a key only when a read returns exactly one byte (a
/// keystroke from a terminal). Over a socket several keystrokes can arrive
/// in one read, so the scanner matches byte by byte across and within
/// chunks; otherwise it behaves as moby: the keys matched so far are held
/// back, and a byte that breaks the sequence releases them in front of it
/// (the sequence restarts after it, not on it).
#[derive(Debug, Clone)]
pub struct EscapeScanner {
    keys: Vec<u8>,
    held: usize,
}

impl EscapeScanner {
    /// Scans one chunk of input.
    pub fn feed(&mut self, chunk: &[u8]) -> Scan {
        let mut out = Vec::with_capacity(chunk.len() + self.held);
        for &byte in chunk {
            if byte == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    self.held = 0;
                    return Scan::Detach(out);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.held]);
            self.held = 0;
            out.push(byte);
        }
        Scan::Pass(out)
    }

    /// The end of the input: the keys held back, which are forwarded (as
    /// moby's proxy returns them with the EOF).
    pub fn finish(&mut self) -> Vec<u8> {
        let held = self.keys[..self.held].to_vec();
        self.held = 0;
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(spec: &str) -> Vec<u8> {
        DetachKeys::parse(spec).unwrap().as_bytes().to_vec()
    }

    #[test]
    fn parses_the_to_bytes_syntax() {
        assert_eq!(keys(""), vec![16, 17], "empty is the default");
        assert_eq!(keys("ctrl-p,ctrl-q"), vec![16, 17]);
        assert_eq!(keys("ctrl-x,x"), vec![24, b'x']);
        assert_eq!(
            keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_"),
            vec![0, 27, 28, 29, 30, 31]
        );
        assert_eq!(keys("a,DEL,-"), vec![b'a', 127, b'-']);
        for bad in ["ctrl-", "ctrl-P", "ctrl-1", "ab", "a,,b", "del"] {
            assert!(DetachKeys::parse(bad).is_err(), "{bad:?} refused");
        }
        assert_eq!(
            DetachKeys::parse("ctrl-p,zz").unwrap_err().to_string(),
            "Unknown character: 'zz'"
        );
    }

    #[test]
    fn detaches_on_the_whole_sequence_even_split_across_reads() {
        let mut s = DetachKeys::default().scanner();
        assert_eq!(s.feed(b"ls\x10"), Scan::Pass(b"ls".to_vec()), "held back");
        assert_eq!(s.feed(b"\x11after"), Scan::Detach(Vec::new()));
        let mut s = DetachKeys::default().scanner();
        assert_eq!(s.feed(b"ab\x10\x11cd"), Scan::Detach(b"ab".to_vec()));
        let mut s = DetachKeys::parse("ctrl-x,x,y").unwrap().scanner();
        for byte in [b"\x18", b"x"] {
            assert_eq!(s.feed(byte), Scan::Pass(Vec::new()));
        }
        assert_eq!(s.feed(b"y"), Scan::Detach(Vec::new()));
    }

    #[test]
    fn a_broken_sequence_passes_every_byte_through() {
        let mut s = DetachKeys::default().scanner();
        assert_eq!(s.feed(b"\x10"), Scan::Pass(Vec::new()));
        assert_eq!(s.feed(b"z\x11"), Scan::Pass(b"\x10z\x11".to_vec()));
        // As moby: the breaking byte does not start a new sequence.
        assert_eq!(
            s.feed(b"\x10\x10\x11"),
            Scan::Pass(b"\x10\x10\x11".to_vec())
        );
        assert_eq!(s.feed(b"\x10"), Scan::Pass(Vec::new()));
        assert_eq!(s.finish(), b"\x10", "held keys are released at the end");
        assert_eq!(s.finish(), b"");
    }
}
