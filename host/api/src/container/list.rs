//! `GET /containers/json`: one container of the list.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::NetworkSettings;

/// One entry of `GET /containers/json` (Docker API: `ContainerSummary`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerSummary {
    /// 64 hex digits.
    pub id: String,
    /// `["/name"]`.
    pub names: Vec<String>,
    /// Image name as given at create.
    pub image: String,
    /// Image id.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// The command line, joined with spaces.
    pub command: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Published ports.
    pub ports: Vec<serde_json::Value>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Lifecycle state name (`running`).
    pub state: String,
    /// Human status (`Up 3 seconds`, `Exited (0) 2 minutes ago`).
    pub status: String,
    /// `{"NetworkMode": ...}`.
    pub host_config: SummaryHostConfig,
    /// Network settings.
    pub network_settings: NetworkSettings,
    /// Mounts.
    pub mounts: Vec<serde_json::Value>,
    /// Bytes the container wrote (its writable layer), when asked for
    /// (`GET /system/df`).
    #[serde(rename = "SizeRw", skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// Bytes of its whole root filesystem (image and writable layer), when
    /// asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
}

/// `POST /containers/prune` (Docker API: `ContainerPruneResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerPruneResponse {
    /// Ids of the removed containers (`null` when none, as Go encodes an
    /// empty slice).
    pub containers_deleted: Option<Vec<String>>,
    /// Bytes their writable layers held.
    pub space_reclaimed: u64,
}

/// `HostConfig` of [`ContainerSummary`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryHostConfig {
    /// Network mode.
    pub network_mode: String,
}

/// One entry of `GET /containers/{id}/changes` (Docker API:
/// `FilesystemChange`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilesystemChange {
    /// Absolute path inside the container.
    pub path: String,
    /// 0: modified, 1: added, 2: deleted.
    pub kind: u8,
}
