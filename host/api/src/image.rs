//! Image bodies: `GET /images/json`, `GET /images/{name}/json`,
//! `DELETE /images/{name}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::Config;

/// One entry of `GET /images/json` (Docker API: `ImageSummary`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageSummary {
    /// `sha256:<hex>`.
    pub id: String,
    /// Parent image id, empty for imported images.
    pub parent_id: String,
    /// `repo:tag` references.
    pub repo_tags: Vec<String>,
    /// `repo@digest` references.
    pub repo_digests: Vec<String>,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Size of the image's layers in bytes.
    pub size: i64,
    /// Not computed: -1.
    pub shared_size: i64,
    /// Same as `Size` (removed in API 1.44, still read by older clients).
    pub virtual_size: i64,
    /// Image labels.
    pub labels: BTreeMap<String, String>,
    /// Not computed: -1.
    pub containers: i64,
}

/// `GET /images/{name}/json` (Docker API: `ImageInspect`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageInspect {
    /// `sha256:<hex>`.
    pub id: String,
    /// `repo:tag` references.
    pub repo_tags: Vec<String>,
    /// `repo@digest` references.
    pub repo_digests: Vec<String>,
    /// Parent image id.
    pub parent: String,
    /// Commit message / import comment.
    pub comment: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Builder version, empty.
    pub docker_version: String,
    /// Author.
    pub author: String,
    /// Default container configuration.
    pub config: Config,
    /// `amd64`, ...
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// Size in bytes.
    pub size: i64,
    /// Same as `Size`.
    pub virtual_size: i64,
    /// Storage driver details.
    pub graph_driver: GraphDriverData,
    /// The layer diff ids.
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    /// Local metadata.
    pub metadata: ImageMetadata,
}

/// Storage driver name and details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GraphDriverData {
    /// Driver name (`overlay2`, `vfs`).
    pub name: String,
    /// Driver-specific paths.
    pub data: BTreeMap<String, String>,
}

/// An image's root filesystem description.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RootFs {
    /// `layers`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Diff ids, bottom first.
    pub layers: Vec<String>,
}

/// Local image metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageMetadata {
    /// When the image was last tagged.
    pub last_tag_time: String,
}

/// One line of `DELETE /images/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageDeleteItem {
    /// A reference that was removed.
    Untagged(String),
    /// An image id whose content was removed.
    Deleted(String),
}

/// `POST /images/prune` (Docker API: `ImagePruneResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImagePruneResponse {
    /// What was untagged and deleted (`null` when nothing was).
    pub images_deleted: Option<Vec<ImageDeleteItem>>,
    /// Bytes of the deleted layers.
    pub space_reclaimed: u64,
}

/// One JSON message of the progress stream of `POST /images/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressMessage {
    /// Human-readable status (`sha256:...` for an import).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Object id the status is about.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// How far a download is (`Downloading`); the docker CLI draws a bar
    /// from it on a terminal.
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    /// Error text; the docker CLI prints it and exits 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Structured error.
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorDetail>,
}

/// The `progressDetail` of a progress message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressDetail {
    /// Bytes done.
    pub current: u64,
    /// Bytes in all.
    pub total: u64,
}

/// The `errorDetail` of a progress message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    /// The error message.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_items_use_dockers_keys() {
        let items = vec![
            ImageDeleteItem::Untagged("busybox:latest".into()),
            ImageDeleteItem::Deleted("sha256:ab".into()),
        ];
        assert_eq!(
            serde_json::to_string(&items).unwrap(),
            r#"[{"Untagged":"busybox:latest"},{"Deleted":"sha256:ab"}]"#
        );
    }
}
