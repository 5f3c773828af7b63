//! `GET /containers/json` with moby's filters (`daemon/list.go`,
//! `foldFilter` and `includeContainerInList`, API 1.43). Filters dockerd
//! has that berthd cannot apply are refused, never ignored: a list that
//! ignored one would be wider than asked.

use std::path::PathBuf;

use berth_api::container::{
    ContainerInspect, ContainerSummary, LogDriver, NetworkSettings, Status, SummaryHostConfig,
};
use berth_api::filters::Filters;
use berth_api::units::human_duration;
use chrono::{DateTime, Utc};

use crate::daemon::container::ContainerRecord;
use crate::daemon::{Daemon, parse_time};
use crate::job::JobError;

impl Daemon {
    /// `GET /containers/json`.
    pub fn list(&self, all: bool, filters: &Filters) -> Result<Vec<ContainerSummary>, JobError> {
        let invalid = |e: berth_api::filters::FilterError| JobError::invalid(e.to_string());
        filters.check_names(&CONTAINER_FILTERS).map_err(invalid)?;
        // Volumes, networks, published ports, isolation and swarm tasks do
        // not exist in berth yet.
        filters
            .refuse(&[
                "isolation",
                "volume",
                "network",
                "is-task",
                "publish",
                "expose",
            ])
            .map_err(invalid)?;
        let mut exited = Vec::new();
        for value in filters.get("exited") {
            exited.push(value.parse::<i64>().map_err(|_| {
                JobError::invalid(format!("invalid filter 'exited={value}': not an integer"))
            })?);
        }
        for status in filters.get("status") {
            if Status::parse(status).is_none() {
                return Err(JobError::invalid(format!(
                    "invalid filter 'status={status}'"
                )));
            }
        }
        for health in filters.get("health") {
            if !["starting", "healthy", "unhealthy", "none"].contains(&health.as_str()) {
                return Err(JobError::invalid(format!(
                    "unrecognized filter value for health: {health}"
                )));
            }
        }
        // Newest first; `before` keeps what comes after its container in
        // this order, `since` what comes before (moby's iteration).
        let containers = self.containers.all();
        let position = |name: &str| -> Result<usize, JobError> {
            let id = self.containers.get(name)?.id.clone();
            Ok(containers.iter().position(|c| c.id == id).unwrap_or(0))
        };
        let mut first = 0;
        let mut end = containers.len();
        for value in filters.get("before") {
            first = first.max(position(value)? + 1);
        }
        for value in filters.get("since") {
            end = end.min(position(value)?);
        }
        // A status filter shows stopped containers too.
        let all = all || filters.contains("status");
        let now = Utc::now();
        let mut out = Vec::new();
        for container in containers.iter().take(end).skip(first) {
            let record = container.record();
            let state = &record.state;
            if !all && !state.running {
                continue;
            }
            if !matches_filters(&record, filters, &exited) {
                continue;
            }
            let mut row = summary(&record, now);
            if state.running {
                let settings = self.network_settings(&record);
                row.ports = super::publish::summary_ports(&settings.ports);
            }
            out.push(row);
        }
        Ok(out)
    }
}

/// A container as the list shows it.
pub(super) fn summary(record: &ContainerRecord, now: DateTime<Utc>) -> ContainerSummary {
    ContainerSummary {
        id: record.id.clone(),
        names: vec![format!("/{}", record.name)],
        image: record.image.clone(),
        image_id: record.image_id.clone(),
        command: std::iter::once(record.path.as_str())
            .chain(record.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        created: parse_time(&record.created).map_or(0, |t| t.timestamp()),
        labels: record.config.labels.clone(),
        state: record.state.status.as_str().to_owned(),
        status: human_status(&record.state, now),
        host_config: SummaryHostConfig {
            network_mode: record.host_config.network_mode.clone(),
        },
        network_settings: NetworkSettings::default(),
        ..ContainerSummary::default()
    }
}

/// The filters of `GET /containers/json` (moby `acceptedPsFilterTags`).
const CONTAINER_FILTERS: [&str; 15] = [
    "ancestor",
    "before",
    "exited",
    "id",
    "isolation",
    "label",
    "name",
    "status",
    "health",
    "since",
    "volume",
    "network",
    "is-task",
    "publish",
    "expose",
];

/// moby's `includeContainerInList` for the filters berth applies: `name`
/// and `id` are regular expressions, `exited` needs a container that ran,
/// labels are ANDed; `health` is the check's status, `none` without one.
fn matches_filters(record: &ContainerRecord, filters: &Filters, exited: &[i64]) -> bool {
    let state = &record.state;
    let ran = !state.running && state.started_at != berth_api::ZERO_TIME;
    (filters.matches("name", &format!("/{}", record.name)) || filters.matches("name", &record.name))
        && filters.matches("id", &record.id)
        && filters.match_labels("label", &record.config.labels)
        && (exited.is_empty() || (ran && exited.contains(&state.exit_code)))
        && filters.matches("status", state.status.as_str())
        && filters.exact(
            "health",
            state.health.as_ref().map_or("none", |h| h.status.as_str()),
        )
        && (filters.get("ancestor").is_empty()
            || filters
                .get("ancestor")
                .iter()
                .any(|v| record.image == *v || record.image_id.starts_with(v.as_str())))
}

/// `docker ps`'s STATUS column, as moby's `State.String()`
/// (`container/state.go`) words it: `Up 3 seconds`, `Up 2 hours (Paused)`,
/// `Restarting (1) 5 seconds ago`, `Exited (0) 2 minutes ago`, `Created`
/// (also for a container whose start failed: it never ran), `Removal In
/// Progress`, `Dead`.
pub fn human_status(state: &berth_api::container::State, now: DateTime<Utc>) -> String {
    let since = |t: &str| {
        parse_time(t)
            .filter(|_| t != berth_api::ZERO_TIME)
            .map(|t| human_duration((now - t).num_seconds()))
    };
    match state.status {
        Status::Running => match &state.health {
            Some(health) => format!(
                "Up {} ({})",
                since(&state.started_at).unwrap_or_default(),
                crate::daemon::health::status_suffix(health)
            ),
            None => format!("Up {}", since(&state.started_at).unwrap_or_default()),
        },
        Status::Paused => format!(
            "Up {} (Paused)",
            since(&state.started_at).unwrap_or_default()
        ),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            state.exit_code,
            since(&state.finished_at).unwrap_or_default()
        ),
        Status::Removing => "Removal In Progress".to_owned(),
        Status::Dead => "Dead".to_owned(),
        Status::Created => "Created".to_owned(),
        // Never started: moby says Created whatever the state.
        Status::Exited if since(&state.started_at).is_none() => "Created".to_owned(),
        Status::Exited => since(&state.finished_at).map_or_else(String::new, |ago| {
            format!("Exited ({}) {ago} ago", state.exit_code)
        }),
    }
}

impl Daemon {
    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, reference: &str) -> Result<ContainerInspect, JobError> {
        let container = self.containers.get(reference)?;
        let record = container.record();
        let files = self.runtime.files(&record.id);
        let path = |p: PathBuf| p.to_string_lossy().into_owned();
        let network_settings = self.network_settings(&record);
        Ok(ContainerInspect {
            id: record.id.clone(),
            created: record.created,
            path: record.path,
            args: record.args,
            state: record.state,
            image: record.image_id,
            resolv_conf_path: path(files.resolv_conf),
            hostname_path: path(files.hostname),
            hosts_path: path(files.hosts),
            // As dockerd: only a driver that writes a file has a path.
            log_path: match record.host_config.log_config.driver() {
                Ok(LogDriver::None) => String::new(),
                _ => path(files.log),
            },
            name: format!("/{}", record.name),
            restart_count: record.restart_count,
            driver: self.images.driver_name(),
            platform: "linux".to_owned(),
            // moby lists the execs that have not ended; null when none.
            exec_ids: Some(self.execs.running_ids(&record.id)).filter(|ids| !ids.is_empty()),
            mounts: crate::daemon::volumes::mount_points(
                record.model.as_ref().map_or(&[][..], |m| &m.mounts[..]),
                &record.host_config.tmpfs,
            ),
            network_settings,
            host_config: record.host_config,
            config: record.config,
        })
    }
}
