//! The daemon's container and image operations (moby's `daemon/`): the
//! container set and its records in the metadata store, the state machine,
//! and the calls into the graph ([`ImageService`]) and exec ([`ExecService`])
//! drivers. [`handlers`] turns these operations into jobs.
//!
//! One file per verb, each an `impl Daemon` block with the helpers only it
//! uses: `create`, `start`, `stop` (and kill, pause, wait), `remove`, `rename`, `restart`, `top`,
//! [`attach`] (and resize), `logs`, [`list`] (and inspect), `restore`;
//! `exit` records the end of a container for `start` and `restore`. This
//! file keeps the [`Daemon`], its construction and what every verb shares.

pub(crate) mod aliases;
mod archive;
pub mod attach;
mod blob_stream;
pub mod blocking;
mod changes;
pub mod commit;
pub mod connect;
pub mod container;
mod create;
pub mod detach;
mod distribution;
mod dns;
mod endpoint_policy;
pub mod endpoints;
pub mod exec;
mod exit;
pub mod handlers;
pub mod health;
mod image_archive;
pub mod images;
pub mod ipam;
mod join;
pub mod list;
mod logs;
pub mod name_service;
pub mod names;
pub mod net_policy;
mod network_addresses;
mod network_mode;
mod network_resolver;
pub mod networks;
pub mod ports;
pub mod prune;
mod prune_unowned;
mod publish;
mod pull;
mod push;
mod remove;
mod rename;
mod restart;
pub mod restart_policy;
mod restore;
mod search;
pub mod signal;
pub mod spec;
mod start;
pub mod stats;
mod stop;
pub mod subnet_policy;
pub mod sysinfo;
mod teardown;
pub mod top;
mod transfer;
mod update;
pub mod volumes;

pub use attach::AttachReplay;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_store::{Store, StoreError};
use chrono::{DateTime, Utc};

use crate::driver::{ExecService, ImageService, NetworkService, UnavailableNetwork};
use crate::events::Events;
use crate::job::JobError;
use blocking::{BlockingKind, BlockingPool};
use container::{CONTAINERS, Container, ContainerRecord, ContainerSet};
pub use list::human_status;
pub use pull::{MAX_CONCURRENT_DOWNLOADS, auth_config_from_json, decode_auth_config};
pub use push::{MANIFEST_V2, MAX_CONCURRENT_UPLOADS, PushRequest};
pub use search::{DEFAULT_SEARCH_LIMIT, SearchFilters, parse_limit, split_term};

/// Where the daemon keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// `--data-root`: metadata, images, container directories.
    pub data_root: PathBuf,
    /// `--exec-root`: sockets and runtime state.
    pub exec_root: PathBuf,
    /// What the host offers containers, probed at start.
    pub sysinfo: sysinfo::SysInfo,
    /// How long a container start may take, from mounting its root
    /// filesystem to its process running ([`DEFAULT_START_TIMEOUT`]). A
    /// start past it fails, and what it set up is undone.
    pub start_timeout: Duration,
    /// The default `bridge` network's kernel bridge and address
    /// (`--bridge`, `--bip`); several daemons on one host each need their
    /// own.
    pub default_bridge: DefaultBridge,
    /// The ULA /48 new networks' IPv6 subnets come from when `--ipv6` names
    /// none, derived from the engine id ([`ipam::default_ipv6_pool`]), as
    /// moby's `deriveULABaseNetwork` from its host id.
    pub default_ipv6_pool: ipnet::Ipv6Net,
}

/// `--bridge NAME` and `--bip ADDR/PREFIX` (dockerd's flags): the default
/// network's bridge, and its gateway address with the subnet's prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultBridge {
    /// The bridge interface (`berth0` unless configured).
    pub name: String,
    /// The gateway with the subnet's prefix (`172.17.0.1/16`); `None`
    /// lets the daemon pick a free subnet from the default pools once and
    /// keep it.
    pub bip: Option<berth_model::network::IpNet>,
}

impl Default for DefaultBridge {
    fn default() -> DefaultBridge {
        DefaultBridge {
            name: networks::DEFAULT_BRIDGE.to_owned(),
            bip: None,
        }
    }
}

/// [`DaemonConfig::start_timeout`] by default: beyond the exec driver's
/// own bounds on preparing the bundle and on the shim's startup (60 s
/// each), so that a slow but healthy start on a loaded machine completes.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(150);

impl DaemonConfig {
    /// `<data-root>/containers`: one directory per container, shared with
    /// the exec driver (its `ExecConfig::containers_dir`).
    pub fn containers_root(&self) -> PathBuf {
        self.data_root.join("containers")
    }

    /// `<data-root>/volumes`: the local volume driver's directories.
    pub fn volumes_root(&self) -> PathBuf {
        self.data_root.join("volumes")
    }

    /// `<data-root>/containers/<id>`: logs and per-container files.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_root().join(id)
    }
}

/// The container and image subsystem of berthd.
pub struct Daemon {
    config: DaemonConfig,
    store: Store,
    images: Arc<dyn ImageService>,
    runtime: Arc<dyn ExecService>,
    /// The network driver (bridges, veth pairs, nftables).
    network: Arc<dyn NetworkService>,
    events: Arc<Events>,
    containers: ContainerSet,
    pool: BlockingPool,
    pruning: prune::PruneGuards,
    /// `docker exec` sessions, in memory only (moby's `execCommands`).
    execs: exec::ExecStore,
    /// The last stats sample of each container (`stream=false` precpu).
    last_samples: stats::LastSamples,
    /// The `local` volume driver over `<data-root>/volumes`.
    volumes: berth_volume::LocalDriver,
    /// Held while a volume's users are decided: a create that mounts
    /// volumes (until its record is in the set) and a volume removal or
    /// prune, so that no volume goes while a container is being given it.
    volume_lock: tokio::sync::Mutex<()>,
    /// The registry driver, wired in by berthd after construction.
    registry: std::sync::OnceLock<Arc<dyn crate::driver::RegistryService>>,
    /// Layers being pulled, one turn at a time.
    pulls: pull::PullLocks,
    /// The blobs the layers travelled as (`<data-root>/image/distribution`).
    distribution: Arc<distribution::DistributionStore>,
    /// Held while networks are created or removed, so that two creates
    /// cannot take one name or overlapping subnets.
    network_lock: tokio::sync::Mutex<()>,
    /// The embedded DNS server of user-defined networks, wired in by
    /// berthd after construction.
    names: std::sync::OnceLock<Arc<dyn crate::driver::NameService>>,
    /// The containers' sandboxes and endpoints while they run.
    attachments: endpoints::Attachments,
    /// The network teardowns of exited containers still in flight.
    teardowns: teardown::Teardowns,
    /// Host port reservations of published ports.
    ports: Arc<ports::PortAllocator>,
    /// The network-policy plugin, wired in by berthd after construction.
    net_policy: std::sync::OnceLock<Arc<dyn crate::driver::NetworkPolicy>>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

pub use berth_model::time::now_rfc3339;

fn store_error(what: &str, err: StoreError) -> JobError {
    JobError::internal(what, &err)
}

impl Daemon {
    /// Builds the daemon over its store and drivers; call [`Daemon::restore`]
    /// next to load existing containers.
    pub fn new(
        config: DaemonConfig,
        store: Store,
        images: Arc<dyn ImageService>,
        runtime: Arc<dyn ExecService>,
        events: Arc<Events>,
    ) -> Arc<Daemon> {
        let network = Arc::new(UnavailableNetwork::new("berthd has no network driver"));
        Daemon::with_network(config, store, images, runtime, network, events)
    }

    /// [`Daemon::new`] with a network driver.
    pub fn with_network(
        config: DaemonConfig,
        store: Store,
        images: Arc<dyn ImageService>,
        runtime: Arc<dyn ExecService>,
        network: Arc<dyn NetworkService>,
        events: Arc<Events>,
    ) -> Arc<Daemon> {
        Arc::new(Daemon {
            volumes: berth_volume::LocalDriver::new(config.volumes_root(), store.clone()),
            volume_lock: tokio::sync::Mutex::new(()),
            distribution: Arc::new(distribution::DistributionStore::new(
                config.data_root.join("image/distribution"),
            )),
            network_lock: tokio::sync::Mutex::new(()),
            attachments: endpoints::Attachments::default(),
            teardowns: teardown::Teardowns::default(),
            ports: Arc::new(ports::PortAllocator::new(
                Arc::new(ports::SocketHolder),
                ports::ephemeral_range(),
            )),
            config,
            store,
            images,
            runtime,
            network,
            events,
            containers: ContainerSet::default(),
            pool: BlockingPool::default(),
            pruning: prune::PruneGuards::default(),
            execs: exec::ExecStore::default(),
            registry: std::sync::OnceLock::new(),
            pulls: pull::PullLocks::default(),
            last_samples: stats::LastSamples::default(),
            names: std::sync::OnceLock::new(),
            net_policy: std::sync::OnceLock::new(),
        })
    }

    /// The registry driver, if one is wired in.
    pub fn registry(&self) -> Option<&Arc<dyn crate::driver::RegistryService>> {
        self.registry.get()
    }

    /// Wires in the registry driver (`image_pull`); the first one set stays.
    pub fn set_registry(&self, registry: Arc<dyn crate::driver::RegistryService>) {
        let _ = self.registry.set(registry);
    }

    /// Runs blocking driver work of `kind` off the async workers, within
    /// its kind's bound ([`blocking`]).
    pub async fn blocking<T, F>(&self, kind: BlockingKind, f: F) -> Result<T, JobError>
    where
        F: FnOnce() -> Result<T, JobError> + Send + 'static,
        T: Send + 'static,
    {
        self.pool.run(kind, f).await
    }

    /// The daemon's configuration.
    pub fn config(&self) -> &DaemonConfig {
        &self.config
    }

    /// The graph driver.
    pub fn images(&self) -> &Arc<dyn ImageService> {
        &self.images
    }

    /// The network driver.
    pub fn network(&self) -> &Arc<dyn NetworkService> {
        &self.network
    }

    /// The events hub.
    pub fn events(&self) -> &Arc<Events> {
        &self.events
    }

    /// The containers.
    pub fn containers(&self) -> &ContainerSet {
        &self.containers
    }

    /// Removes what `create` made for a container that has no record: its
    /// root filesystem, then its directory. The directory goes last so that
    /// a root filesystem that could not be removed is found again through
    /// it at the next start ([`Daemon::discard_orphans`]).
    async fn discard_unrecorded(&self, id: &str) -> Result<(), JobError> {
        let images = Arc::clone(&self.images);
        let rootfs_id = id.to_owned();
        self.blocking(BlockingKind::Rootfs, move || {
            images.remove_rootfs(&rootfs_id)
        })
        .await?;
        self.remove_tree(self.config.container_dir(id)).await
    }

    /// Removes a container's directory tree (absent is fine).
    async fn remove_tree(&self, dir: PathBuf) -> Result<(), JobError> {
        self.blocking(
            BlockingKind::ContainerDir,
            move || match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(JobError::internal(
                    &format!("failed to remove {}", dir.display()),
                    &e,
                )),
            },
        )
        .await
    }

    /// Saves a record; a commit waits for fsync, so it runs as blocking
    /// work of its own kind.
    async fn persist(&self, record: &ContainerRecord) -> Result<(), JobError> {
        let (store, record) = (self.store.clone(), record.clone());
        self.blocking(BlockingKind::StoreCommit, move || {
            store
                .put(CONTAINERS, &record.id, &record)
                .map_err(|e| store_error("failed to save the container record", e))
        })
        .await
    }

    fn container_event(&self, action: &str, record: &ContainerRecord, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::from([
            ("image".to_owned(), record.image.clone()),
            ("name".to_owned(), record.name.clone()),
        ]);
        for (k, v) in &record.config.labels {
            attrs.insert(k.clone(), v.clone());
        }
        for (k, v) in extra {
            attrs.insert((*k).to_owned(), v.clone());
        }
        self.events.publish("container", action, &record.id, attrs);
    }

    /// The container `reference` names, which must be running (dockerd's
    /// `errNotRunning`: 409 "Container <id> is not running").
    fn running_container(&self, reference: &str) -> Result<Arc<Container>, JobError> {
        let container = self.containers.get(reference)?;
        if !container.lock().record.state.running {
            return Err(JobError::conflict(format!(
                "Container {} is not running",
                container.id
            )));
        }
        Ok(container)
    }

    /// Whether a container uses the image (for `info` and `rmi`).
    pub fn image_in_use(&self, image_id: &str) -> bool {
        self.containers
            .all()
            .iter()
            .any(|c| c.lock().record.image_id == image_id)
    }
}

pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
