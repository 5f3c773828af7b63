//! `POST /containers/{id}/restart`: stop, with the timeout and signal
//! semantics of `stop`, then start (moby `daemon/restart.go`).

use std::sync::Arc;

use crate::daemon::{Daemon, signal};
use crate::job::{ErrorKind, JobError};

impl Daemon {
    /// `POST /containers/{id}/restart`: a running container is stopped as
    /// [`Daemon::stop`] stops it (`timeout`, `signal`), then started; a
    /// stopped one is started. Emits `restart` after the `stop` and `start`
    /// events, as moby does.
    ///
    /// A failure of either step is moby's 500 "Cannot restart container
    /// <name>: <cause>"; a missing container (404) and a bad signal (400)
    /// are refused before anything happens, as moby's router and
    /// `GetContainer` refuse them.
    pub async fn restart(
        self: &Arc<Self>,
        reference: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), JobError> {
        let signal = signal.filter(|s| !s.is_empty());
        if let Some(signal) = signal {
            signal::parse(signal)?;
        }
        let container = self.containers.get(reference)?;
        let cannot = |e: JobError| {
            JobError::new(
                ErrorKind::Internal,
                format!("Cannot restart container {reference}: {}", e.message),
            )
        };
        // The stop of a restart is no end of the container: an AutoRemove
        // container must survive it (moby clears AutoRemove around the
        // stop of a restart for the same reason).
        container.lock().restarting = true;
        let stopped = self.stop(&container.id, timeout, signal).await;
        container.lock().restarting = false;
        match stopped {
            Ok(()) => {}
            // Not running: a restart starts it.
            Err(e) if e.kind == ErrorKind::NotModified => {}
            Err(e) => return Err(cannot(e)),
        }
        match self.start(&container.id).await {
            Ok(()) => {}
            // Started by someone else meanwhile: it runs, as asked (moby's
            // `containerStart` returns nil for a running container).
            Err(e) if e.kind == ErrorKind::NotModified => {}
            Err(e) => return Err(cannot(e)),
        }
        self.container_event("restart", &container.record(), &[]);
        Ok(())
    }
}
