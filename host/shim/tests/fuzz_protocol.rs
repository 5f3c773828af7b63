//! Property tests of the shim protocol's encoders and decoders: every
//! message and frame round-trips however the stream is split; arbitrary
//! bytes never panic, are judged the same by the buffer decoder and the
//! blocking reader, and never make a decoder allocate more than its bound
//! (a huge declared length is refused before any allocation).
//!
//! Its own test binary, because it installs a global allocator that records
//! the largest single allocation of the thread that asks for it.

// unsafe_code is denied workspace-wide; this test counts allocations with a
// recording global allocator, which is an unsafe impl.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read};

use berth_shim::ExitRecord;
use berth_shim::protocol::{
    self, ContainerStatus, FrameKind, MAX_MESSAGE_LEN, MAX_STREAM_FRAME_LEN, ProtocolError, Reply,
    Request, ShimFailure, ShimState, StartupReport, StreamKind,
};
use berth_shim::time::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// The system allocator, recording the largest request made on this thread
/// while [`largest_allocation`] runs.
struct Recording;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // try_with: the thread-locals may be gone while the thread exits.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`, whose contract the
// caller upholds; recording touches only const-initialised thread-locals,
// which never allocate.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

/// Runs `f` and returns its result with the largest single allocation it
/// made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    ARMED.with(|a| a.set(true));
    let out = f();
    ARMED.with(|a| a.set(false));
    (out, LARGEST.with(Cell::get))
}

/// Allocation slack beside a decoder's own buffer (serde_json's strings,
/// error messages).
const SLACK: usize = 4096;

fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

/// A reader that hands out `data` in the chunk sizes given (cycling), with
/// an `Interrupted` error before every other chunk, as a socket may.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
    interrupt: bool,
}

impl Chunked {
    fn new(data: Vec<u8>, sizes: Vec<usize>) -> Chunked {
        Chunked {
            data,
            pos: 0,
            sizes,
            turn: 0,
            interrupt: false,
        }
    }
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let size = self.sizes.get(self.turn % self.sizes.len().max(1)).copied();
        self.turn += 1;
        let n = size
            .unwrap_or(usize::MAX)
            .max(1)
            .min(buf.len())
            .min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Timestamps RFC 3339 can carry: years 0000 to 9999.
fn timestamp() -> impl Strategy<Value = Timestamp> {
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    (
        prop_oneof![MIN..=MAX, Just(MIN), Just(MAX), Just(0)],
        prop_oneof![0u32..1_000_000_000, Just(0), Just(999_999_999)],
    )
        .prop_map(|(secs, nanos)| Timestamp::from_unix(secs, nanos))
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ -~]{0,20}", "\\PC{0,200}"]
}

fn exit_record() -> impl Strategy<Value = ExitRecord> {
    (
        any::<i32>(),
        any::<Option<i32>>(),
        any::<bool>(),
        proptest::option::of(timestamp()),
        timestamp(),
        proptest::option::of(text()),
    )
        .prop_map(
            |(exit_code, signal, oom_killed, started_at, finished_at, error)| ExitRecord {
                exit_code,
                signal,
                oom_killed,
                started_at,
                finished_at,
                error,
            },
        )
}

fn failure() -> impl Strategy<Value = ShimFailure> {
    (text(), any::<Option<i32>>())
        .prop_map(|(message, exit_code)| ShimFailure { message, exit_code })
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::State),
        Just(Request::Start),
        (any::<i32>(), any::<bool>()).prop_map(|(signal, all)| Request::Kill { signal, all }),
        Just(Request::Pause),
        Just(Request::Resume),
        (any::<u16>(), any::<u16>()).prop_map(|(height, width)| Request::Resize { height, width }),
        Just(Request::Wait),
        (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(stdin, stdout, stderr)| {
            Request::Attach {
                stdin,
                stdout,
                stderr,
            }
        }),
    ]
}

fn shim_state() -> impl Strategy<Value = ShimState> {
    (
        text(),
        any::<i32>(),
        any::<i32>(),
        prop_oneof![
            Just(ContainerStatus::Created),
            Just(ContainerStatus::Running),
            Just(ContainerStatus::Paused),
            Just(ContainerStatus::Exited),
        ],
        proptest::option::of(timestamp()),
        any::<(bool, bool)>(),
        proptest::option::of(exit_record()),
    )
        .prop_map(
            |(id, pid, shim_pid, status, started_at, (tty, open_stdin), exit)| ShimState {
                id,
                pid,
                shim_pid,
                status,
                started_at,
                tty,
                open_stdin,
                exit,
            },
        )
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        Just(Reply::Ok),
        shim_state().prop_map(Reply::State),
        (any::<i32>(), timestamp())
            .prop_map(|(pid, started_at)| Reply::Started { pid, started_at }),
        exit_record().prop_map(Reply::Exited),
        any::<bool>().prop_map(|stdin| Reply::Attached { stdin }),
        Just(Reply::NotRunning),
        failure().prop_map(Reply::Error),
    ]
}

fn startup_report() -> impl Strategy<Value = StartupReport> {
    prop_oneof![
        (any::<i32>(), any::<i32>())
            .prop_map(|(pid, shim_pid)| StartupReport::Created { pid, shim_pid }),
        failure().prop_map(StartupReport::Failed),
    ]
}

fn frame_kind() -> impl Strategy<Value = FrameKind> {
    prop_oneof![
        Just(FrameKind::Output(StreamKind::Stdin)),
        Just(FrameKind::Output(StreamKind::Stdout)),
        Just(FrameKind::Output(StreamKind::Stderr)),
        Just(FrameKind::Exit),
    ]
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..64, 0..8)
}

/// Encodes `value`, then decodes it from the buffer, from every strict
/// prefix (which must ask for more) and from a chunked blocking reader.
fn round_trip<T>(value: &T, sizes: Vec<usize>) -> Result<(), TestCaseError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = protocol::encode_message(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (back, used) = protocol::decode_message::<T>(&bytes)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .ok_or_else(|| TestCaseError::fail("a whole message asks for more"))?;
    prop_assert_eq!(&back, value);
    prop_assert_eq!(used, bytes.len());
    // A second message behind the first is left alone.
    let mut two = bytes.clone();
    two.extend_from_slice(&bytes);
    let (_, used) = protocol::decode_message::<T>(&two)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .ok_or_else(|| TestCaseError::fail("two messages ask for more"))?;
    prop_assert_eq!(used, bytes.len());
    for cut in 0..bytes.len() {
        let partial = protocol::decode_message::<T>(&bytes[..cut]);
        prop_assert!(matches!(partial, Ok(None)), "prefix {}: {:?}", cut, partial);
    }
    let read: T = protocol::read_message(&mut Chunked::new(bytes, sizes))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&read, value);
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// Every request, reply and startup report round-trips, however the
    /// stream is split.
    #[test]
    fn messages_round_trip(
        req in request(),
        rep in reply(),
        report in startup_report(),
        sizes in chunk_sizes(),
    ) {
        round_trip(&req, sizes.clone())?;
        round_trip(&rep, sizes.clone())?;
        round_trip(&report, sizes)?;
    }

    /// A sequence of stream frames comes back frame by frame, then a clean
    /// end; cutting it anywhere inside a frame is an error, never a frame.
    #[test]
    fn stream_frames_round_trip(
        frames in prop::collection::vec(
            (frame_kind(), prop::collection::vec(any::<u8>(), 0..300)),
            0..8,
        ),
        sizes in chunk_sizes(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = Vec::new();
        for (kind, payload) in &frames {
            protocol::encode_stream_frame(&mut wire, *kind, payload);
        }
        let mut r = Chunked::new(wire.clone(), sizes.clone());
        for expected in &frames {
            let got = protocol::read_stream_frame(&mut r)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(got.as_ref(), Some(expected));
        }
        prop_assert!(matches!(protocol::read_stream_frame(&mut r), Ok(None)));

        if !wire.is_empty() {
            let cut = cut.index(wire.len());
            let boundaries: Vec<usize> = frames
                .iter()
                .scan(0, |end, (_, p)| {
                    *end += protocol::STREAM_FRAME_HEADER_LEN + p.len();
                    Some(*end)
                })
                .collect();
            let mut r = Chunked::new(wire[..cut].to_vec(), sizes);
            let whole = boundaries.iter().filter(|b| **b <= cut).count();
            for _ in 0..whole {
                prop_assert!(matches!(protocol::read_stream_frame(&mut r), Ok(Some(_))));
            }
            let end = protocol::read_stream_frame(&mut r);
            if cut == 0 || boundaries.contains(&cut) {
                prop_assert!(matches!(end, Ok(None)), "{:?}", end);
            } else {
                prop_assert!(matches!(end, Err(ProtocolError::Eof)), "{:?}", end);
            }
        }
    }

    /// Arbitrary bytes: no panic; the buffer decoder and the blocking
    /// reader agree; neither allocates much more than a message.
    #[test]
    fn arbitrary_bytes_decode_consistently_within_bounds(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            // A plausible header in front of garbage or JSON-ish text.
            (any::<u32>(), "[{}\":a-z0-9, ]{0,80}").prop_map(|(len, body)| {
                let mut b = (len % 256).to_be_bytes().to_vec();
                b.extend_from_slice(body.as_bytes());
                b
            }),
            // Huge declared lengths with a short body.
            (any::<u32>(), prop::collection::vec(any::<u8>(), 0..32)).prop_map(|(len, body)| {
                let mut b = len.to_be_bytes().to_vec();
                b.extend_from_slice(&body);
                b
            }),
        ],
        sizes in chunk_sizes(),
    ) {
        let (decoded, largest) =
            largest_allocation(|| protocol::decode_message::<Reply>(&bytes));
        prop_assert!(largest <= MAX_MESSAGE_LEN + SLACK, "decode allocated {}", largest);
        let declared = bytes
            .first_chunk::<4>()
            .map(|h| u32::from_be_bytes(*h) as usize);
        let (read, largest) = largest_allocation(|| {
            protocol::read_message::<Reply>(&mut Chunked::new(bytes.clone(), sizes.clone()))
        });
        prop_assert!(largest <= MAX_MESSAGE_LEN + SLACK, "read allocated {}", largest);
        match (&decoded, &read) {
            (Ok(Some((a, used))), Ok(b)) => {
                prop_assert_eq!(a, b);
                prop_assert!(*used <= bytes.len());
            }
            (Ok(None), Err(ProtocolError::Eof)) => {
                prop_assert!(declared.is_none_or(|len| 4 + len > bytes.len()));
            }
            (Err(ProtocolError::TooLong { len, .. }), Err(ProtocolError::TooLong { .. })) => {
                prop_assert!(*len > MAX_MESSAGE_LEN);
                prop_assert_eq!(Some(*len), declared);
            }
            (Err(ProtocolError::Json(_)), Err(ProtocolError::Json(_))) => {}
            _ => prop_assert!(false, "decode {:?} but read {:?}", decoded, read),
        }

        // The same bytes as a stream of frames: frames, then an end or an
        // error; never a payload longer than the bound.
        let mut r = Chunked::new(bytes.clone(), sizes);
        let mut consumed = 0;
        loop {
            let (frame, largest) = largest_allocation(|| protocol::read_stream_frame(&mut r));
            prop_assert!(largest <= MAX_STREAM_FRAME_LEN + SLACK, "frame allocated {}", largest);
            match frame {
                Ok(Some((_, payload))) => {
                    consumed += protocol::STREAM_FRAME_HEADER_LEN + payload.len();
                    prop_assert!(consumed <= bytes.len());
                }
                Ok(None) => {
                    prop_assert_eq!(consumed, bytes.len());
                    break;
                }
                Err(_) => break,
            }
        }
    }

    /// A frame header announcing more than the bound is refused before its
    /// payload is allocated or read.
    #[test]
    fn huge_frame_lengths_are_refused_before_allocation(
        kind in frame_kind(),
        len in (MAX_STREAM_FRAME_LEN as u32 + 1)..=u32::MAX,
    ) {
        let mut header = protocol::StreamFrameHeader { kind, len: 0 }.encode();
        header[1..].copy_from_slice(&len.to_be_bytes());
        let (result, largest) = largest_allocation(|| {
            protocol::read_stream_frame(&mut Chunked::new(header.to_vec(), Vec::new()))
        });
        prop_assert!(matches!(result, Err(ProtocolError::TooLong { .. })), "{:?}", result);
        prop_assert!(largest <= SLACK, "allocated {}", largest);
    }

    /// Timestamps: what is parsed prints back to something that parses to
    /// the same instant, and any representable instant round-trips.
    #[test]
    fn timestamps_round_trip(t in timestamp(), s in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})") {
        prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339_nano()), Ok(t));
        prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339_nano_fixed()), Ok(t));
        if let Ok(parsed) = Timestamp::parse_rfc3339(&s) {
            prop_assert_eq!(Timestamp::parse_rfc3339(&parsed.to_rfc3339_nano()), Ok(parsed), "{}", s);
        }
    }
}

/// The recorder itself sees allocations, so the bounds above can fail.
#[test]
fn the_recorder_sees_large_allocations() {
    let (v, largest) = largest_allocation(|| vec![0u8; 1 << 20]);
    assert_eq!(v.len(), 1 << 20);
    assert!(largest >= 1 << 20, "{largest}");
}

/// Instants past what RFC 3339 can write (years outside 0000–9999) are
/// refused by the encoder, as Go's `Time.MarshalJSON` refuses them, instead
/// of being sent in a form the peer cannot read.
#[test]
fn unrepresentable_timestamps_are_refused_by_the_encoder() {
    for secs in [i64::MIN, -62_167_219_201, 253_402_300_800, i64::MAX] {
        let reply = Reply::Started {
            pid: 1,
            started_at: Timestamp::from_unix(secs, 0),
        };
        assert!(
            matches!(
                protocol::encode_message(&reply),
                Err(ProtocolError::Json(_))
            ),
            "{secs}"
        );
    }
    // And an offset cannot carry a parsed time out of that range.
    for s in ["0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-00:01"] {
        assert!(Timestamp::parse_rfc3339(s).is_err(), "{s}");
    }
}
