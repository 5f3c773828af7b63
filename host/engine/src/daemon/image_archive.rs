//! Streams of whole archives: `docker save` (`GET /images/get`) and
//! `docker export` (`GET /containers/{id}/export`). The blocking writer
//! runs on the bounded pool and hands chunks to the request's task
//! through a small channel, as the copies of `docker cp` do
//! ([`crate::daemon::archive`]): a large archive holds one blocking thread
//! and a few chunks of memory, and a client that stops reading for
//! [`CLIENT_IDLE`](crate::daemon::archive::CLIENT_IDLE) ends it.

use std::io::{self, Write};
use std::sync::Arc;

use berth_model::files::ContainerFs;
use tokio::sync::mpsc;

use crate::daemon::Daemon;
use crate::daemon::archive::{CHUNK, ChannelWriter, Piece};
use crate::daemon::blocking::BlockingKind;
use crate::job::{JobError, JobOutput};

/// moby's content type of `save` and `export` bodies.
const TAR: &str = "application/x-tar";

impl Daemon {
    /// Runs `write` on the blocking pool and streams what it writes to
    /// `out` as a tar body. Nothing is sent before its first write, so a
    /// failure before it (an unknown image) is the response's status.
    async fn stream_tar<F>(
        &self,
        kind: BlockingKind,
        out: &JobOutput,
        write: F,
    ) -> Result<(), JobError>
    where
        F: FnOnce(&mut dyn Write) -> Result<(), JobError> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<Piece>(4);
        let handle = tokio::runtime::Handle::current();
        let copy = self.blocking(kind, move || {
            let mut writer = io::BufWriter::with_capacity(CHUNK, ChannelWriter { handle, tx });
            write(&mut writer)?;
            writer
                .flush()
                .map_err(|e| JobError::internal("failed to send the archive", &e))
        });
        let forward = async {
            let mut begun = false;
            while let Some(piece) = rx.recv().await {
                let Piece::Data(data) = piece else { continue };
                if !begun {
                    if out.begin(Some(TAR)).await.is_err() {
                        break;
                    }
                    begun = true;
                }
                if out.write(data).await.is_err() {
                    // The client went away: dropping the receiver ends the copy.
                    break;
                }
            }
            drop(rx);
        };
        let (result, ()) = tokio::join!(copy, forward);
        result
    }

    /// `GET /images/get`: the images `names` as one archive.
    pub async fn image_save(&self, names: Vec<String>, out: &JobOutput) -> Result<(), JobError> {
        let images = Arc::clone(self.images());
        self.stream_tar(BlockingKind::ImageContent, out, move |w| {
            images.save(&names, w)
        })
        .await
    }

    /// `GET /containers/{id}/export`: the container's root filesystem as
    /// one tar stream (moby `containerExport`: the rootfs only, without
    /// its volumes and binds), read inside the root. A stopped container's
    /// rootfs is mounted for it.
    pub async fn container_export(&self, reference: &str, out: &JobOutput) -> Result<(), JobError> {
        let (container, fs, mounted) = self.archive_begin(reference).await?;
        let fs = ContainerFs {
            root: fs.root,
            mounts: Vec::new(),
            readonly_rootfs: fs.readonly_rootfs,
        };
        let images = Arc::clone(self.images());
        let name = reference.to_owned();
        let result = self
            .stream_tar(BlockingKind::ImageContent, out, move |w| {
                images.archive_path(&fs, &name, "/", &mut |_| Ok(()), w)
            })
            .await;
        self.archive_end(&container, mounted).await;
        if result.is_ok() {
            let record = container.record();
            self.container_event("export", &record, &[]);
        }
        result
    }
}
