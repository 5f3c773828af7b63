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
use crate::daemon::container::NAMES;
use crate::driver::{
    AttachOptions, AttachStreams, ExitRecord, LOST_EXIT_CODE, LogRecord, RunState, StartRequest,
    Started, StreamKind,
};
use crate::engine::{Engine, Exposure};
use crate::job::{BoxFuture, ErrorKind, Job, JobResult};

#[derive(Default)]
struct FakeImages {
    rootfs: Mutex<Vec<String>>,
    calls: Mutex<Vec<String>>,
    /// Images `list` and `inspect` answer with, when set (else one
    /// busybox image): summaries and their RFC 3339 creation times.
    catalog: Mutex<Vec<(ImageSummary, String)>>,
    /// What `disk_usage` answers.
    usage: Mutex<berth_model::graph::DiskUsage>,
    /// Where `mount_rootfs` makes a container's (empty) root directory
    /// when set (a volume's copy-up reads it); else a path that does not
    /// exist.
    mount_root: Mutex<Option<PathBuf>>,
    /// Files `mount_rootfs` puts in the root it makes (path inside the
    /// root, content): the image's content a volume's copy-up finds.
    image_files: Mutex<Vec<(String, String)>>,
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
        self.calls.lock().unwrap().push(format!("remove {name}"));
        Ok(vec![ImageDeleteItem::Untagged(name.into())])
    }
    fn create_rootfs(&self, id: &str, _: &str) -> Result<(), JobError> {
        self.rootfs.lock().unwrap().push(id.to_owned());
        Ok(())
    }
    fn mount_rootfs(&self, id: &str) -> Result<PathBuf, JobError> {
        self.calls.lock().unwrap().push(format!("mount {id}"));
        if let Some(root) = &*self.mount_root.lock().unwrap() {
            std::fs::create_dir_all(root.join(id)).unwrap();
            for (path, content) in &*self.image_files.lock().unwrap() {
                let file = root.join(id).join(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, content).unwrap();
            }
            return Ok(root.join(id));
        }
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
    fn disk_usage(&self) -> Result<berth_model::graph::DiskUsage, JobError> {
        self.calls.lock().unwrap().push("disk_usage".into());
        Ok(self.usage.lock().unwrap().clone())
    }
    fn changes(&self, id: &str) -> Result<Vec<berth_api::container::FilesystemChange>, JobError> {
        self.calls.lock().unwrap().push(format!("changes {id}"));
        Ok(vec![berth_api::container::FilesystemChange {
            path: "/etc/hosts".into(),
            kind: 0,
        }])
    }
    fn path_stat(
        &self,
        fs: &berth_model::files::ContainerFs,
        container: &str,
        path: &str,
    ) -> Result<berth_model::files::PathStat, JobError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("stat {} {container} {path}", fs.root.display()));
        Ok(fake_stat(path))
    }
    fn archive_path(
        &self,
        fs: &berth_model::files::ContainerFs,
        container: &str,
        path: &str,
        on_stat: &mut dyn FnMut(&berth_model::files::PathStat) -> std::io::Result<()>,
        out: &mut dyn std::io::Write,
    ) -> Result<(), JobError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("archive {} {container} {path}", fs.root.display()));
        on_stat(&fake_stat(path)).unwrap();
        out.write_all(b"tar bytes").unwrap();
        Ok(())
    }
    fn extract_to_dir(
        &self,
        fs: &berth_model::files::ContainerFs,
        container: &str,
        path: &str,
        options: &berth_model::files::ExtractOptions,
        input: &mut dyn Read,
    ) -> Result<(), JobError> {
        let mut data = Vec::new();
        input.read_to_end(&mut data).unwrap();
        let mounts: Vec<String> = fs
            .mounts
            .iter()
            .map(|m| format!("{}={:?}", m.destination.display(), m.source))
            .collect();
        self.calls.lock().unwrap().push(format!(
            "extract {} {container} {path} {} {:?} {} [{}]",
            fs.root.display(),
            data.len(),
            options.copy_uid_gid,
            options.no_overwrite_dir_non_dir,
            mounts.join(",")
        ));
        Ok(())
    }
    fn load(
        &self,
        mut source: Box<dyn Read + Send>,
    ) -> Result<crate::driver::LoadReport, JobError> {
        let mut data = Vec::new();
        source.read_to_end(&mut data).unwrap();
        self.calls
            .lock()
            .unwrap()
            .push(format!("load {}", data.len()));
        if data.starts_with(b"bad") {
            return Err(JobError::invalid(
                "invalid image archive: not a tar archive",
            ));
        }
        Ok(crate::driver::LoadReport {
            images: vec![
                crate::driver::LoadedImage {
                    id: "sha256:aaaa".into(),
                    tags: vec!["app:1".into(), "app:2".into()],
                },
                crate::driver::LoadedImage {
                    id: "sha256:bbbb".into(),
                    tags: vec![],
                },
            ],
            warnings: vec![],
        })
    }
    fn commit(&self, request: &crate::driver::CommitRequest) -> Result<String, JobError> {
        self.calls.lock().unwrap().push(format!(
            "commit {} {}:{} {:?} {:?} {}",
            request.container_id,
            request.repo,
            request.tag,
            request.changes,
            request.defaults.cmd,
            request.created_by
        ));
        Ok("sha256:committed".into())
    }
    fn save(&self, names: &[String], out: &mut dyn std::io::Write) -> Result<(), JobError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("save {}", names.join(",")));
        if names.iter().any(|n| n == "nope") {
            return Err(JobError::not_found("No such image: nope"));
        }
        out.write_all(&vec![b't'; 200 * 1024]).unwrap();
        Ok(())
    }
    fn history(&self, name: &str) -> Result<Vec<crate::driver::HistoryEntry>, JobError> {
        self.calls.lock().unwrap().push(format!("history {name}"));
        if name != "busybox" {
            return Err(JobError::not_found(format!("No such image: {name}")));
        }
        Ok(vec![
            crate::driver::HistoryEntry {
                id: "sha256:feed".into(),
                created: 2,
                created_by: "RUN x".into(),
                tags: vec!["busybox:latest".into()],
                size: 10,
                comment: "c".into(),
            },
            crate::driver::HistoryEntry {
                id: "<missing>".into(),
                created: 1,
                created_by: "ADD rootfs".into(),
                tags: vec![],
                size: 0,
                comment: String::new(),
            },
        ])
    }
}

fn fake_stat(path: &str) -> berth_model::files::PathStat {
    berth_model::files::PathStat {
        name: path.rsplit('/').next().unwrap_or_default().to_owned(),
        size: 9,
        mode: 0o644,
        mtime: "2024-01-01T00:00:00Z".into(),
        link_target: String::new(),
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
    restored: Mutex<Option<RunState>>,
    /// `StartRequest::container` of every start, in order.
    started: Mutex<Vec<berth_model::container::ContainerModel>>,
    /// `StartRequest::network` of every start, in order.
    started_networks: Mutex<Vec<berth_model::network::NetworkSetup>>,
    /// The ids `processes` was asked for, in order.
    processes_asked: Mutex<Vec<String>>,
    /// What `processes` answers.
    pids: Mutex<Vec<u32>>,
    /// `exec` calls: container id, exec id, the process asked for.
    execs: Mutex<Vec<(String, String, berth_model::exec_process::ExecProcessConfig)>>,
    /// Exec processes that run until [`FakeRuntime::end_exec`].
    exec_exits: Mutex<HashMap<String, tokio::sync::oneshot::Sender<i32>>>,
    /// `resize_exec` calls: exec id, height, width.
    exec_resizes: Mutex<Vec<(String, u16, u16)>>,
    /// `kill_exec` calls: container id, exec id, signal. A running `wait`
    /// process ends with 128 + the signal; `stubborn` ignores it.
    exec_kills: Mutex<Vec<(String, String, i32)>>,
    /// When each start was asked for, on tokio's clock.
    start_times: Mutex<Vec<tokio::time::Instant>>,
    /// The resources of every `update`, in order.
    updates: Mutex<Vec<berth_model::container::Resources>>,
    /// `update` fails with this message (the driver wrote the old limits
    /// back).
    update_fails: Mutex<Option<String>>,
    /// The ids `stats` was asked for, in order.
    stats_asked: Mutex<Vec<String>>,
    /// What `stats` answers for a started container, one a call (the
    /// last one again when they run out); `None` as if it had exited.
    samples: Mutex<Vec<Option<berth_model::stats::ResourceSample>>>,
    /// `update_resolver` calls, in order.
    resolvers: Mutex<Vec<ResolverCall>>,
}

/// An `update_resolver` call: container id, resolver before, after.
type ResolverCall = (
    String,
    berth_model::dns::Resolver,
    berth_model::dns::Resolver,
);

/// What `events` has received so far, as `pick` keeps it (the tests of
/// restart policies, execs and health checks each look at their own).
fn events_seen<T>(
    events: &mut tokio::sync::broadcast::Receiver<berth_api::event::EventMessage>,
    mut pick: impl FnMut(berth_api::event::EventMessage) -> Option<T>,
) -> Vec<T> {
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.extend(pick(e));
    }
    seen
}

impl FakeRuntime {
    /// The `kill` calls so far: container id, signal.
    fn signals_sent(&self) -> Vec<(String, i32)> {
        self.signals.lock().unwrap().clone()
    }

    /// Ends exec process `exec_id` (one started with `wait`) with `code`.
    fn end_exec(&self, exec_id: &str, code: i32) {
        let tx = self.exec_exits.lock().unwrap().remove(exec_id).unwrap();
        tx.send(code).unwrap();
    }

    fn exit(&self, id: &str, code: i64) {
        let proc = self.procs.lock().unwrap().get(id).cloned().unwrap();
        proc.exit.send_replace(Some(code));
    }
}

impl ExecService for Arc<FakeRuntime> {
    fn validate(&self, container: &berth_model::container::ContainerModel) -> Result<(), JobError> {
        // A driver whose bounding set is Docker's default set.
        let security = &container.security;
        match security.capabilities.apply(
            security.privileged,
            berth_model::container::CapabilitySet::docker_default(),
        ) {
            Err(missing) => Err(JobError::invalid(format!(
                "fake: {missing} is not available"
            ))),
            Ok(_) => Ok(()),
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
        self.started.lock().unwrap().push(request.container.clone());
        self.started_networks
            .lock()
            .unwrap()
            .push(request.network.clone());
        self.start_times
            .lock()
            .unwrap()
            .push(tokio::time::Instant::now());
        Box::pin(async move {
            let argv = request.container.process.command.args().to_vec();
            // A start that never ends, like one stuck on a FIFO in the image.
            if argv.first().map(String::as_str) == Some("hang") {
                return std::future::pending().await;
            }
            if argv.first().map(String::as_str) == Some("missing") {
                return Err(JobError::invalid(
                    "exec: \"missing\": executable file not found in $PATH",
                ));
            }
            // The process runs only once its network is set up, as the
            // exec driver holds it.
            request.network_ready.clone().wait().await?;
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
            Ok(Started {
                pid: 4242,
                started_at: berth_model::Timestamp::now(),
                attach,
            })
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
    fn processes(&self, id: &str) -> BoxFuture<Result<Vec<u32>, JobError>> {
        self.processes_asked.lock().unwrap().push(id.to_owned());
        let pids = self.pids.lock().unwrap().clone();
        Box::pin(async move { Ok(pids) })
    }
    fn stats(&self, id: &str) -> Result<Option<berth_model::stats::ResourceSample>, JobError> {
        self.stats_asked.lock().unwrap().push(id.to_owned());
        let mut samples = self.samples.lock().unwrap();
        match samples.len() {
            0 => Err(JobError::conflict("no sample in the fake")),
            1 => Ok(samples[0].clone()),
            _ => Ok(samples.remove(0)),
        }
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
                stream: StreamKind::Stderr,
                time: berth_model::Timestamp::from_unix(1_704_067_200, 0),
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
    fn restore(&self, _: &str) -> BoxFuture<Result<RunState, JobError>> {
        let r = self.restored.lock().unwrap().clone();
        Box::pin(async move { r.ok_or_else(|| JobError::not_found("nothing to restore")) })
    }
    /// Exec processes by their command: `missing` cannot start (127),
    /// `echo WORDS` prints them, `exit N` exits N, `cat` echoes its stdin
    /// until it closes, `wait` runs until [`FakeRuntime::end_exec`].
    fn exec(
        &self,
        id: &str,
        exec_id: &str,
        _: &berth_model::container::ContainerModel,
        config: &berth_model::exec_process::ExecProcessConfig,
    ) -> BoxFuture<Result<crate::driver::ExecLaunch, JobError>> {
        use crate::driver::{ExecLaunch, ExecStreams};
        use tokio::io::AsyncReadExt;
        self.execs
            .lock()
            .unwrap()
            .push((id.to_owned(), exec_id.to_owned(), config.clone()));
        let argv = config.command.clone();
        let (end_tx, end_rx) = tokio::sync::oneshot::channel::<i32>();
        if argv[0] == "wait" || argv[0] == "stubborn" {
            self.exec_exits
                .lock()
                .unwrap()
                .insert(exec_id.to_owned(), end_tx);
        } else {
            drop(end_tx);
        }
        Box::pin(async move {
            if argv[0] == "missing" {
                return Ok(ExecLaunch::Failed(ExitRecord::failed(
                    127,
                    "exec: \"missing\": executable file not found in $PATH",
                    berth_model::Timestamp::now(),
                )));
            }
            let (out_tx, mut out_rx) = mpsc::channel::<(StreamType, Bytes)>(8);
            let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
            let (stdin, mut process_in) = tokio::io::duplex(1024);
            let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(async move {
                let code = match argv[0].as_str() {
                    "echo" => {
                        let line = Bytes::from(format!("{}\n", argv[1..].join(" ")));
                        out_tx.send((StreamType::Stdout, line)).await.unwrap();
                        0
                    }
                    "exit" => argv[1].parse().unwrap(),
                    "cat" => {
                        let mut buf = [0u8; 64];
                        loop {
                            match process_in.read(&mut buf).await {
                                Ok(0) | Err(_) => break 0,
                                Ok(n) => out_tx
                                    .send((StreamType::Stdout, Bytes::copy_from_slice(&buf[..n])))
                                    .await
                                    .unwrap(),
                            }
                        }
                    }
                    _ => end_rx.await.unwrap_or(137),
                };
                drop(out_tx);
                // The exit comes once the output has ended, as from the shim.
                let _ = done_rx.await;
                let _ = exit_tx.send(ExitRecord::exited(
                    code,
                    None,
                    berth_model::Timestamp::now(),
                ));
            });
            let output = futures_util::stream::poll_fn(move |cx| out_rx.poll_recv(cx));
            let mut done = Some(done_tx);
            let output = futures_util::StreamExt::chain(
                output,
                futures_util::stream::poll_fn(move |_| {
                    if let Some(done) = done.take() {
                        let _ = done.send(());
                    }
                    std::task::Poll::Ready(None)
                }),
            );
            Ok(ExecLaunch::Running(ExecStreams {
                pid: 777,
                streams: AttachStreams {
                    stdin: Some(Box::new(stdin)),
                    output: Box::pin(output),
                },
                exit: exit_rx,
            }))
        })
    }
    fn resize_exec(
        &self,
        _: &str,
        exec_id: &str,
        h: u16,
        w: u16,
    ) -> BoxFuture<Result<(), JobError>> {
        self.exec_resizes
            .lock()
            .unwrap()
            .push((exec_id.to_owned(), h, w));
        Box::pin(async { Ok(()) })
    }
    fn kill_exec(&self, id: &str, exec_id: &str, signal: i32) -> BoxFuture<Result<bool, JobError>> {
        self.exec_kills
            .lock()
            .unwrap()
            .push((id.to_owned(), exec_id.to_owned(), signal));
        let stubborn = self
            .execs
            .lock()
            .unwrap()
            .iter()
            .any(|(_, e, config)| e == exec_id && config.command[0] == "stubborn");
        let waiting = self.exec_exits.lock().unwrap().remove(exec_id);
        let running = match waiting {
            Some(tx) if stubborn => {
                self.exec_exits
                    .lock()
                    .unwrap()
                    .insert(exec_id.to_owned(), tx);
                true
            }
            Some(tx) => tx.send(128 + signal).is_ok(),
            None => false,
        };
        Box::pin(async move { Ok(running) })
    }
    fn update_resolver(
        &self,
        id: &str,
        _: &berth_model::dns::DnsConfig,
        before: &berth_model::dns::Resolver,
        after: &berth_model::dns::Resolver,
    ) -> Result<bool, JobError> {
        self.resolvers
            .lock()
            .unwrap()
            .push((id.to_owned(), before.clone(), after.clone()));
        Ok(true)
    }

    fn update(
        &self,
        _: &str,
        container: berth_model::container::ContainerModel,
        _: berth_model::container::ContainerModel,
    ) -> BoxFuture<Result<(), JobError>> {
        let failure = self.update_fails.lock().unwrap().clone();
        if failure.is_none() {
            self.updates.lock().unwrap().push(container.resources);
        }
        Box::pin(async move {
            match failure {
                Some(message) => Err(JobError::new(ErrorKind::Internal, message)),
                None => Ok(()),
            }
        })
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    daemon: Arc<Daemon>,
    engine: Arc<Engine>,
    images: Arc<FakeImages>,
    runtime: Arc<FakeRuntime>,
    /// The recording network driver (kept across [`Fixture::restart`], as
    /// the kernel's state survives berthd).
    network: Arc<network_fake::FakeNetwork>,
    store: Store,
    /// The volumes' own mounts (kept across [`Fixture::restart`], as the
    /// kernel's mount table survives berthd).
    mounter: berth_volume::RecordingMounter,
}

/// A daemon over a fresh store with the fake drivers.
fn fixture() -> Fixture {
    FixtureBuilder::default().build()
}

/// Builds a [`Fixture`]: the exec driver it finds and how long a start may
/// take, over a fresh store or (through [`Fixture::restart`]) an old
/// daemon's.
struct FixtureBuilder {
    /// The data root and its store; a fresh pair unless a restart.
    data: Option<(tempfile::TempDir, Store)>,
    runtime: Arc<FakeRuntime>,
    start_timeout: Duration,
    /// The network driver; a fresh fake unless a restart.
    network: Option<Arc<network_fake::FakeNetwork>>,
    /// The volumes' mounter; a fresh fake unless a restart.
    mounter: Option<berth_volume::RecordingMounter>,
}

impl Default for FixtureBuilder {
    fn default() -> FixtureBuilder {
        FixtureBuilder {
            data: None,
            runtime: Arc::new(FakeRuntime::default()),
            start_timeout: DEFAULT_START_TIMEOUT,
            network: None,
            mounter: None,
        }
    }
}

impl FixtureBuilder {
    /// The exec driver the daemon finds (and the test inspects).
    fn runtime(mut self, runtime: Arc<FakeRuntime>) -> FixtureBuilder {
        self.runtime = runtime;
        self
    }

    /// A start gives up after `start_timeout`.
    fn start_timeout(mut self, start_timeout: Duration) -> FixtureBuilder {
        self.start_timeout = start_timeout;
        self
    }

    fn build(self) -> Fixture {
        let (dir, store) = self.data.unwrap_or_else(|| {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_in(dir.path()).unwrap();
            (dir, store)
        });
        let images = Arc::new(FakeImages::default());
        *images.mount_root.lock().unwrap() = Some(dir.path().join("rootfs"));
        let engine = Engine::new();
        let config = DaemonConfig {
            data_root: dir.path().to_owned(),
            exec_root: dir.path().join("exec"),
            sysinfo: Default::default(),
            start_timeout: self.start_timeout,
            default_bridge: Default::default(),
            default_ipv6_pool: crate::daemon::ipam::default_ipv6_pool("test-engine"),
        };
        let network = self.network.unwrap_or_else(|| {
            Arc::new(network_fake::FakeNetwork::new(
                dir.path().join("exec").join("netns"),
            ))
        });
        let mut daemon = Daemon::with_network(
            config,
            store.clone(),
            Arc::clone(&images) as Arc<dyn ImageService>,
            Arc::new(Arc::clone(&self.runtime)),
            Arc::clone(&network) as Arc<dyn crate::driver::NetworkService>,
            Arc::clone(engine.events()),
        );
        // No kernel mounts in unit tests: volumes' own mounts are recorded.
        let mounter = self.mounter.unwrap_or_default();
        let inner = Arc::get_mut(&mut daemon).expect("nothing holds the new daemon yet");
        inner.volumes = inner
            .volumes
            .clone()
            .with_mounter(Arc::new(mounter.clone()));
        handlers::register_all(&engine, &daemon, handlers::SystemFacts::default());
        Fixture {
            _dir: dir,
            daemon,
            engine,
            images,
            runtime: self.runtime,
            network,
            store,
            mounter,
        }
    }
}

impl FakeRuntime {
    /// An exec driver whose shims report `exit_code` on restore.
    fn exited_meanwhile(exit_code: i32) -> Arc<FakeRuntime> {
        let runtime = FakeRuntime::default();
        *runtime.restored.lock().unwrap() = Some(RunState::Exited(ExitRecord::exited(
            exit_code,
            None,
            berth_model::Timestamp::now(),
        )));
        Arc::new(runtime)
    }
}

fn request(json: &str) -> CreateRequest {
    serde_json::from_str(json).unwrap()
}

impl Fixture {
    /// berthd restarted: a new daemon (fresh fake images) over this one's
    /// store and data root, finding `runtime` as its exec driver.
    fn restart(self, runtime: Arc<FakeRuntime>) -> Fixture {
        FixtureBuilder {
            data: Some((self._dir, self.store)),
            network: Some(self.network),
            mounter: Some(self.mounter),
            ..FixtureBuilder::default()
        }
        .runtime(runtime)
        .build()
    }

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

mod aliases;
mod archive;
mod attach;
mod compose;
mod connect;
mod create;
mod create_fields;
mod dns;
mod endpoints;
mod exec;
mod filters;
mod health;
mod image_archive;
mod jobs;
mod list;
mod logs;
mod name_service;
mod names_fake;
mod network;
mod network_fake;
mod network_policy;
mod networks;
mod prune;
mod prune_unowned;
mod publish;
mod remove;
mod rename;
mod restart;
mod restart_policy;
mod restore;
mod start;
mod start_bounds;
mod stats;
mod stop;
mod subnet_policy;
mod teardown;
mod top;
mod update;
mod volumes;
