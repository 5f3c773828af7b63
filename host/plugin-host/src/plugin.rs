//! A loaded plugin: manifest, `InstancePre`, identity, health; and the
//! per-call machinery (a fresh `Store` per call, deadline, memory limit,
//! failure classification and backoff).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};
use wasmtime_wasi::cli::{AsyncStdinStream, AsyncStdoutStream};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::capabilities::Grants;
use crate::manifest::{Capability, Manifest, World, is_valid_name};
use crate::runtime::{CompileOrigin, EPOCH_TICK, Limits, WasmRuntime};
use crate::state::{CallLimiter, CallState, PluginIdentity};
use crate::wit::{bindings_for, describe_supported};
use crate::world::WorldPre;
use crate::{CallFailure, PluginError};
use berth_model::graph::GraphAdmin;

mod component;

use component::check_component_type;

/// Bytes of a policy's stderr kept to explain a trap (a panic message).
const STDERR_CAPTURE: usize = 16 << 10;
/// Write budget of the job stdio adapters.
const STDIO_BUDGET: usize = 64 << 10;

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum PluginSource {
    /// Embedded in berthd.
    Builtin,
    /// Loaded from the plugin directory.
    Directory {
        /// The manifest file.
        manifest: PathBuf,
        /// The component file.
        component: PathBuf,
    },
}

/// One job a job-handler plugin offers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobSpec {
    /// The job's name in the Engine's handler table.
    pub name: String,
    /// Argument synopsis.
    pub usage: String,
    /// One line of help.
    pub summary: String,
}

/// How failing calls are throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Consecutive failures after which the plugin rests.
    pub failure_threshold: u32,
    /// First rest; doubles with every further failure.
    pub backoff_base: Duration,
    /// Longest rest.
    pub backoff_max: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            failure_threshold: 5,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Default)]
struct Health {
    consecutive_failures: u32,
    resting_until: Option<(Instant, SystemTime)>,
    last_error: Option<String>,
}

/// A validated, linked plugin, ready for calls. Immutable but for its
/// counters and health; replaced as a whole on reload.
pub(crate) struct LoadedPlugin {
    pub manifest: Manifest,
    pub source: PluginSource,
    /// sha256 of the component, hex.
    pub digest: String,
    pub summary: String,
    pub jobs: Vec<JobSpec>,
    pub capabilities: BTreeSet<Capability>,
    pub limits: Limits,
    pub origin: CompileOrigin,
    pub loaded_at: SystemTime,
    identity: Arc<PluginIdentity>,
    scratch: Option<PathBuf>,
    pre: WorldPre,
    calls: AtomicU64,
    failures: AtomicU64,
    health: Mutex<Health>,
}

/// Everything needed to load one plugin.
pub(crate) struct LoadRequest<'a> {
    pub manifest: Manifest,
    pub component: Vec<u8>,
    pub source: PluginSource,
    pub builtin: bool,
    pub grants: &'a Grants,
    /// The host's own configuration values, beneath the plugin's.
    pub host_config: &'a BTreeMap<String, String>,
    /// Parent of the per-plugin scratch directories.
    pub scratch_root: &'a Path,
}

/// The job's standard streams for one call.
pub struct JobIo {
    /// The job's input.
    pub stdin: Box<dyn AsyncRead + Send + Unpin>,
    /// The job's output.
    pub stdout: Box<dyn AsyncWrite + Send + Unpin>,
    /// The job's diagnostics.
    pub stderr: Box<dyn AsyncWrite + Send + Unpin>,
}

impl JobIo {
    /// Empty stdin; output discarded.
    pub fn null() -> JobIo {
        JobIo {
            stdin: Box::new(tokio::io::empty()),
            stdout: Box::new(tokio::io::sink()),
            stderr: Box::new(tokio::io::sink()),
        }
    }
}

/// Makes a `Send`-only stream `Sync`, as WASI's stdio adapters require.
/// Every poll has `&mut self`, so the mutex is never contended; it only
/// proves to the compiler that shared references cannot touch the stream.
struct Unshared<T>(Mutex<T>);

impl<T> Unshared<T> {
    fn new(inner: T) -> Self {
        Unshared(Mutex::new(inner))
    }

    fn get(self: Pin<&mut Self>) -> Pin<&mut T>
    where
        T: Unpin,
    {
        let inner = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(|p| p.into_inner());
        Pin::new(inner)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Unshared<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.get().poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Unshared<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get().poll_shutdown(cx)
    }
}

/// The effective limits: the manifest's, capped by the host's maxima, or
/// the world's defaults.
fn effective_limits(manifest: &Manifest, runtime: &WasmRuntime) -> Limits {
    let host = &runtime.limits;
    let (memory, timeout, max_timeout) = if manifest.world.is_policy() {
        (
            host.policy_memory,
            host.policy_timeout,
            host.max_policy_timeout,
        )
    } else {
        (host.job_memory, host.job_timeout, host.max_job_timeout)
    };
    Limits {
        memory: manifest
            .limits
            .memory
            .unwrap_or(memory)
            .min(host.max_memory),
        timeout: manifest.limits.timeout.unwrap_or(timeout).min(max_timeout),
        table_elements: manifest
            .limits
            .table_elements
            .unwrap_or(host.max_table_elements)
            .min(host.max_table_elements),
    }
}

/// A WASI context with nothing: no stdin, output discarded, no arguments,
/// environment, files or network. Policies get this (their stderr captured
/// to explain traps).
fn sealed_wasi() -> WasiCtxBuilder {
    let mut wasi = WasiCtxBuilder::new();
    wasi.allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    wasi
}

impl LoadedPlugin {
    /// Validates, compiles (or loads from the cache), links and describes a
    /// plugin, entirely off to the side: nothing is registered here.
    pub async fn load(
        runtime: &Arc<WasmRuntime>,
        request: LoadRequest<'_>,
    ) -> Result<LoadedPlugin, PluginError> {
        let LoadRequest {
            manifest,
            component: bytes,
            source,
            builtin,
            grants,
            host_config,
            scratch_root,
        } = request;
        let name = manifest.name.clone();
        let version = manifest.version.to_string();

        let Some(bindings) = bindings_for(&manifest.wit) else {
            return Err(PluginError::IncompatibleWit {
                plugin: name,
                version,
                wanted: manifest.wit.clone(),
                supported: describe_supported(),
            });
        };
        let capabilities = grants.authorize(&manifest, builtin)?;
        // The host's values first, so that the manifest and the admin
        // override them.
        let mut config = host_config.clone();
        config.extend(grants.config_for(&manifest));
        let digest = hex::encode(Sha256::digest(&bytes));
        let component_path = match &source {
            PluginSource::Directory { component, .. } => component.clone(),
            PluginSource::Builtin => PathBuf::from(format!("<builtin>/{name}.wasm")),
        };
        // wasmparser's errors carry `{:#?}` byte dumps over many lines; a
        // refusal is shown in one line (`berth plugin ls`, berthd's log).
        let unusable = |reason: String| PluginError::Component {
            plugin: name.clone(),
            version: version.clone(),
            path: component_path.clone(),
            reason: reason.split_whitespace().collect::<Vec<_>>().join(" "),
        };

        // Cranelift takes tens to hundreds of milliseconds: never on a
        // tokio worker (STYLE.md rule 5).
        let compiled = {
            let runtime = runtime.clone();
            let digest = digest.clone();
            tokio::task::spawn_blocking(move || runtime.compile(&bytes, &digest))
                .await
                .map_err(|e| unusable(format!("compilation task failed: {e}")))?
        };
        let (component, origin) = compiled.map_err(|e| unusable(e.to_string()))?;
        check_component_type(&manifest, &capabilities, &component, &runtime.engine)
            .map_err(|e| unusable(e.to_string()))?;

        let linker = match manifest.world {
            World::JobHandler => &runtime.job_linker,
            _ => &runtime.policy_linker,
        };
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| unusable(format!("cannot link: {e:#}")))?;
        let pre = WorldPre::new(manifest.world, bindings, pre)
            .map_err(|e| unusable(format!("does not match world {}: {e:#}", manifest.world)))?;

        let limits = effective_limits(&manifest, runtime);
        let mut plugin = LoadedPlugin {
            identity: Arc::new(PluginIdentity {
                name: name.clone(),
                version: version.clone(),
                config,
            }),
            summary: manifest.summary.clone(),
            manifest,
            source,
            digest,
            jobs: Vec::new(),
            capabilities,
            limits,
            origin,
            loaded_at: SystemTime::now(),
            scratch: None,
            pre,
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            health: Mutex::new(Health::default()),
        };
        plugin.describe(runtime).await?;
        if plugin.capabilities.contains(&Capability::ScratchDir) {
            // Made only once every check passed, so that a refused plugin
            // leaves nothing behind. The name is [a-z0-9][a-z0-9._-]*, so
            // the join stays inside scratch_root.
            let dir = scratch_root.join(&name);
            std::fs::create_dir_all(&dir).map_err(|source| PluginError::Write {
                path: dir.clone(),
                source,
            })?;
            plugin.scratch = Some(dir);
        }
        Ok(plugin)
    }

    /// Calls `describe` and checks the answer against the manifest.
    async fn describe(&mut self, runtime: &Arc<WasmRuntime>) -> Result<(), PluginError> {
        let describe_error = |reason: String| PluginError::Describe {
            plugin: self.manifest.name.clone(),
            version: self.manifest.version.to_string(),
            reason,
        };
        let (info, jobs) = match &self.pre {
            WorldPre::Job(pre) => {
                let mut store = self.store(runtime, sealed_wasi().build(), None);
                let result = pre.describe(&mut store).await;
                let info = result.map_err(|e| describe_error(self.explain(&e, &store, None).1))?;
                let jobs = info
                    .jobs
                    .into_iter()
                    .map(|j| JobSpec {
                        name: j.name,
                        usage: j.usage,
                        summary: j.summary,
                    })
                    .collect::<Vec<_>>();
                let p = info.plugin;
                ((p.name, p.version, p.summary), jobs)
            }
            _ => {
                let (mut store, stderr) = self.policy_store(runtime);
                let result = self.pre.describe_policy(&mut store);
                let info = result
                    .map_err(|e| describe_error(self.explain(&e, &store, Some(&stderr)).1))?;
                ((info.name, info.version, info.summary), Vec::new())
            }
        };
        let (name, version, summary) = info;
        if name != self.manifest.name {
            return Err(describe_error(format!(
                "the component calls itself {name:?}, its manifest {:?}",
                self.manifest.name
            )));
        }
        if version != self.manifest.version.to_string() {
            return Err(describe_error(format!(
                "the component says version {version}, its manifest {}",
                self.manifest.version
            )));
        }
        if self.manifest.world == World::JobHandler && jobs.is_empty() {
            return Err(describe_error(
                "a job handler must offer at least one job".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        for job in &jobs {
            if !is_valid_name(&job.name) {
                return Err(describe_error(format!(
                    "job name {:?} must match [a-z0-9][a-z0-9._-]*",
                    job.name
                )));
            }
            if !seen.insert(job.name.as_str()) {
                return Err(describe_error(format!("job {} is listed twice", job.name)));
            }
        }
        if self.summary.is_empty() {
            self.summary = summary;
        }
        self.jobs = jobs;
        Ok(())
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The plugin's version, as text.
    pub fn version(&self) -> &str {
        &self.identity.version
    }

    /// The instantiable form, for what a world's version can answer (e.g.
    /// whether a network policy plans subnets).
    pub(crate) fn world_pre(&self) -> &WorldPre {
        &self.pre
    }

    /// `name version`, for logs.
    pub fn label(&self) -> String {
        format!("{} {}", self.manifest.name, self.identity.version)
    }

    /// Total and failed calls.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.calls.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }

    /// Consecutive failures, the end of the current rest (if resting) and
    /// the last error.
    pub fn health(&self) -> (u32, Option<SystemTime>, Option<String>) {
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        let resting = health
            .resting_until
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, wall)| wall);
        (
            health.consecutive_failures,
            resting,
            health.last_error.clone(),
        )
    }

    /// Whether calls are refused right now because of repeated failures.
    pub fn is_resting(&self) -> bool {
        self.health().1.is_some()
    }

    /// Forgets past failures (the admin re-enabled the plugin).
    pub fn reset_health(&self) {
        *self.health.lock().unwrap_or_else(|p| p.into_inner()) = Health::default();
    }

    fn admit(&self) -> Result<(), PluginError> {
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((until, wall)) = health.resting_until
            && until > Instant::now()
        {
            return Err(PluginError::Backoff {
                plugin: self.manifest.name.clone(),
                version: self.identity.version.clone(),
                failures: health.consecutive_failures,
                last_error: health.last_error.clone().unwrap_or_default(),
                until: wall,
            });
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn succeeded(&self) {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        health.consecutive_failures = 0;
        health.resting_until = None;
    }

    /// Records a failed call and returns its error. Failures of the plugin
    /// (trap, deadline, memory, invalid result) count towards the backoff
    /// (authz policies excepted: they never rest); host-side ones
    /// (instantiation) and refusals returned as values do not.
    pub fn failed(
        &self,
        runtime: &WasmRuntime,
        call: &str,
        kind: CallFailure,
        reason: String,
    ) -> PluginError {
        let counts = matches!(
            kind,
            CallFailure::Timeout
                | CallFailure::MemoryLimit
                | CallFailure::Trap
                | CallFailure::InvalidResult
        );
        if counts {
            self.failures.fetch_add(1, Ordering::Relaxed);
            let policy = runtime.health;
            let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
            health.consecutive_failures += 1;
            health.last_error = Some(format!("{call}: {reason}"));
            // An authz policy never rests: resting would deny every client
            // for minutes because of a few requests crafted to make it
            // fail. Each call is tried, and each failure denies only its
            // own request (fail-closed either way).
            let rests = self.manifest.world != World::Authz;
            if rests && health.consecutive_failures >= policy.failure_threshold {
                let doublings = (health.consecutive_failures - policy.failure_threshold).min(16);
                let rest = policy
                    .backoff_base
                    .saturating_mul(1u32 << doublings)
                    .min(policy.backoff_max);
                health.resting_until = Some((Instant::now() + rest, SystemTime::now() + rest));
            }
        }
        tracing::warn!(plugin = %self.manifest.name, version = %self.identity.version, call, ?kind, "plugin call failed: {reason}");
        PluginError::Call {
            plugin: self.manifest.name.clone(),
            version: self.identity.version.clone(),
            call: call.to_owned(),
            kind,
            reason,
        }
    }

    /// A fresh store for one call, with its deadline and memory limit.
    fn store(
        &self,
        runtime: &WasmRuntime,
        wasi: WasiCtx,
        graph_admin: Option<Arc<dyn GraphAdmin>>,
    ) -> Store<CallState> {
        let state = CallState {
            wasi,
            table: ResourceTable::new(),
            limiter: CallLimiter::new(self.limits.memory, self.limits.table_elements),
            plugin: self.identity.clone(),
            graph_admin: graph_admin
                .filter(|_| self.capabilities.contains(&Capability::GraphAdmin)),
        };
        let mut store = Store::new(&runtime.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(self.limits.deadline_ticks());
        store.epoch_deadline_trap();
        store
    }

    /// A sealed store for a policy call, and the pipe capturing its stderr.
    fn policy_store(&self, runtime: &WasmRuntime) -> (Store<CallState>, MemoryOutputPipe) {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let mut wasi = sealed_wasi();
        wasi.stderr(stderr.clone());
        (self.store(runtime, wasi.build(), None), stderr)
    }

    /// Classifies a failed call: deadline, memory limit or trap, with the
    /// captured stderr (a panic message) when there is one.
    fn explain(
        &self,
        error: &wasmtime::Error,
        store: &Store<CallState>,
        stderr: Option<&MemoryOutputPipe>,
    ) -> (CallFailure, String) {
        if store.data().limiter.memory_exceeded {
            return (
                CallFailure::MemoryLimit,
                format!(
                    "stopped at its memory limit of {} MiB",
                    self.limits.memory >> 20
                ),
            );
        }
        if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
            return (
                CallFailure::Timeout,
                format!(
                    "killed at its deadline of {} ms",
                    self.limits.timeout.as_millis()
                ),
            );
        }
        let mut reason = match error.downcast_ref::<Trap>() {
            Some(trap) => format!("trapped: {trap}"),
            None => format!("{error:#}"),
        };
        if let Some(stderr) = stderr {
            let text = String::from_utf8_lossy(&stderr.contents())
                .trim()
                .to_string();
            if !text.is_empty() {
                reason.push_str(&format!(" (stderr: {text})"));
            }
        }
        (CallFailure::Trap, reason)
    }

    /// Runs a sync policy call `f` on a fresh instance and classifies the
    /// outcome. `Ok(Err(message))` from the plugin is a refusal, returned as
    /// [`CallFailure::Returned`]; a value `validate` rejects is the
    /// plugin's failure ([`CallFailure::InvalidResult`]).
    pub fn call_policy<R, E: std::fmt::Display>(
        &self,
        runtime: &WasmRuntime,
        call: &str,
        f: impl FnOnce(&WorldPre, &mut Store<CallState>) -> wasmtime::Result<Result<R, String>>,
        validate: impl FnOnce(&R) -> Result<(), E>,
    ) -> Result<R, PluginError> {
        self.admit()?;
        let (mut store, stderr) = self.policy_store(runtime);
        match f(&self.pre, &mut store) {
            Ok(Ok(value)) => match validate(&value) {
                Ok(()) => {
                    self.succeeded();
                    Ok(value)
                }
                Err(reason) => {
                    let what = match self.manifest.world {
                        World::Authz => "decision",
                        World::RegistryPolicy => "choice",
                        _ => "plan",
                    };
                    Err(self.failed(
                        runtime,
                        call,
                        CallFailure::InvalidResult,
                        format!("returned an invalid {what}: {reason}"),
                    ))
                }
            },
            Ok(Err(message)) => {
                self.succeeded();
                Err(self.failed(runtime, call, CallFailure::Returned, message))
            }
            Err(error) => {
                let (kind, reason) = self.explain(&error, &store, Some(&stderr));
                Err(self.failed(runtime, call, kind, reason))
            }
        }
    }

    /// Runs job `job` with `io` as its stdio; returns its exit status.
    pub async fn run_job(
        &self,
        runtime: &WasmRuntime,
        graph_admin: Option<Arc<dyn GraphAdmin>>,
        job: &str,
        args: &[String],
        env: &[(String, String)],
        io: JobIo,
    ) -> Result<i32, PluginError> {
        let WorldPre::Job(pre) = &self.pre else {
            return Err(PluginError::NotFound {
                what: "job handler",
                name: self.manifest.name.clone(),
            });
        };
        self.admit()?;
        let call = format!("job {job}");

        let mut wasi = sealed_wasi();
        wasi.stdin(AsyncStdinStream::new(Unshared::new(io.stdin)))
            .stdout(AsyncStdoutStream::new(
                STDIO_BUDGET,
                Unshared::new(io.stdout),
            ))
            .stderr(AsyncStdoutStream::new(
                STDIO_BUDGET,
                Unshared::new(io.stderr),
            ))
            .arg(job)
            .args(args)
            .envs(env);
        if let Some(dir) = &self.scratch {
            wasi.preopened_dir(dir, "/scratch", FsPerms::ReadWrite)
                .map_err(|e| {
                    self.failed(
                        runtime,
                        &call,
                        CallFailure::Instantiate,
                        format!("cannot open its scratch directory {}: {e:#}", dir.display()),
                    )
                })?;
        }
        let mut store = self.store(runtime, wasi.build(), graph_admin);

        // The epoch deadline only fires while wasm code runs; a job blocked
        // in a host call (reading a stdin that never ends) is cut by this
        // outer timeout, a couple of ticks later.
        let outer = self.limits.timeout + EPOCH_TICK * 3;
        let outcome = tokio::time::timeout(outer, pre.run(&mut store, job, args, env)).await;
        match outcome {
            Ok(Ok(status)) => {
                self.succeeded();
                Ok(status)
            }
            Ok(Err(error)) => {
                let (kind, reason) = self.explain(&error, &store, None);
                Err(self.failed(runtime, &call, kind, reason))
            }
            Err(_) => Err(self.failed(
                runtime,
                &call,
                CallFailure::Timeout,
                format!(
                    "killed at its deadline of {} ms while waiting in a host call",
                    self.limits.timeout.as_millis()
                ),
            )),
        }
    }
}
