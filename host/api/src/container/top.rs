//! `GET /containers/{id}/top` answer.

use serde::{Deserialize, Serialize};

/// The `ps` rows of a container's processes (moby `ContainerTopOKBody`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TopResponse {
    /// The `ps` column titles.
    pub titles: Vec<String>,
    /// One row per process, as many fields as titles.
    pub processes: Vec<Vec<String>>,
}
