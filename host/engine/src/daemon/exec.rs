//! `docker exec`: run another process in a running container (moby
//! `daemon/exec.go`).
//!
//! An exec is created (`POST /containers/{id}/exec`: validated, given an
//! id, kept in memory), then started once (`POST /exec/{id}/start`): the
//! exec driver runs it in the container's shim, and the client's session
//! streams it like an attach. Its exit code is recorded *before* the
//! client's stream is closed, so that a client that inspects the exec as
//! soon as its stream ends (the docker CLI does, for its exit status) reads
//! the final code. Execs live in memory only, as in moby: after a daemon
//! restart an old id is "No such exec instance". A finished exec is
//! forgotten [`EXEC_RETENTION`] after it ended (moby's exec GC runs every 5
//! minutes and removes execs that ended before its previous run).
//!
//! [`Daemon::exec_collect`] runs a process to completion and returns its
//! exit code and output, for callers inside the engine (health checks).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_api::escape::DetachKeys;
use berth_api::exec::{ExecCreateRequest, ExecInspect, ExecProcessConfig as WireProcessConfig};
use berth_api::stream::StreamType;
use berth_model::exec::AttachOptions;
use berth_model::exec_process::ExecProcessConfig;
use tokio::io::AsyncWriteExt;
use tokio::sync::{oneshot, watch};

use crate::daemon::Daemon;
use crate::daemon::attach::ClientOutput;
use crate::daemon::container::Container;
use crate::daemon::detach::{InputEnd, forward_input, on_detach};
use crate::driver::{ExecLaunch, ExecStreams, ExitRecord, LOST_EXIT_CODE};
use crate::job::{JobError, JobOutput, JobStdin};

/// How long a finished exec stays inspectable.
pub const EXEC_RETENTION: Duration = Duration::from_secs(5 * 60);

/// How long a resize waits for the exec to start (moby's
/// `ContainerExecResize`: 10 s, "timeout waiting for exec session ready").
const RESIZE_WAIT: Duration = Duration::from_secs(10);

/// Where an exec is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecPhase {
    /// Created, not started.
    #[default]
    Created,
    /// Its start is under way or its process runs.
    Running {
        /// Host pid, once the process runs (0 before).
        pid: i32,
    },
    /// Its process ended (or never started) with this exit code.
    Exited {
        /// Docker's exit code.
        exit_code: i32,
        /// Host pid it had (0 when it never ran).
        pid: i32,
    },
}

/// One exec, as `GET /exec/{id}/json` shows it.
#[derive(Debug)]
pub struct ExecSession {
    /// 64 hex digits.
    pub id: String,
    /// The container it runs in.
    pub container_id: String,
    /// What it runs.
    pub config: ExecProcessConfig,
    /// The detach key sequence, as moby keeps it.
    pub detach_keys: Vec<u8>,
    phase: watch::Sender<ExecPhase>,
    /// When it ended, for [`EXEC_RETENTION`].
    ended: Mutex<Option<Instant>>,
}

impl ExecSession {
    /// Where it is now.
    pub fn phase(&self) -> ExecPhase {
        *self.phase.borrow()
    }

    /// Subscribes to its phase changes.
    pub fn watch(&self) -> watch::Receiver<ExecPhase> {
        self.phase.subscribe()
    }

    fn set(&self, phase: ExecPhase) {
        if matches!(phase, ExecPhase::Exited { .. }) {
            *self.ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
        self.phase.send_replace(phase);
    }

    /// moby's exec events name the command: `exec_start: sh -c exit 3`
    /// (entrypoint, a space, the arguments joined: `true ` without any).
    fn event_action(&self, verb: &str) -> String {
        let (entrypoint, args) = self
            .config
            .command
            .split_first()
            .map_or(("", &[][..]), |(e, a)| (e.as_str(), a));
        format!("{verb}: {entrypoint} {}", args.join(" "))
    }

    /// The inspect answer.
    pub fn inspect(&self) -> ExecInspect {
        let (running, exit_code, pid) = match self.phase() {
            ExecPhase::Created => (false, None, 0),
            ExecPhase::Running { pid } => (true, None, pid),
            ExecPhase::Exited { exit_code, pid } => (false, Some(exit_code), pid),
        };
        let (entrypoint, arguments) = match self.config.command.split_first() {
            Some((e, a)) => (e.clone(), a.to_vec()),
            None => (String::new(), Vec::new()),
        };
        use base64::Engine as _;
        ExecInspect {
            id: self.id.clone(),
            running,
            exit_code,
            process_config: WireProcessConfig {
                tty: self.config.tty,
                entrypoint,
                arguments,
                privileged: Some(self.config.privileged),
                user: (!self.config.user.is_empty()).then(|| self.config.user.clone()),
            },
            open_stdin: self.config.attach.stdin,
            open_stderr: self.config.attach.stderr,
            open_stdout: self.config.attach.stdout,
            can_remove: false,
            container_id: self.container_id.clone(),
            detach_keys: base64::engine::general_purpose::STANDARD.encode(&self.detach_keys),
            pid,
        }
    }
}

/// The daemon's execs, by id (moby's `daemon.execCommands`).
#[derive(Debug, Default)]
pub struct ExecStore {
    map: Mutex<HashMap<String, Arc<ExecSession>>>,
}

impl ExecStore {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ExecSession>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The exec `id` (moby: 404 "No such exec instance: ID").
    pub fn get(&self, id: &str) -> Result<Arc<ExecSession>, JobError> {
        self.map()
            .get(id)
            .cloned()
            .ok_or_else(|| JobError::not_found(format!("No such exec instance: {id}")))
    }

    /// The ids of the container's execs that have not ended (inspect's
    /// `ExecIDs`), sorted.
    pub fn running_ids(&self, container_id: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .map()
            .values()
            .filter(|e| e.container_id == container_id)
            .filter(|e| !matches!(e.phase(), ExecPhase::Exited { .. }))
            .map(|e| e.id.clone())
            .collect();
        ids.sort();
        ids
    }

    fn insert(&self, session: Arc<ExecSession>) {
        let mut map = self.map();
        // Forget the execs that ended long enough ago.
        map.retain(|_, e| {
            let ended = *e.ended.lock().unwrap_or_else(|p| p.into_inner());
            ended.is_none_or(|at| at.elapsed() <= EXEC_RETENTION)
        });
        map.insert(session.id.clone(), session);
    }
}

/// What moby's `getActiveContainer` and `getExecConfig` refuse: a
/// container that is not running, paused or restarting (409 each).
fn check_active(container: &Container, reference: &str) -> Result<(), JobError> {
    let inner = container.lock();
    let state = &inner.record.state;
    if !state.running {
        return Err(JobError::conflict(format!(
            "Container {} is not running",
            container.id
        )));
    }
    if state.paused {
        return Err(JobError::conflict(format!(
            "Container {reference} is paused, unpause the container before exec"
        )));
    }
    if state.restarting {
        return Err(JobError::conflict(format!(
            "Container {} is restarting, wait until the container is running",
            container.id
        )));
    }
    Ok(())
}

/// moby `daemon/exec.go`: the exec's `DetachKeys` in `term.ToBytes`
/// syntax; "Invalid escape keys (KEYS) provided" otherwise.
pub fn parse_detach_keys(keys: &str) -> Result<DetachKeys, JobError> {
    DetachKeys::parse(keys)
        .map_err(|_| JobError::invalid(format!("Invalid escape keys ({keys}) provided")))
}

/// A `[height, width]` console size from the wire.
pub fn console_size(size: Option<&[u64]>) -> Result<Option<(u16, u16)>, JobError> {
    match size {
        None => Ok(None),
        Some([h, w]) => match (u16::try_from(*h), u16::try_from(*w)) {
            (Ok(h), Ok(w)) => Ok(Some((h, w))),
            _ => Err(JobError::invalid(format!(
                "invalid ConsoleSize: [{h}, {w}]"
            ))),
        },
        Some(other) => Err(JobError::invalid(format!(
            "invalid ConsoleSize: {other:?}: want [height, width]"
        ))),
    }
}

/// What `POST /exec/{id}/start` asks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecStartOptions {
    /// Start it and return: no streams.
    pub detach: bool,
    /// Terminal size over the create's.
    pub console_size: Option<(u16, u16)>,
}

/// What [`Daemon::exec_collect`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Docker's exit code.
    pub exit_code: i32,
    /// Stdout and stderr as they came, up to the limit asked.
    pub output: Vec<u8>,
}

impl Daemon {
    /// `POST /containers/{id}/exec`: validates the request, keeps the exec
    /// and returns its id. Emits `exec_create: CMD`.
    pub async fn exec_create(
        &self,
        reference: &str,
        request: ExecCreateRequest,
    ) -> Result<String, JobError> {
        let command = request.cmd.clone().unwrap_or_default();
        if command.is_empty() {
            // moby `execCommandError`.
            return Err(JobError::invalid("No exec command specified"));
        }
        let container = self.containers.get(reference)?;
        // docker-py sends the container again in the body; moby ignores
        // it, berthd makes sure it says the same as the path.
        if !request.container.is_empty()
            && self.containers.get(&request.container)?.id != container.id
        {
            return Err(JobError::invalid(format!(
                "Container in the body ({}) is not the container of the path ({reference})",
                request.container
            )));
        }
        check_active(&container, reference)?;
        // Kept as given (none: empty, as moby's inspect shows it); the
        // start falls back to ctrl-p,ctrl-q.
        let detach_keys = if request.detach_keys.is_empty() {
            Vec::new()
        } else {
            parse_detach_keys(&request.detach_keys)?.as_bytes().to_vec()
        };
        if !request.working_dir.is_empty() && !request.working_dir.starts_with('/') {
            return Err(JobError::invalid(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                request.working_dir
            )));
        }
        let console_size = console_size(request.console_size.as_deref())?;
        let record = container.record();
        // moby: the container's User and WorkingDir when the exec has none.
        let user = if request.user.is_empty() {
            record.config.user.clone()
        } else {
            request.user.clone()
        };
        let working_dir = if request.working_dir.is_empty() {
            Some(record.config.working_dir.clone()).filter(|d| !d.is_empty())
        } else {
            Some(request.working_dir.clone())
        };
        let session = Arc::new(ExecSession {
            id: crate::daemon::names::generate_id(),
            container_id: container.id.clone(),
            config: ExecProcessConfig {
                command,
                env: request.env.unwrap_or_default(),
                working_dir,
                user,
                tty: request.tty,
                privileged: request.privileged,
                console_size,
                attach: AttachOptions {
                    stdin: request.attach_stdin,
                    stdout: request.attach_stdout,
                    stderr: request.attach_stderr,
                },
            },
            detach_keys,
            phase: watch::Sender::new(ExecPhase::Created),
            ended: Mutex::new(None),
        });
        self.execs.insert(Arc::clone(&session));
        self.container_event(
            &session.event_action("exec_create"),
            &record,
            &[("execID", session.id.clone())],
        );
        Ok(session.id.clone())
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, id: &str) -> Result<ExecInspect, JobError> {
        Ok(self.execs.get(id)?.inspect())
    }

    /// The exec `id` and its container, which must still be active
    /// (moby's `getExecConfig`).
    fn active_exec(&self, id: &str) -> Result<(Arc<ExecSession>, Arc<Container>), JobError> {
        let session = self.execs.get(id)?;
        let container = self.containers.get(&session.container_id)?;
        check_active(&container, &session.container_id)?;
        Ok((session, container))
    }

    /// Marks the exec started (moby: 409 when it runs or ran already) and
    /// runs it; emits `exec_start: CMD`.
    async fn launch(
        &self,
        id: &str,
        console_size: Option<(u16, u16)>,
    ) -> Result<(Arc<ExecSession>, ExecLaunch), JobError> {
        let claimed = self.claim(id, console_size)?;
        let session = Arc::clone(&claimed.session);
        Ok((session, self.run_claimed(claimed).await?))
    }

    /// Marks the exec started (moby: 409 when it runs or ran already) and
    /// emits `exec_start: CMD`: everything of a start but the process.
    fn claim(&self, id: &str, console_size: Option<(u16, u16)>) -> Result<Claimed, JobError> {
        let (session, container) = self.active_exec(id)?;
        let mut refused = None;
        session.phase.send_if_modified(|phase| match phase {
            ExecPhase::Created => {
                *phase = ExecPhase::Running { pid: 0 };
                true
            }
            ExecPhase::Running { .. } => {
                refused = Some(format!(
                    "Error: Exec command {} is already running",
                    session.id
                ));
                false
            }
            ExecPhase::Exited { .. } => {
                refused = Some(format!(
                    "Error: Exec command {} has already run",
                    session.id
                ));
                false
            }
        });
        if let Some(message) = refused {
            return Err(JobError::conflict(message));
        }
        let record = container.record();
        self.container_event(
            &session.event_action("exec_start"),
            &record,
            &[("execID", session.id.clone())],
        );
        let mut config = session.config.clone();
        if console_size.is_some() {
            config.console_size = console_size;
        }
        let model = match container.lock().record.ensure_model() {
            Ok(model) => model,
            Err(e) => {
                session.set(ExecPhase::Created);
                return Err(e);
            }
        };
        Ok(Claimed {
            session,
            container_id: container.id.clone(),
            model,
            config,
        })
    }

    /// Runs a claimed exec's process.
    async fn run_claimed(&self, claimed: Claimed) -> Result<ExecLaunch, JobError> {
        let Claimed {
            session,
            container_id,
            model,
            config,
        } = claimed;
        match self
            .runtime
            .exec(&container_id, &session.id, &model, &config)
            .await
        {
            Ok(launch) => {
                match &launch {
                    ExecLaunch::Running(streams) => {
                        session.set(ExecPhase::Running { pid: streams.pid })
                    }
                    ExecLaunch::Failed(record) => session.set(ExecPhase::Exited {
                        exit_code: record.exit_code,
                        pid: 0,
                    }),
                }
                Ok(launch)
            }
            Err(e) => {
                // The process never ran: moby leaves such an exec with the
                // code of a start failure.
                session.set(ExecPhase::Exited {
                    exit_code: 126,
                    pid: 0,
                });
                Err(e)
            }
        }
    }

    /// Records the end of exec `session` and emits `exec_die` (moby
    /// `daemon/monitor.go`: `execID`, `exitCode`).
    fn exec_ended(&self, session: &ExecSession, pid: i32, exit: Option<ExitRecord>) {
        let exit_code = match exit {
            Some(record) => record.exit_code,
            None => {
                tracing::warn!(exec = %session.id, "the exec's stream broke before its exit");
                LOST_EXIT_CODE
            }
        };
        session.set(ExecPhase::Exited { exit_code, pid });
        if let Ok(container) = self.containers.get(&session.container_id) {
            self.container_event(
                "exec_die",
                &container.record(),
                &[
                    ("execID", session.id.clone()),
                    ("exitCode", exit_code.to_string()),
                ],
            );
        }
    }

    /// `POST /exec/{id}/start`. Detached, the process is started and left
    /// to run (its output is read and dropped); else the client's stream
    /// begins (raw with a TTY, multiplexed without), carries the process's
    /// output and the client's input, and ends once the exit code is
    /// recorded. A command that cannot start is reported on the stream, as
    /// moby writes it, and its exit code (126, 127) recorded.
    pub async fn exec_start(
        self: &Arc<Self>,
        id: &str,
        options: ExecStartOptions,
        stdin: Option<JobStdin>,
        out: JobOutput,
    ) -> Result<(), JobError> {
        if options.detach {
            let (session, launch) = self.launch(id, options.console_size).await?;
            let streams = match launch {
                ExecLaunch::Failed(record) => {
                    let message = record.error.unwrap_or_default();
                    return Err(start_failure(record.exit_code, message));
                }
                ExecLaunch::Running(streams) => streams,
            };
            let daemon = Arc::clone(self);
            tokio::spawn(async move {
                let pid = streams.pid;
                let (exit, _) = drain(streams, None, None, None).await;
                daemon.exec_ended(&session, pid, exit);
            });
            return Ok(());
        }
        // As moby (`postContainerExecStart`): the client's stream begins
        // (the upgrade answered) before the process runs, so that its first
        // output never rides with the response's head, which clients that
        // read the head through a buffer (docker-py) would swallow. What
        // keeps the process from running is then written into the stream.
        let claimed = self.claim(id, options.console_size)?;
        let session = Arc::clone(&claimed.session);
        let mut client = ClientOutput::begin(out, session.config.tty).await?;
        let failure = match self.run_claimed(claimed).await {
            Ok(ExecLaunch::Running(streams)) => Ok(streams),
            Ok(ExecLaunch::Failed(record)) => Err(record.error.unwrap_or_default()),
            Err(e) => Err(e.message),
        };
        let streams = match failure {
            Ok(streams) => streams,
            Err(message) => {
                let _ = client
                    .write(StreamType::Stdout, format!("{message}\r\n").into())
                    .await;
                client.finish().await;
                return Ok(());
            }
        };
        let pid = streams.pid;
        let stdin = stdin.filter(|_| session.config.attach.stdin);
        // moby `daemon/exec.go`: with a TTY the input goes through the
        // escape proxy; the exec's keys, else ctrl-p,ctrl-q.
        let (detached_tx, detached_rx) = oneshot::channel();
        let detach = session.config.tty.then(|| Detach {
            keys: DetachKeys::from_bytes(&session.detach_keys),
            detached: detached_tx,
        });
        // The session runs on its own: a client that detaches leaves the
        // process running, and its exit is still recorded.
        let daemon = Arc::clone(self);
        let running = Arc::clone(&session);
        let mut ran = tokio::spawn(async move {
            let (exit, client) = drain(streams, stdin, Some(client), detach).await;
            // Recorded before the client's stream ends: see the module docs.
            daemon.exec_ended(&running, pid, exit);
            if let Some(client) = client {
                client.finish().await;
            }
        });
        tokio::select! {
            detached = detached_rx => {
                if let Ok(client) = detached {
                    client.finish().await;
                    if let Ok(container) = self.containers.get(&session.container_id) {
                        self.container_event(
                            "exec_detach",
                            &container.record(),
                            &[("execID", session.id.clone())],
                        );
                    }
                    return Ok(());
                }
                let _ = ran.await;
            }
            _ = &mut ran => {}
        }
        Ok(())
    }

    /// `POST /exec/{id}/resize`: waits (up to 10 s, as moby) for the exec
    /// to run, then sets its terminal size.
    pub async fn exec_resize(&self, id: &str, height: u16, width: u16) -> Result<(), JobError> {
        let (session, container) = self.active_exec(id)?;
        let mut phase = session.phase.subscribe();
        let waited = tokio::time::timeout(
            RESIZE_WAIT,
            phase.wait_for(|p| !matches!(p, ExecPhase::Created | ExecPhase::Running { pid: 0 })),
        )
        .await
        .map(|seen| seen.map(|p| *p));
        match waited {
            Ok(Ok(ExecPhase::Running { .. })) => {}
            Ok(_) => {
                return Err(JobError::conflict(format!(
                    "Exec {} is not running",
                    session.id
                )));
            }
            Err(_) => {
                return Err(JobError::new(
                    crate::job::ErrorKind::Internal,
                    "timeout waiting for exec session ready",
                ));
            }
        }
        self.runtime
            .resize_exec(&container.id, &session.id, height, width)
            .await
    }

    /// Runs `config` in running container `reference` to completion, for
    /// callers inside the engine (health checks): no exec id, no events;
    /// at most `max_output` bytes of stdout and stderr are kept.
    pub async fn exec_collect(
        &self,
        reference: &str,
        config: ExecProcessConfig,
        max_output: usize,
    ) -> Result<ExecOutput, JobError> {
        let exec_id = crate::daemon::names::generate_id();
        self.exec_collect_as(reference, &exec_id, config, max_output, None)
            .await
    }

    /// [`Daemon::exec_collect`] with the exec named `exec_id` in the exec
    /// driver (for [`ExecService::kill_exec`](crate::driver::ExecService::kill_exec)),
    /// telling `launched` once its process runs.
    pub(crate) async fn exec_collect_as(
        &self,
        reference: &str,
        exec_id: &str,
        config: ExecProcessConfig,
        max_output: usize,
        launched: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<ExecOutput, JobError> {
        let container = self.containers.get(reference)?;
        check_active(&container, reference)?;
        let model = container.lock().record.ensure_model()?;
        let config = ExecProcessConfig {
            attach: AttachOptions {
                stdin: false,
                stdout: true,
                stderr: true,
            },
            ..config
        };
        let launch = self
            .runtime
            .exec(&container.id, exec_id, &model, &config)
            .await?;
        let streams = match launch {
            ExecLaunch::Failed(record) => {
                return Ok(ExecOutput {
                    exit_code: record.exit_code,
                    output: record.error.unwrap_or_default().into_bytes(),
                });
            }
            ExecLaunch::Running(streams) => streams,
        };
        if let Some(launched) = launched {
            let _ = launched.send(());
        }
        use futures_util::StreamExt;
        let ExecStreams { streams, exit, .. } = streams;
        let mut output = streams.output;
        let mut kept = Vec::new();
        while let Some((_, data)) = output.next().await {
            let room = max_output.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
        let exit_code = exit.await.map_or(LOST_EXIT_CODE, |r| r.exit_code);
        Ok(ExecOutput {
            exit_code,
            output: kept,
        })
    }
}

/// An exec marked started, ready for its process ([`Daemon::claim`]).
struct Claimed {
    session: Arc<ExecSession>,
    container_id: String,
    model: berth_model::container::ContainerModel,
    config: ExecProcessConfig,
}

/// A command that could not start, as the detached start answers it
/// (moby: 126/127 are the client's fault).
fn start_failure(exit_code: i32, message: String) -> JobError {
    if exit_code == 126 || exit_code == 127 {
        JobError::invalid(message)
    } else {
        JobError::new(crate::job::ErrorKind::Internal, message)
    }
}

/// Where a client that typed the detach keys goes: the keys, and the
/// channel that hands its output back to the start, which ends its stream
/// at once while the process runs on.
struct Detach {
    keys: DetachKeys,
    detached: oneshot::Sender<ClientOutput>,
}

/// Runs an exec's session: its output to `client` (while it is there; a
/// client that left or detached does not stop the process, its output is
/// then read and dropped), the client's input to its stdin (the end of the
/// input half-closes it; with `detach`, the keys end the client's session
/// instead). Returns the exit record once the output has ended, and the
/// client, whose stream the caller ends once the record is kept.
async fn drain(
    streams: ExecStreams,
    stdin: Option<JobStdin>,
    mut client: Option<ClientOutput>,
    detach: Option<Detach>,
) -> (Option<ExitRecord>, Option<ClientOutput>) {
    use futures_util::StreamExt;
    let ExecStreams { streams, exit, .. } = streams;
    let crate::driver::AttachStreams {
        stdin: process_stdin,
        mut output,
    } = streams;
    let (keys, mut handover) = match detach {
        Some(Detach { keys, detached }) => (Some(keys), Some(detached)),
        None => (None, None),
    };
    let (detached_tx, detached_rx) = oneshot::channel();
    let detach_signal = on_detach(detached_rx);
    tokio::pin!(detach_signal);
    let mut detach_seen = false;
    let stdin_task = match (process_stdin, stdin) {
        (Some(mut process_stdin), Some(client_stdin)) => Some(tokio::spawn(async move {
            match forward_input(client_stdin, &mut process_stdin, keys.as_ref()).await {
                InputEnd::Eof => {
                    let _ = process_stdin.shutdown().await;
                }
                InputEnd::Detached => {
                    let _ = detached_tx.send(());
                }
            }
        })),
        // Nobody feeds it: dropping it half-closes the process's stdin.
        _ => None,
    };
    loop {
        tokio::select! {
            chunk = output.next() => {
                let Some((stream, data)) = chunk else { break };
                if let Some(out) = &mut client
                    && out.write(stream, data).await.is_err()
                {
                    client = None;
                }
            }
            () = &mut detach_signal, if !detach_seen => {
                detach_seen = true;
                if let (Some(out), Some(handover)) = (client.take(), handover.take()) {
                    let _ = handover.send(out);
                }
            }
        }
    }
    if let Some(task) = stdin_task {
        task.abort();
    }
    (exit.await.ok(), client)
}
