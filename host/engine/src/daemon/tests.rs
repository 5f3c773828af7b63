//! Daemon logic against fake drivers: no root, no processes.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_api::container::{Config, CreateRequest, Status, WaitCondition};
use berth_api::filters::Filters;
use berth_api::image::{ImageDeleteItem, ImageInspect, ImageSummary};
use berth_api::stream::{StreamType, encode_frame};
use berth_store::Store;
use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::*;
use crate::daemon::container::NAMES;
use crate::driver::{
    AttachOptions, AttachStreams, ExitRecord, LOST_EXIT_CODE, LogRecord, RunState, StartRequest,
    Started, StreamKind,
};
use crate::engine::{Engine, Exposure};
use crate::job::{BoxFuture, ErrorKind, Job, JobResult};
use exec_fake::{FakeProc, FakeRuntime};
use images_fake::FakeImages;

/// What `events` has received so far, as `pick` keeps it (the tests of
/// restart policies, execs and health checks each look at their own).
fn events_seen<T>(
    events: &mut tokio::sync::broadcast::Receiver<berth_api::event::EventMessage>,
    mut pick: impl FnMut(berth_api::event::EventMessage) -> Option<T>,
) -> Vec<T> {
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.extend(pick(e));
    }
    seen
}

struct Fixture {
    _dir: tempfile::TempDir,
    daemon: Arc<Daemon>,
    engine: Arc<Engine>,
    images: Arc<FakeImages>,
    runtime: Arc<FakeRuntime>,
    /// The recording network driver (kept across [`Fixture::restart`], as
    /// the kernel's state survives berthd).
    network: Arc<network_fake::FakeNetwork>,
    store: Store,
    /// The volumes' own mounts (kept across [`Fixture::restart`], as the
    /// kernel's mount table survives berthd).
    mounter: berth_volume::RecordingMounter,
}

/// A daemon over a fresh store with the fake drivers.
fn fixture() -> Fixture {
    FixtureBuilder::default().build()
}

/// Builds a [`Fixture`]: the exec driver it finds and how long a start may
/// take, over a fresh store or (through [`Fixture::restart`]) an old
/// daemon's.
struct FixtureBuilder {
    /// The data root and its store; a fresh pair unless a restart.
    data: Option<(tempfile::TempDir, Store)>,
    runtime: Arc<FakeRuntime>,
    start_timeout: Duration,
    /// The network driver; a fresh fake unless a restart.
    network: Option<Arc<network_fake::FakeNetwork>>,
    /// The volumes' mounter; a fresh fake unless a restart.
    mounter: Option<berth_volume::RecordingMounter>,
}

impl Default for FixtureBuilder {
    fn default() -> FixtureBuilder {
        FixtureBuilder {
            data: None,
            runtime: Arc::new(FakeRuntime::default()),
            start_timeout: DEFAULT_START_TIMEOUT,
            network: None,
            mounter: None,
        }
    }
}

impl FixtureBuilder {
    /// The exec driver the daemon finds (and the test inspects).
    fn runtime(mut self, runtime: Arc<FakeRuntime>) -> FixtureBuilder {
        self.runtime = runtime;
        self
    }

    /// A start gives up after `start_timeout`.
    fn start_timeout(mut self, start_timeout: Duration) -> FixtureBuilder {
        self.start_timeout = start_timeout;
        self
    }

    fn build(self) -> Fixture {
        let (dir, store) = self.data.unwrap_or_else(|| {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_in(dir.path()).unwrap();
            (dir, store)
        });
        let images = Arc::new(FakeImages::default());
        *images.mount_root.lock().unwrap() = Some(dir.path().join("rootfs"));
        let engine = Engine::new();
        let config = DaemonConfig {
            data_root: dir.path().to_owned(),
            exec_root: dir.path().join("exec"),
            sysinfo: Default::default(),
            start_timeout: self.start_timeout,
            default_bridge: Default::default(),
            default_ipv6_pool: crate::daemon::ipam::default_ipv6_pool("test-engine"),
        };
        let network = self.network.unwrap_or_else(|| {
            Arc::new(network_fake::FakeNetwork::new(
                dir.path().join("exec").join("netns"),
            ))
        });
        let mut daemon = Daemon::with_network(
            config,
            store.clone(),
            Arc::clone(&images) as Arc<dyn ImageService>,
            Arc::new(Arc::clone(&self.runtime)),
            Arc::clone(&network) as Arc<dyn crate::driver::NetworkService>,
            Arc::clone(engine.events()),
        );
        // No kernel mounts in unit tests: volumes' own mounts are recorded.
        let mounter = self.mounter.unwrap_or_default();
        let inner = Arc::get_mut(&mut daemon).expect("nothing holds the new daemon yet");
        inner.volumes = inner
            .volumes
            .clone()
            .with_mounter(Arc::new(mounter.clone()));
        handlers::register_all(&engine, &daemon, handlers::SystemFacts::default());
        Fixture {
            _dir: dir,
            daemon,
            engine,
            images,
            runtime: self.runtime,
            network,
            store,
            mounter,
        }
    }
}

fn request(json: &str) -> CreateRequest {
    serde_json::from_str(json).unwrap()
}

impl Fixture {
    /// berthd restarted: a new daemon (fresh fake images) over this one's
    /// store and data root, finding `runtime` as its exec driver.
    fn restart(self, runtime: Arc<FakeRuntime>) -> Fixture {
        FixtureBuilder {
            data: Some((self._dir, self.store)),
            network: Some(self.network),
            mounter: Some(self.mounter),
            ..FixtureBuilder::default()
        }
        .runtime(runtime)
        .build()
    }

    async fn create(&self, name: Option<&str>, json: &str) -> Result<String, JobError> {
        self.daemon.create(name, request(json)).await.map(|r| r.id)
    }

    async fn run_job(&self, job: Job, streams: crate::job::JobStreams) -> (JobResult, Vec<u8>) {
        let handle = self.engine.spawn(job);
        let out = streams.stdout.collect().await;
        (handle.await.unwrap(), out)
    }

    fn record_count(&self) -> usize {
        self.store.list(CONTAINERS).unwrap().len()
    }

    async fn wait_status(&self, id: &str, status: Status) {
        let c = self.daemon.containers().get(id).unwrap();
        let mut rx = c.watch();
        tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| s.status == status))
            .await
            .expect("state change")
            .unwrap();
    }
}

mod aliases;
mod archive;
mod attach;
mod compose;
mod connect;
mod create;
mod create_fields;
mod dns;
mod endpoints;
mod exec;
mod exec_fake;
mod filters;
mod health;
mod image_archive;
mod images_fake;
mod jobs;
mod list;
mod logs;
mod name_service;
mod names_fake;
mod network;
mod network_fake;
mod network_policy;
mod networks;
mod prune;
mod prune_unowned;
mod publish;
mod remove;
mod rename;
mod restart;
mod restart_policy;
mod restore;
mod start;
mod start_bounds;
mod stats;
mod stop;
mod subnet_policy;
mod teardown;
mod top;
mod update;
mod volumes;
