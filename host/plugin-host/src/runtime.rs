//! The wasmtime runtime shared by every plugin: one `Engine` with the
//! pooling allocator and epoch interruption, the linkers, the epoch ticker
//! and the on-disk cache of compiled components.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::PluginError;
use crate::bindings::latest;
use crate::plugin::HealthPolicy;
use crate::state::CallState;

/// One epoch tick. Deadlines are whole ticks, so a call may run up to one
/// tick longer than its limit; 10 ms keeps the idle ticker cheap.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The host's hard ceilings; manifests' `[limits]` are capped by these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// Most linear memory any call may use (also the pool's slot size).
    pub max_memory: u64,
    /// Longest deadline a policy call may have.
    pub max_policy_timeout: Duration,
    /// Longest deadline a job may have.
    pub max_job_timeout: Duration,
    /// Most table elements.
    pub max_table_elements: u32,
    /// Default memory for a policy call.
    pub policy_memory: u64,
    /// Default deadline for a policy call.
    pub policy_timeout: Duration,
    /// Default memory for a job.
    pub job_memory: u64,
    /// Default deadline for a job.
    pub job_timeout: Duration,
    /// Calls that may be in flight at once (pool size).
    pub concurrent_calls: u32,
}

impl Default for HostLimits {
    fn default() -> Self {
        HostLimits {
            max_memory: 256 << 20,
            max_policy_timeout: Duration::from_secs(5),
            max_job_timeout: Duration::from_secs(3600),
            max_table_elements: 100_000,
            policy_memory: 32 << 20,
            policy_timeout: Duration::from_millis(500),
            job_memory: 64 << 20,
            job_timeout: Duration::from_secs(300),
            concurrent_calls: 128,
        }
    }
}

/// Effective limits of one plugin: its manifest's, capped by the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// Linear memory per call, bytes.
    pub memory: u64,
    /// Deadline per call.
    pub timeout: Duration,
    /// Table elements.
    pub table_elements: u32,
}

impl Limits {
    /// The deadline in epoch ticks, rounded up, at least one.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        let tick = EPOCH_TICK.as_nanos();
        (self.timeout.as_nanos().div_ceil(tick)).max(1) as u64
    }
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompileOrigin {
    /// Compiled now with Cranelift (and written to the cache).
    Compiled,
    /// Loaded from the compilation cache.
    Cached,
}

/// Increments the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Result<EpochTicker, PluginError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("berth-plugin-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| PluginError::Setup {
                what: "epoch ticker thread",
                reason: e.to_string(),
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The engine, linkers and cache.
pub(crate) struct WasmRuntime {
    pub engine: Engine,
    /// Async WASI + `host` + `graph-admin`: job handlers. The newest
    /// versions only: older 1.x imports resolve to them by semver.
    pub job_linker: Linker<CallState>,
    /// Sync WASI + `host`: policies (the newest version, as above).
    pub policy_linker: Linker<CallState>,
    pub limits: HostLimits,
    pub health: HealthPolicy,
    cache_dir: PathBuf,
    /// Identifies this engine's compiled-code format in cache file names.
    engine_key: String,
    _ticker: EpochTicker,
}

fn setup(what: &'static str) -> impl Fn(wasmtime::Error) -> PluginError {
    move |e| PluginError::Setup {
        what,
        reason: format!("{e:#}"),
    }
}

impl WasmRuntime {
    /// Creates the engine and linkers; compiled components are cached in
    /// `cache_dir` (created if missing).
    pub fn new(
        cache_dir: &Path,
        limits: HostLimits,
        health: HealthPolicy,
    ) -> Result<WasmRuntime, PluginError> {
        let mut pool = PoolingAllocationConfig::new();
        let calls = limits.concurrent_calls.max(1);
        pool.total_component_instances(calls)
            // A Rust wasip2 component instantiates its main module plus a
            // few shim modules.
            .total_core_instances(calls * 8)
            .total_memories(calls * 2)
            .total_tables(calls * 4)
            .total_stacks(calls)
            .max_memory_size(usize::try_from(limits.max_memory).unwrap_or(usize::MAX))
            .table_elements(limits.max_table_elements as usize)
            .total_gc_heaps(0);

        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .gc_support(false)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(setup("wasmtime engine"))?;

        let mut job_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut job_linker).map_err(setup("WASI (async)"))?;
        latest::job_handler::berth::plugin::host::add_to_linker::<_, HasSelf<CallState>>(
            &mut job_linker,
            |state| state,
        )
        .map_err(setup("berth:plugin/host (async)"))?;
        latest::job_handler::berth::plugin::graph_admin::add_to_linker::<_, HasSelf<CallState>>(
            &mut job_linker,
            |state| state,
        )
        .map_err(setup("berth:plugin/graph-admin"))?;

        let mut policy_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut policy_linker).map_err(setup("WASI (sync)"))?;
        latest::graph_policy::berth::plugin::host::add_to_linker::<_, HasSelf<CallState>>(
            &mut policy_linker,
            |state| state,
        )
        .map_err(setup("berth:plugin/host (sync)"))?;

        std::fs::create_dir_all(cache_dir).map_err(|source| PluginError::Write {
            path: cache_dir.to_path_buf(),
            source,
        })?;

        // The compatibility hash covers wasmtime's version and the settings
        // that change compiled code; a cache entry is only valid for an
        // engine with the same key.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());

        let ticker = EpochTicker::start(engine.clone())?;
        Ok(WasmRuntime {
            engine,
            job_linker,
            policy_linker,
            limits,
            health,
            cache_dir: cache_dir.to_path_buf(),
            engine_key,
            _ticker: ticker,
        })
    }

    /// The cache file of a component with `digest` (hex sha256).
    pub fn cache_path(&self, digest: &str) -> PathBuf {
        self.cache_dir
            .join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// Compiles `bytes` (whose sha256 is `digest`), or loads the compiled
    /// code from the cache. Blocking: call from a blocking thread.
    pub fn compile(
        &self,
        bytes: &[u8],
        digest: &str,
    ) -> Result<(Component, CompileOrigin), CompileError> {
        let cached = self.cache_path(digest);
        if cached.is_file() {
            // SAFETY: deserializing runs no checks on the machine code, so
            // the file must come from `Component::serialize` of a compatible
            // engine. It does: the cache directory is under the daemon's
            // data root, written only by `store_in_cache` below (temp file +
            // rename, so never half-written), and its name carries this
            // engine's compatibility key. wasmtime still checks the header's
            // engine and version and errors (instead of running) on a
            // mismatch, in which case the entry is recompiled.
            match unsafe { Component::deserialize_file(&self.engine, &cached) } {
                Ok(component) => return Ok((component, CompileOrigin::Cached)),
                Err(e) => {
                    tracing::warn!(path = %cached.display(), error = %format!("{e:#}"), "discarding unusable compilation cache entry");
                    let _ = std::fs::remove_file(&cached);
                }
            }
        }
        if is_core_module(bytes) {
            return Err(CompileError::CoreModule);
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| CompileError::Invalid {
            reason: format!("{e:#}"),
        })?;
        if let Err(e) = self.store_in_cache(&component, &cached) {
            // A cache write failure costs a recompile next time, nothing more.
            tracing::warn!(path = %cached.display(), error = %e, "cannot write compilation cache entry");
        }
        Ok((component, CompileOrigin::Compiled))
    }

    fn store_in_cache(&self, component: &Component, path: &Path) -> Result<(), CacheWriteError> {
        let bytes = component
            .serialize()
            .map_err(|e| CacheWriteError::Serialize {
                reason: format!("{e:#}"),
            })?;
        Ok(berth_fsutil::write_atomic(path, &bytes, 0o600)?)
    }
}

/// Why a component could not be compiled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CompileError {
    /// The file is a core module: the host runs components only.
    #[error(
        "it is a core WebAssembly module, not a component; build it for \
         wasm32-wasip2 (the SDK does) or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    /// wasmtime refused the bytes (not WebAssembly, invalid, unsupported).
    #[error("{reason}")]
    Invalid {
        /// wasmtime's error chain (`wasmtime::Error` is not a std error).
        reason: String,
    },
}

/// Why a compiled component could not be stored in the cache (logged: it
/// only costs a recompile next time).
#[derive(Debug, thiserror::Error)]
enum CacheWriteError {
    /// wasmtime could not serialise the compiled code.
    #[error("failed to serialise the compiled component: {reason}")]
    Serialize {
        /// wasmtime's error chain.
        reason: String,
    },
    /// The cache file could not be written.
    #[error(transparent)]
    Write(#[from] berth_fsutil::AtomicWriteError),
}

/// Whether `bytes` is a core module (version 1) rather than a component: the
/// binary formats share the magic and differ in the version/layer word
/// (component model binary format: `0d 00 01 00`).
fn is_core_module(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [1, 0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_whole_ticks() {
        let limits = |ms| Limits {
            memory: 1,
            timeout: Duration::from_millis(ms),
            table_elements: 1,
        };
        assert_eq!(limits(1).deadline_ticks(), 1);
        assert_eq!(limits(10).deadline_ticks(), 1);
        assert_eq!(limits(11).deadline_ticks(), 2);
        assert_eq!(limits(1000).deadline_ticks(), 100);
    }

    #[test]
    fn core_modules_are_told_apart_from_components() {
        assert!(is_core_module(b"\0asm\x01\0\0\0"));
        assert!(!is_core_module(b"\0asm\x0d\0\x01\0"));
        assert!(!is_core_module(b"not wasm"));
    }

    #[test]
    fn garbage_is_not_compiled_and_nothing_is_cached() {
        let dir = tempfile::tempdir().unwrap();
        let runtime =
            WasmRuntime::new(dir.path(), HostLimits::default(), HealthPolicy::default()).unwrap();
        let err = runtime.compile(b"hello", "00").unwrap_err();
        assert!(matches!(err, CompileError::Invalid { ref reason } if !reason.is_empty()));
        assert!(!runtime.cache_path("00").exists());
        let err = runtime.compile(b"\0asm\x01\0\0\0", "01").unwrap_err();
        assert!(matches!(err, CompileError::CoreModule), "{err}");
        assert!(err.to_string().contains("core WebAssembly module"), "{err}");
    }
}
