//! The Engine: a handler table and the jobs it runs.
//!
//! The table maps job names to [`Handler`]s and can change at any time
//! (plugins register, replace and remove jobs while the daemon runs). A lookup
//! clones the handler's `Arc`, so a job keeps the handler it started with
//! even if the table entry is replaced mid-run.
//!
//! Each entry also says who may run it ([`Exposure`]): the daemon runs any
//! job ([`Engine::run`]); an API request runs a job only through a door its
//! exposure opens ([`Engine::run_api`] with a [`Via`]): a Docker operation
//! through its own route, a plugin job also through the job API, an
//! internal job never. The exposure is an argument of [`Engine::register`],
//! so no handler becomes callable over HTTP by omission.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub use berth_api::job::Exposure;
use berth_api::job::JobHandlerInfo;
use tokio::task::JoinHandle;

use crate::events::Events;
use crate::job::{ErrorKind, Handler, Job, JobError, JobResult};

/// Which door of the API a request to run a job came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The job's own route (`POST /containers/create` runs
    /// `container_create`).
    Route,
    /// The job API: `POST /berth/jobs/{name}`, `berth job run`.
    JobApi,
}

/// One entry of the handler table.
#[derive(Clone)]
struct Entry {
    handler: Arc<dyn Handler>,
    exposure: Exposure,
}

/// The Engine: runs every piece of work as a named [`Job`].
pub struct Engine {
    handlers: RwLock<HashMap<String, Entry>>,
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

    /// Registers `handler` under `name` with who may run it, returning the
    /// handler it replaces.
    pub fn register(
        &self,
        name: &str,
        exposure: Exposure,
        handler: Arc<dyn Handler>,
    ) -> Option<Arc<dyn Handler>> {
        self.write_table()
            .insert(name.to_owned(), Entry { handler, exposure })
            .map(|old| old.handler)
    }

    /// Removes the handler of `name`, returning it.
    pub fn unregister(&self, name: &str) -> Option<Arc<dyn Handler>> {
        self.write_table().remove(name).map(|old| old.handler)
    }

    /// The handler of `name`.
    pub fn handler(&self, name: &str) -> Option<Arc<dyn Handler>> {
        self.read_table().get(name).map(|e| Arc::clone(&e.handler))
    }

    /// Who may run job `name`; `None` when there is no such job.
    pub fn exposure(&self, name: &str) -> Option<Exposure> {
        self.read_table().get(name).map(|e| e.exposure)
    }

    /// The handler table, sorted by name.
    pub fn handlers(&self) -> Vec<JobHandlerInfo> {
        let mut table: Vec<JobHandlerInfo> = self
            .read_table()
            .iter()
            .map(|(name, e)| JobHandlerInfo {
                name: name.clone(),
                description: e.handler.description(),
                source: e.handler.source(),
                exposure: e.exposure,
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

    /// Runs `job` for the daemon itself (any job, internal ones included) in
    /// the calling task and returns its status. Unknown names fail with
    /// NotFound. Start and end are published as `job` events.
    pub async fn run(&self, job: Job) -> JobResult {
        let Some(entry) = self.entry(&job.name) else {
            return Err(no_such_job(&job.name));
        };
        self.call(entry.handler, job).await
    }

    /// Runs `job` on behalf of an API client that came `via` a door: like
    /// [`Engine::run`], but a job whose exposure does not open that door is
    /// refused (Forbidden) without running. The exposure is read in the same
    /// lookup that picks the handler, so a table change in between cannot
    /// widen it.
    pub async fn run_api(&self, job: Job, via: Via) -> JobResult {
        let entry = self.api_entry(&job.name, via)?;
        self.call(entry.handler, job).await
    }

    /// Whether an API client may run job `name` `via` a door: NotFound when
    /// there is no such job, Forbidden when its exposure keeps that door
    /// closed. For an edge that must answer before it starts the job
    /// ([`Engine::run_api`] checks again).
    pub fn check_api(&self, name: &str, via: Via) -> Result<(), JobError> {
        self.api_entry(name, via).map(drop)
    }

    fn api_entry(&self, name: &str, via: Via) -> Result<Entry, JobError> {
        let entry = self.entry(name).ok_or_else(|| no_such_job(name))?;
        match (entry.exposure, via) {
            (Exposure::Api, _) | (Exposure::Route, Via::Route) => Ok(entry),
            (Exposure::Route, Via::JobApi) => Err(JobError::new(
                ErrorKind::Forbidden,
                format!(
                    "job {name} is a Docker API operation: it runs only through its own API route, where authorization policies see it"
                ),
            )),
            (Exposure::Internal, _) => {
                tracing::warn!(job = %name, "refused an API request to run an internal job");
                Err(internal_job(name))
            }
        }
    }

    /// Runs `job` on behalf of an API client on its own task (see
    /// [`Engine::run_api`]).
    pub fn spawn_api(self: &Arc<Self>, job: Job, via: Via) -> JoinHandle<JobResult> {
        let engine = Arc::clone(self);
        tokio::spawn(async move { engine.run_api(job, via).await })
    }

    fn entry(&self, name: &str) -> Option<Entry> {
        self.read_table().get(name).cloned()
    }

    async fn call(&self, handler: Arc<dyn Handler>, job: Job) -> JobResult {
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

    fn read_table(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (insert/remove are atomic), so a poisoned lock is still usable.
        self.handlers.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_table(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.handlers.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn no_such_job(name: &str) -> JobError {
    JobError::not_found(format!("no such job: {name}"))
}

/// Forbidden rather than "no such job": `job ls` lists the job as internal,
/// and a 403 tells the client (the docker CLI prints the message of any
/// 4xx, moby's errdefs.Forbidden maps to it) that it exists but is not
/// theirs to run.
fn internal_job(name: &str) -> JobError {
    JobError::new(
        ErrorKind::Forbidden,
        format!("job {name} is internal to the daemon and cannot be run through the API"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::handler_fn;

    fn echo() -> Arc<dyn Handler> {
        Arc::new(handler_fn("prints its args", |job: Job| async move {
            job.stdout.write(job.args.join(" ")).await?;
            Ok(0)
        }))
    }

    #[tokio::test]
    async fn runs_registered_handlers_and_streams_their_output() {
        let engine = Engine::new();
        engine.register("echo", Exposure::Api, echo());
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
        assert!(engine.register("echo", Exposure::Api, echo()).is_none());
        let replacement: Arc<dyn Handler> =
            Arc::new(handler_fn("exits 7", |_job: Job| async { Ok(7) }));
        assert!(
            engine
                .register("echo", Exposure::Internal, replacement)
                .is_some()
        );
        let (job, _s) = Job::new("echo");
        assert_eq!(engine.run(job).await, Ok(7));
        let listed = engine.handlers();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].description, "exits 7");
        assert_eq!(listed[0].source, "builtin");
        assert_eq!(listed[0].exposure, Exposure::Internal);
        assert!(engine.unregister("echo").is_some());
        assert!(engine.handlers().is_empty());
    }

    #[tokio::test]
    async fn job_start_and_end_are_events() {
        let engine = Engine::new();
        engine.register(
            "fail",
            Exposure::Api,
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

    #[tokio::test]
    async fn internal_jobs_run_for_the_daemon_and_are_refused_to_the_api() {
        let engine = Engine::new();
        let ran = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&ran);
        let internal: Arc<dyn Handler> = Arc::new(crate::job::handler_with(
            "",
            counter,
            |ran, _job: Job| async move {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(0)
            },
        ));
        engine.register("serveapi", Exposure::Internal, internal);
        engine.register("echo", Exposure::Api, echo());
        assert_eq!(engine.exposure("serveapi"), Some(Exposure::Internal));
        assert_eq!(engine.exposure("echo"), Some(Exposure::Api));
        assert_eq!(engine.exposure("nope"), None);

        let (job, _s) = Job::new("serveapi");
        let err = engine
            .run_api(job.arg("unix:///tmp/x.sock"), Via::Route)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Forbidden);
        assert_eq!(
            err.message,
            "job serveapi is internal to the daemon and cannot be run through the API"
        );
        let (job, _s) = Job::new("serveapi");
        let err = engine
            .spawn_api(job, Via::JobApi)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Forbidden);
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "an internal job ran for the API"
        );

        let (job, _s) = Job::new("serveapi");
        assert_eq!(engine.run(job).await, Ok(0));
        assert_eq!(ran.load(Ordering::SeqCst), 1);

        let (job, streams) = Job::new("echo");
        let handle = engine.spawn_api(job.arg("hi"), Via::JobApi);
        assert_eq!(streams.stdout.collect().await, b"hi");
        assert_eq!(handle.await.unwrap(), Ok(0));
        let (job, _s) = Job::new("nope");
        assert_eq!(
            engine.run_api(job, Via::Route).await.unwrap_err().kind,
            ErrorKind::NotFound
        );
    }

    #[tokio::test]
    async fn replacing_a_handler_replaces_its_exposure() {
        let engine = Engine::new();
        engine.register("job", Exposure::Api, echo());
        engine.register("job", Exposure::Internal, echo());
        let (job, _s) = Job::new("job");
        assert_eq!(
            engine.run_api(job, Via::Route).await.unwrap_err().kind,
            ErrorKind::Forbidden
        );
    }

    #[tokio::test]
    async fn route_jobs_run_through_their_route_and_not_the_job_api() {
        let engine = Engine::new();
        engine.register("container_create", Exposure::Route, echo());
        let (job, streams) = Job::new("container_create");
        let handle = engine.spawn_api(job.arg("via the route"), Via::Route);
        assert_eq!(streams.stdout.collect().await, b"via the route");
        assert_eq!(handle.await.unwrap(), Ok(0));

        assert_eq!(engine.check_api("container_create", Via::Route), Ok(()));
        let refused = engine
            .check_api("container_create", Via::JobApi)
            .unwrap_err();
        assert_eq!(refused.kind, ErrorKind::Forbidden);
        assert_eq!(
            refused.message,
            "job container_create is a Docker API operation: it runs only through its own API route, where authorization policies see it"
        );
        let (job, streams) = Job::new("container_create");
        assert_eq!(
            engine.run_api(job.arg("x"), Via::JobApi).await.unwrap_err(),
            refused
        );
        assert!(
            streams.stdout.collect().await.is_empty(),
            "the refused job ran"
        );
    }
}
