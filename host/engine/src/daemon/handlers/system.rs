//! The system jobs: `system_ping`, `system_version`, `system_info`,
//! `system_events`, and the engine's `job_list`.

use std::sync::Arc;

use berth_api::event::EventMessage;
use berth_api::filters::Filters;

use super::Context;
use crate::daemon::blocking::BlockingKind;
use crate::job::{ErrorKind, Job, JobError, JobResult};

/// `system_ping`: answers OK when the daemon is up.
pub(super) async fn system_ping(_: Arc<Context>, job: Job) -> JobResult {
    job.stdout.write(&b"OK"[..]).await?;
    Ok(0)
}

/// `system_version`: the daemon's version.
pub(super) async fn system_version(cx: Arc<Context>, job: Job) -> JobResult {
    job.stdout.write_json(&cx.facts.version).await?;
    Ok(0)
}

/// `system_info`: system-wide information.
pub(super) async fn system_info(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let mut info = cx.facts.info.clone();
    let counts = d.containers().count_by_status();
    let get = |s: &str| counts.get(s).copied().unwrap_or(0);
    info.containers = counts.values().sum();
    info.containers_running = get("running");
    info.containers_paused = get("paused");
    info.containers_stopped = info.containers - info.containers_running - info.containers_paused;
    let images = Arc::clone(d.images());
    info.images = d
        .blocking(BlockingKind::ImageMetadata, move || images.list())
        .await?
        .len() as u64;
    info.driver = d.images().driver_name();
    job.stdout.write_json(&info).await?;
    Ok(0)
}

/// `job_list`: lists the engine's handler table.
pub(super) async fn job_list(cx: Arc<Context>, job: Job) -> JobResult {
    let engine = cx
        .engine
        .upgrade()
        .ok_or_else(|| JobError::new(ErrorKind::Unavailable, "the engine is shutting down"))?;
    job.stdout.write_json(&engine.handlers()).await?;
    Ok(0)
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

/// `system_events`: streams events as JSON lines.
pub(super) async fn system_events(cx: Arc<Context>, job: Job) -> JobResult {
    let daemon = &cx.daemon;
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

/// `system_df`: the disk use of images and containers (`type` narrows it).
pub(super) async fn system_df(cx: Arc<Context>, job: Job) -> JobResult {
    let types: Vec<String> = job.env.get_all("type").map(str::to_owned).collect();
    let usage = cx.daemon.system_df(&types).await?;
    job.stdout.write_json(&usage).await?;
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
