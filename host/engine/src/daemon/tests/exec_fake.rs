//! A fake exec driver: simulated processes a test ends, every call
//! recorded.

use super::*;

/// A process simulated by the fake runtime.
pub(crate) struct FakeProc {
    pub(crate) exit: watch::Sender<Option<i64>>,
    pub(crate) ignores_term: bool,
}

#[derive(Default)]
pub(crate) struct FakeRuntime {
    pub(crate) procs: Mutex<HashMap<String, Arc<FakeProc>>>,
    pub(crate) signals: Mutex<Vec<(String, i32)>>,
    /// `StartRequest::attach` of every start, in order.
    pub(crate) attach_requests: Mutex<Vec<bool>>,
    /// `pause` (true) and `resume` (false) calls, in order.
    pub(crate) freezer: Mutex<Vec<(String, bool)>>,
    pub(crate) restored: Mutex<Option<RunState>>,
    /// `StartRequest::container` of every start, in order.
    pub(crate) started: Mutex<Vec<berth_model::container::ContainerModel>>,
    /// `StartRequest::network` of every start, in order.
    pub(crate) started_networks: Mutex<Vec<berth_model::network::NetworkSetup>>,
    /// The ids `processes` was asked for, in order.
    pub(crate) processes_asked: Mutex<Vec<String>>,
    /// What `processes` answers.
    pub(crate) pids: Mutex<Vec<u32>>,
    /// `exec` calls: container id, exec id, the process asked for.
    pub(crate) execs: Mutex<Vec<(String, String, berth_model::exec_process::ExecProcessConfig)>>,
    /// Exec processes that run until [`FakeRuntime::end_exec`].
    pub(crate) exec_exits: Mutex<HashMap<String, tokio::sync::oneshot::Sender<i32>>>,
    /// `resize_exec` calls: exec id, height, width.
    pub(crate) exec_resizes: Mutex<Vec<(String, u16, u16)>>,
    /// `kill_exec` calls: container id, exec id, signal. A running `wait`
    /// process ends with 128 + the signal; `stubborn` ignores it.
    pub(crate) exec_kills: Mutex<Vec<(String, String, i32)>>,
    /// When each start was asked for, on tokio's clock.
    pub(crate) start_times: Mutex<Vec<tokio::time::Instant>>,
    /// The resources of every `update`, in order.
    pub(crate) updates: Mutex<Vec<berth_model::container::Resources>>,
    /// `update` fails with this message (the driver wrote the old limits
    /// back).
    pub(crate) update_fails: Mutex<Option<String>>,
    /// The ids `stats` was asked for, in order.
    pub(crate) stats_asked: Mutex<Vec<String>>,
    /// What `stats` answers for a started container, one a call (the
    /// last one again when they run out); `None` as if it had exited.
    pub(crate) samples: Mutex<Vec<Option<berth_model::stats::ResourceSample>>>,
    /// `update_resolver` calls, in order.
    pub(crate) resolvers: Mutex<Vec<ResolverCall>>,
}

/// An `update_resolver` call: container id, resolver before, after.
pub(crate) type ResolverCall = (
    String,
    berth_model::dns::Resolver,
    berth_model::dns::Resolver,
);

impl FakeRuntime {
    /// The `kill` calls so far: container id, signal.
    pub(crate) fn signals_sent(&self) -> Vec<(String, i32)> {
        self.signals.lock().unwrap().clone()
    }

    /// Ends exec process `exec_id` (one started with `wait`) with `code`.
    pub(crate) fn end_exec(&self, exec_id: &str, code: i32) {
        let tx = self.exec_exits.lock().unwrap().remove(exec_id).unwrap();
        tx.send(code).unwrap();
    }

    pub(crate) fn exit(&self, id: &str, code: i64) {
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

impl FakeRuntime {
    /// An exec driver whose shims report `exit_code` on restore.
    pub(crate) fn exited_meanwhile(exit_code: i32) -> Arc<FakeRuntime> {
        let runtime = FakeRuntime::default();
        *runtime.restored.lock().unwrap() = Some(RunState::Exited(ExitRecord::exited(
            exit_code,
            None,
            berth_model::Timestamp::now(),
        )));
        Arc::new(runtime)
    }
}
