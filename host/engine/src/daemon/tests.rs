//! Daemon logic against fake drivers: no root, no processes.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_api::container::{Config, CreateRequest, Status, WaitCondition};
use berth_api::filters::Filters;
use berth_api::image::{ImageDeleteItem, ImageInspect, ImageSummary};
use berth_api::stream::{StreamType, encode_frame};
use berth_store::Store;
use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::*;
use crate::driver::{AttachStreams, LogRecord, Started};
use crate::engine::Engine;
use crate::job::{BoxFuture, Job, JobResult};

#[derive(Default)]
struct FakeImages {
    rootfs: Mutex<Vec<String>>,
    calls: Mutex<Vec<String>>,
    /// Images `list` and `inspect` answer with, when set (else one
    /// busybox image): summaries and their RFC 3339 creation times.
    catalog: Mutex<Vec<(ImageSummary, String)>>,
}

impl ImageService for FakeImages {
    fn driver_name(&self) -> String {
        "fake".into()
    }
    fn import(
        &self,
        mut source: Box<dyn Read + Send>,
        options: &crate::driver::ImportOptions,
    ) -> Result<String, JobError> {
        let mut data = Vec::new();
        source.read_to_end(&mut data).unwrap();
        self.calls
            .lock()
            .unwrap()
            .push(format!("import {} {}", options.repo, data.len()));
        Ok("sha256:imported".into())
    }
    fn list(&self) -> Result<Vec<ImageSummary>, JobError> {
        let catalog = self.catalog.lock().unwrap();
        if !catalog.is_empty() {
            return Ok(catalog.iter().map(|(s, _)| s.clone()).collect());
        }
        Ok(vec![ImageSummary {
            id: "sha256:feed".into(),
            repo_tags: vec!["busybox:latest".into()],
            ..Default::default()
        }])
    }
    fn inspect(&self, name: &str) -> Result<ImageInspect, JobError> {
        let catalog = self.catalog.lock().unwrap();
        if !catalog.is_empty() {
            let (summary, created) = catalog
                .iter()
                .find(|(s, _)| {
                    s.id == name
                        || s.repo_tags
                            .iter()
                            .any(|t| t == name || t.strip_suffix(":latest") == Some(name))
                })
                .ok_or_else(|| JobError::not_found(format!("No such image: {name}")))?;
            return Ok(ImageInspect {
                id: summary.id.clone(),
                repo_tags: summary.repo_tags.clone(),
                created: created.clone(),
                ..Default::default()
            });
        }
        if name != "busybox" {
            return Err(JobError::not_found(format!("No such image: {name}")));
        }
        Ok(ImageInspect {
            id: "sha256:feed".into(),
            config: Config {
                cmd: Some(vec!["sh".into()]),
                env: vec!["PATH=/bin".into()],
                ..Default::default()
            },
            ..Default::default()
        })
    }
    fn tag(&self, _: &str, _: &str, _: &str) -> Result<(), JobError> {
        Ok(())
    }
    fn remove(&self, name: &str, _: bool) -> Result<Vec<ImageDeleteItem>, JobError> {
        Ok(vec![ImageDeleteItem::Untagged(name.into())])
    }
    fn create_rootfs(&self, id: &str, _: &str) -> Result<(), JobError> {
        self.rootfs.lock().unwrap().push(id.to_owned());
        Ok(())
    }
    fn mount_rootfs(&self, id: &str) -> Result<PathBuf, JobError> {
        self.calls.lock().unwrap().push(format!("mount {id}"));
        Ok(PathBuf::from("/fake/rootfs").join(id))
    }
    fn unmount_rootfs(&self, id: &str) -> Result<(), JobError> {
        self.calls.lock().unwrap().push(format!("unmount {id}"));
        Ok(())
    }
    fn remove_rootfs(&self, id: &str) -> Result<(), JobError> {
        self.rootfs.lock().unwrap().retain(|r| r != id);
        Ok(())
    }
}

/// A process simulated by the fake runtime.
struct FakeProc {
    exit: watch::Sender<Option<i64>>,
    ignores_term: bool,
}

#[derive(Default)]
struct FakeRuntime {
    procs: Mutex<HashMap<String, Arc<FakeProc>>>,
    signals: Mutex<Vec<(String, i32)>>,
    /// `StartRequest::attach` of every start, in order.
    attach_requests: Mutex<Vec<bool>>,
    /// `pause` (true) and `resume` (false) calls, in order.
    freezer: Mutex<Vec<(String, bool)>>,
    restored: Mutex<Option<Restored>>,
}

impl FakeRuntime {
    fn exit(&self, id: &str, code: i64) {
        let proc = self.procs.lock().unwrap().get(id).cloned().unwrap();
        proc.exit.send_replace(Some(code));
    }
}

impl ExecService for Arc<FakeRuntime> {
    fn validate(&self, host: &berth_api::container::HostConfig) -> Result<(), JobError> {
        match host.cap_add.iter().find(|c| c.as_str() == "FLY") {
            Some(_) => Err(JobError::invalid("fake: FLY is no capability")),
            None => Ok(()),
        }
    }
    fn files(&self, id: &str) -> crate::driver::ContainerFiles {
        let dir = PathBuf::from("/fake/containers").join(id);
        crate::driver::ContainerFiles {
            log: dir.join("log"),
            hostname: dir.join("hostname"),
            hosts: dir.join("hosts"),
            resolv_conf: dir.join("resolv.conf"),
        }
    }
    fn start(&self, request: StartRequest) -> BoxFuture<Result<Started, JobError>> {
        let this = Arc::clone(self);
        self.attach_requests
            .lock()
            .unwrap()
            .push(!request.attach.is_empty());
        Box::pin(async move {
            let argv = request.config.cmd.clone().unwrap_or_default();
            // A start that never ends, like one stuck on a FIFO in the image.
            if argv.first().map(String::as_str) == Some("hang") {
                return std::future::pending().await;
            }
            if argv.first().map(String::as_str) == Some("missing") {
                return Err(JobError::invalid(
                    "exec: \"missing\": executable file not found in $PATH",
                ));
            }
            let (exit, _) = watch::channel(None);
            let proc = Arc::new(FakeProc {
                exit,
                ignores_term: argv.iter().any(|a| a == "ignore-term"),
            });
            this.procs
                .lock()
                .unwrap()
                .insert(request.id.clone(), Arc::clone(&proc));
            // One stream per attachment, as the exec driver gives each
            // client its own.
            let mut attach = Vec::new();
            let mut senders = Vec::new();
            for _ in &request.attach {
                let (tx, rx) = mpsc::channel(8);
                senders.push(tx);
                let output = futures_util::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|chunk| (chunk, rx))
                });
                attach.push(AttachStreams {
                    stdin: None,
                    output: Box::pin(output),
                });
            }
            // `echo WORDS`: print them and exit 0, like the real thing.
            if !senders.is_empty() && argv.first().map(String::as_str) == Some("echo") {
                let line = Bytes::from(format!("{}\n", argv[1..].join(" ")));
                tokio::spawn(async move {
                    for tx in senders {
                        tx.send((StreamType::Stdout, line.clone())).await.unwrap();
                    }
                    proc.exit.send_replace(Some(0));
                });
            }
            Ok(Started { pid: 4242, attach })
        })
    }
    fn wait(&self, id: &str) -> BoxFuture<Result<ExitRecord, JobError>> {
        let proc = self.procs.lock().unwrap().get(id).cloned();
        Box::pin(async move {
            let proc = proc.ok_or_else(|| JobError::not_found("no proc"))?;
            let mut rx = proc.exit.subscribe();
            let code = rx.wait_for(Option::is_some).await.unwrap().unwrap();
            Ok(ExitRecord::exited(
                i32::try_from(code).unwrap(),
                None,
                berth_model::Timestamp::now(),
            ))
        })
    }
    fn kill(&self, id: &str, signal: i32) -> BoxFuture<Result<(), JobError>> {
        self.signals.lock().unwrap().push((id.to_owned(), signal));
        let proc = self.procs.lock().unwrap().get(id).cloned();
        Box::pin(async move {
            let proc = proc.ok_or_else(|| JobError::not_found("no proc"))?;
            if !(signal == 15 && proc.ignores_term) {
                proc.exit.send_replace(Some(128 + i64::from(signal)));
            }
            Ok(())
        })
    }
    fn attach(&self, _: &str, _: AttachOptions) -> BoxFuture<Result<AttachStreams, JobError>> {
        Box::pin(async { Err(JobError::conflict("not in the fake")) })
    }
    fn resize(&self, _: &str, _: u16, _: u16) -> BoxFuture<Result<(), JobError>> {
        Box::pin(async { Ok(()) })
    }
    fn pause(&self, id: &str) -> BoxFuture<Result<(), JobError>> {
        self.freezer.lock().unwrap().push((id.to_owned(), true));
        Box::pin(async { Ok(()) })
    }
    fn resume(&self, id: &str) -> BoxFuture<Result<(), JobError>> {
        self.freezer.lock().unwrap().push((id.to_owned(), false));
        Box::pin(async { Ok(()) })
    }
    fn logs(
        &self,
        _: &str,
        _: crate::driver::LogOptions,
    ) -> BoxFuture<Result<mpsc::Receiver<LogRecord>, JobError>> {
        Box::pin(async {
            let (tx, rx) = mpsc::channel(4);
            tx.send(LogRecord {
                stream: StreamType::Stderr,
                time: "2024-01-01T00:00:00Z".into(),
                data: Bytes::from_static(b"err\n"),
            })
            .await
            .unwrap();
            Ok(rx)
        })
    }
    fn remove(&self, id: &str) -> BoxFuture<Result<(), JobError>> {
        self.procs.lock().unwrap().remove(id);
        Box::pin(async { Ok(()) })
    }
    fn restore(&self, _: &str) -> BoxFuture<Result<Restored, JobError>> {
        let r = self.restored.lock().unwrap().clone();
        Box::pin(async move { r.ok_or_else(|| JobError::not_found("nothing to restore")) })
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    daemon: Arc<Daemon>,
    engine: Arc<Engine>,
    images: Arc<FakeImages>,
    runtime: Arc<FakeRuntime>,
    store: Store,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    fixture_with(dir, store, Arc::new(FakeRuntime::default()))
}

fn fixture_with(dir: tempfile::TempDir, store: Store, runtime: Arc<FakeRuntime>) -> Fixture {
    fixture_timed(dir, store, runtime, DEFAULT_START_TIMEOUT)
}

/// A fixture whose starts give up after `start_timeout`.
fn fixture_timed(
    dir: tempfile::TempDir,
    store: Store,
    runtime: Arc<FakeRuntime>,
    start_timeout: Duration,
) -> Fixture {
    let images = Arc::new(FakeImages::default());
    let engine = Engine::new();
    let config = DaemonConfig {
        data_root: dir.path().to_owned(),
        exec_root: dir.path().join("exec"),
        sysinfo: Default::default(),
        start_timeout,
    };
    let daemon = Daemon::new(
        config,
        store.clone(),
        Arc::clone(&images) as Arc<dyn ImageService>,
        Arc::new(Arc::clone(&runtime)),
        Arc::clone(engine.events()),
    );
    handlers::register_all(&engine, &daemon, handlers::SystemFacts::default());
    Fixture {
        _dir: dir,
        daemon,
        engine,
        images,
        runtime,
        store,
    }
}

fn request(json: &str) -> CreateRequest {
    serde_json::from_str(json).unwrap()
}

impl Fixture {
    async fn create(&self, name: Option<&str>, json: &str) -> Result<String, JobError> {
        self.daemon.create(name, request(json)).await.map(|r| r.id)
    }

    async fn run_job(&self, job: Job, streams: crate::job::JobStreams) -> (JobResult, Vec<u8>) {
        let handle = self.engine.spawn(job);
        let out = streams.stdout.collect().await;
        (handle.await.unwrap(), out)
    }

    fn record_count(&self) -> usize {
        self.store.list(CONTAINERS).unwrap().len()
    }

    async fn wait_status(&self, id: &str, status: Status) {
        let c = self.daemon.containers().get(id).unwrap();
        let mut rx = c.watch();
        tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| s.status == status))
            .await
            .expect("state change")
            .unwrap();
    }
}

#[tokio::test]
async fn create_inspect_list_remove() {
    let f = fixture();
    let id = f
        .create(
            Some("web"),
            r#"{"Image":"busybox","Labels":{"tier":"front"}}"#,
        )
        .await
        .unwrap();
    assert_eq!(id.len(), 64);
    let inspect = f.daemon.inspect("web").unwrap();
    assert_eq!(inspect.name, "/web");
    assert_eq!(inspect.path, "sh");
    assert_eq!(inspect.state.status, Status::Created);
    assert_eq!(inspect.image, "sha256:feed");
    // The files are where the exec driver says.
    let files = f.runtime.files(&id);
    assert_eq!(inspect.log_path, files.log.to_string_lossy());
    assert_eq!(inspect.hosts_path, files.hosts.to_string_lossy());
    assert!(f.images.rootfs.lock().unwrap().contains(&id));

    let none = f.daemon.list(false, &Filters::default()).unwrap();
    assert!(none.is_empty(), "created containers only show with all");
    let all = f.daemon.list(true, &Filters::default()).unwrap();
    assert_eq!(all[0].names, ["/web"]);
    assert_eq!(all[0].status, "Created");
    let by_label = Filters::parse(r#"{"label":["tier=front"]}"#).unwrap();
    assert_eq!(f.daemon.list(true, &by_label).unwrap().len(), 1);
    let other = Filters::parse(r#"{"label":["tier=back"]}"#).unwrap();
    assert!(f.daemon.list(true, &other).unwrap().is_empty());
    assert!(
        f.daemon
            .list(true, &Filters::parse(r#"{"bogus":["x"]}"#).unwrap())
            .is_err()
    );

    f.daemon.remove("web", false).await.unwrap();
    assert_eq!(f.record_count(), 0);
    assert!(f.images.rootfs.lock().unwrap().is_empty());
    assert!(f.store.get(NAMES, "web").unwrap().is_none());
    assert_eq!(
        f.daemon.inspect("web").unwrap_err().kind,
        ErrorKind::NotFound
    );
    // The name is free again.
    f.create(Some("web"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
}

#[tokio::test]
async fn name_conflicts_change_nothing() {
    let f = fixture();
    let first = f
        .create(Some("db"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let err = f
        .create(Some("/db"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains(&first), "{err}");
    assert_eq!(f.record_count(), 1);
    assert_eq!(f.images.rootfs.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_requests_change_nothing() {
    let f = fixture();
    let err = f.create(None, r#"{"Image":"nope"}"#).await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "No such image: nope")
    );
    let err = f
        .create(None, r#"{"Image":"busybox","HostConfig":{"Memory":1}}"#)
        .await
        .unwrap_err();
    assert_eq!(err.message, "Minimum memory limit allowed is 6MB");
    let err = f
        .create(
            Some("flyer"),
            r#"{"Image":"busybox","HostConfig":{"CapAdd":["FLY"]}}"#,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::InvalidParameter, "fake: FLY is no capability"),
        "the runtime's refusal fails the create"
    );
    assert!(f.store.get(NAMES, "flyer").unwrap().is_none());
    let err = f
        .create(Some("bad name"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
    let (job, streams) = Job::new("container_create");
    let (result, _) = f.run_job(job.stdin(&b"{\"Image\": "[..]), streams).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
    assert!(err.message.starts_with("invalid JSON"), "{err}");
    assert_eq!(f.record_count(), 0);
    assert!(f.images.rootfs.lock().unwrap().is_empty());
}

#[tokio::test]
async fn random_names_are_assigned() {
    let f = fixture();
    let id = f.create(None, r#"{"Image":"busybox"}"#).await.unwrap();
    let name = f.daemon.inspect(&id).unwrap().name;
    assert!(name.starts_with('/') && name.contains('_'), "{name}");
}

#[tokio::test]
async fn start_exit_and_wait() {
    let f = fixture();
    let id = f
        .create(Some("xx"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let waiter = {
        let d = Arc::clone(&f.daemon);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            d.wait("xx", WaitCondition::NextExit, async {
                let _ = tx.send(());
            })
            .await
        });
        rx.await.unwrap();
        task
    };
    f.daemon.start("xx").await.unwrap();
    let inspect = f.daemon.inspect("xx").unwrap();
    assert!(inspect.state.running);
    assert_eq!(inspect.state.pid, 4242);
    assert_eq!(
        f.daemon.start("xx").await.unwrap_err().kind,
        ErrorKind::NotModified
    );
    assert_eq!(
        f.daemon.remove("xx", false).await.unwrap_err().kind,
        ErrorKind::Conflict
    );
    assert!(
        f.daemon.list(false, &Filters::default()).unwrap()[0]
            .status
            .starts_with("Up ")
    );

    f.runtime.exit(&id, 3);
    assert_eq!(waiter.await.unwrap().unwrap(), 3);
    f.wait_status(&id, Status::Exited).await;
    let state = f.daemon.inspect("xx").unwrap().state;
    assert_eq!((state.exit_code, state.running, state.pid), (3, false, 0));
    assert!(
        f.images
            .calls
            .lock()
            .unwrap()
            .contains(&format!("unmount {id}"))
    );
    // Persisted.
    let stored = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    assert_eq!(stored.state.exit_code, 3);
    // not-running returns at once for a stopped container.
    assert_eq!(
        f.daemon
            .wait("xx", WaitCondition::NotRunning, async {})
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        f.daemon.kill("xx", None).await.unwrap_err().kind,
        ErrorKind::Conflict
    );
}

#[tokio::test]
async fn failed_start_records_the_error() {
    let f = fixture();
    f.create(Some("mm"), r#"{"Image":"busybox","Cmd":["missing"]}"#)
        .await
        .unwrap();
    let err = f.daemon.start("mm").await.unwrap_err();
    assert!(err.message.contains("executable file not found"));
    let state = f.daemon.inspect("mm").unwrap().state;
    assert_eq!((state.running, state.exit_code), (false, 127));
    assert!(state.error.contains("executable file not found"));
    // With --rm the container does not outlive its failed start.
    f.create(
        Some("rm"),
        r#"{"Image":"busybox","Cmd":["missing"],"HostConfig":{"AutoRemove":true}}"#,
    )
    .await
    .unwrap();
    assert!(f.daemon.start("rm").await.is_err());
    assert!(f.daemon.containers().get("rm").is_err());
    assert!(f.store.get(NAMES, "rm").unwrap().is_none());
}

#[tokio::test]
async fn stop_escalates_to_sigkill() {
    let f = fixture();
    let id = f
        .create(Some("ss"), r#"{"Image":"busybox","Cmd":["ignore-term"]}"#)
        .await
        .unwrap();
    f.daemon.start("ss").await.unwrap();
    f.daemon.stop("ss", Some(0), None).await.unwrap();
    let signals: Vec<i32> = f
        .runtime
        .signals
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(signals, [15, 9]);
    f.wait_status(&id, Status::Exited).await;
    assert_eq!(f.daemon.inspect(&id).unwrap().state.exit_code, 137);
    assert_eq!(
        f.daemon.stop("ss", None, None).await.unwrap_err().kind,
        ErrorKind::NotModified
    );
}

#[tokio::test]
async fn force_remove_kills_a_running_container() {
    let f = fixture();
    f.create(Some("rr"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    f.daemon.start("rr").await.unwrap();
    f.daemon.remove("rr", true).await.unwrap();
    assert_eq!(f.record_count(), 0);
    assert!(f.daemon.containers().get("rr").is_err());
}

#[tokio::test]
async fn attach_before_start_gets_framed_output_and_auto_remove_cleans_up() {
    let f = fixture();
    let id = f
        .create(
            Some("ee"),
            r#"{"Image":"busybox","Cmd":["echo","hi"],"HostConfig":{"AutoRemove":true}}"#,
        )
        .await
        .unwrap();
    let (job, mut streams) = Job::new("container_attach");
    let job = job
        .arg("ee")
        .env("stream", "1")
        .env("stdout", "1")
        .env("stderr", "1");
    let attach = f.engine.spawn(job);
    // The session is set up before the container starts.
    assert!(matches!(
        streams.stdout.next().await,
        Some(crate::job::Chunk::Begin { .. })
    ));
    let waiter = {
        let d = Arc::clone(&f.daemon);
        tokio::spawn(async move { d.wait("ee", WaitCondition::Removed, async {}).await })
    };
    tokio::task::yield_now().await;
    f.daemon.start("ee").await.unwrap();
    let out = streams.stdout.collect().await;
    assert_eq!(out, encode_frame(StreamType::Stdout, b"hi\n"));
    assert_eq!(attach.await.unwrap(), Ok(0));
    assert_eq!(waiter.await.unwrap().unwrap(), 0);
    assert!(f.daemon.containers().get(&id).is_err(), "auto-removed");
    assert_eq!(f.record_count(), 0);
}

#[tokio::test]
async fn attach_with_logs_replays_the_log_first() {
    let f = fixture();
    let id = f
        .create(Some("lg"), r#"{"Image":"busybox","Cmd":["echo","hi"]}"#)
        .await
        .unwrap();
    let attach_logs = |stream: &'static str| {
        let (job, streams) = Job::new("container_attach");
        let job = job
            .arg("lg")
            .env("logs", "1")
            .env("stream", stream)
            .env("stdout", "1")
            .env("stderr", "1");
        (job, streams)
    };
    // Never started: no log, nothing to replay.
    let (job, streams) = attach_logs("0");
    let (result, out) = f.run_job(job, streams).await;
    assert_eq!((result, out.len()), (Ok(0), 0));

    f.daemon.start("lg").await.unwrap();
    f.runtime.exit(&id, 0);
    f.wait_status("lg", Status::Exited).await;
    // logs=1, stream=0: the log (the fake's one stderr record), then end.
    let (job, streams) = attach_logs("0");
    let (result, out) = f.run_job(job, streams).await;
    assert_eq!(result, Ok(0));
    assert_eq!(out, encode_frame(StreamType::Stderr, b"err\n"));

    // logs=1, stream=1 on a stopped container: the log, then the session
    // waits for the next start, whose output follows.
    let (job, mut streams) = attach_logs("1");
    let attach = f.engine.spawn(job);
    assert!(matches!(
        streams.stdout.next().await,
        Some(crate::job::Chunk::Begin { .. })
    ));
    assert!(matches!(
        streams.stdout.next().await,
        Some(crate::job::Chunk::Data(d)) if d == encode_frame(StreamType::Stderr, b"err\n")
    ));
    f.daemon.start("lg").await.unwrap();
    let out = streams.stdout.collect().await;
    assert_eq!(out, encode_frame(StreamType::Stdout, b"hi\n"));
    assert_eq!(attach.await.unwrap(), Ok(0));
}

#[tokio::test]
async fn logs_are_framed_with_optional_timestamps() {
    let f = fixture();
    f.create(Some("ll"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let (job, streams) = Job::new("container_logs");
    let job = job
        .arg("ll")
        .env("stdout", "1")
        .env("stderr", "1")
        .env("timestamps", "1");
    let (result, out) = f.run_job(job, streams).await;
    result.unwrap();
    assert_eq!(
        out,
        encode_frame(StreamType::Stderr, b"2024-01-01T00:00:00Z err\n")
    );
    let (job, streams) = Job::new("container_logs");
    let (result, _) = f.run_job(job.arg("ll"), streams).await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::InvalidParameter);
}

#[tokio::test]
async fn log_drivers_are_checked_at_create_and_none_cannot_be_read() {
    let f = fixture();
    let err = f
        .create(
            Some("bad-log"),
            r#"{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"json-file","Config":{"max-sise":"1m"}}}}"#,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::InvalidParameter,
            "unknown log opt 'max-sise' for json-file log driver"
        )
    );
    assert_eq!(f.record_count(), 0);

    let id = f.create(None, r#"{"Image":"busybox"}"#).await.unwrap();
    let inspect = f.daemon.inspect(&id).unwrap();
    assert_eq!(
        inspect.host_config.log_config.kind, "json-file",
        "the default is filled in"
    );
    assert!(!inspect.log_path.is_empty());

    f.create(
        Some("quiet"),
        r#"{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"none"}}}"#,
    )
    .await
    .unwrap();
    assert_eq!(
        f.daemon.inspect("quiet").unwrap().log_path,
        "",
        "no file, no path"
    );
    let (job, streams) = Job::new("container_logs");
    let job = job.arg("quiet").env("stdout", "1");
    let (result, _) = f.run_job(job, streams).await;
    let err = result.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::NotImplemented,
            "configured logging driver does not support reading"
        )
    );
}

#[tokio::test]
async fn restore_records_exits_that_happened_while_away() {
    let f = fixture();
    let id = f
        .create(Some("pp"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    f.daemon.start("pp").await.unwrap();
    let Fixture { _dir, store, .. } = f;
    // A new daemon over the same store: the shim reports an exit.
    let runtime = Arc::new(FakeRuntime::default());
    *runtime.restored.lock().unwrap() = Some(Restored::Exited(ExitRecord::exited(
        9,
        None,
        berth_model::Timestamp::now(),
    )));
    let f = fixture_with(_dir, store, runtime);
    assert_eq!(f.daemon.restore().await.unwrap(), 1);
    let state = f.daemon.inspect(&id).unwrap().state;
    assert_eq!((state.status, state.exit_code), (Status::Exited, 9));
}

#[tokio::test]
async fn image_import_streams_stdin_to_the_graph_and_publishes_an_event() {
    let f = fixture();
    let mut events = f.engine.events().subscribe();
    let (job, streams) = Job::new("image_import");
    let job = job
        .env("fromSrc", "-")
        .env("repo", "busybox:1")
        .stdin(&b"tarball"[..]);
    let (result, out) = f.run_job(job, streams).await;
    result.unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"status\":\"sha256:imported\"}\n"
    );
    assert_eq!(f.images.calls.lock().unwrap()[0], "import busybox:1 7");
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push((e.kind, e.action, e.actor.attributes.get("name").cloned()));
    }
    assert!(
        seen.contains(&("image".into(), "import".into(), Some("busybox:1".into()))),
        "{seen:?}"
    );
    let (job, streams) = Job::new("image_import");
    let (result, _) = f
        .run_job(job.env("fromSrc", "http://x/y.tar"), streams)
        .await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::InvalidParameter);
}

#[tokio::test]
async fn job_list_shows_the_handler_table() {
    let f = fixture();
    let (job, streams) = Job::new("job_list");
    let (result, out) = f.run_job(job, streams).await;
    result.unwrap();
    let list: Vec<berth_api::job::JobHandlerInfo> = serde_json::from_slice(&out).unwrap();
    let names: Vec<&str> = list.iter().map(|h| h.name.as_str()).collect();
    for wanted in [
        "container_create",
        "container_attach",
        "image_import",
        "system_events",
        "job_list",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
}

#[test]
fn statuses_read_like_dockers() {
    use berth_api::container::State;
    let now = parse_time("2024-05-01T12:00:10Z").unwrap();
    let state = |status, started: &str, finished: &str, exit_code| State {
        status,
        started_at: started.to_owned(),
        finished_at: finished.to_owned(),
        exit_code,
        ..State::default()
    };
    let zero = berth_api::ZERO_TIME;
    let t0 = "2024-05-01T12:00:07Z";
    let t1 = "2024-05-01T12:00:08.5Z";
    assert_eq!(
        human_status(&state(Status::Running, t0, zero, 0), now),
        "Up 3 seconds"
    );
    assert_eq!(
        human_status(&state(Status::Paused, t0, zero, 0), now),
        "Up 3 seconds (Paused)"
    );
    assert_eq!(
        human_status(&state(Status::Exited, t0, t1, 3), now),
        "Exited (3) 1 second ago"
    );
    assert_eq!(
        human_status(&state(Status::Created, zero, zero, 0), now),
        "Created"
    );
    // A start that failed (127) never ran: Docker still says Created.
    assert_eq!(
        human_status(&state(Status::Exited, zero, t1, 127), now),
        "Created"
    );
    assert_eq!(
        human_status(&state(Status::Restarting, t0, t1, 1), now),
        "Restarting (1) 1 second ago"
    );
}

#[tokio::test]
async fn removing_a_container_ends_attach_sessions_waiting_for_its_start() {
    let f = fixture();
    f.create(Some("gone"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let (job, mut streams) = Job::new("container_attach");
    let attach = f
        .engine
        .spawn(job.arg("gone").env("stream", "1").env("stdout", "1"));
    assert!(matches!(
        streams.stdout.next().await,
        Some(crate::job::Chunk::Begin { .. })
    ));
    f.daemon.remove("gone", false).await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), attach)
        .await
        .expect("attach ended");
    assert_eq!(result.unwrap(), Ok(0));
}

#[tokio::test]
async fn restore_removes_auto_remove_containers_that_ended_meanwhile() {
    let f = fixture();
    let id = f
        .create(
            Some("tmp"),
            r#"{"Image":"busybox","HostConfig":{"AutoRemove":true}}"#,
        )
        .await
        .unwrap();
    f.daemon.start("tmp").await.unwrap();
    let Fixture { _dir, store, .. } = f;
    let runtime = Arc::new(FakeRuntime::default());
    *runtime.restored.lock().unwrap() = Some(Restored::Exited(ExitRecord::exited(
        0,
        None,
        berth_model::Timestamp::now(),
    )));
    let f = fixture_with(_dir, store, runtime);
    f.daemon.restore().await.unwrap();
    assert!(f.daemon.containers().get(&id).is_err());
    assert_eq!(f.record_count(), 0);
}

#[tokio::test]
async fn a_removal_cut_short_by_a_crash_leaves_a_dead_container_that_rm_finishes() {
    let f = fixture();
    let id = f
        .create(Some("half"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let mut record = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    record.state.status = Status::Removing;
    f.store.put(CONTAINERS, &id, &record).unwrap();
    let Fixture { _dir, store, .. } = f;
    let f = fixture_with(_dir, store, Arc::new(FakeRuntime::default()));
    f.daemon.restore().await.unwrap();
    assert_eq!(f.daemon.inspect(&id).unwrap().state.status, Status::Dead);
    f.daemon.remove("half", false).await.unwrap();
    assert_eq!(f.record_count(), 0);
}

#[tokio::test]
async fn pause_and_unpause_freeze_and_thaw_with_dockers_errors() {
    let f = fixture();
    let id = f
        .create(Some("pz"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    let err = f.daemon.pause("pz").await.unwrap_err();
    assert_eq!(err.message, format!("Container {id} is not running"));
    f.daemon.start("pz").await.unwrap();
    let err = f.daemon.unpause("pz").await.unwrap_err();
    assert_eq!(err.message, format!("Container {id} is not paused"));

    f.daemon.pause("pz").await.unwrap();
    let state = f.daemon.inspect("pz").unwrap().state;
    assert_eq!(
        (state.status, state.paused, state.running),
        (Status::Paused, true, true)
    );
    assert!(human_status(&state, Utc::now()).ends_with(" (Paused)"));
    let err = f.daemon.pause("pz").await.unwrap_err();
    assert_eq!(err.message, format!("Container {id} is already paused"));
    // The paused state survives in the store.
    let stored = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    assert!(stored.state.paused);

    f.daemon.unpause("pz").await.unwrap();
    let state = f.daemon.inspect("pz").unwrap().state;
    assert_eq!((state.status, state.paused), (Status::Running, false));
    assert_eq!(
        *f.runtime.freezer.lock().unwrap(),
        [(id.clone(), true), (id.clone(), false)]
    );
}

#[tokio::test]
async fn stopping_a_paused_container_thaws_it_after_the_signal() {
    let f = fixture();
    let id = f
        .create(Some("ps"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("ps").await.unwrap();
    f.daemon.pause("ps").await.unwrap();
    // A signal that does not end it leaves it frozen.
    f.daemon.kill("ps", Some("USR1")).await.unwrap();
    assert!(f.daemon.inspect("ps").unwrap().state.paused);
    f.daemon.stop("ps", Some(5), None).await.unwrap();
    let state = f.daemon.inspect("ps").unwrap().state;
    assert_eq!(state.status, Status::Exited);
    assert_eq!(
        *f.runtime.freezer.lock().unwrap(),
        [(id.clone(), true), (id.clone(), false)]
    );
    assert_eq!(
        *f.runtime.signals.lock().unwrap(),
        [(id.clone(), 10), (id.clone(), 15)]
    );
}

#[tokio::test]
async fn a_client_that_left_before_the_start_is_not_attached() {
    let f = fixture();
    f.create(Some("gone"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let (job, mut streams) = Job::new("container_attach");
    let attach = f
        .engine
        .spawn(job.arg("gone").env("stream", "1").env("stdout", "1"));
    assert!(matches!(
        streams.stdout.next().await,
        Some(crate::job::Chunk::Begin { .. })
    ));
    // The client goes away before anyone starts the container.
    drop(streams);
    assert_eq!(attach.await.unwrap(), Ok(0));
    f.daemon.start("gone").await.unwrap();
    assert_eq!(*f.runtime.attach_requests.lock().unwrap(), [false]);
}

#[tokio::test]
async fn a_failed_removal_leaves_a_dead_container_that_rm_retries() {
    let f = fixture();
    let id = f
        .create(Some("stuck"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    // A corrupt name entry makes deleting the record fail.
    let corrupt: berth_store::Table<u64> = berth_store::Table::new("container_names");
    f.store.put(corrupt, "stuck", &7).unwrap();
    let err = f.daemon.remove("stuck", false).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Internal, "{err}");
    let state = f.daemon.inspect("stuck").unwrap().state;
    assert_eq!((state.status, state.dead), (Status::Dead, true));
    assert_eq!(
        f.store.get(CONTAINERS, &id).unwrap().unwrap().state.status,
        Status::Dead
    );
    // Once the store is sound again, rm finishes the job.
    f.store.put(NAMES, "stuck", &id).unwrap();
    f.daemon.remove("stuck", false).await.unwrap();
    assert_eq!(f.record_count(), 0);
    assert!(f.store.get(NAMES, "stuck").unwrap().is_none());
}

#[tokio::test]
async fn restore_removes_what_an_unfinished_create_left() {
    let f = fixture();
    let kept = f
        .create(Some("kept"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    // berthd killed between preparing a container's rootfs and saving its
    // record: a directory and a rootfs that nothing refers to.
    let orphan = names::generate_id();
    std::fs::create_dir_all(f.daemon.config().container_dir(&orphan)).unwrap();
    f.images.rootfs.lock().unwrap().push(orphan.clone());
    // Not a container's: left alone.
    let other = f.daemon.config().containers_root().join("notes");
    std::fs::create_dir_all(&other).unwrap();

    let Fixture {
        _dir,
        store,
        images,
        ..
    } = f;
    let f = fixture_with(_dir, store, Arc::new(FakeRuntime::default()));
    *f.images.rootfs.lock().unwrap() = images.rootfs.lock().unwrap().clone();
    assert_eq!(f.daemon.restore().await.unwrap(), 1);
    assert!(!f.daemon.config().container_dir(&orphan).exists());
    assert_eq!(
        *f.images.rootfs.lock().unwrap(),
        std::slice::from_ref(&kept)
    );
    assert!(f.daemon.config().container_dir(&kept).exists());
    assert!(other.exists());
}

mod create_fields;
mod filters;
mod start_bounds;
