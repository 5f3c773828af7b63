//! The Job: one unit of work, shaped like a Unix process.
//!
//! A [`Job`] has a name (which handler runs it), positional `args`, an
//! ordered `env`, a byte stream on `stdin` and two byte sinks, `stdout` and
//! `stderr`, whose chunks reach the caller as they are produced. Running it
//! yields a status (0 = success) or a [`JobError`] whose [`ErrorKind`] the
//! HTTP edge maps onto Docker's status codes.
//!
//! This is Docker 1.x's `engine.Job` (name, args, env, stdio, status), typed
//! where it matters: errors carry a kind instead of a status integer, and
//! output is a stream of [`Bytes`] rather than a buffered `io.Writer`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::{mpsc, oneshot};

/// Status of a job that finished without error.
pub type JobStatus = i32;

/// What a handler returns.
pub type JobResult = Result<JobStatus, JobError>;

/// A boxed, sendable future (handlers are trait objects).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The stream a job reads its input from.
pub type JobStdin = Box<dyn AsyncRead + Send + Unpin + 'static>;

/// The caller's raw byte connection (a hijacked HTTP connection), which a
/// job that asked for it with [`JobOutput::begin_raw`] writes into directly
/// instead of through chunks. The job shuts it down when its output ends.
pub type RawOutput = Box<dyn AsyncWrite + Send + Unpin + 'static>;

/// A job's request for the caller's raw connection: the caller answers it
/// with [`RawRequest::grant`], or drops it and the job writes chunks.
pub struct RawRequest(oneshot::Sender<RawOutput>);

impl fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRequest").finish_non_exhaustive()
    }
}

impl RawRequest {
    /// Hands the job the connection; from now on the job writes there and
    /// nothing more comes as chunks. Gives the connection back when the job
    /// stopped waiting for it.
    pub fn grant(self, conn: RawOutput) -> Result<(), RawOutput> {
        self.0.send(conn)
    }
}

/// How many chunks a job may run ahead of a slow reader before its writes
/// wait: bounded so a job streaming logs cannot buffer without limit.
const OUTPUT_BUFFER: usize = 64;

/// The class of a job failure; the HTTP edge maps it to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or a value is out of range (400).
    InvalidParameter,
    /// Authentication is missing or wrong (401).
    Unauthorized,
    /// The operation is not allowed (403).
    Forbidden,
    /// The object does not exist (404).
    NotFound,
    /// The request conflicts with the object's state (409).
    Conflict,
    /// Nothing to do: the object already is in the requested state (304).
    NotModified,
    /// The operation is not implemented (501).
    NotImplemented,
    /// A dependency is unavailable (503).
    Unavailable,
    /// Anything else (500).
    Internal,
}

impl ErrorKind {
    /// Docker's HTTP status code for this kind (moby `errdefs`).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidParameter => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::NotModified => 304,
            ErrorKind::NotImplemented => 501,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// A job's failure: a kind and a message for the client.
///
/// Internal details (source chains, paths of the daemon's own files) are
/// logged with `tracing` where the error is built, not sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// The class of failure.
    pub kind: ErrorKind,
    /// What went wrong, for the client.
    pub message: String,
}

impl JobError {
    /// A failure of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> JobError {
        JobError {
            kind,
            message: message.into(),
        }
    }

    /// 400.
    pub fn invalid(message: impl Into<String>) -> JobError {
        JobError::new(ErrorKind::InvalidParameter, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> JobError {
        JobError::new(ErrorKind::NotFound, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> JobError {
        JobError::new(ErrorKind::Conflict, message)
    }

    /// 304.
    pub fn not_modified() -> JobError {
        JobError::new(ErrorKind::NotModified, "")
    }

    /// A failure of `kind` described by a driver error: its message and
    /// its first cause, which for a client error names what was refused and
    /// why (`refusing layer entry "x": path escapes the root`). A cause the
    /// message already quotes (an error whose text embeds its source) is
    /// not repeated.
    pub fn with_cause(kind: ErrorKind, err: &(dyn std::error::Error + 'static)) -> JobError {
        let message = err.to_string();
        let message = match err.source().map(|cause| cause.to_string()) {
            Some(cause) if !message.contains(&cause) => format!("{message}: {cause}"),
            _ => message,
        };
        JobError::new(kind, message)
    }

    /// 500 for an error of the daemon itself: the full chain goes to the
    /// log, the client gets `what` and the error's top-level message.
    pub fn internal(what: &str, err: &(dyn std::error::Error + 'static)) -> JobError {
        let mut chain = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "{what}");
        JobError::new(ErrorKind::Internal, format!("{what}: {err}"))
    }
}

impl From<berth_store::StoreError> for JobError {
    fn from(err: berth_store::StoreError) -> JobError {
        JobError::internal("metadata store failure", &err)
    }
}

/// The ordered environment of a job: `KEY=value` pairs, keys may repeat
/// (`get` returns the last, `get_all` every value), as in Docker 1.x.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env(Vec<(String, String)>);

impl Env {
    /// An empty environment.
    pub fn new() -> Env {
        Env::default()
    }

    /// Appends `key=value`.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.push((key.into(), value.into()));
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean as the Docker API writes them: `1`, `true`, `True` are true;
    /// absent, empty, `0`, `false` are false; anything else is an error.
    pub fn get_bool(&self, key: &str) -> Result<bool, JobError> {
        match self.get(key).unwrap_or("") {
            "" | "0" | "false" | "False" | "FALSE" | "no" => Ok(false),
            "1" | "true" | "True" | "TRUE" | "yes" => Ok(true),
            other => Err(JobError::invalid(format!(
                "invalid boolean value {other:?} for parameter {key:?}"
            ))),
        }
    }

    /// An integer parameter; absent or empty gives `None`.
    pub fn get_i64(&self, key: &str) -> Result<Option<i64>, JobError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                JobError::invalid(format!("invalid integer value {v:?} for parameter {key:?}"))
            }),
        }
    }

    /// All pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl FromIterator<(String, String)> for Env {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Env {
        Env(iter.into_iter().collect())
    }
}

/// One item a job writes to one of its outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// "The output starts now, with this content type": lets a caller send
    /// response headers before the first byte (a `wait` registers its waiter
    /// and then begins; `attach` begins before the hijack).
    Begin {
        /// The media type of what follows (`None`: the caller's default).
        content_type: Option<String>,
    },
    /// Bytes of output.
    Data(Bytes),
}

/// The reader went away: the job should stop producing output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the job's output reader is gone")]
pub struct OutputClosed;

impl From<OutputClosed> for JobError {
    fn from(_: OutputClosed) -> JobError {
        JobError::new(ErrorKind::Unavailable, "the client went away")
    }
}

/// What travels from a [`JobOutput`] to its [`OutputStream`]: a chunk and,
/// with a [`Chunk::Begin`] from [`JobOutput::begin_raw`], the job's request
/// for the caller's raw connection.
struct Sent {
    chunk: Chunk,
    raw: Option<RawRequest>,
}

/// A job's stdout or stderr: a sink whose chunks reach the caller as they
/// are written.
#[derive(Clone)]
pub struct JobOutput {
    tx: mpsc::Sender<Sent>,
}

impl fmt::Debug for JobOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobOutput").finish_non_exhaustive()
    }
}

/// The caller's end of a [`JobOutput`].
pub struct OutputStream {
    rx: mpsc::Receiver<Sent>,
    /// Whether the caller has a raw connection to offer.
    accepts_raw: bool,
    /// The raw-connection request that came with the last chunk.
    raw: Option<RawRequest>,
}

impl fmt::Debug for OutputStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputStream")
            .field("raw_requested", &self.raw.is_some())
            .finish_non_exhaustive()
    }
}

impl OutputStream {
    /// The next chunk; `None` once the job dropped its output (finished).
    /// A raw-connection request is refused as it arrives (the job goes on
    /// with chunks) unless the caller [accepts](OutputStream::accept_raw)
    /// them; then it is refused at the next call if not taken.
    pub async fn next(&mut self) -> Option<Chunk> {
        self.raw = None;
        let sent = self.rx.recv().await?;
        self.raw = sent.raw.filter(|_| self.accepts_raw);
        Some(sent.chunk)
    }

    /// Declares that the caller has a raw connection to offer: it takes the
    /// job's request with [`OutputStream::take_raw_request`] right after
    /// the [`Chunk::Begin`] that carries it, and grants or drops it.
    pub fn accept_raw(&mut self) {
        self.accepts_raw = true;
    }

    /// Takes the job's request for the raw connection, when the chunk just
    /// returned by [`OutputStream::next`] (a [`Chunk::Begin`]) carried one.
    pub fn take_raw_request(&mut self) -> Option<RawRequest> {
        self.raw.take()
    }

    /// Reads every data chunk until the job finishes.
    pub async fn collect(mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            if let Chunk::Data(data) = chunk {
                out.extend_from_slice(&data);
            }
        }
        out
    }
}

/// A connected sink and stream.
pub fn output_pipe() -> (JobOutput, OutputStream) {
    let (tx, rx) = mpsc::channel(OUTPUT_BUFFER);
    let stream = OutputStream {
        rx,
        accepts_raw: false,
        raw: None,
    };
    (JobOutput { tx }, stream)
}

impl JobOutput {
    async fn send(&self, chunk: Chunk, raw: Option<RawRequest>) -> Result<(), OutputClosed> {
        self.tx
            .send(Sent { chunk, raw })
            .await
            .map_err(|_| OutputClosed)
    }

    /// Signals that output starts (see [`Chunk::Begin`]).
    pub async fn begin(&self, content_type: Option<&str>) -> Result<(), OutputClosed> {
        let content_type = content_type.map(str::to_owned);
        self.send(Chunk::Begin { content_type }, None).await
    }

    /// Signals that output starts, like [`JobOutput::begin`], and asks the
    /// caller for its raw connection: `Some` when the caller handed it over
    /// (a hijacked connection, once it is switched), `None` when it does
    /// not have one and output goes on as chunks. Docker 1.x gave the
    /// attach job the hijacked connection as its stdout in the same way;
    /// here it spares a long-running stream a task and a channel per chunk.
    pub async fn begin_raw(
        &self,
        content_type: Option<&str>,
    ) -> Result<Option<RawOutput>, OutputClosed> {
        let content_type = content_type.map(str::to_owned);
        let (tx, rx) = oneshot::channel();
        self.send(Chunk::Begin { content_type }, Some(RawRequest(tx)))
            .await?;
        // A caller without a raw connection drops the request as it reads
        // the chunk; one with a connection grants it once it is switched.
        Ok(rx.await.ok())
    }

    /// Writes bytes; waits while the reader is behind.
    pub async fn write(&self, data: impl Into<Bytes>) -> Result<(), OutputClosed> {
        let data = data.into();
        if data.is_empty() {
            return Ok(());
        }
        self.send(Chunk::Data(data), None).await
    }

    /// Writes `value` as one line of JSON.
    pub async fn write_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), JobError> {
        let mut line = serde_json::to_vec(value)
            .map_err(|e| JobError::internal("failed to encode a JSON response", &e))?;
        line.push(b'\n');
        Ok(self.write(line).await?)
    }

    /// Whether the reader is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Resolves when the reader is gone (a client disconnected).
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

/// A unit of work for the [`crate::Engine`].
pub struct Job {
    /// Which handler runs it.
    pub name: String,
    /// Positional arguments.
    pub args: Vec<String>,
    /// Named parameters.
    pub env: Env,
    /// Input.
    pub stdin: JobStdin,
    /// Output.
    pub stdout: JobOutput,
    /// Diagnostics.
    pub stderr: JobOutput,
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

/// The caller's ends of a job's outputs.
#[derive(Debug)]
pub struct JobStreams {
    /// What the job writes to stdout.
    pub stdout: OutputStream,
    /// What the job writes to stderr.
    pub stderr: OutputStream,
}

impl Job {
    /// A job with no args, no env, empty stdin, and connected outputs.
    pub fn new(name: impl Into<String>) -> (Job, JobStreams) {
        let (stdout, stdout_stream) = output_pipe();
        let (stderr, stderr_stream) = output_pipe();
        (
            Job {
                name: name.into(),
                args: Vec::new(),
                env: Env::new(),
                stdin: Box::new(tokio::io::empty()),
                stdout,
                stderr,
            },
            JobStreams {
                stdout: stdout_stream,
                stderr: stderr_stream,
            },
        )
    }

    /// Adds a positional argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Job {
        self.args.push(arg.into());
        self
    }

    /// Adds `key=value` to the env.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Job {
        self.env.set(key, value);
        self
    }

    /// Sets the input stream.
    pub fn stdin(mut self, stdin: impl AsyncRead + Send + Unpin + 'static) -> Job {
        self.stdin = Box::new(stdin);
        self
    }

    /// Argument `i`, or an InvalidParameter error naming what is missing.
    pub fn required_arg(&self, i: usize, what: &str) -> Result<&str, JobError> {
        self.args
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| JobError::invalid(format!("{}: missing {what}", self.name)))
    }

    /// Reads all of stdin, refusing more than `limit` bytes.
    pub async fn read_stdin(&mut self, limit: usize) -> Result<Vec<u8>, JobError> {
        let mut buf = Vec::new();
        let mut reader = (&mut self.stdin).take(limit as u64 + 1);
        reader
            .read_to_end(&mut buf)
            .await
            .map_err(|e| JobError::invalid(format!("failed to read the request body: {e}")))?;
        if buf.len() > limit {
            return Err(JobError::invalid(format!(
                "request body larger than {limit} bytes"
            )));
        }
        Ok(buf)
    }

    /// Reads stdin as one JSON document of type `T` (empty body: `T::default()`).
    pub async fn read_json<T>(&mut self, limit: usize) -> Result<T, JobError>
    where
        T: serde::de::DeserializeOwned + Default,
    {
        let body = self.read_stdin(limit).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        // dockerd: "invalid JSON: <decoder error>" answered with 400.
        serde_json::from_slice(&body).map_err(|e| JobError::invalid(format!("invalid JSON: {e}")))
    }
}

/// A job handler: what the Engine runs for a job name.
pub trait Handler: Send + Sync + 'static {
    /// Runs the job to completion.
    fn call(&self, job: Job) -> BoxFuture<JobResult>;

    /// One line about what the handler does (for `berth job ls`).
    fn description(&self) -> String {
        String::new()
    }

    /// Who provides the handler: `builtin` or a plugin's `name@version`.
    fn source(&self) -> String {
        "builtin".to_owned()
    }
}

/// A [`Handler`] from an async closure.
pub struct HandlerFn<F> {
    description: String,
    f: F,
}

/// Wraps `f` as a builtin handler described by `description`.
pub fn handler_fn<F, Fut>(description: impl Into<String>, f: F) -> HandlerFn<F>
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    HandlerFn {
        description: description.into(),
        f,
    }
}

/// Wraps `f` as a builtin handler that is handed a clone of `state` (the
/// daemon, the plugin host, ...) with every job, so that registering a job
/// over shared state takes one closure instead of a clone per layer.
pub fn handler_with<S, F, Fut>(description: impl Into<String>, state: S, f: F) -> impl Handler
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S, Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    handler_fn(description, move |job| f(state.clone(), job))
}

impl<F, Fut> Handler for HandlerFn<F>
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    fn call(&self, job: Job) -> BoxFuture<JobResult> {
        Box::pin((self.f)(job))
    }

    fn description(&self) -> String {
        self.description.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_keeps_order_and_last_value_wins() {
        let mut env = Env::new();
        env.set("a", "1");
        env.set("b", "x");
        env.set("a", "2");
        assert_eq!(env.get("a"), Some("2"));
        assert_eq!(env.get_all("a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(env.get("c"), None);
    }

    #[test]
    fn env_parses_docker_booleans_and_integers() {
        let mut env = Env::new();
        env.set("all", "1");
        env.set("force", "false");
        env.set("t", "10");
        env.set("bad", "maybe");
        assert!(env.get_bool("all").unwrap());
        assert!(!env.get_bool("force").unwrap());
        assert!(!env.get_bool("absent").unwrap());
        assert_eq!(
            env.get_bool("bad").unwrap_err().kind,
            ErrorKind::InvalidParameter
        );
        assert_eq!(env.get_i64("t").unwrap(), Some(10));
        assert!(env.get_i64("bad").is_err());
    }

    #[test]
    fn errors_with_a_cause_name_it() {
        #[derive(Debug, thiserror::Error)]
        #[error("refusing layer entry \"x\"")]
        struct Refused(#[source] std::io::Error);
        let err = Refused(std::io::Error::other("path escapes the root"));
        let job = JobError::with_cause(ErrorKind::InvalidParameter, &err);
        assert_eq!(job.kind, ErrorKind::InvalidParameter);
        assert_eq!(
            job.message,
            "refusing layer entry \"x\": path escapes the root"
        );
        let plain = std::io::Error::other("no cause");
        assert_eq!(
            JobError::with_cause(ErrorKind::Conflict, &plain).message,
            "no cause"
        );
        // An error whose text already embeds its source (the exec driver's
        // `invalid configuration of container X: {source}`) says it once.
        #[derive(Debug, thiserror::Error)]
        #[error("invalid configuration of container c1: {0}")]
        struct Embeds(#[source] std::io::Error);
        let err = Embeds(std::io::Error::other(
            "/etc/passwd in the rootfs is a FIFO, not a regular file",
        ));
        assert_eq!(
            JobError::with_cause(ErrorKind::InvalidParameter, &err).message,
            "invalid configuration of container c1: /etc/passwd in the rootfs is a FIFO, not a regular file"
        );
    }

    #[tokio::test]
    async fn output_streams_chunks_in_order_and_ends_with_the_job() {
        let (job, streams) = Job::new("echo");
        let writer = tokio::spawn(async move {
            job.stdout
                .write_json(&serde_json::json!({"a": 1}))
                .await
                .unwrap();
            job.stdout.write(&b"tail"[..]).await.unwrap();
        });
        let out = streams.stdout.collect().await;
        writer.await.unwrap();
        assert_eq!(out, b"{\"a\":1}\ntail");
    }

    #[tokio::test]
    async fn a_job_writes_into_the_raw_connection_its_caller_grants() {
        let (job, mut streams) = Job::new("attach");
        streams.stdout.accept_raw();
        let writer = tokio::spawn(async move {
            let mut conn = job.stdout.begin_raw(Some("raw")).await?.expect("granted");
            tokio::io::AsyncWriteExt::write_all(&mut conn, b"straight")
                .await
                .expect("write");
            Ok::<_, OutputClosed>(())
        });
        assert_eq!(
            streams.stdout.next().await,
            Some(Chunk::Begin {
                content_type: Some("raw".into())
            })
        );
        let request = streams.stdout.take_raw_request().expect("requested");
        let (conn, mut client) = tokio::io::duplex(64);
        request.grant(Box::new(conn)).ok().expect("job waits");
        writer.await.unwrap().unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"straight");
        assert_eq!(streams.stdout.next().await, None, "no chunks came");
    }

    #[tokio::test]
    async fn a_caller_without_a_raw_connection_gets_chunks() {
        // Not accepting: refused as the Begin chunk is read.
        let (job, mut streams) = Job::new("attach");
        let writer = tokio::spawn(async move {
            assert!(job.stdout.begin_raw(None).await.unwrap().is_none());
            job.stdout.write(&b"chunk"[..]).await
        });
        assert!(matches!(
            streams.stdout.next().await,
            Some(Chunk::Begin { .. })
        ));
        assert!(streams.stdout.take_raw_request().is_none());
        assert_eq!(
            streams.stdout.next().await,
            Some(Chunk::Data(Bytes::from_static(b"chunk")))
        );
        writer.await.unwrap().unwrap();
        // Accepting but not taking it: refused at the next read.
        let (job, mut streams) = Job::new("attach");
        streams.stdout.accept_raw();
        let writer = tokio::spawn(async move { job.stdout.begin_raw(None).await });
        assert!(streams.stdout.next().await.is_some());
        assert_eq!(streams.stdout.next().await, None);
        assert!(matches!(writer.await.unwrap(), Ok(None)));
    }

    #[tokio::test]
    async fn writes_fail_once_the_reader_is_gone() {
        let (job, streams) = Job::new("x");
        drop(streams);
        assert_eq!(job.stdout.write(&b"x"[..]).await, Err(OutputClosed));
        assert!(job.stdout.is_closed());
    }

    #[tokio::test]
    async fn read_json_reports_malformed_bodies() {
        let (job, _streams) = Job::new("x");
        let mut job = job.stdin(&b"{\"a\": "[..]);
        let err = job
            .read_json::<serde_json::Map<String, serde_json::Value>>(1024)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidParameter);
        assert!(err.message.starts_with("invalid JSON: "), "{err}");
    }
}
