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
//! | `job_list` | | | `[JobHandlerInfo]` |
//! | `image_list` | | | `[ImageSummary]` |
//! | `image_inspect` | name | | `ImageInspect` |
//! | `image_import` | | `fromSrc`, `repo`, `tag`, `changes`*, `message`, `platform` | progress lines |
//! | `image_tag` | name | `repo`, `tag` | |
//! | `image_delete` | name | `force`, `noprune` | `[ImageDeleteItem]` |
//! | `container_create` | | `name` | `CreateResponse` |
//! | `container_list` | | `all`, `filters`, `limit` | `[ContainerSummary]` |
//! | `container_inspect` | id | | `ContainerInspect` |
//! | `container_start` | id | | |
//! | `container_stop` | id | `t`, `signal` | |
//! | `container_kill` | id | `signal` | |
//! | `container_pause` | id | | |
//! | `container_unpause` | id | | |
//! | `container_wait` | id | `condition` | `WaitResponse` |
//! | `container_delete` | id | `force`, `v` | |
//! | `container_logs` | id | `follow`, `stdout`, `stderr`, `tail`, `since`, `until`, `timestamps` | frames |
//! | `container_attach` | id | `logs`, `stream`, `stdin`, `stdout`, `stderr` | frames: the log (`logs`), then live output (`stream`; stdin: client input) |
//! | `container_resize` | id | `h`, `w` | |

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use berth_api::container::{CreateRequest, WaitCondition, WaitResponse};
use berth_api::event::EventMessage;
use berth_api::filters::Filters;
use berth_api::image::{ImageDeleteItem, ProgressMessage};
use berth_api::system::{InfoResponse, VersionResponse};

use crate::daemon::blocking::BlockingKind;
use crate::daemon::{AttachReplay, Daemon};
use crate::driver::{AttachOptions, ImportOptions, LogOptions};
use crate::engine::{Engine, Exposure};
use crate::job::{ErrorKind, Handler, Job, JobError, JobResult, JobStdin, handler_with};

/// Largest JSON request body accepted (create requests are a few KiB).
const MAX_JSON_BODY: usize = 4 << 20;

/// Static facts for `version` and `info`.
#[derive(Debug, Clone, Default)]
pub struct SystemFacts {
    /// `version` answer (the API versions are filled in by the edge).
    pub version: VersionResponse,
    /// `info` answer: the fields that do not change while running.
    pub info: InfoResponse,
}

/// Registers the builtin job `name`, whose handler gets a clone of `state`
/// with every job.
///
/// Every job here is one Docker API operation, reachable through its route
/// with the same args and env, and none takes a host path or a listen
/// address from them (`image_import` refuses any `fromSrc` but the request
/// body). They are [`Exposure::Route`]: the job API does not run them, so an
/// authorization policy sees each such request in the form Docker clients
/// send it. A job that is not an API operation does not belong in this
/// helper.
fn register<S, F, Fut>(engine: &Engine, name: &str, description: &str, state: S, f: F)
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S, Job) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = JobResult> + Send + 'static,
{
    let handler: Arc<dyn Handler> = Arc::new(handler_with(description, state, f));
    engine.register(name, Exposure::Route, handler);
}

/// Registers every builtin job of the daemon on `engine`.
pub fn register_all(engine: &Arc<Engine>, daemon: &Arc<Daemon>, facts: SystemFacts) {
    let facts = Arc::new(facts);
    register(
        engine,
        "system_ping",
        "answers OK when the daemon is up",
        (),
        |(), job| async move {
            job.stdout.write(&b"OK"[..]).await?;
            Ok(0)
        },
    );
    register(
        engine,
        "system_version",
        "the daemon's version",
        Arc::clone(&facts),
        |facts, job| async move {
            job.stdout.write_json(&facts.version).await?;
            Ok(0)
        },
    );
    register(
        engine,
        "system_info",
        "system-wide information",
        (facts, Arc::clone(daemon)),
        |(facts, d), job| async move {
            let mut info = facts.info.clone();
            let counts = d.containers().count_by_status();
            let get = |s: &str| counts.get(s).copied().unwrap_or(0);
            info.containers = counts.values().sum();
            info.containers_running = get("running");
            info.containers_paused = get("paused");
            info.containers_stopped =
                info.containers - info.containers_running - info.containers_paused;
            let images = Arc::clone(d.images());
            info.images = d
                .blocking(BlockingKind::ImageMetadata, move || images.list())
                .await?
                .len() as u64;
            info.driver = d.images().driver_name();
            job.stdout.write_json(&info).await?;
            Ok(0)
        },
    );
    register(
        engine,
        "system_events",
        "streams events as JSON lines",
        Arc::clone(daemon),
        |d, job| async move { events(&d, job).await },
    );
    // The engine owns the handlers: they hold it weakly.
    register(
        engine,
        "job_list",
        "lists the engine's handler table",
        Arc::downgrade(engine),
        |engine: Weak<Engine>, job| async move {
            let engine = engine.upgrade().ok_or_else(|| {
                JobError::new(ErrorKind::Unavailable, "the engine is shutting down")
            })?;
            job.stdout.write_json(&engine.handlers()).await?;
            Ok(0)
        },
    );

    register_images(engine, daemon);
    register_containers(engine, daemon);
}

/// The filters of `/events` (moby `daemon/events/filter.go`); berth emits
/// no event of the swarm, network, volume or daemon kinds, and refuses
/// their filters rather than answer as if they had matched.
const EVENT_FILTERS: [&str; 14] = [
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];
const UNSUPPORTED_EVENT_FILTERS: [&str; 7] = [
    "config", "daemon", "network", "node", "secret", "service", "volume",
];

async fn events(daemon: &Daemon, job: Job) -> JobResult {
    let filters = Filters::parse(job.env.get("filters").unwrap_or(""))
        .map_err(|e| JobError::invalid(e.to_string()))?;
    filters
        .check_names(&EVENT_FILTERS)
        .and_then(|()| filters.refuse(&UNSUPPORTED_EVENT_FILTERS))
        .map_err(|e| JobError::invalid(e.to_string()))?;
    let since = parse_unix_nanos(job.env.get("since"))?;
    let until = parse_unix_nanos(job.env.get("until"))?;
    // The replay and the live stream split the events between them: an
    // event published meanwhile is sent once.
    let (past, mut rx) = match since {
        Some(since) => daemon.events().subscribe_since(since),
        None => (Vec::new(), daemon.events().subscribe()),
    };
    let matches = |m: &EventMessage| event_matches(&filters, m);
    job.stdout.begin(Some("application/json")).await?;
    for m in past {
        if until.is_some_and(|u| m.time_nano > u) {
            return Ok(0);
        }
        if matches(&m) {
            job.stdout.write_json(&m).await?;
        }
    }
    let deadline = until.map(|u| {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        std::time::Duration::from_nanos(u.saturating_sub(now).max(0) as u64)
    });
    let stream = async {
        loop {
            tokio::select! {
                received = rx.recv() => match received {
                    Ok(m) => {
                        if matches(&m) {
                            job.stdout.write_json(&m).await?;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "events subscriber fell behind");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok::<(), JobError>(()),
                },
                _ = job.stdout.closed() => return Ok(()),
            }
        }
    };
    match deadline {
        Some(d) => {
            let _ = tokio::time::timeout(d, stream).await;
        }
        None => stream.await?,
    }
    Ok(0)
}

/// moby's `events.Filter.Include` for the filters berth applies: `type`,
/// `event` and `scope` exactly (every berth event is `local`); `container`
/// and `plugin` by a prefix of the actor's id or name; `image` by the id or
/// the image name, with or without its tag; `label` against the actor's
/// attributes.
fn event_matches(filters: &Filters, m: &EventMessage) -> bool {
    let attr = |name: &str| m.actor.attributes.get(name).map_or("", String::as_str);
    let fuzzy = |filter: &str| {
        let wanted = filters.get(filter);
        wanted.is_empty()
            || wanted.iter().any(|w| {
                m.actor.id.starts_with(w.as_str())
                    || (!attr("name").is_empty() && attr("name").starts_with(w.as_str()))
            })
    };
    let image_name = if m.kind == "image" {
        attr("name")
    } else {
        attr("image")
    };
    let strip_tag = |s: &str| -> String {
        match s.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => name.to_owned(),
            _ => s.to_owned(),
        }
    };
    filters.exact("type", &m.kind)
        && filters.exact("event", &m.action)
        && filters.exact("scope", "local")
        && fuzzy("container")
        && fuzzy("plugin")
        && (filters.exact("image", &m.actor.id)
            || (!image_name.is_empty()
                && (filters.exact("image", image_name)
                    || filters.exact("image", &strip_tag(image_name)))))
        && filters.match_labels("label", &m.actor.attributes)
}

/// `since`/`until`: Unix seconds, possibly fractional (`1700000000.5`).
fn parse_unix_nanos(raw: Option<&str>) -> Result<Option<i64>, JobError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let secs: f64 = raw.parse().map_err(|_| {
        JobError::invalid(format!("invalid timestamp {raw:?}: expected Unix seconds"))
    })?;
    Ok(Some((secs * 1e9) as i64))
}

fn register_images(engine: &Engine, daemon: &Arc<Daemon>) {
    let d = || Arc::clone(daemon);
    register(
        engine,
        "image_list",
        "lists images",
        d(),
        |d, job| async move {
            let mut filters = Filters::parse(job.env.get("filters").unwrap_or(""))
                .map_err(|e| JobError::invalid(e.to_string()))?;
            // API < 1.28 clients send `docker images REPO` as `filter`
            // (moby's image router turns it into a reference filter).
            if let Some(reference) = job.env.get("filter").filter(|r| !r.is_empty()) {
                filters.add("reference", reference);
            }
            let list = d.image_list(&filters).await?;
            job.stdout.write_json(&list).await?;
            Ok(0)
        },
    );
    register(
        engine,
        "image_inspect",
        "shows an image",
        d(),
        |d, job| async move {
            let name = job.required_arg(0, "image name")?.to_owned();
            let images = Arc::clone(d.images());
            let image = d
                .blocking(BlockingKind::ImageMetadata, move || images.inspect(&name))
                .await?;
            job.stdout.write_json(&image).await?;
            Ok(0)
        },
    );
    register(
        engine,
        "image_import",
        "imports a rootfs tarball from stdin as an image",
        d(),
        |d, job| async move { image_import(&d, job).await },
    );
    register(
        engine,
        "image_tag",
        "tags an image",
        d(),
        |d, job| async move {
            let name = job.required_arg(0, "image name")?.to_owned();
            let repo = job.env.get("repo").unwrap_or("").to_owned();
            let tag = job.env.get("tag").unwrap_or("").to_owned();
            if repo.is_empty() {
                return Err(JobError::invalid(
                    "repository name must have at least one component",
                ));
            }
            let images = Arc::clone(d.images());
            let (n, r, t) = (name.clone(), repo.clone(), tag.clone());
            d.blocking(BlockingKind::ImageMetadata, move || images.tag(&n, &r, &t))
                .await?;
            let reference = if tag.is_empty() {
                format!("{repo}:latest")
            } else {
                format!("{repo}:{tag}")
            };
            let images = Arc::clone(d.images());
            let id = d
                .blocking(BlockingKind::ImageMetadata, move || images.inspect(&name))
                .await
                .map(|i| i.id)
                .unwrap_or_default();
            d.events().publish(
                "image",
                "tag",
                &id,
                BTreeMap::from([("name".to_owned(), reference)]),
            );
            Ok(0)
        },
    );
    register(
        engine,
        "image_delete",
        "removes an image or one of its tags",
        d(),
        |d, job| async move {
            let name = job.required_arg(0, "image name")?.to_owned();
            let force = job.env.get_bool("force")?;
            let images = Arc::clone(d.images());
            // Removing an image deletes its layers' files.
            let items = d
                .blocking(BlockingKind::ImageContent, move || {
                    images.remove(&name, force)
                })
                .await?;
            for item in &items {
                let (action, id) = match item {
                    ImageDeleteItem::Untagged(r) => ("untag", r),
                    ImageDeleteItem::Deleted(id) => ("delete", id),
                };
                d.events().publish("image", action, id, BTreeMap::new());
            }
            job.stdout.write_json(&items).await?;
            Ok(0)
        },
    );
}

async fn image_import(daemon: &Daemon, mut job: Job) -> JobResult {
    if let Some(image) = job.env.get("fromImage").filter(|s| !s.is_empty()) {
        return Err(JobError::new(
            ErrorKind::NotImplemented,
            format!(
                "pulling {image} is not supported yet: import a rootfs tarball with `berth import`"
            ),
        ));
    }
    match job.env.get("fromSrc") {
        Some("-") => {}
        Some(src) if !src.is_empty() => {
            return Err(JobError::invalid(format!(
                "importing from {src:?} is not supported: send the tarball in the request body (fromSrc=-)"
            )));
        }
        _ => return Err(JobError::invalid("fromSrc or fromImage is required")),
    }
    let options = ImportOptions {
        repo: job.env.get("repo").unwrap_or("").to_owned(),
        tag: job.env.get("tag").unwrap_or("").to_owned(),
        changes: job.env.get_all("changes").map(str::to_owned).collect(),
        message: job.env.get("message").unwrap_or("").to_owned(),
        platform: job.env.get("platform").unwrap_or("").to_owned(),
    };
    let stdin = std::mem::replace(&mut job.stdin, Box::new(tokio::io::empty()));
    let reader = tokio_util::io::SyncIoBridge::new(stdin);
    let images = Arc::clone(daemon.images());
    let opts = options.clone();
    // Nothing was written yet: a failed import is an HTTP error (the docker
    // CLI reads later errors from the progress stream).
    let id = daemon
        .blocking(BlockingKind::ImageContent, move || {
            images.import(Box::new(reader), &opts)
        })
        .await?;
    let mut attrs = BTreeMap::new();
    if !options.repo.is_empty() {
        let reference = match (options.repo.rsplit_once(':'), options.tag.as_str()) {
            (Some((_, t)), "") if !t.contains('/') => options.repo.clone(),
            (_, "") => format!("{}:latest", options.repo),
            (_, tag) => format!("{}:{tag}", options.repo),
        };
        attrs.insert("name".to_owned(), reference);
    }
    daemon.events().publish("image", "import", &id, attrs);
    job.stdout
        .write_json(&ProgressMessage {
            status: id,
            ..ProgressMessage::default()
        })
        .await?;
    Ok(0)
}

fn register_containers(engine: &Engine, daemon: &Arc<Daemon>) {
    let d = || Arc::clone(daemon);
    register(
        engine,
        "container_create",
        "creates a container from a JSON config on stdin",
        d(),
        |d, mut job| async move {
            let request: CreateRequest = job.read_json(MAX_JSON_BODY).await?;
            let created = d.create(job.env.get("name"), request).await?;
            job.stdout.write_json(&created).await?;
            Ok(0)
        },
    );
    register(
        engine,
        "container_list",
        "lists containers",
        d(),
        |d, job| async move {
            let filters = Filters::parse(job.env.get("filters").unwrap_or(""))
                .map_err(|e| JobError::invalid(e.to_string()))?;
            let limit = job.env.get_i64("limit")?.filter(|l| *l > 0);
            let all = job.env.get_bool("all")? || limit.is_some();
            let mut list = d.list(all, &filters)?;
            if let Some(limit) = limit {
                list.truncate(limit as usize);
            }
            job.stdout.write_json(&list).await?;
            Ok(0)
        },
    );
    register(
        engine,
        "container_inspect",
        "shows a container",
        d(),
        |d, job| async move {
            let inspect = d.inspect(job.required_arg(0, "container id")?)?;
            job.stdout.write_json(&inspect).await?;
            Ok(0)
        },
    );
    register(
        engine,
        "container_start",
        "starts a container",
        d(),
        |d, job| async move {
            d.start(job.required_arg(0, "container id")?).await?;
            Ok(0)
        },
    );
    register(
        engine,
        "container_stop",
        "stops a container: its stop signal, then SIGKILL after t seconds",
        d(),
        |d, job| async move {
            let t = job.env.get_i64("t")?;
            d.stop(
                job.required_arg(0, "container id")?,
                t,
                job.env.get("signal"),
            )
            .await?;
            Ok(0)
        },
    );
    register(
        engine,
        "container_pause",
        "freezes every process of a container",
        d(),
        |d, job| async move {
            d.pause(job.required_arg(0, "container id")?).await?;
            Ok(0)
        },
    );
    register(
        engine,
        "container_unpause",
        "thaws a paused container",
        d(),
        |d, job| async move {
            d.unpause(job.required_arg(0, "container id")?).await?;
            Ok(0)
        },
    );
    register(
        engine,
        "container_kill",
        "sends a signal to a container",
        d(),
        |d, job| async move {
            d.kill(job.required_arg(0, "container id")?, job.env.get("signal"))
                .await?;
            Ok(0)
        },
    );
    register(
        engine,
        "container_wait",
        "waits for a container to stop, exit or be removed",
        d(),
        |d, job| async move {
            let raw = job.env.get("condition").unwrap_or("");
            let condition = WaitCondition::parse(raw)
                .ok_or_else(|| JobError::invalid(format!("invalid condition: \"{raw}\"")))?;
            let id = job.required_arg(0, "container id")?;
            let out = job.stdout.clone();
            let registered = async move {
                // Headers go out once the waiter is in place: a client
                // that starts the container after this cannot miss the exit.
                let _ = out.begin(Some("application/json")).await;
            };
            let code = tokio::select! {
                code = d.wait(id, condition, registered) => code?,
                _ = job.stdout.closed() => return Ok(0),
            };
            job.stdout
                .write_json(&WaitResponse {
                    status_code: code,
                    error: None,
                })
                .await?;
            Ok(0)
        },
    );
    register(
        engine,
        "container_delete",
        "removes a container",
        d(),
        |d, job| async move {
            let force = job.env.get_bool("force")?;
            d.remove(job.required_arg(0, "container id")?, force)
                .await?;
            Ok(0)
        },
    );
    register(
        engine,
        "container_logs",
        "streams a container's logs",
        d(),
        |d, job| async move {
            let tail = match job.env.get("tail").unwrap_or("all") {
                "" | "all" => None,
                n => Some(n.parse::<i64>().map_err(|_| {
                    JobError::invalid(format!("invalid value for \"tail\": {n:?}"))
                })?),
            };
            let options = LogOptions {
                follow: job.env.get_bool("follow")?,
                // Negative tail means all, as in moby.
                tail: tail.filter(|t| *t >= 0).map(|t| t as usize),
                since: unix_time(job.env.get_i64("since")?),
                until: unix_time(job.env.get_i64("until")?),
                stdout: job.env.get_bool("stdout")?,
                stderr: job.env.get_bool("stderr")?,
                // `Daemon::logs` prefixes the records itself.
                timestamps: false,
            };
            let timestamps = job.env.get_bool("timestamps")?;
            let id = job.required_arg(0, "container id")?;
            tokio::select! {
                r = d.logs(id, options, timestamps, &job.stdout) => r?,
                _ = job.stdout.closed() => {}
            }
            Ok(0)
        },
    );
    register(
        engine,
        "container_attach",
        "attaches stdin (job stdin) and output (job stdout) to a container",
        d(),
        |d, mut job| async move {
            let options = AttachOptions {
                stdin: job.env.get_bool("stdin")?,
                stdout: job.env.get_bool("stdout")?,
                stderr: job.env.get_bool("stderr")?,
            };
            let replay = AttachReplay {
                logs: job.env.get_bool("logs")?,
                stream: job.env.get_bool("stream")?,
            };
            if !replay.stream && !replay.logs {
                return Err(JobError::invalid(
                    "Bad parameters: stream or logs must be set",
                ));
            }
            let stdin = options.stdin.then(|| {
                std::mem::replace(&mut job.stdin, Box::new(tokio::io::empty())) as JobStdin
            });
            let id = job.required_arg(0, "container id")?;
            d.attach(id, options, replay, stdin, job.stdout.clone())
                .await?;
            Ok(0)
        },
    );
    register(
        engine,
        "container_resize",
        "resizes a container's TTY",
        d(),
        |d, job| async move {
            let dim = |k: &str| -> Result<u16, JobError> {
                let v = job.env.get_i64(k)?.unwrap_or(0);
                u16::try_from(v)
                    .map_err(|_| JobError::invalid(format!("invalid terminal {k}: {v}")))
            };
            let (h, w) = (dim("h")?, dim("w")?);
            d.resize(job.required_arg(0, "container id")?, h, w).await?;
            Ok(0)
        },
    );
}

/// `since`/`until` of `GET /containers/{id}/logs`: Unix seconds, 0 (or
/// less) for none.
fn unix_time(secs: Option<i64>) -> Option<berth_model::Timestamp> {
    secs.filter(|s| *s > 0)
        .map(|s| berth_model::Timestamp::from_unix(s, 0))
}

#[cfg(test)]
mod tests {
    use berth_api::event::Actor;

    use super::*;

    fn event(kind: &str, action: &str, id: &str, name: &str) -> EventMessage {
        EventMessage {
            kind: kind.to_owned(),
            action: action.to_owned(),
            actor: Actor {
                id: id.to_owned(),
                attributes: BTreeMap::from([("name".to_owned(), name.to_owned())]),
            },
            ..EventMessage::default()
        }
    }

    #[test]
    fn event_filters_select_by_type_action_container_and_image() {
        let start = event("container", "start", "c1", "web");
        let import = event("image", "import", "sha256:ab", "");
        let job = event("job", "end", "container_start", "");
        let f = |json: &str| Filters::parse(json).unwrap();
        let all = Filters::default();
        assert!(
            [&start, &import, &job]
                .iter()
                .all(|m| event_matches(&all, m))
        );
        let containers = f(r#"{"type":["container"]}"#);
        assert!(event_matches(&containers, &start) && !event_matches(&containers, &job));
        let by_name = f(r#"{"container":["web"],"event":["start"]}"#);
        assert!(event_matches(&by_name, &start));
        assert!(!event_matches(
            &by_name,
            &event("container", "die", "c1", "web")
        ));
        assert!(!event_matches(&by_name, &import), "only container events");
        assert!(event_matches(&f(r#"{"container":["c1"]}"#), &start));
        let image = f(r#"{"image":["sha256:ab"]}"#);
        assert!(event_matches(&image, &import) && !event_matches(&image, &start));
        // A container's events carry its image, with or without the tag.
        let mut from_busybox = start.clone();
        from_busybox
            .actor
            .attributes
            .insert("image".into(), "busybox:latest".into());
        assert!(event_matches(&f(r#"{"image":["busybox"]}"#), &from_busybox));
        assert!(!event_matches(&f(r#"{"image":["busybox"]}"#), &start));
        // Labels against the actor's attributes; every event is local.
        from_busybox
            .actor
            .attributes
            .insert("tier".into(), "front".into());
        assert!(event_matches(
            &f(r#"{"label":["tier=front"]}"#),
            &from_busybox
        ));
        assert!(!event_matches(
            &f(r#"{"label":["tier=back"]}"#),
            &from_busybox
        ));
        assert!(!event_matches(&f(r#"{"label":["tier"]}"#), &start));
        assert!(event_matches(&f(r#"{"scope":["local"]}"#), &start));
        assert!(!event_matches(&f(r#"{"scope":["swarm"]}"#), &start));
    }
}
