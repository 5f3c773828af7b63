//! Deadlines and a bound for the connections of one listener.
//!
//! Every accepted connection takes a slot in its listener's [`Slots`] and
//! gets an [`Activity`]: what the connection is waiting for and since when.
//! Only waiting is bounded, never work:
//!
//! - the TLS handshake, from the accept (`--api-tls-handshake-timeout`);
//! - a request's headers, from the accept (after the handshake) or from the
//!   first byte after an idle spell (`--api-header-timeout`);
//! - the idle keep-alive spell between a response and the next request
//!   (`--api-idle-timeout`).
//!
//! While a request is in flight (its headers arrived and its response body
//! has not ended: `logs -f`, `/events` and `wait` stream for as long as they
//! like, an import uploads as slowly as it likes) and once a connection is
//! hijacked (attach, `job run`), nothing times out. This is Go's
//! `http.Server` split of `ReadHeaderTimeout` and `IdleTimeout` that dockerd
//! serves with (moby `daemon/command/daemon.go`); hyper's own
//! `header_read_timeout` starts when hyper begins waiting for a request, so
//! it cannot tell a slow header from an idle keep-alive connection.
//!
//! When the table is full, the connection that has been waiting longest
//! (handshake, headers or idle: it holds a slot without using it) is closed
//! to make room; when every connection is busy, the new one is closed at
//! once. A flood of connections that never finish a handshake therefore
//! cannot lock out a client that does.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The default of `--api-max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;
/// The default of `--api-tls-handshake-timeout`.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of `--api-header-timeout`.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// The default of `--api-idle-timeout`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a warning about a full table stays the last one.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The bound and the deadlines every listener applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most connections one listener keeps open (hijacked ones included).
    pub max_connections: usize,
    /// Time for a TLS client to complete its handshake.
    pub handshake_timeout: Duration,
    /// Time for a client to send a request's headers.
    pub header_timeout: Duration,
    /// Time a keep-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS as usize,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// What a connection waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// The client's side of the TLS handshake.
    Handshake,
    /// The rest of a request's headers.
    Headers,
    /// The first byte of the next request.
    Idle,
}

impl Waiting {
    fn timeout(self, limits: &ConnectionLimits) -> Duration {
        match self {
            Waiting::Handshake => limits.handshake_timeout,
            Waiting::Headers => limits.header_timeout,
            Waiting::Idle => limits.idle_timeout,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Waiting::Handshake => "TLS handshake",
            Waiting::Headers => "request headers",
            Waiting::Idle => "idle keep-alive",
        }
    }
}

/// Why a connection is being closed by the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// A wait ran past its deadline.
    TimedOut(&'static str),
    /// Its slot went to a newer connection.
    Evicted,
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Closed::TimedOut(what) => write!(f, "{what} timed out"),
            Closed::Evicted => f.write_str("closed to make room for a new connection"),
        }
    }
}

#[derive(Debug)]
struct State {
    /// Requests whose response has not ended.
    in_flight: usize,
    /// Hijacked: a raw stream now, with no deadline.
    upgraded: bool,
    /// What it waits for while no request is in flight, and since when.
    waiting: Waiting,
    since: Instant,
    evicted: bool,
}

/// What one connection is doing, shared by its IO, its requests and its
/// watchdog.
#[derive(Debug)]
pub(crate) struct Activity {
    state: Mutex<State>,
    changed: Notify,
}

impl Activity {
    /// A connection accepted now, waiting for its TLS handshake or its first
    /// request's headers.
    pub(crate) fn new(tls: bool) -> Arc<Activity> {
        Arc::new(Activity {
            state: Mutex::new(State {
                in_flight: 0,
                upgraded: false,
                waiting: if tls {
                    Waiting::Handshake
                } else {
                    Waiting::Headers
                },
                since: Instant::now(),
                evicted: false,
            }),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a plain field write: a panic elsewhere cannot
        // leave the state half-changed.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        self.changed.notify_one();
    }

    /// The TLS handshake is done: the first request's headers are next.
    pub(crate) fn handshake_done(&self) {
        self.update(|s| {
            s.waiting = Waiting::Headers;
            s.since = Instant::now();
        });
    }

    /// Bytes arrived: after an idle spell they start a request's headers.
    fn bytes_read(&self) {
        let mut state = self.lock();
        if state.in_flight == 0 && !state.upgraded && state.waiting == Waiting::Idle {
            state.waiting = Waiting::Headers;
            state.since = Instant::now();
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A request's headers arrived; the returned guard ends it when dropped
    /// (with its response body, see [`GuardedBody`]).
    pub(crate) fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.update(|s| s.in_flight += 1);
        RequestGuard(Arc::clone(self))
    }

    /// The connection was hijacked: no deadline applies any more.
    pub(crate) fn upgraded(&self) {
        self.update(|s| s.upgraded = true);
    }

    fn request_ended(&self) {
        self.update(|s| {
            s.in_flight = s.in_flight.saturating_sub(1);
            if s.in_flight == 0 {
                s.waiting = Waiting::Idle;
                s.since = Instant::now();
            }
        });
    }

    /// Since when the connection holds its slot without using it; `None`
    /// while it works (a request in flight, or hijacked).
    fn waiting_since(&self) -> Option<Instant> {
        let state = self.lock();
        (state.in_flight == 0 && !state.upgraded && !state.evicted).then_some(state.since)
    }

    fn evict(&self) {
        self.update(|s| s.evicted = true);
    }

    /// Resolves when the daemon closes the connection: a wait ran past its
    /// deadline, or the slot went to a newer connection.
    pub(crate) async fn closed(&self, limits: &ConnectionLimits) -> Closed {
        loop {
            let changed = self.changed.notified();
            let deadline = {
                let state = self.lock();
                if state.evicted {
                    return Closed::Evicted;
                }
                (state.in_flight == 0 && !state.upgraded)
                    .then(|| (state.since + state.waiting.timeout(limits), state.waiting))
            };
            match deadline {
                None => changed.await,
                Some((deadline, waiting)) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(deadline) => {
                            // Nothing changed meanwhile (that would have
                            // woken the other branch first or stored a
                            // permit that the next round consumes).
                            let state = self.lock();
                            if state.in_flight == 0
                                && !state.upgraded
                                && state.waiting == waiting
                                && state.since + waiting.timeout(limits) <= Instant::now()
                            {
                                return Closed::TimedOut(waiting.describe());
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One request in flight; ends it when dropped.
#[derive(Debug)]
pub(crate) struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// A response body that ends its request when it ends (or is dropped, as
/// when the connection goes away mid-stream).
pub(crate) struct GuardedBody<B> {
    inner: B,
    guard: Option<RequestGuard>,
}

impl<B> GuardedBody<B> {
    pub(crate) fn new(inner: B, guard: RequestGuard) -> GuardedBody<B> {
        GuardedBody {
            inner,
            guard: Some(guard),
        }
    }
}

impl<B: Body + Unpin> Body for GuardedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connection table of one listener.
#[derive(Debug)]
pub(crate) struct Slots {
    max: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    next: u64,
    open: HashMap<u64, Arc<Activity>>,
    /// When the last warning about a full table was logged, and how many
    /// connections were refused or evicted since.
    warned: Option<Instant>,
    unreported: u64,
}

/// What [`Slots::admit`] decided.
pub(crate) enum Admission {
    /// The connection may proceed.
    Admitted(Slot),
    /// Every slot is busy: close the connection now.
    Refused,
}

impl Slots {
    /// A table of at most `max` connections.
    pub(crate) fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max: max.max(1),
            table: Mutex::new(Table::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open connections.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().open.len()
    }

    /// Takes a slot for a connection just accepted, closing the longest
    /// waiting one when the table is full; refuses when all are busy.
    pub(crate) fn admit(self: &Arc<Self>, activity: &Arc<Activity>, listener: &str) -> Admission {
        let mut table = self.lock();
        if table.open.len() >= self.max {
            let oldest = table
                .open
                .iter()
                .filter_map(|(id, a)| a.waiting_since().map(|since| (since, *id)))
                .min();
            let evicted = oldest.and_then(|(_, id)| table.open.remove(&id));
            let admitted = evicted.is_some();
            if let Some(evicted) = evicted {
                evicted.evict();
            }
            table.unreported += 1;
            let now = Instant::now();
            if table
                .warned
                .is_none_or(|at| now.duration_since(at) >= WARNING_INTERVAL)
            {
                tracing::warn!(
                    %listener,
                    max = self.max,
                    connections = table.unreported,
                    "connection limit reached: closing the longest waiting connections, refusing new ones while all are busy (--api-max-connections)"
                );
                table.warned = Some(now);
                table.unreported = 0;
            }
            if !admitted {
                return Admission::Refused;
            }
        }
        let id = table.next;
        table.next += 1;
        table.open.insert(id, Arc::clone(activity));
        Admission::Admitted(Slot {
            slots: Arc::clone(self),
            id,
        })
    }
}

/// A connection's place in its listener's table, given back on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.lock().open.remove(&self.id);
    }
}

/// A connection's socket, holding its slot for as long as the socket is
/// open (a hijacked stream outlives the HTTP connection that carried it)
/// and reporting reads to its [`Activity`].
#[derive(Debug)]
pub(crate) struct Tracked<S> {
    io: S,
    activity: Arc<Activity>,
    _slot: Slot,
}

impl<S> Tracked<S> {
    pub(crate) fn new(io: S, activity: Arc<Activity>, slot: Slot) -> Tracked<S> {
        Tracked {
            io,
            activity,
            _slot: slot,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && buf.filled().len() > before
        {
            this.activity.bytes_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 2,
            handshake_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }

    /// Whether `closed` has resolved after the clock (paused) moved by
    /// `by`.
    async fn closed_after(
        closed: &mut Pin<Box<impl std::future::Future<Output = Closed>>>,
        by: Duration,
    ) -> Option<Closed> {
        tokio::time::advance(by).await;
        tokio::select! {
            biased;
            c = closed.as_mut() => Some(c),
            () = tokio::task::yield_now() => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_wait_has_its_deadline_and_work_has_none() {
        let limits = limits();
        let activity = Activity::new(true);
        let mut closed = Box::pin({
            let activity = Arc::clone(&activity);
            async move { activity.closed(&limits).await }
        });
        assert_eq!(
            closed_after(&mut closed, Duration::from_secs(4)).await,
            None
        );
        activity.handshake_done();
        // The header deadline counts from the end of the handshake.
        assert_eq!(
            closed_after(&mut closed, Duration::from_secs(9)).await,
            None
        );
        let request = activity.request_started();
        // A long request (logs -f) is never cut.
        assert_eq!(
            closed_after(&mut closed, Duration::from_secs(3600)).await,
            None
        );
        drop(request);
        // Idle keep-alive: its own, longer deadline.
        assert_eq!(
            closed_after(&mut closed, Duration::from_secs(59)).await,
            None
        );
        // A first byte starts the header deadline.
        activity.bytes_read();
        assert_eq!(
            closed_after(&mut closed, Duration::from_secs(9)).await,
            None
        );
        assert_eq!(
            closed_after(&mut closed, Duration::from_secs(2)).await,
            Some(Closed::TimedOut("request headers"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_handshake_and_idle_waits_time_out() {
        let limits = limits();
        let activity = Activity::new(true);
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(6), activity.closed(&limits)).await,
            Ok(Closed::TimedOut("TLS handshake"))
        );
        let activity = Activity::new(false);
        drop(activity.request_started());
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(61), activity.closed(&limits)).await,
            Ok(Closed::TimedOut("idle keep-alive"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hijacked_connection_has_no_deadline() {
        let limits = limits();
        let activity = Activity::new(false);
        let request = activity.request_started();
        activity.upgraded();
        drop(request);
        assert!(
            tokio::time::timeout(Duration::from_secs(3600), activity.closed(&limits))
                .await
                .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_table_evicts_the_longest_waiting_and_refuses_when_all_are_busy() {
        let slots = Slots::new(2);
        let first = Activity::new(false);
        tokio::time::advance(Duration::from_secs(1)).await;
        let second = Activity::new(false);
        let Admission::Admitted(_first_slot) = slots.admit(&first, "test") else {
            panic!("the first connection was refused");
        };
        let Admission::Admitted(_second_slot) = slots.admit(&second, "test") else {
            panic!("the second connection was refused");
        };
        assert_eq!(slots.len(), 2);
        // Full: the first has waited longest and goes.
        let third = Activity::new(false);
        let Admission::Admitted(_third_slot) = slots.admit(&third, "test") else {
            panic!("the third connection was refused");
        };
        assert_eq!(slots.len(), 2);
        assert_eq!(first.closed(&limits()).await, Closed::Evicted);
        // Both left are busy: a new one is refused, nobody is evicted.
        let _working = (second.request_started(), third.request_started());
        let fourth = Activity::new(false);
        assert!(matches!(slots.admit(&fourth, "test"), Admission::Refused));
        assert_eq!(slots.len(), 2);
        assert!(second.waiting_since().is_none() && third.waiting_since().is_none());
        // A slot is given back when its socket closes.
        drop(_third_slot);
        assert_eq!(slots.len(), 1);
        assert!(matches!(
            slots.admit(&fourth, "test"),
            Admission::Admitted(_)
        ));
    }
}
