//! What crosses the image seam for the archive verbs: `docker load`,
//! `docker history` and `docker commit`.

/// One image `docker load` stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// `sha256:<hex>` of its config.
    pub id: String,
    /// The tags set, in Docker's familiar form (`busybox:latest`).
    pub tags: Vec<String>,
}

/// What a load stored, in the archive's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The images.
    pub images: Vec<LoadedImage>,
    /// Layer entries skipped (device nodes, ...), one line each.
    pub warnings: Vec<String>,
}

/// One line of `docker history`, newest first (moby
/// `image.HistoryResponseItem`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryEntry {
    /// `sha256:<hex>` of the image for the top entry, `<missing>` below.
    pub id: String,
    /// Seconds since the epoch.
    pub created: i64,
    /// The instruction that made it.
    pub created_by: String,
    /// The image's tags, on the top entry only.
    pub tags: Vec<String>,
    /// Bytes of the layer it made; 0 for an empty layer.
    pub size: u64,
    /// Its comment.
    pub comment: String,
}

/// The container defaults a committed image keeps (the container's own
/// config, as moby's `commit` starts from it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitDefaults {
    /// `User`.
    pub user: String,
    /// `Env`.
    pub env: Vec<String>,
    /// `Cmd`.
    pub cmd: Option<Vec<String>>,
    /// `Entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `WorkingDir`.
    pub working_dir: String,
    /// `Labels`.
    pub labels: std::collections::BTreeMap<String, String>,
    /// `StopSignal`.
    pub stop_signal: Option<String>,
    /// `ExposedPorts` keys (`80/tcp`).
    pub exposed_ports: Vec<String>,
    /// `Volumes` keys.
    pub volumes: Vec<String>,
}

/// `POST /commit`: a container's changes as a new image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitRequest {
    /// The container (64 hex).
    pub container_id: String,
    /// `repo` (may carry a tag), empty for an untagged image.
    pub repo: String,
    /// `tag`.
    pub tag: String,
    /// `comment`, the history entry's comment.
    pub comment: String,
    /// `author`.
    pub author: String,
    /// Dockerfile-like `changes`, applied to `defaults`.
    pub changes: Vec<String>,
    /// The container's config.
    pub defaults: CommitDefaults,
    /// The history entry's `created_by` (moby: the container's command).
    pub created_by: String,
}
