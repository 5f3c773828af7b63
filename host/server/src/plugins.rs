//! berthd's plugins: the plugin host wired into the Engine.
//!
//! - Plugin jobs join the Engine's handler table (and leave it) as plugins
//!   are loaded, swapped, disabled and removed, so `POST /berth/jobs/{name}`
//!   and `berth job run` reach them like any job.
//! - The admin surface is jobs too: `plugin_list`, `plugin_inspect`,
//!   `plugin_enable`, `plugin_disable`, `plugin_reload` (routes under
//!   `/berth/plugins`), `plugin_list_docker` (`GET /plugins`, Docker's
//!   format, for `docker plugin ls`) and `plugin_inspect_docker`
//!   (`GET /plugins/{name}/json`, for `docker plugin inspect`).
//! - Plugin events (load, swap, unload, fail, refuse, enable, disable) are
//!   forwarded to `/events` as `Type: "plugin"`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use berth_engine::job::BoxFuture;
use berth_engine::{
    Engine, ErrorKind, Exposure, Handler, Job, JobError, JobOutput, JobResult, handler_with,
};
use berth_plugin_host::{
    JobIo, PluginError, PluginEvent, PluginHost, PluginHostConfig, PluginState, PluginStatus,
    WatchHandle,
};
use tokio::io::AsyncReadExt;

/// How berthd's plugin host is configured (from the command line).
#[derive(Debug, Clone)]
pub struct PluginOptions {
    /// The watched plugin directory.
    pub plugin_dir: PathBuf,
    /// The admin's grants file.
    pub grants_file: PathBuf,
    /// The daemon's data root (compilation cache, scratch directories).
    pub data_root: PathBuf,
    /// `--authorization-plugin`: the authz plugins deciding on requests.
    pub authorization_plugins: Vec<String>,
    /// `--log-format`, handed on to the compiling child: its records share
    /// berthd's stderr.
    pub log_format: crate::logging::LogFormat,
    /// The daemon's default IPv6 pool, handed to the plugins as their
    /// `default-ipv6-pool` configuration (the built-in network policy
    /// carves `--ipv6` networks' subnets from it).
    pub default_ipv6_pool: berth_engine::daemon::ipam::Ipv6Net,
}

/// The running plugin host and its directory watcher.
pub struct Plugins {
    /// The host.
    pub host: PluginHost,
    _watch: Option<WatchHandle>,
}

fn host_config(options: &PluginOptions) -> PluginHostConfig {
    let mut config = PluginHostConfig::new(&options.data_root);
    config.plugin_dir = Some(options.plugin_dir.clone());
    config.grants_file = Some(options.grants_file.clone());
    config.authorization_plugins = options.authorization_plugins.clone();
    config.host_config.insert(
        berth_engine::daemon::ipam::DEFAULT_IPV6_POOL_CONFIG.to_owned(),
        options.default_ipv6_pool.to_string(),
    );
    config
}

/// How long the compiling child may take (Cranelift on every plugin of a
/// cold cache, on a loaded machine).
const PRECOMPILE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The hidden `berthd --precompile-plugins` mode: starts a plugin host over
/// the daemon's directories, which compiles every plugin (built-in and in
/// the plugin directory) into the on-disk cache, and exits.
pub async fn precompile(options: &PluginOptions) -> anyhow::Result<()> {
    let host = PluginHost::start(host_config(options))
        .await
        .map_err(|e| anyhow::anyhow!("failed to start the plugin host: {e}"))?;
    drop(host);
    Ok(())
}

/// Fills the compilation cache in a short-lived child process
/// (`berthd --precompile-plugins`), so that the daemon itself only
/// deserializes compiled code.
///
/// Why: compiling with Cranelift touches some 20 MiB of berthd's own code
/// and heap that an idle daemon never needs again, yet file-backed pages
/// of the binary stay in its RSS for as long as it runs. Loading from the
/// cache takes about a millisecond per plugin and touches none of it. With
/// a warm cache the child only deserializes too. A child that fails or
/// times out costs nothing but memory: the daemon then compiles what is
/// missing itself.
async fn precompile_in_child(options: &PluginOptions) {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            tracing::warn!(error = %e, "cannot locate berthd to precompile plugins");
            return;
        }
    };
    let mut command = tokio::process::Command::new(exe);
    command
        .arg("--precompile-plugins")
        .arg("--data-root")
        .arg(&options.data_root)
        .arg("--plugin-dir")
        .arg(&options.plugin_dir)
        .arg("--plugin-grants")
        .arg(&options.grants_file)
        // Its load events would repeat the daemon's own.
        .arg("--log-level")
        .arg("error")
        .arg("--log-format")
        .arg(options.log_format.as_str())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let status = match command.spawn() {
        Ok(mut child) => tokio::time::timeout(PRECOMPILE_TIMEOUT, child.wait()).await,
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the plugin compiler process");
            return;
        }
    };
    match status {
        Ok(Ok(status)) if status.success() => {}
        Ok(Ok(status)) => tracing::warn!(%status, "plugin compiler process failed"),
        Ok(Err(e)) => tracing::warn!(error = %e, "waiting for the plugin compiler process failed"),
        Err(_) => tracing::warn!(
            seconds = PRECOMPILE_TIMEOUT.as_secs(),
            "plugin compiler process timed out"
        ),
    }
}

/// Starts the plugin host: built-in plugins, then the plugin directory
/// (watched from now on), compiled in a child process first
/// ([`precompile_in_child`]). A plugin that fails to load is refused and
/// shown in `berth plugin ls`; it never stops the daemon.
pub async fn start(options: &PluginOptions) -> anyhow::Result<Plugins> {
    for name in &options.authorization_plugins {
        if !berth_plugin_host::manifest::is_valid_name(name) {
            anyhow::bail!(
                "invalid --authorization-plugin {name:?}: a plugin name matches [a-z0-9][a-z0-9._-]*"
            );
        }
    }
    precompile_in_child(options).await;
    let host = PluginHost::start(host_config(options))
        .await
        .map_err(|e| anyhow::anyhow!("failed to start the plugin host: {e}"))?;
    let watch = match host.watch() {
        Ok(watch) => Some(watch),
        Err(e) => {
            // Without a watcher plugins still load at start and on
            // `berth plugin reload`; say why hot reload is off.
            tracing::warn!(error = %e, dir = %options.plugin_dir.display(), "plugin directory not watched");
            None
        }
    };
    for status in host.list() {
        tracing::info!(
            plugin = %status.name,
            version = status.version.as_deref().unwrap_or("-"),
            state = ?status.state,
            refused = status.refused.as_deref().unwrap_or(""),
            "plugin"
        );
    }
    // Fail-closed from the first request: a configured policy that is not
    // there denies everything, so say so at start.
    tracing::info!(policies = ?host.authz_policies(), "authorization");
    Ok(Plugins {
        host,
        _watch: watch,
    })
}

fn job_error(error: PluginError) -> JobError {
    let kind = match &error {
        PluginError::NotFound { .. } => ErrorKind::NotFound,
        PluginError::Disabled { .. } | PluginError::Backoff { .. } => ErrorKind::Unavailable,
        PluginError::Grants { .. } | PluginError::Manifest { .. } => ErrorKind::InvalidParameter,
        PluginError::Refused { .. } => ErrorKind::Forbidden,
        _ => ErrorKind::Internal,
    };
    JobError::new(kind, error.to_string())
}

/// Copies what the plugin writes into the Job's output.
fn forward(mut reader: tokio::io::DuplexStream, output: JobOutput) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 << 10];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if output.write(buf[..n].to_vec()).await.is_err() {
                        // The caller went away; keep draining so the plugin
                        // never blocks on a full pipe.
                        continue;
                    }
                }
            }
        }
    })
}

/// One plugin job in the Engine's handler table.
struct PluginJob {
    host: PluginHost,
    description: String,
    source: String,
}

impl Handler for PluginJob {
    fn call(&self, job: Job) -> BoxFuture<JobResult> {
        let host = self.host.clone();
        Box::pin(async move {
            let Job {
                name,
                args,
                env,
                stdin,
                stdout,
                stderr,
            } = job;
            let env: Vec<(String, String)> = env
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let (out_writer, out_reader) = tokio::io::duplex(64 << 10);
            let (err_writer, err_reader) = tokio::io::duplex(64 << 10);
            let forwarders = [forward(out_reader, stdout), forward(err_reader, stderr)];
            let io = JobIo {
                stdin,
                stdout: Box::new(out_writer),
                stderr: Box::new(err_writer),
            };
            let result = host.run_job(&name, &args, &env, io).await;
            // The writers are dropped with the call's store: the forwarders
            // end once everything written has reached the Job's outputs.
            for forwarder in forwarders {
                let _ = forwarder.await;
            }
            result.map_err(job_error)
        })
    }

    fn description(&self) -> String {
        self.description.clone()
    }

    fn source(&self) -> String {
        self.source.clone()
    }
}

/// Keeps the Engine's table in step with the plugins' jobs.
struct JobSync {
    engine: Arc<Engine>,
    host: PluginHost,
    /// (job, source) pairs this module registered.
    registered: Mutex<BTreeMap<String, String>>,
}

impl JobSync {
    fn sync(&self) {
        let mut registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        let jobs = self.host.jobs();
        let wanted: BTreeSet<&str> = jobs.iter().map(|j| j.job.name.as_str()).collect();
        for entry in &jobs {
            let name = &entry.job.name;
            let source = format!("plugin:{}@{}", entry.plugin, entry.version);
            if registered.get(name) == Some(&source) {
                continue;
            }
            // Native jobs are the daemon's: a plugin never shadows them.
            if !registered.contains_key(name) && self.engine.handler(name).is_some() {
                tracing::warn!(job = %name, plugin = %entry.plugin, "plugin job not registered: a native job has that name");
                continue;
            }
            let description = match entry.job.usage.as_str() {
                "" => entry.job.summary.clone(),
                usage => format!("{} (usage: {name} {usage})", entry.job.summary),
            };
            // A plugin job runs sandboxed with the admin's grants: running
            // it is what the job API is for.
            self.engine.register(
                name,
                Exposure::Api,
                Arc::new(PluginJob {
                    host: self.host.clone(),
                    description,
                    source: source.clone(),
                }),
            );
            registered.insert(name.clone(), source);
        }
        let gone: Vec<String> = registered
            .keys()
            .filter(|name| !wanted.contains(name.as_str()))
            .cloned()
            .collect();
        for name in gone {
            self.engine.unregister(&name);
            registered.remove(&name);
        }
    }
}

/// Registers the plugin jobs and admin jobs, and forwards plugin events to
/// the Engine's events (re-syncing the job table on every change).
pub fn register(engine: &Arc<Engine>, host: &PluginHost) {
    let sync = Arc::new(JobSync {
        engine: Arc::clone(engine),
        host: host.clone(),
        registered: Mutex::new(BTreeMap::new()),
    });
    sync.sync();
    // The loads (and refusals) at start happened before the engine existed:
    // publish them first, then follow.
    let (past, mut events) = host.subscribe_with_history();
    let forward_to = Arc::clone(engine.events());
    for event in &past {
        publish(&forward_to, event);
    }
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "plugin events lagged; resyncing jobs");
                    sync.sync();
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if event.kind.changes_plugins() {
                sync.sync();
            }
            publish(&forward_to, &event);
        }
    });
    register_admin_jobs(engine, host);
}

/// A plugin event on `/events`: `Type: "plugin"`, the action named after
/// the event kind, the plugin's name as actor id and attributes `name`,
/// `version`, `message`.
fn publish(events: &berth_engine::Events, event: &PluginEvent) {
    let action = serde_json::to_value(event.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut attrs = BTreeMap::from([
        ("name".to_owned(), event.plugin.clone()),
        ("message".to_owned(), event.message.clone()),
    ]);
    if let Some(version) = &event.version {
        attrs.insert("version".to_owned(), version.clone());
    }
    events.publish("plugin", &action, &event.plugin, attrs);
}

fn status_json(status: &PluginStatus) -> Result<serde_json::Value, JobError> {
    serde_json::to_value(status).map_err(|e| JobError::internal("failed to encode a plugin", &e))
}

/// A plugin in the Docker Engine API's `Plugin` shape (`GET /plugins`), so
/// that `docker plugin ls` lists berth's plugins: `Id` is the component's
/// digest, `Name` is `NAME:VERSION`, the world is the interface type.
fn docker_plugin(status: &PluginStatus) -> serde_json::Value {
    let id = status
        .digest
        .as_deref()
        .and_then(|d| d.strip_prefix("sha256:"))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:0>64}", hex_name(&status.name)));
    let version = status.version.as_deref().unwrap_or("refused");
    let world = status.world.map(|w| w.as_str()).unwrap_or("unknown");
    let mut description = status.summary.clone();
    if let Some(reason) = &status.refused {
        description = format!("{description} [refused: {reason}]")
            .trim()
            .to_owned();
    }
    serde_json::json!({
        "Id": id,
        "Name": format!("{}:{version}", status.name),
        "Enabled": matches!(status.state, PluginState::Loaded | PluginState::Failing),
        "PluginReference": format!("berth/{}:{version}", status.name),
        "Settings": { "Mounts": [], "Env": [], "Args": [], "Devices": [] },
        "Config": {
            "Description": description,
            "Documentation": "https://github.com/berth-engine/berth/tree/main/plugin-sdk",
            "Interface": {
                "Types": [format!("berth.{world}/{}", status.wit.as_deref().unwrap_or("-"))],
                "Socket": "",
            },
            "Entrypoint": [],
            "WorkDir": "",
            "Network": { "Type": "none" },
            "Linux": { "Capabilities": status.capabilities, "AllowAllDevices": false, "Devices": [] },
            "Mounts": [],
            "Env": [],
            "Args": { "Name": "", "Description": "", "Settable": [], "Value": [] },
            "IpcHost": false,
            "PidHost": false,
            "PropagatedMount": "",
        },
    })
}

/// The plugin `reference` names for `GET /plugins/{name}/json`: its name,
/// the `NAME:VERSION` that `docker plugin ls` shows, or its `Id`, as
/// moby's plugin store resolves a name, a reference or an id.
fn find_docker<'a>(all: &'a [PluginStatus], reference: &str) -> Option<&'a PluginStatus> {
    all.iter()
        .find(|status| status.name == reference)
        .or_else(|| {
            let (name, version) = reference.split_once(':')?;
            all.iter().find(|status| {
                status.name == name && status.version.as_deref().unwrap_or("refused") == version
            })
        })
        .or_else(|| {
            all.iter()
                .find(|status| docker_plugin(status)["Id"].as_str() == Some(reference))
        })
}

/// Hex of a name, to give refused plugins (no digest) a stable Id.
fn hex_name(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Registers the admin job `name` over the plugin host.
fn admin_job<F, Fut>(engine: &Engine, name: &str, description: &str, host: &PluginHost, f: F)
where
    F: Fn(PluginHost, Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    // The admin jobs back the `/berth/plugins` routes and take a plugin's
    // name, never a path: the host looks it up in its table. Like the
    // Docker operations they run only through their routes.
    engine.register(
        name,
        Exposure::Route,
        Arc::new(handler_with(description, host.clone(), f)),
    );
}

/// What the `/berth/plugins/{name}/{action}` jobs do.
#[derive(Debug, Clone, Copy)]
enum Action {
    Enable,
    Disable,
    Reload,
}

/// Answers a plugin's status as JSON.
async fn write_status(out: &JobOutput, status: &PluginStatus) -> JobResult {
    out.write_json(&status_json(status)?).await?;
    Ok(0)
}

/// The jobs behind the `/berth/plugins` and Docker `/plugins` routes, one
/// named function each.
fn register_admin_jobs(engine: &Engine, host: &PluginHost) {
    admin_job(engine, "plugin_list", "list plugins", host, plugin_list);
    admin_job(
        engine,
        "plugin_list_docker",
        "list plugins in Docker's format",
        host,
        plugin_list_docker,
    );
    admin_job(
        engine,
        "plugin_inspect_docker",
        "inspect a plugin in Docker's format",
        host,
        plugin_inspect_docker,
    );
    admin_job(
        engine,
        "plugin_inspect",
        "inspect a plugin",
        host,
        plugin_inspect,
    );
    admin_job(
        engine,
        "plugin_enable",
        "enable a plugin",
        host,
        |host, job| plugin_change(host, job, Action::Enable),
    );
    admin_job(
        engine,
        "plugin_disable",
        "disable a plugin",
        host,
        |host, job| plugin_change(host, job, Action::Disable),
    );
    admin_job(
        engine,
        "plugin_reload",
        "re-read grants and reload a plugin",
        host,
        |host, job| plugin_change(host, job, Action::Reload),
    );
}

/// `plugin_list`: every plugin's status.
async fn plugin_list(host: PluginHost, job: Job) -> JobResult {
    let all: Vec<serde_json::Value> = host
        .list()
        .iter()
        .map(status_json)
        .collect::<Result<_, _>>()?;
    job.stdout.write_json(&all).await?;
    Ok(0)
}

/// `plugin_list_docker`: the plugins in Docker's shape, filtered.
async fn plugin_list_docker(host: PluginHost, job: Job) -> JobResult {
    // moby `plugin/backend_linux.go`, `List`: `enabled` and
    // `capability` (the plugin's world here); nothing else.
    let invalid = |e: berth_api::filters::FilterError| JobError::invalid(e.to_string());
    let filters = berth_api::filters::Filters::parse(job.env.get("filters").unwrap_or(""))
        .map_err(invalid)?;
    filters
        .check_names(&["enabled", "capability"])
        .map_err(invalid)?;
    let enabled = filters.get_bool("enabled").map_err(invalid)?;
    let all: Vec<serde_json::Value> = host
        .list()
        .iter()
        .filter(|status| {
            let on = matches!(status.state, PluginState::Loaded | PluginState::Failing);
            let capability = status.world.map_or("unknown", |w| w.as_str());
            enabled.is_none_or(|want| want == on) && filters.matches("capability", capability)
        })
        .map(docker_plugin)
        .collect();
    job.stdout.write_json(&all).await?;
    Ok(0)
}

/// `plugin_inspect_docker`: one plugin in Docker's shape, found by name,
/// reference or id.
async fn plugin_inspect_docker(host: PluginHost, job: Job) -> JobResult {
    let reference = job.required_arg(0, "plugin name")?;
    let all = host.list();
    let status = find_docker(&all, reference).ok_or_else(|| {
        // moby `plugin/errors.go`, `errNotFound`: Go's %q of the
        // reference as given.
        JobError::not_found(format!("plugin {reference:?} not found"))
    })?;
    job.stdout.write_json(&docker_plugin(status)).await?;
    Ok(0)
}

/// `plugin_inspect`: one plugin's status.
async fn plugin_inspect(host: PluginHost, job: Job) -> JobResult {
    let name = job.required_arg(0, "plugin name")?;
    let status = host
        .inspect(name)
        .ok_or_else(|| JobError::not_found(format!("no such plugin: {name}")))?;
    write_status(&job.stdout, &status).await
}

/// `plugin_enable`, `plugin_disable`, `plugin_reload`: the change, then
/// the plugin's new status.
async fn plugin_change(host: PluginHost, job: Job, action: Action) -> JobResult {
    let name = job.required_arg(0, "plugin name")?;
    let status = match action {
        Action::Enable => host.set_enabled(name, true).await,
        Action::Disable => host.set_enabled(name, false).await,
        Action::Reload => host.reload(name).await,
    }
    .map_err(job_error)?;
    write_status(&job.stdout, &status).await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn setup() -> (tempfile::TempDir, Arc<Engine>, PluginHost) {
        let dir = tempfile::tempdir().unwrap();
        let host = PluginHost::start(PluginHostConfig::new(dir.path()))
            .await
            .unwrap();
        let engine = Engine::new();
        register(&engine, &host);
        (dir, engine, host)
    }

    #[tokio::test]
    async fn builtin_plugin_jobs_and_admin_jobs_are_in_the_table() {
        let (_dir, engine, _host) = setup().await;
        let handlers = engine.handlers();
        let gc = handlers.iter().find(|h| h.name == "image-gc").unwrap();
        assert_eq!(gc.source, "plugin:image-gc@1.0.0");
        assert!(gc.description.contains("usage: image-gc [--dry-run]"));
        for name in [
            "plugin_list",
            "plugin_list_docker",
            "plugin_reload",
            "disk-usage",
        ] {
            assert!(handlers.iter().any(|h| h.name == name), "{name}");
        }
    }

    #[tokio::test]
    async fn plugin_jobs_stream_output_and_status_through_the_engine() {
        let (_dir, engine, _host) = setup().await;
        let (job, streams) = Job::new("image-gc");
        let handle = engine.spawn(job.arg("--bogus"));
        let (out, err) = tokio::join!(streams.stdout.collect(), streams.stderr.collect());
        assert_eq!(handle.await.unwrap(), Ok(2));
        assert!(out.is_empty());
        assert!(String::from_utf8_lossy(&err).contains("unknown argument"));
    }

    #[tokio::test]
    async fn disabling_a_plugin_removes_its_jobs_and_publishes_events() {
        let (_dir, engine, host) = setup().await;
        let mut events = engine.events().subscribe();
        host.set_enabled("disk-usage", false).await.unwrap();
        let event = events.recv().await.unwrap();
        assert_eq!(
            (event.kind.as_str(), event.action.as_str()),
            ("plugin", "disable")
        );
        assert_eq!(event.actor.attributes["name"], "disk-usage");
        assert!(engine.handler("disk-usage").is_none());
        host.set_enabled("disk-usage", true).await.unwrap();
        let event = events.recv().await.unwrap();
        assert_eq!(event.action, "enable");
        assert!(engine.handler("disk-usage").is_some());
    }

    /// `GET /plugins?filters=...`: the result and the plugin names.
    async fn docker_list(engine: &Arc<Engine>, filters: &str) -> Result<Vec<String>, JobError> {
        let (job, streams) = Job::new("plugin_list_docker");
        let handle = engine.spawn(job.env("filters", filters));
        let out = streams.stdout.collect().await;
        handle.await.unwrap()?;
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        let mut names: Vec<String> = list
            .iter()
            .map(|p| p["Name"].as_str().unwrap_or_default().to_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    #[tokio::test]
    async fn docker_plugin_list_applies_dockers_filters() {
        let (_dir, engine, host) = setup().await;
        let all = docker_list(&engine, "").await.unwrap();
        assert!(all.len() > 1, "{all:?}");
        host.set_enabled("disk-usage", false).await.unwrap();
        let disabled = docker_list(&engine, r#"{"enabled":["false"]}"#)
            .await
            .unwrap();
        assert_eq!(disabled.len(), 1);
        assert!(disabled[0].starts_with("disk-usage:"), "{disabled:?}");
        let enabled = docker_list(&engine, r#"{"enabled":["true"]}"#)
            .await
            .unwrap();
        assert_eq!(enabled.len(), all.len() - 1);
        let jobs = docker_list(&engine, r#"{"capability":["job-handler"]}"#)
            .await
            .unwrap();
        assert!(jobs.iter().any(|n| n.starts_with("image-gc:")), "{jobs:?}");
        assert!(
            jobs.len() < all.len(),
            "policies are no job handlers: {jobs:?}"
        );
        assert!(
            docker_list(&engine, r#"{"capability":["volumedriver"]}"#)
                .await
                .unwrap()
                .is_empty()
        );
        for (filters, message) in [
            (r#"{"bogus":["x"]}"#, "invalid filter 'bogus'"),
            (
                r#"{"enabled":["maybe"]}"#,
                "invalid filter 'enabled=[maybe]'",
            ),
        ] {
            let err = docker_list(&engine, filters).await.unwrap_err();
            assert_eq!(
                (err.kind, err.message.as_str()),
                (ErrorKind::InvalidParameter, message)
            );
        }
    }

    /// Runs an admin job on `plugin`: its result and its JSON answer.
    async fn admin(
        engine: &Arc<Engine>,
        job: &str,
        plugin: &str,
    ) -> (JobResult, serde_json::Value) {
        let (job, streams) = Job::new(job);
        let handle = engine.spawn(job.arg(plugin));
        let out = streams.stdout.collect().await;
        let answer = serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null);
        (handle.await.unwrap(), answer)
    }

    #[tokio::test]
    async fn admin_jobs_answer_the_plugins_status() {
        let (_dir, engine, _host) = setup().await;
        let (result, status) = admin(&engine, "plugin_disable", "disk-usage").await;
        assert_eq!(
            (result, status["state"].as_str()),
            (Ok(0), Some("disabled"))
        );
        let (result, status) = admin(&engine, "plugin_enable", "disk-usage").await;
        assert_eq!((result, status["state"].as_str()), (Ok(0), Some("loaded")));
        let (result, status) = admin(&engine, "plugin_reload", "disk-usage").await;
        assert_eq!(
            (result, status["name"].as_str()),
            (Ok(0), Some("disk-usage"))
        );
        let (result, status) = admin(&engine, "plugin_inspect", "image-gc").await;
        assert_eq!((result, status["version"].as_str()), (Ok(0), Some("1.0.0")));
        let (result, _) = admin(&engine, "plugin_inspect", "nope").await;
        assert_eq!(result.unwrap_err().kind, ErrorKind::NotFound);
        let (result, _) = admin(&engine, "plugin_enable", "nope").await;
        assert_eq!(result.unwrap_err().kind, ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn docker_inspect_finds_a_plugin_by_name_reference_or_id() {
        let (_dir, engine, _host) = setup().await;
        let (result, by_name) = admin(&engine, "plugin_inspect_docker", "graph-layout").await;
        assert_eq!(result, Ok(0));
        assert_eq!(by_name["Name"], "graph-layout:1.0.0");
        assert_eq!(by_name["Enabled"], true);
        let id = by_name["Id"].as_str().unwrap().to_owned();
        for reference in ["graph-layout:1.0.0", id.as_str()] {
            let (result, found) = admin(&engine, "plugin_inspect_docker", reference).await;
            assert_eq!((result, &found), (Ok(0), &by_name), "{reference}");
        }
        for reference in ["nope", "graph-layout:9.9.9", "graph"] {
            let (result, _) = admin(&engine, "plugin_inspect_docker", reference).await;
            let err = result.unwrap_err();
            assert_eq!(
                (err.kind, err.message),
                (
                    ErrorKind::NotFound,
                    format!("plugin \"{reference}\" not found")
                )
            );
        }
    }

    #[tokio::test]
    async fn docker_format_lists_every_plugin() {
        let (_dir, engine, _host) = setup().await;
        let (job, streams) = Job::new("plugin_list_docker");
        let handle = engine.spawn(job);
        let out = streams.stdout.collect().await;
        assert_eq!(handle.await.unwrap(), Ok(0));
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        let names: Vec<&str> = list.iter().map(|p| p["Name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "authz-default:1.0.0",
                "disk-usage:1.0.0",
                "graph-layout:1.0.0",
                "image-gc:1.0.0",
                "network-policy-default:1.2.0",
                "registry-policy-default:1.0.0"
            ]
        );
        assert_eq!(list[2]["Enabled"], true);
        assert_eq!(list[2]["Id"].as_str().unwrap().len(), 64);
        assert_eq!(
            list[2]["Config"]["Interface"]["Types"][0],
            "berth.graph-policy/1.0.0"
        );
        assert_eq!(
            list[0]["Config"]["Interface"]["Types"][0],
            "berth.authz/1.1.0"
        );
    }
}
