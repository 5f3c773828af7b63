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
