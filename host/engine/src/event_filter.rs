//! Which events a `GET /events` subscriber gets: moby's
//! `daemon/events/filter.go` (`Filter.Include`), filter by filter, and the
//! `since` / `until` bounds.
//!
//! Every filter moby has is accepted and applied as moby applies it, also
//! those about objects berth does not have yet (networks, volumes, swarm
//! nodes, services, secrets, configs, daemon events): moby matches each of
//! them against any event's actor id and `name` by prefix, whatever the
//! event's type, so on berthd they select the events whose actor is so
//! named — usually none, as on a dockerd without such objects. A filter
//! moby does not have is a 400 (`invalid filter 'x'`), never ignored.

use berth_api::event::EventMessage;
use berth_api::filters::{FilterError, Filters, parse_until};
use chrono::{DateTime, Utc};

/// The filters of `/events` (moby `daemon/events/filter.go`).
pub const EVENT_FILTERS: [&str; 14] = [
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

/// Actions moby matches by prefix when one of them is an `event` filter
/// value (moby #25798: `health_status: healthy`, `exec_create: sh`).
const PREFIX_ACTIONS: [&str; 3] = ["health_status", "exec_create", "exec_start"];

/// A subscriber's filters and time bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    filters: Filters,
    /// Events at or after this (ns since the epoch).
    pub since: Option<i64>,
    /// Events up to this; the stream ends when it passes.
    pub until: Option<i64>,
}

/// Why a subscription is refused (a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventFilterError {
    /// A bad `filters` value.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A bad `since` or `until`.
    #[error("invalid value for {name:?}: {source}")]
    Time {
        /// `since` or `until`.
        name: &'static str,
        /// Why.
        #[source]
        source: berth_api::filters::UntilError,
    },
}

impl EventFilter {
    /// Parses the query: `filters` (JSON), `since` and `until` (moby's
    /// timestamps: Unix seconds with an optional fraction as the docker CLI
    /// sends them, and the durations and dates a user types, relative to
    /// `now`).
    pub fn parse(
        filters: &str,
        since: Option<&str>,
        until: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<EventFilter, EventFilterError> {
        let filters = Filters::parse(filters)?;
        filters.check_names(&EVENT_FILTERS)?;
        let time = |name: &'static str, raw: Option<&str>| {
            raw.filter(|r| !r.is_empty())
                .map(|r| {
                    parse_until(r, now)
                        .map(|t| t.timestamp_nanos_opt().unwrap_or(i64::MAX))
                        .map_err(|source| EventFilterError::Time { name, source })
                })
                .transpose()
        };
        Ok(EventFilter {
            filters,
            since: time("since", since)?,
            until: time("until", until)?,
        })
    }

    /// moby's `Filter.Include`.
    pub fn include(&self, m: &EventMessage) -> bool {
        let f = &self.filters;
        let name = m.actor.attributes.get("name").map_or("", String::as_str);
        // moby's fuzzyMatchName: the actor's id or name starts with a value.
        let by_name = |filter: &str| fuzzy(f, filter, &m.actor.id) || fuzzy(f, filter, name);
        self.match_event(&m.action)
            && f.exact("type", &m.kind)
            && (!f.contains("scope") || f.exact("scope", &m.scope))
            && [
                "daemon",
                "container",
                "plugin",
                "volume",
                "network",
                "node",
                "service",
                "secret",
                "config",
            ]
            .iter()
            .all(|filter| by_name(filter))
            && self.match_image(m)
            && f.match_labels("label", &m.actor.attributes)
    }

    fn match_event(&self, action: &str) -> bool {
        let values = self.filters.get("event");
        if values.iter().any(|v| PREFIX_ACTIONS.contains(&v.as_str())) {
            fuzzy(&self.filters, "event", action)
        } else {
            self.filters.exact("event", action)
        }
    }

    /// moby's `matchImage`: the actor's id, or the image's name (the
    /// actor's `name` for an image event, its `image` attribute for a
    /// container's), each also in its familiar form without tag or digest.
    fn match_image(&self, m: &EventMessage) -> bool {
        let attribute = if m.kind == "image" { "name" } else { "image" };
        let image = m.actor.attributes.get(attribute).map_or("", String::as_str);
        let f = &self.filters;
        f.exact("image", &m.actor.id)
            || f.exact("image", image)
            || f.exact("image", &familiar_name(&m.actor.id))
            || f.exact("image", &familiar_name(image))
    }
}

/// moby `Args.FuzzyMatch`: true when the filter is absent, or a value is
/// `source` or a prefix of it.
fn fuzzy(filters: &Filters, name: &str, source: &str) -> bool {
    let values = filters.get(name);
    values.is_empty() || values.iter().any(|v| source.starts_with(v.as_str()))
}

/// moby's `stripTag`: `reference.FamiliarName` of a normalized reference
/// (`docker.io/library/busybox:1.36@sha256:…` → `busybox`); what does not
/// parse as a reference (an empty string, an id) stays as it is.
fn familiar_name(reference: &str) -> String {
    if reference.is_empty() || reference.starts_with("sha256:") {
        return reference.to_owned();
    }
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let name = match without_digest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => without_digest,
    };
    let name = name
        .strip_prefix("docker.io/")
        .or_else(|| name.strip_prefix("index.docker.io/"))
        .unwrap_or(name);
    name.strip_prefix("library/")
        .filter(|rest| !rest.contains('/'))
        .unwrap_or(name)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use berth_api::event::Actor;

    use super::*;

    fn event(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            kind: kind.to_owned(),
            action: action.to_owned(),
            scope: "local".to_owned(),
            actor: Actor {
                id: id.to_owned(),
                attributes: attrs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            },
            ..EventMessage::default()
        }
    }

    fn f(json: &str) -> EventFilter {
        EventFilter::parse(json, None, None, Utc::now()).unwrap()
    }

    #[test]
    fn type_event_container_and_scope_are_mobys() {
        let start = event("container", "start", "c1abc", &[("name", "web")]);
        let import = event("image", "import", "sha256:ab", &[]);
        let job = event("job", "end", "container_start", &[]);
        let all = f("");
        assert!([&start, &import, &job].iter().all(|m| all.include(m)));
        let containers = f(r#"{"type":["container"]}"#);
        assert!(containers.include(&start) && !containers.include(&job));
        let by_name = f(r#"{"container":["we"],"event":["start"]}"#);
        assert!(by_name.include(&start), "a name prefix");
        assert!(!by_name.include(&event("container", "die", "c1abc", &[("name", "web")])));
        assert!(!by_name.include(&import), "the filter applies to any type");
        assert!(f(r#"{"container":["c1"]}"#).include(&start), "an id prefix");
        assert!(f(r#"{"scope":["local"]}"#).include(&start));
        assert!(!f(r#"{"scope":["swarm"]}"#).include(&start));
    }

    #[test]
    fn filters_of_objects_berth_lacks_match_names_as_moby_does() {
        let start = event("container", "start", "c1abc", &[("name", "web")]);
        for filter in [
            "network", "volume", "daemon", "node", "service", "secret", "config", "plugin",
        ] {
            let none = f(&format!(r#"{{"{filter}":["bridge"]}}"#));
            assert!(!none.include(&start), "{filter}");
            // moby's fuzzyMatchName does not look at the type.
            let named = f(&format!(r#"{{"{filter}":["web"]}}"#));
            assert!(named.include(&start), "{filter}");
        }
    }

    #[test]
    fn exec_and_health_actions_match_by_prefix() {
        let exec = event("container", "exec_start: sh -c true", "c1", &[]);
        assert!(f(r#"{"event":["exec_start"]}"#).include(&exec));
        assert!(!f(r#"{"event":["start"]}"#).include(&exec));
        let health = event("container", "health_status: healthy", "c1", &[]);
        assert!(f(r#"{"event":["health_status"]}"#).include(&health));
        assert!(!f(r#"{"event":["die"]}"#).include(&health));
    }

    #[test]
    fn image_matches_the_id_or_the_familiar_name() {
        let run = event(
            "container",
            "start",
            "c1",
            &[("name", "web"), ("image", "docker.io/library/busybox:1.36")],
        );
        for wanted in ["busybox", "docker.io/library/busybox:1.36"] {
            assert!(
                f(&format!(r#"{{"image":["{wanted}"]}}"#)).include(&run),
                "{wanted}"
            );
        }
        assert!(!f(r#"{"image":["alpine"]}"#).include(&run));
        let tag = event("image", "tag", "sha256:ab", &[("name", "me/app:v1")]);
        assert!(f(r#"{"image":["me/app"]}"#).include(&tag));
        assert!(f(r#"{"image":["sha256:ab"]}"#).include(&tag));
        assert_eq!(familiar_name("localhost:5000/app:1"), "localhost:5000/app");
        assert_eq!(familiar_name("busybox@sha256:00"), "busybox");
    }

    #[test]
    fn labels_match_the_actors_attributes() {
        let m = event("container", "start", "c1", &[("tier", "front")]);
        assert!(f(r#"{"label":["tier=front"]}"#).include(&m));
        assert!(f(r#"{"label":["tier"]}"#).include(&m));
        assert!(!f(r#"{"label":["tier=back"]}"#).include(&m));
    }

    #[test]
    fn unknown_filters_and_bad_times_are_refused() {
        let err = EventFilter::parse(r#"{"colour":["red"]}"#, None, None, Utc::now()).unwrap_err();
        assert_eq!(err.to_string(), "invalid filter 'colour'");
        let err = EventFilter::parse("", Some("yesterday"), None, Utc::now()).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid value for \"since\""),
            "{err}"
        );
        let now = Utc::now();
        let bounds = EventFilter::parse("", Some("1700000000.5"), Some("10m"), now).unwrap();
        assert_eq!(bounds.since, Some(1_700_000_000_500_000_000));
        let ten_minutes_ago = (now - chrono::Duration::minutes(10)).timestamp_nanos_opt();
        assert_eq!(bounds.until, ten_minutes_ago);
    }
}
