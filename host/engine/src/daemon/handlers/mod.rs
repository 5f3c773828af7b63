//! The daemon's jobs: one handler per Docker operation.
//!
//! Conventions, as in Docker 1.x: positional `args` carry the object the
//! request names (`container_start <id>`), `env` carries query parameters
//! under their API names (`t`, `signal`, `all`, `filters`, ...), `stdin` is
//! the request body, and `stdout` the response body (JSON, or a stream).
//!
//! | job | args | env | stdout |
//! |---|---|---|---|
//! | `system_ping` | | | `OK` |
//! | `system_version` | | | `VersionResponse` |
//! | `system_info` | | | `InfoResponse` |
//! | `system_events` | | `since`, `until`, `filters` | event lines |
//! | `system_df` | | `type`* | `DiskUsageResponse` |
//! | `job_list` | | | `[JobHandlerInfo]` |
//! | `image_list` | | | `[ImageSummary]` |
//! | `image_inspect` | name | | `ImageInspect` |
//! | `image_import` | | `fromSrc`, `repo`, `tag`, `changes`*, `message`, `platform` | progress lines |
//! | `system_auth` | | | `{"Status":"Login Succeeded"}` (stdin: `AuthConfig`) |
//! | `image_pull` | | `fromImage`, `tag`, `platform`, `X-Registry-Auth` | progress lines |
//! | `image_push` | name | `tag`, `X-Registry-Auth` | progress lines |
//! | `image_search` | | `term`, `limit`, `filters`, `listTags`, `X-Registry-Auth` | `[SearchResult]`; with `listTags`, `[{name, tag}]` |
//! | `image_tag` | name | `repo`, `tag` | |
//! | `image_delete` | name | `force`, `noprune` | `[ImageDeleteItem]` |
//! | `image_prune` | | `filters` | `ImagePruneResponse` |
//! | `image_load` | | `quiet` (stdin: an image archive) | `{"stream"}` lines |
//! | `image_history` | name | | `[HistoryResponseItem]` |
//! | `image_save` | name* | `names`* | a tar stream |
//! | `container_export` | id | | a tar stream |
//! | `container_commit` | | `container`, `repo`, `tag`, `comment`, `author`, `pause`, `changes`* | `{"Id"}` |
//! | `container_create` | | `name` | `CreateResponse` |
//! | `container_list` | | `all`, `filters`, `limit`, `size` | `[ContainerSummary]` |
//! | `container_inspect` | id | | `ContainerInspect` |
//! | `container_start` | id | | |
//! | `container_stop` | id | `t`, `signal` | |
//! | `container_restart` | id | `t`, `signal` | |
//! | `container_rename` | id | `name` | |
//! | `container_update` | id | | `UpdateResponse` (stdin: `UpdateConfig`) |
//! | `container_top` | id | `ps_args` | `TopResponse` |
//! | `container_kill` | id | `signal` | |
//! | `container_pause` | id | | |
//! | `container_unpause` | id | | |
//! | `container_wait` | id | `condition` | `WaitResponse` |
//! | `container_delete` | id | `force`, `v` | |
//! | `container_logs` | id | `follow`, `stdout`, `stderr`, `tail`, `since`, `until`, `timestamps` | frames |
//! | `container_attach` | id | `logs`, `stream`, `stdin`, `stdout`, `stderr`, `detachKeys` | frames: the log (`logs`), then live output (`stream`; stdin: client input) |
//! | `container_resize` | id | `h`, `w` | |
//! | `container_prune` | | `filters` | `ContainerPruneResponse` |
//! | `container_changes` | id | | `[FilesystemChange]` |
//! | `exec_create` | container id | | `{"Id"}` (stdin: `ExecCreateRequest`) |
//! | `exec_start` | exec id | `detach`, `h`, `w` | frames (stdin: client input) |
//! | `exec_inspect` | exec id | | `ExecInspect` |
//! | `exec_resize` | exec id | `h`, `w` | |
//! | `container_archive_stat` | id | `path` | `PathStat` |
//! | `container_archive` | id | `path` | a `PathStat` line, then a tar stream |
//! | `container_extract_to_dir` | id | `path`, `noOverwriteDirNonDir`, `copyUIDGID` (stdin: a tar stream) | |
//! | `container_stats` | id | `stream`, `one-shot` | `StatsResponse` lines |
//! | `network_prune` | | `filters` | `NetworkPruneResponse` |
//! | `network_create` | | | `NetworkCreateResponse` (stdin: `NetworkCreateRequest`) |
//! | `network_list` | | `filters` | `[NetworkResource]` |
//! | `network_inspect` | id or name | | `NetworkResource` |
//! | `network_delete` | id or name | | |
//! | `network_connect` | id or name | | (stdin: `NetworkConnectRequest`) |
//! | `network_disconnect` | id or name | | (stdin: `NetworkDisconnectRequest`) |
//! | `build_prune` | | `filters`, `all`, `keep-storage`, `reserved-space`, `max-used-space`, `min-free-space` | `BuildCachePruneResponse` |
//! | `volume_create` | | | `Volume` |
//! | `volume_list` | | `filters` | `VolumeListResponse` |
//! | `volume_inspect` | name | | `Volume` |
//! | `volume_delete` | name | `force` | |
//! | `volume_prune` | | `filters` | `VolumePruneResponse` |
//!
//! Each job is one named `async fn` (in `system.rs`, `images.rs` or
//! `containers.rs`, by the resource it acts on) and one row of [`JOBS`],
//! which [`register_all`] walks: adding a verb is one function and one row.

use std::sync::{Arc, Weak};

use berth_api::system::{InfoResponse, VersionResponse};

use crate::daemon::Daemon;
use crate::engine::{Engine, Exposure};
use crate::job::{BoxFuture, Handler, Job, JobResult, handler_with};

mod archive;
mod containers;
mod exec;
mod image_archive;
mod images;
mod networks;
mod registry;
mod system;
mod volumes;

/// Static facts for `version` and `info`.
#[derive(Debug, Clone, Default)]
pub struct SystemFacts {
    /// `version` answer (the API versions are filled in by the edge).
    pub version: VersionResponse,
    /// `info` answer: the fields that do not change while running.
    pub info: InfoResponse,
}

/// What every builtin handler works on; each job gets a clone of the
/// [`Arc`].
pub struct Context {
    daemon: Arc<Daemon>,
    facts: SystemFacts,
    /// The engine owns the handlers: they hold it weakly.
    engine: Weak<Engine>,
}

/// One builtin job: a row of [`JOBS`].
#[derive(Debug, Clone, Copy)]
pub struct JobSpec {
    /// The job's name, Docker's operation name (`container_create`).
    pub name: &'static str,
    /// What `job_list` says the job does.
    pub description: &'static str,
    /// Where API clients may run it from.
    pub exposure: Exposure,
    /// Runs one job.
    pub handler: fn(Arc<Context>, Job) -> BoxFuture<JobResult>,
}

/// The daemon's builtin jobs, grouped by resource.
///
/// Every job here is one Docker API operation, reachable through its route
/// with the same args and env, and none takes a host path or a listen
/// address from them (`image_import` refuses any `fromSrc` but the request
/// body). They are [`Exposure::Route`]: the job API does not run them, so an
/// authorization policy sees each such request in the form Docker clients
/// send it. A job that is not an API operation needs an exposure of its
/// own, chosen for it.
pub const JOBS: &[JobSpec] = &[
    JobSpec {
        name: "system_ping",
        description: "answers OK when the daemon is up",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(system::system_ping(cx, job)),
    },
    JobSpec {
        name: "system_version",
        description: "the daemon's version",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(system::system_version(cx, job)),
    },
    JobSpec {
        name: "system_info",
        description: "system-wide information",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(system::system_info(cx, job)),
    },
    JobSpec {
        name: "system_events",
        description: "streams events as JSON lines",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(system::system_events(cx, job)),
    },
    JobSpec {
        name: "system_df",
        description: "the disk use of images and containers",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(system::system_df(cx, job)),
    },
    JobSpec {
        name: "job_list",
        description: "lists the engine's handler table",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(system::job_list(cx, job)),
    },
    JobSpec {
        name: "image_list",
        description: "lists images",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(images::image_list(cx, job)),
    },
    JobSpec {
        name: "image_inspect",
        description: "shows an image",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(images::image_inspect(cx, job)),
    },
    JobSpec {
        name: "image_import",
        description: "imports a rootfs tarball from stdin as an image",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(images::image_import(cx, job)),
    },
    JobSpec {
        name: "system_auth",
        description: "checks registry credentials (docker login; stdin: AuthConfig)",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(registry::system_auth(cx, job)),
    },
    JobSpec {
        name: "image_pull",
        description: "pulls an image from a registry (env X-Registry-Auth: credentials)",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(images::image_pull(cx, job)),
    },
    JobSpec {
        name: "image_push",
        description: "pushes an image to a registry (env X-Registry-Auth: credentials)",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(registry::image_push(cx, job)),
    },
    JobSpec {
        name: "image_search",
        description: "searches a registry's repositories",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(registry::image_search(cx, job)),
    },
    JobSpec {
        name: "image_tag",
        description: "tags an image",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(images::image_tag(cx, job)),
    },
    JobSpec {
        name: "image_delete",
        description: "removes an image or one of its tags",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(images::image_delete(cx, job)),
    },
    JobSpec {
        name: "image_prune",
        description: "removes unused images",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(images::image_prune(cx, job)),
    },
    JobSpec {
        name: "image_load",
        description: "loads the images of a docker-archive or OCI layout tar from stdin",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(image_archive::image_load(cx, job)),
    },
    JobSpec {
        name: "image_history",
        description: "shows the history of an image",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(image_archive::image_history(cx, job)),
    },
    JobSpec {
        name: "image_save",
        description: "writes images as one docker-archive and OCI layout tar",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(image_archive::image_save(cx, job)),
    },
    JobSpec {
        name: "container_export",
        description: "writes a container's root filesystem as one tar",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(image_archive::container_export(cx, job)),
    },
    JobSpec {
        name: "container_commit",
        description: "makes a new image of a container's changes",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(image_archive::container_commit(cx, job)),
    },
    JobSpec {
        name: "container_create",
        description: "creates a container from a JSON config on stdin",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_create(cx, job)),
    },
    JobSpec {
        name: "container_list",
        description: "lists containers",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_list(cx, job)),
    },
    JobSpec {
        name: "container_inspect",
        description: "shows a container",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_inspect(cx, job)),
    },
    JobSpec {
        name: "container_start",
        description: "starts a container",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_start(cx, job)),
    },
    JobSpec {
        name: "container_stop",
        description: "stops a container: its stop signal, then SIGKILL after t seconds",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_stop(cx, job)),
    },
    JobSpec {
        name: "container_restart",
        description: "stops a container as container_stop does, then starts it",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_restart(cx, job)),
    },
    JobSpec {
        name: "container_rename",
        description: "gives a container a new name",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_rename(cx, job)),
    },
    JobSpec {
        name: "container_update",
        description: "changes a container's limits and restart policy, live when it runs",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_update(cx, job)),
    },
    JobSpec {
        name: "container_top",
        description: "lists a container's processes with the host's ps",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_top(cx, job)),
    },
    JobSpec {
        name: "container_pause",
        description: "freezes every process of a container",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_pause(cx, job)),
    },
    JobSpec {
        name: "container_unpause",
        description: "thaws a paused container",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_unpause(cx, job)),
    },
    JobSpec {
        name: "container_kill",
        description: "sends a signal to a container",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_kill(cx, job)),
    },
    JobSpec {
        name: "container_wait",
        description: "waits for a container to stop, exit or be removed",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_wait(cx, job)),
    },
    JobSpec {
        name: "container_delete",
        description: "removes a container",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_delete(cx, job)),
    },
    JobSpec {
        name: "container_logs",
        description: "streams a container's logs",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_logs(cx, job)),
    },
    JobSpec {
        name: "container_attach",
        description: "attaches stdin (job stdin) and output (job stdout) to a container",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_attach(cx, job)),
    },
    JobSpec {
        name: "container_resize",
        description: "resizes a container's TTY",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_resize(cx, job)),
    },
    JobSpec {
        name: "container_prune",
        description: "removes stopped containers",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_prune(cx, job)),
    },
    JobSpec {
        name: "container_changes",
        description: "lists what a container changed in its image's files",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_changes(cx, job)),
    },
    JobSpec {
        name: "exec_create",
        description: "creates an exec in a running container from a JSON config on stdin",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(exec::exec_create(cx, job)),
    },
    JobSpec {
        name: "exec_start",
        description: "starts an exec and streams it (job stdin: its input)",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(exec::exec_start(cx, job)),
    },
    JobSpec {
        name: "exec_inspect",
        description: "shows an exec",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(exec::exec_inspect(cx, job)),
    },
    JobSpec {
        name: "exec_resize",
        description: "resizes an exec's TTY",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(exec::exec_resize(cx, job)),
    },
    JobSpec {
        name: "container_archive_stat",
        description: "the stat of a path in a container",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(archive::container_archive_stat(cx, job)),
    },
    JobSpec {
        name: "container_archive",
        description: "a tar stream of a path in a container",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(archive::container_archive(cx, job)),
    },
    JobSpec {
        name: "container_extract_to_dir",
        description: "extracts a tar stream from stdin under a directory of a container",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(archive::container_extract_to_dir(cx, job)),
    },
    JobSpec {
        name: "container_stats",
        description: "streams a container's resource usage samples",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(containers::container_stats(cx, job)),
    },
    JobSpec {
        name: "network_prune",
        description: "removes unused networks",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(system::network_prune(cx, job)),
    },
    JobSpec {
        name: "network_create",
        description: "creates a bridge network from a JSON body on stdin",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(networks::network_create(cx, job)),
    },
    JobSpec {
        name: "network_list",
        description: "lists networks",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(networks::network_list(cx, job)),
    },
    JobSpec {
        name: "network_inspect",
        description: "shows a network",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(networks::network_inspect(cx, job)),
    },
    JobSpec {
        name: "network_delete",
        description: "removes a network",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(networks::network_delete(cx, job)),
    },
    JobSpec {
        name: "network_connect",
        description: "puts a container on a network (stdin: NetworkConnectRequest)",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(networks::network_connect(cx, job)),
    },
    JobSpec {
        name: "network_disconnect",
        description: "takes a container off a network (stdin: NetworkDisconnectRequest)",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(networks::network_disconnect(cx, job)),
    },
    JobSpec {
        name: "build_prune",
        description: "removes build cache (berth has none yet)",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(system::build_prune(cx, job)),
    },
    JobSpec {
        name: "volume_create",
        description: "creates a volume from a JSON body on stdin",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(volumes::volume_create(cx, job)),
    },
    JobSpec {
        name: "volume_list",
        description: "lists volumes",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(volumes::volume_list(cx, job)),
    },
    JobSpec {
        name: "volume_inspect",
        description: "shows a volume",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(volumes::volume_inspect(cx, job)),
    },
    JobSpec {
        name: "volume_delete",
        description: "removes a volume no container uses",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(volumes::volume_delete(cx, job)),
    },
    JobSpec {
        name: "volume_prune",
        description: "removes unused volumes",
        exposure: Exposure::Route,
        handler: |cx, job| Box::pin(volumes::volume_prune(cx, job)),
    },
];

/// Registers every builtin job of the daemon ([`JOBS`]) on `engine`.
pub fn register_all(engine: &Arc<Engine>, daemon: &Arc<Daemon>, facts: SystemFacts) {
    let cx = Arc::new(Context {
        daemon: Arc::clone(daemon),
        facts,
        engine: Arc::downgrade(engine),
    });
    for spec in JOBS {
        let handler: Arc<dyn Handler> = Arc::new(handler_with(
            spec.description,
            Arc::clone(&cx),
            spec.handler,
        ));
        engine.register(spec.name, spec.exposure, handler);
    }
}
