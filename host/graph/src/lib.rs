//! berth-graph: the graph driver — images as a graph of layers.
//!
//! It stores image configs and layers under the daemon's `--data-root`,
//! imports root filesystem tarballs as images, answers image queries
//! (`images`, `inspect`, `tag`, `rmi`), and prepares each container's root
//! filesystem (overlayfs, or a vfs copy). How layers are stacked, flattened
//! and collected is decided by a [`LayoutPolicy`] (built in:
//! [`NativeLayoutPolicy`]; a WASM plugin can replace it) whose plans the
//! graph validates before acting.
//!
//! The API is blocking and [`Graph`] is `Send + Sync`: the daemon shares it
//! in an `Arc` and calls it through `spawn_blocking`.
//!
//! # On-disk layout
//!
//! ```text
//! <data-root>/
//!   berth.redb                       metadata (berth-store): tables graph.*
//!   graph/                           mode 0700
//!     blobs/sha256/<hex>             image config JSON; <hex> = image id
//!     layers/<diff-hex>/diff/        an imported layer's files
//!     layers/<diff-hex>/tar-split.zst   the record of the tar it came as
//!     flat/<id>/diff/                a flattened run of layers (a cache)
//!     l/<16 hex> -> ../layers/<diff-hex>/diff   short names for lowerdir=
//!     containers/<container-id>/
//!       upper/ work/ merged/         overlay driver
//!       rootfs/                      vfs driver
//!     tmp/                           staging; emptied at open
//! ```
//!
//! Records (tables in the shared redb file): `graph.meta` (the storage
//! driver the layers were stored for), `graph.images`, `graph.tags`
//! (`docker.io/library/busybox:latest` → image), `graph.layers`,
//! `graph.rootfs` (container → image, lowers, mounted).
//!
//! # Crash safety
//!
//! Records are the truth. An import extracts into `tmp/`, makes the
//! extracted tree durable (one `syncfs`, or an `fsync` of each file and
//! directory when other writers' dirty pages would make the `syncfs` wait
//! longer: `fsutil::sync_tree`, `fsutil::sync_each_max`), renames the
//! layer into `layers/`, writes the config blob (temp file,
//! `fsync`, rename; its digest checked first), then commits all records in
//! one transaction. Removal deletes records first, files second. At open,
//! everything without a record (temp dirs, layer dirs, blobs, links,
//! container dirs) is removed. A failed import therefore leaves nothing.
//!
//! # Layers and whiteouts
//!
//! Layer ids are diff ids (SHA-256 of the uncompressed tar). A layer's
//! directory holds only its own changes; the record beside it lets `save`
//! and `push` write the layer back as the very tar it came as, so an image
//! keeps its id whatever tool wrote its tars (see `tarsplit`). For overlay, whiteouts are stored
//! as overlayfs expects (char device 0/0, `trusted.overlay.opaque=y`), so the
//! directory is a lower dir as is; for vfs they stay `.wh.` files and are
//! applied when a container's copy is assembled. The data root remembers its
//! driver and refuses another one while it holds layers. Extraction rules
//! (what is refused, skipped, neutralised) are in the [`extract`] module
//! docs: device nodes are skipped with a warning.
//!
//! # Overlay mounts
//!
//! The mount option string must fit in a page, so lower dirs are named by
//! short links `l/<16 hex>` (as Docker's overlay2 does with `l/`), never by
//! changing the working directory (berthd is multi-threaded). The number of
//! lower dirs the policy may use is what fits in the page, at most
//! [`DEFAULT_MAX_LOWER_DIRS`]; deeper chains get a flattened lower.
//!
//! # `rmi` rules (Docker's `imageDelete`)
//!
//! - By reference: the tag goes. If it was the image's last tag and a
//!   container uses the image, that is a conflict unless forced. The image is
//!   then deleted if no tag is left and no container blocks it; a mounted
//!   rootfs (running container) blocks even when forced — the image then
//!   just stays untagged.
//! - By id: every tag goes (refused without force if the tags span several
//!   repositories) and the image is deleted; a container using it is a
//!   conflict ("cannot be forced" when its rootfs is mounted, "must be
//!   forced" otherwise).
//! - Deleting an image runs [`Graph::gc`]: the policy removes the layers no
//!   image or container references; their ids are reported as `Deleted`.

#![warn(missing_docs)]

pub mod archive;
mod changes;
mod compress;
mod diff;
mod error;
pub mod extract;
mod fsutil;
mod gc;
mod graph;
mod hold;
mod image;
mod layer_tar;
mod merge;
pub mod mount;
pub mod policy;
mod records;
pub mod reference;
mod rootfs;
mod tarsplit;

pub use berth_model::graph::archive::{CommitDefaults, CommitRequest, HistoryEntry};
pub use berth_model::graph::{ContainerUsage, DiskUsage, GcReport, ImageUsage, LayerUsage};
pub use changes::{ChangeError, Platform, PlatformError, QuotingError};
pub use diff::{Change, ChangeKind};
pub use error::{ErrorKind, GraphError};
pub use fsutil::xattr_allowed;
pub use graph::{
    DEFAULT_MAX_LOWER_DIRS, DriverChoice, Graph, GraphConfig, OverlayUnavailable, StorageDriver,
    UnknownDriver,
};
pub use hold::LayerHold;
pub use image::{
    DeleteRecord, ImageDetails, ImageSummary, ImportOptions, ImportReport, LayerReport, LoadReport,
    LoadedImage, MAX_ARCHIVE_JSON,
};
pub use mount::{KernelMounter, MountCall, Mounter, RecordingMounter};
pub use policy::{
    FlattenedInfo, GcLayer, GcPlan, GcRequest, ImportPlan, ImportRequest, LayerInfo, LayoutPolicy,
    Lower, NativeLayoutPolicy, PlanError, PolicyError, RootfsPlan, RootfsRequest,
};
pub use reference::{InvalidReference, Reference, ReferenceError};
pub use rootfs::RootfsInfo;

/// Re-exported so that callers can name the image config type.
pub use oci_spec::image::ImageConfiguration;

#[cfg(test)]
mod tests;
