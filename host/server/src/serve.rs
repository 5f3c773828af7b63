//! The `serveapi` job: serving the API is itself a job, as in Docker 1.x.
//! Its args are the listen addresses; it runs until shutdown is requested.

use std::sync::{Arc, Weak};

use berth_engine::job::BoxFuture;
use berth_engine::{Engine, Handler, Job, JobError, JobResult};
use tokio::sync::watch;

use crate::app::{AppState, router};
use crate::listen::{self, TlsOptions};

/// The `serveapi` handler.
pub struct ServeApi {
    engine: Weak<Engine>,
    tls: TlsOptions,
    shutdown: watch::Receiver<bool>,
}

impl ServeApi {
    /// A handler serving `engine`'s jobs until `shutdown` turns true.
    pub fn new(engine: &Arc<Engine>, tls: TlsOptions, shutdown: watch::Receiver<bool>) -> ServeApi {
        ServeApi {
            engine: Arc::downgrade(engine),
            tls,
            shutdown,
        }
    }
}

impl Handler for ServeApi {
    fn call(&self, job: Job) -> BoxFuture<JobResult> {
        let engine = self.engine.upgrade();
        let tls = self.tls.clone();
        let shutdown = self.shutdown.clone();
        Box::pin(async move {
            let engine = engine.ok_or_else(|| {
                JobError::new(berth_engine::ErrorKind::Unavailable, "engine is gone")
            })?;
            if job.args.is_empty() {
                return Err(JobError::invalid("serveapi: no listen address given"));
            }
            // Bind everything first: a daemon that cannot listen on one of
            // its addresses refuses to start rather than half-serving.
            let mut listeners = Vec::new();
            for address in &job.args {
                let bound = listen::bind(address, &tls)
                    .await
                    .map_err(|e| JobError::invalid(e.to_string()))?;
                listeners.extend(bound);
            }
            let app = router(AppState { engine });
            let mut tasks = tokio::task::JoinSet::new();
            for listener in listeners {
                let described = listener.describe();
                tracing::info!(listener = %described, "API listen");
                job.stdout
                    .write(format!("listening on {described}\n"))
                    .await
                    .ok();
                tasks.spawn(listen::accept_loop(listener, app.clone(), shutdown.clone()));
            }
            while tasks.join_next().await.is_some() {}
            Ok(0)
        })
    }

    fn description(&self) -> String {
        "serves the Docker Engine API on the addresses given as args".to_owned()
    }
}
