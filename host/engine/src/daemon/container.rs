//! The container model: the persisted record, the live state machine and
//! the set of containers with Docker's lookup rules.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use berth_api::container::{Config, HostConfig, State, Status};
use berth_model::container::ContainerModel;
use berth_store::Table;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::daemon::attach::PendingAttach;
use crate::daemon::restart_policy::RestartManager;
use crate::job::JobError;

/// Container records, keyed by id.
pub const CONTAINERS: Table<ContainerRecord> = Table::new("containers");
/// Reserved names (without `/`) → container id.
pub const NAMES: Table<String> = Table::new("container_names");

/// What is persisted about a container: configuration and last known state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerRecord {
    /// 64 hex digits.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Image id (`sha256:...`).
    pub image_id: String,
    /// Image name as given by the client.
    pub image: String,
    /// The executable.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Effective configuration (image defaults merged in).
    pub config: Config,
    /// Host configuration.
    pub host_config: HostConfig,
    /// The trusted model the exec driver runs, made from `config` and
    /// `host_config` at create. `None` in records written before records
    /// carried it, or whose stored model no longer reads back: the model
    /// is then rebuilt from the wire configuration
    /// ([`ContainerRecord::ensure_model`]).
    #[serde(deserialize_with = "lenient_model")]
    pub model: Option<ContainerModel>,
    /// Lifecycle state.
    pub state: State,
    /// Restarts by the restart policy since the last user start (moby
    /// `RestartCount`: a user start or restart resets it).
    pub restart_count: i64,
    /// The user stopped or killed it (moby `HasBeenManuallyStopped`): an
    /// `unless-stopped` container then stays stopped, also across a daemon
    /// restart. A user start clears it.
    pub manually_stopped: bool,
    /// The networks it is on, in order, once `network connect` or
    /// `disconnect` changed them; `None`: the one its network mode names.
    pub connections: Option<Vec<super::connect::Connection>>,
}

impl ContainerRecord {
    /// The record's model, rebuilt from `config` and `host_config` when the
    /// record has none (written before records carried it).
    pub fn ensure_model(&mut self) -> Result<ContainerModel, JobError> {
        if let Some(model) = &self.model {
            return Ok(model.clone());
        }
        let model = crate::daemon::spec::container_model(&self.config, &self.host_config)?;
        self.model = Some(model.clone());
        Ok(model)
    }
}

/// A stored model that does not read back (a record of another version)
/// is no reason to lose the container: it is rebuilt from the wire
/// configuration instead.
fn lenient_model<'de, D>(d: D) -> Result<Option<ContainerModel>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value.and_then(|v| match serde_json::from_value(v) {
        Ok(model) => Some(model),
        Err(e) => {
            tracing::warn!(error = %e, "a stored container model does not read back; rebuilding it");
            None
        }
    }))
}

/// Live state of a container: the record plus what only exists in memory.
#[derive(Debug)]
pub struct ContainerInner {
    /// The persisted part.
    pub record: ContainerRecord,
    /// Clients attached before start, connected when it starts.
    pub pending_attach: Vec<PendingAttach>,
    /// A start is in progress.
    pub busy: bool,
    /// Cancels the start in progress (`rm -f`).
    pub cancel_start: Option<Arc<tokio::sync::Notify>>,
    /// A restart is stopping it: its exit does not auto-remove it.
    pub restarting: bool,
    /// The health check's monitor, while it runs.
    pub health_monitor: Option<crate::daemon::health::Monitor>,
    /// Bumped at each monitor start, so that a stopped one's last result
    /// is dropped.
    pub health_generation: u64,
    /// Its restart policy's live state ([`RestartManager`]).
    pub restart: RestartManager,
    /// When its process last started, on the daemon's clock (for the
    /// restart backoff; `None` after a daemon restart, when the record's
    /// times serve).
    pub started: Option<tokio::time::Instant>,
}

/// One container: its data behind a mutex, and a watch channel that fires
/// on every state change (for `wait`).
#[derive(Debug)]
pub struct Container {
    /// 64 hex digits (immutable).
    pub id: String,
    inner: Mutex<ContainerInner>,
    changes: watch::Sender<Snapshot>,
}

/// What `wait` watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Current status.
    pub status: Status,
    /// Exit code of the last exit.
    pub exit_code: i64,
    /// Incremented at every exit.
    pub exits: u64,
    /// The container is gone.
    pub removed: bool,
    /// A start is in progress ([`ContainerInner::busy`]).
    pub busy: bool,
}

impl Container {
    /// Wraps a record.
    pub fn new(record: ContainerRecord) -> Arc<Container> {
        let snapshot = Snapshot {
            status: record.state.status,
            exit_code: record.state.exit_code,
            exits: 0,
            removed: false,
            busy: false,
        };
        let (changes, _) = watch::channel(snapshot);
        Arc::new(Container {
            id: record.id.clone(),
            inner: Mutex::new(ContainerInner {
                pending_attach: Vec::new(),
                busy: false,
                cancel_start: None,
                restarting: false,
                health_monitor: None,
                health_generation: 0,
                restart: RestartManager::new(record.restart_count),
                started: None,
                record,
            }),
            changes,
        })
    }

    /// Locks the container's data.
    pub fn lock(&self) -> MutexGuard<'_, ContainerInner> {
        // Every update writes whole fields; a panic mid-update cannot leave
        // a torn value, so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the record.
    pub fn record(&self) -> ContainerRecord {
        self.lock().record.clone()
    }

    /// Subscribes to state changes.
    pub fn watch(&self) -> watch::Receiver<Snapshot> {
        self.changes.subscribe()
    }

    /// Publishes the current state to watchers; `exited` bumps the exit
    /// counter.
    pub fn notify(&self, exited: bool) {
        let (status, exit_code, busy) = {
            let inner = self.lock();
            (
                inner.record.state.status,
                inner.record.state.exit_code,
                inner.busy,
            )
        };
        self.changes.send_modify(|s| {
            s.status = status;
            s.exit_code = exit_code;
            s.busy = busy;
            if exited {
                s.exits += 1;
            }
        });
    }

    /// Resolves once the container's process is gone: its status is
    /// neither running nor paused (at once when it already is).
    pub async fn stopped(&self) {
        let mut rx = self.watch();
        // The sender is `self.changes`: the wait cannot fail while `self`
        // is borrowed.
        let _ = rx
            .wait_for(|s| !matches!(s.status, Status::Running | Status::Paused))
            .await;
    }

    /// Tells watchers the container is gone.
    pub fn notify_removed(&self) {
        self.changes.send_modify(|s| s.removed = true);
    }
}

/// Sets the state fields for a running container.
pub fn set_running(state: &mut State, pid: i64, now: &str) {
    *state = State {
        status: Status::Running,
        running: true,
        pid,
        started_at: now.to_owned(),
        finished_at: state.finished_at.clone(),
        ..State::default()
    };
}

/// Sets the state fields for an exited container.
pub fn set_exited(
    state: &mut State,
    exit_code: i64,
    oom_killed: bool,
    error: &str,
    finished_at: &str,
) {
    state.status = Status::Exited;
    state.running = false;
    state.paused = false;
    state.restarting = false;
    state.pid = 0;
    state.exit_code = exit_code;
    state.oom_killed = oom_killed;
    state.error = error.to_owned();
    state.finished_at = finished_at.to_owned();
}

/// All containers, with moby's lookup rules.
#[derive(Debug, Default)]
pub struct ContainerSet {
    by_id: Mutex<HashMap<String, Arc<Container>>>,
}

impl ContainerSet {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<Container>>> {
        self.by_id.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a container.
    pub fn insert(&self, container: Arc<Container>) {
        self.map().insert(container.id.clone(), container);
    }

    /// Drops a container.
    pub fn remove(&self, id: &str) -> Option<Arc<Container>> {
        self.map().remove(id)
    }

    /// Every container, newest first (like `docker ps`).
    pub fn all(&self) -> Vec<Arc<Container>> {
        let mut all: Vec<(String, Arc<Container>)> = self
            .map()
            .values()
            .map(|c| (c.lock().record.created.clone(), Arc::clone(c)))
            .collect();
        all.sort_by(|a, b| b.0.cmp(&a.0));
        all.into_iter().map(|(_, c)| c).collect()
    }

    /// Finds a container by full id, name (with or without `/`) or unique
    /// id prefix — moby's `daemon.GetContainer` order.
    pub fn get(&self, reference: &str) -> Result<Arc<Container>, JobError> {
        let not_found = || JobError::not_found(format!("No such container: {reference}"));
        if reference.is_empty() {
            return Err(not_found());
        }
        let map = self.map();
        if let Some(c) = map.get(reference) {
            return Ok(Arc::clone(c));
        }
        let name = reference.strip_prefix('/').unwrap_or(reference);
        if let Some(c) = map.values().find(|c| c.lock().record.name == name) {
            return Ok(Arc::clone(c));
        }
        let mut matches = map.values().filter(|c| c.id.starts_with(reference));
        match (matches.next(), matches.next()) {
            (Some(c), None) => Ok(Arc::clone(c)),
            (Some(_), Some(_)) => Err(JobError::invalid(format!(
                "multiple IDs found with provided prefix: {reference}"
            ))),
            (None, _) => Err(not_found()),
        }
    }

    /// How many containers are in each status.
    pub fn count_by_status(&self) -> BTreeMap<&'static str, u64> {
        let mut counts = BTreeMap::new();
        for c in self.map().values() {
            *counts
                .entry(c.lock().record.state.status.as_str())
                .or_insert(0) += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str, created: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.to_owned(),
            name: name.to_owned(),
            created: created.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn lookup_by_id_name_and_prefix() {
        let set = ContainerSet::default();
        set.insert(Container::new(record("abc123", "web", "2")));
        set.insert(Container::new(record("abd456", "db", "1")));
        assert_eq!(set.get("abc123").unwrap().id, "abc123");
        assert_eq!(set.get("/web").unwrap().id, "abc123");
        assert_eq!(set.get("db").unwrap().id, "abd456");
        assert_eq!(set.get("abd").unwrap().id, "abd456");
        let ambiguous = set.get("ab").unwrap_err();
        assert!(ambiguous.message.contains("multiple IDs"), "{ambiguous}");
        assert_eq!(
            set.get("zzz").unwrap_err().message,
            "No such container: zzz"
        );
        assert!(set.get("").is_err());
        let order: Vec<String> = set.all().iter().map(|c| c.id.clone()).collect();
        assert_eq!(order, ["abc123", "abd456"]);
    }

    #[tokio::test]
    async fn watchers_see_exits() {
        let c = Container::new(record("a", "n", "1"));
        let mut rx = c.watch();
        {
            let mut inner = c.lock();
            set_exited(&mut inner.record.state, 3, false, "", "t");
        }
        c.notify(true);
        rx.changed().await.unwrap();
        let snap = *rx.borrow();
        assert_eq!(
            (snap.status, snap.exit_code, snap.exits),
            (Status::Exited, 3, 1)
        );
    }
}
