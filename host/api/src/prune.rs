//! The reports of the prune endpoints berth answers without objects of
//! their kind yet: `POST /networks/prune` (moby `network.PruneReport`) and
//! `POST /build/prune` (moby `build.CachePruneReport`). `docker system
//! prune` calls both.

use serde::{Deserialize, Serialize};

/// `POST /networks/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkPruneResponse {
    /// Names of the removed networks (`null` when none, as Go encodes an
    /// empty slice).
    pub networks_deleted: Option<Vec<String>>,
}

/// `POST /build/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BuildCachePruneResponse {
    /// Ids of the removed cache records (`null` when none).
    pub caches_deleted: Option<Vec<String>>,
    /// Bytes they held.
    pub space_reclaimed: u64,
}
