//! The Engine: a handler table and the jobs it runs.
//!
//! The table maps job names to [`Handler`]s and can change at any time
//! (plugins register, replace and remove jobs while the daemon runs). A lookup
//! clones the handler's `Arc`, so a job keeps the handler it started with
//! even if the table entry is replaced mid-run.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use berth_api::job::JobHandlerInfo;
use tokio::task::JoinHandle;

use crate::events::Events;
use crate::job::{Handler, Job, JobError, JobResult};

/// The Engine: runs every piece of work as a named [`Job`].
pub struct Engine {
    handlers: RwLock<HashMap<String, Arc<dyn Handler>>>,
    events: Arc<Events>,
    next_job: AtomicU64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("handlers", &self.handler_names())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine with an empty handler table.
    pub fn new() -> Arc<Engine> {
        Arc::new(Engine {
            handlers: RwLock::new(HashMap::new()),
            events: Arc::new(Events::new()),
            next_job: AtomicU64::new(1),
        })
    }

    /// Registers `handler` under `name`, returning the handler it replaces.
    pub fn register(&self, name: &str, handler: Arc<dyn Handler>) -> Option<Arc<dyn Handler>> {
        self.write_table().insert(name.to_owned(), handler)
    }

    /// Removes the handler of `name`, returning it.
    pub fn unregister(&self, name: &str) -> Option<Arc<dyn Handler>> {
        self.write_table().remove(name)
    }

    /// The handler of `name`.
    pub fn handler(&self, name: &str) -> Option<Arc<dyn Handler>> {
        self.read_table().get(name).cloned()
    }

    /// The handler table, sorted by name.
    pub fn handlers(&self) -> Vec<JobHandlerInfo> {
        let mut table: Vec<JobHandlerInfo> = self
            .read_table()
            .iter()
            .map(|(name, h)| JobHandlerInfo {
                name: name.clone(),
                description: h.description(),
                source: h.source(),
            })
            .collect();
        table.sort_by(|a, b| a.name.cmp(&b.name));
        table
    }

    fn handler_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read_table().keys().cloned().collect();
        names.sort();
        names
    }

    /// The events hub.
    pub fn events(&self) -> &Arc<Events> {
        &self.events
    }

    /// Runs `job` in the calling task and returns its status. Unknown names
    /// fail with NotFound. Start and end are published as `job` events.
    pub async fn run(&self, job: Job) -> JobResult {
        let Some(handler) = self.handler(&job.name) else {
            return Err(JobError::not_found(format!("no such job: {}", job.name)));
        };
        let serial = self.next_job.fetch_add(1, Ordering::Relaxed);
        let name = job.name.clone();
        let mut attrs = BTreeMap::from([("serial".to_owned(), serial.to_string())]);
        self.events.publish("job", "start", &name, attrs.clone());
        tracing::debug!(job = %name, serial, args = ?job.args, "job start");
        let result = handler.call(job).await;
        let (status, error) = match &result {
            Ok(status) => (*status, None),
            Err(e) => (1, Some(e.message.as_str())),
        };
        attrs.insert("status".to_owned(), status.to_string());
        if let Some(error) = error {
            attrs.insert("error".to_owned(), error.to_owned());
        }
        self.events.publish("job", "end", &name, attrs);
        tracing::debug!(job = %name, serial, status, error, "job end");
        result
    }

    /// Runs `job` on its own task.
    pub fn spawn(self: &Arc<Self>, job: Job) -> JoinHandle<JobResult> {
        let engine = Arc::clone(self);
        tokio::spawn(async move { engine.run(job).await })
    }

    fn read_table(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<dyn Handler>>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (insert/remove are atomic), so a poisoned lock is still usable.
        self.handlers.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_table(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<dyn Handler>>> {
        self.handlers.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{ErrorKind, handler_fn};

    fn echo() -> Arc<dyn Handler> {
        Arc::new(handler_fn("prints its args", |job: Job| async move {
            job.stdout.write(job.args.join(" ")).await?;
            Ok(0)
        }))
    }

    #[tokio::test]
    async fn runs_registered_handlers_and_streams_their_output() {
        let engine = Engine::new();
        engine.register("echo", echo());
        let (job, streams) = Job::new("echo");
        let handle = engine.spawn(job.arg("hello").arg("world"));
        assert_eq!(streams.stdout.collect().await, b"hello world");
        assert_eq!(handle.await.unwrap(), Ok(0));
    }

    #[tokio::test]
    async fn unknown_jobs_are_not_found() {
        let engine = Engine::new();
        let (job, _s) = Job::new("nope");
        let err = engine.run(job).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert_eq!(err.message, "no such job: nope");
    }

    #[tokio::test]
    async fn table_can_be_changed_at_runtime() {
        let engine = Engine::new();
        assert!(engine.register("echo", echo()).is_none());
        let replacement: Arc<dyn Handler> =
            Arc::new(handler_fn("exits 7", |_job: Job| async { Ok(7) }));
        assert!(engine.register("echo", replacement).is_some());
        let (job, _s) = Job::new("echo");
        assert_eq!(engine.run(job).await, Ok(7));
        let listed = engine.handlers();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].description, "exits 7");
        assert_eq!(listed[0].source, "builtin");
        assert!(engine.unregister("echo").is_some());
        assert!(engine.handlers().is_empty());
    }

    #[tokio::test]
    async fn job_start_and_end_are_events() {
        let engine = Engine::new();
        engine.register(
            "fail",
            Arc::new(handler_fn("", |_job: Job| async {
                Err(JobError::conflict("busy"))
            })),
        );
        let mut rx = engine.events().subscribe();
        let (job, _s) = Job::new("fail");
        assert!(engine.run(job).await.is_err());
        let start = rx.recv().await.unwrap();
        let end = rx.recv().await.unwrap();
        assert_eq!(
            (start.kind.as_str(), start.action.as_str()),
            ("job", "start")
        );
        assert_eq!(end.action, "end");
        assert_eq!(end.actor.attributes["status"], "1");
        assert_eq!(end.actor.attributes["error"], "busy");
    }
}
