//! The `serveapi` job: serving the API is itself a job, as in Docker 1.x.
//! It serves the `-H` addresses berthd validated at start, and runs until
//! shutdown is requested.
//!
//! It is registered [`Exposure::Internal`](berth_engine::Exposure): it
//! binds sockets (unlinking a stale file at a unix path, creating its
//! parent directories) and runs listeners for as long as the daemon lives,
//! so it takes its addresses from the daemon's configuration, never from a
//! job's args, and no API client can run it.

use std::sync::{Arc, Mutex, Weak};

use berth_engine::job::BoxFuture;
use berth_engine::{Engine, ErrorKind, Handler, Job, JobError, JobResult};
use tokio::sync::watch;

use crate::app::{AppState, router};
use crate::authz::Authz;
use crate::listen::{self, Address, ConnectionLimits};

/// The `serveapi` handler.
pub struct ServeApi {
    engine: Weak<Engine>,
    /// The validated addresses, taken by the one run that binds them.
    addresses: Mutex<Option<Vec<Address>>>,
    limits: ConnectionLimits,
    authz: Authz,
    shutdown: watch::Receiver<bool>,
}

impl ServeApi {
    /// A handler serving `engine`'s jobs on `addresses`, each request
    /// authorized by `authz`, until `shutdown` turns true.
    pub fn new(
        engine: &Arc<Engine>,
        addresses: Vec<Address>,
        limits: ConnectionLimits,
        authz: Authz,
        shutdown: watch::Receiver<bool>,
    ) -> ServeApi {
        ServeApi {
            engine: Arc::downgrade(engine),
            addresses: Mutex::new(Some(addresses)),
            limits,
            authz,
            shutdown,
        }
    }
}

impl Handler for ServeApi {
    fn call(&self, job: Job) -> BoxFuture<JobResult> {
        let engine = self.engine.upgrade();
        let addresses = self
            .addresses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let limits = self.limits;
        let authz = self.authz.clone();
        let shutdown = self.shutdown.clone();
        Box::pin(async move {
            let engine =
                engine.ok_or_else(|| JobError::new(ErrorKind::Unavailable, "engine is gone"))?;
            if !job.args.is_empty() {
                return Err(JobError::invalid(
                    "serveapi takes no args: it serves the addresses berthd was started with (-H)",
                ));
            }
            let addresses = addresses
                .ok_or_else(|| JobError::conflict("serveapi is already serving the API"))?;
            // Bind everything first: a daemon that cannot listen on one of
            // its addresses refuses to start rather than half-serving.
            let mut listeners = Vec::new();
            for address in addresses {
                let bound = address
                    .bind()
                    .await
                    .map_err(|e| JobError::invalid(e.to_string()))?;
                listeners.extend(bound);
            }
            let app = router(AppState { engine, authz });
            let mut tasks = tokio::task::JoinSet::new();
            for listener in listeners {
                let described = listener.describe();
                tracing::info!(listener = %described, "API listen");
                job.stdout
                    .write(format!("listening on {described}\n"))
                    .await
                    .ok();
                tasks.spawn(listen::accept_loop(
                    listener,
                    app.clone(),
                    limits,
                    shutdown.clone(),
                ));
            }
            while tasks.join_next().await.is_some() {}
            Ok(0)
        })
    }

    fn description(&self) -> String {
        "serves the Docker Engine API on the daemon's -H addresses (internal)".to_owned()
    }
}
