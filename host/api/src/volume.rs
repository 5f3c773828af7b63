//! The `/volumes` bodies (Docker Engine API 1.43, moby
//! `api/types/volume`): `Volume`, `CreateOptions`, `ListResponse` and the
//! prune report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /volumes/{name}` and each entry of a list (moby `volume.Volume`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Volume {
    /// When the volume was created (RFC 3339).
    pub created_at: String,
    /// The driver, `local`.
    pub driver: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Where the volume's files are on the host.
    pub mountpoint: String,
    /// The name.
    pub name: String,
    /// The driver options it was created with.
    pub options: BTreeMap<String, String>,
    /// `local`.
    pub scope: String,
    /// Size and reference count, filled in by `/system/df` only (moby
    /// leaves it `null` elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<UsageData>,
}

/// moby `volume.UsageData`: `-1` means "not computed".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsageData {
    /// Bytes of the volume's files.
    pub size: i64,
    /// How many containers reference it.
    pub ref_count: i64,
}

/// `POST /volumes/create` (moby `volume.CreateOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCreateRequest {
    /// The name; empty asks for a generated one.
    pub name: String,
    /// The driver; empty means `local`.
    pub driver: String,
    /// Driver options (`docker volume create -o`).
    pub driver_opts: BTreeMap<String, String>,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Cluster volumes (swarm); berth refuses a non-null value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_volume_spec: Option<serde_json::Value>,
}

/// `GET /volumes` (moby `volume.ListResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeListResponse {
    /// The volumes that match the filters.
    pub volumes: Vec<Volume>,
    /// Warnings (none from the local driver).
    pub warnings: Vec<String>,
}

/// `POST /volumes/prune` (moby `volume.PruneReport`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumePruneResponse {
    /// Names of the removed volumes.
    pub volumes_deleted: Vec<String>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}
