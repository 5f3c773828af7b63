//! The handler table and jobs run through it.

use super::*;

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

/// The builtin jobs, their descriptions and exposures as `job_list` shows
/// them: API clients and authorization policies see these, so a change to
/// the handler table must not change them.
const BUILTIN_JOBS: [(&str, &str, Exposure); 61] = [
    (
        "build_prune",
        "removes build cache (berth has none yet)",
        Exposure::Route,
    ),
    (
        "container_archive",
        "a tar stream of a path in a container",
        Exposure::Route,
    ),
    (
        "container_archive_stat",
        "the stat of a path in a container",
        Exposure::Route,
    ),
    (
        "container_attach",
        "attaches stdin (job stdin) and output (job stdout) to a container",
        Exposure::Route,
    ),
    (
        "container_changes",
        "lists what a container changed in its image's files",
        Exposure::Route,
    ),
    (
        "container_commit",
        "makes a new image of a container's changes",
        Exposure::Route,
    ),
    (
        "container_create",
        "creates a container from a JSON config on stdin",
        Exposure::Route,
    ),
    ("container_delete", "removes a container", Exposure::Route),
    (
        "container_export",
        "writes a container's root filesystem as one tar",
        Exposure::Route,
    ),
    (
        "container_extract_to_dir",
        "extracts a tar stream from stdin under a directory of a container",
        Exposure::Route,
    ),
    ("container_inspect", "shows a container", Exposure::Route),
    (
        "container_kill",
        "sends a signal to a container",
        Exposure::Route,
    ),
    ("container_list", "lists containers", Exposure::Route),
    (
        "container_logs",
        "streams a container's logs",
        Exposure::Route,
    ),
    (
        "container_pause",
        "freezes every process of a container",
        Exposure::Route,
    ),
    (
        "container_prune",
        "removes stopped containers",
        Exposure::Route,
    ),
    (
        "container_rename",
        "gives a container a new name",
        Exposure::Route,
    ),
    (
        "container_resize",
        "resizes a container's TTY",
        Exposure::Route,
    ),
    (
        "container_restart",
        "stops a container as container_stop does, then starts it",
        Exposure::Route,
    ),
    ("container_start", "starts a container", Exposure::Route),
    (
        "container_stats",
        "streams a container's resource usage samples",
        Exposure::Route,
    ),
    (
        "container_stop",
        "stops a container: its stop signal, then SIGKILL after t seconds",
        Exposure::Route,
    ),
    (
        "container_top",
        "lists a container's processes with the host's ps",
        Exposure::Route,
    ),
    (
        "container_unpause",
        "thaws a paused container",
        Exposure::Route,
    ),
    (
        "container_update",
        "changes a container's limits and restart policy, live when it runs",
        Exposure::Route,
    ),
    (
        "container_wait",
        "waits for a container to stop, exit or be removed",
        Exposure::Route,
    ),
    (
        "exec_create",
        "creates an exec in a running container from a JSON config on stdin",
        Exposure::Route,
    ),
    ("exec_inspect", "shows an exec", Exposure::Route),
    ("exec_resize", "resizes an exec's TTY", Exposure::Route),
    (
        "exec_start",
        "starts an exec and streams it (job stdin: its input)",
        Exposure::Route,
    ),
    (
        "image_delete",
        "removes an image or one of its tags",
        Exposure::Route,
    ),
    (
        "image_history",
        "shows the history of an image",
        Exposure::Route,
    ),
    (
        "image_import",
        "imports a rootfs tarball from stdin as an image",
        Exposure::Route,
    ),
    ("image_inspect", "shows an image", Exposure::Route),
    ("image_list", "lists images", Exposure::Route),
    (
        "image_load",
        "loads the images of a docker-archive or OCI layout tar from stdin",
        Exposure::Route,
    ),
    ("image_prune", "removes unused images", Exposure::Route),
    (
        "image_pull",
        "pulls an image from a registry (env X-Registry-Auth: credentials)",
        Exposure::Route,
    ),
    (
        "image_push",
        "pushes an image to a registry (env X-Registry-Auth: credentials)",
        Exposure::Route,
    ),
    (
        "image_save",
        "writes images as one docker-archive and OCI layout tar",
        Exposure::Route,
    ),
    (
        "image_search",
        "searches a registry's repositories",
        Exposure::Route,
    ),
    ("image_tag", "tags an image", Exposure::Route),
    (
        "job_list",
        "lists the engine's handler table",
        Exposure::Route,
    ),
    (
        "network_connect",
        "puts a container on a network (stdin: NetworkConnectRequest)",
        Exposure::Route,
    ),
    (
        "network_create",
        "creates a bridge network from a JSON body on stdin",
        Exposure::Route,
    ),
    ("network_delete", "removes a network", Exposure::Route),
    (
        "network_disconnect",
        "takes a container off a network (stdin: NetworkDisconnectRequest)",
        Exposure::Route,
    ),
    ("network_inspect", "shows a network", Exposure::Route),
    ("network_list", "lists networks", Exposure::Route),
    ("network_prune", "removes unused networks", Exposure::Route),
    (
        "system_auth",
        "checks registry credentials (docker login; stdin: AuthConfig)",
        Exposure::Route,
    ),
    (
        "system_df",
        "the disk use of images and containers",
        Exposure::Route,
    ),
    (
        "system_events",
        "streams events as JSON lines",
        Exposure::Route,
    ),
    ("system_info", "system-wide information", Exposure::Route),
    (
        "system_ping",
        "answers OK when the daemon is up",
        Exposure::Route,
    ),
    ("system_version", "the daemon's version", Exposure::Route),
    (
        "volume_create",
        "creates a volume from a JSON body on stdin",
        Exposure::Route,
    ),
    (
        "volume_delete",
        "removes a volume no container uses",
        Exposure::Route,
    ),
    ("volume_inspect", "shows a volume", Exposure::Route),
    ("volume_list", "lists volumes", Exposure::Route),
    ("volume_prune", "removes unused volumes", Exposure::Route),
];

#[test]
fn the_builtin_handler_table_is_unchanged() {
    let f = fixture();
    let listed: Vec<(String, String, Exposure, String)> = f
        .engine
        .handlers()
        .into_iter()
        .map(|h| (h.name, h.description, h.exposure, h.source))
        .collect();
    let expected: Vec<(String, String, Exposure, String)> = BUILTIN_JOBS
        .into_iter()
        .map(|(name, description, exposure)| {
            (
                name.to_owned(),
                description.to_owned(),
                exposure,
                "builtin".to_owned(),
            )
        })
        .collect();
    assert_eq!(listed, expected);
}

/// A second row with a name would silently replace the first handler.
#[test]
fn every_row_of_the_table_names_a_job_of_its_own() {
    let mut names: Vec<&str> = handlers::JOBS.iter().map(|j| j.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), handlers::JOBS.len());
    assert_eq!(names.len(), BUILTIN_JOBS.len());
}
