//! `HEAD`, `GET` and `PUT /containers/{id}/archive` (`docker cp`): the
//! container's root filesystem is mounted for the request when the
//! container is not running (and unmounted after, unless it started
//! meanwhile), its mounts are handed to the graph driver, which resolves
//! every path inside them (moby `daemon/archive_unix.go`).
//!
//! The copy itself is blocking file work on the bounded pool
//! ([`BlockingKind::ImageContent`]); its bytes travel to and from the
//! client through a small channel, so a large copy holds one blocking
//! thread and a few chunks of memory, and a client that stops reading or
//! sending for [`CLIENT_IDLE`] ends the copy and frees the thread.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use berth_api::container::Status;
use berth_model::container::Mount;
use berth_model::files::{ContainerFs, ExtractOptions, FsMount, PathStat};
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::daemon::Daemon;
use crate::daemon::blocking::BlockingKind;
use crate::daemon::container::Container;
use crate::job::{JobError, JobOutput, JobStdin};

/// How long a copy waits for its client to read or send the next chunk.
pub const CLIENT_IDLE: Duration = Duration::from_secs(120);

/// Bytes per chunk sent to the client.
pub(crate) const CHUNK: usize = 64 << 10;

/// What the copy of a `GET` sends to the request's task.
pub(crate) enum Piece {
    /// The stat line of a `GET`.
    Stat(PathStat),
    /// Bytes of the stream.
    Data(Bytes),
}

/// What `PUT .../archive` reads after the tar's end before it answers.
const TRAILER_LIMIT: u64 = 1 << 20;

impl Daemon {
    /// The stat of `path` in the container `reference` names.
    pub async fn archive_stat(&self, reference: &str, path: &str) -> Result<PathStat, JobError> {
        let (container, fs, mounted) = self.archive_begin(reference).await?;
        let images = Arc::clone(self.images());
        let (name, path) = (reference.to_owned(), path.to_owned());
        let result = self
            .blocking(BlockingKind::ImageContent, move || {
                images.path_stat(&fs, &name, &path)
            })
            .await;
        self.archive_end(&container, mounted).await;
        result
    }

    /// Writes the stat of `path` as one JSON line to `out`, then a tar
    /// stream of it. Nothing is written when the path cannot be read, so
    /// the failure is the response's status.
    pub async fn archive_get(
        &self,
        reference: &str,
        path: &str,
        out: &JobOutput,
    ) -> Result<(), JobError> {
        let (container, fs, mounted) = self.archive_begin(reference).await?;
        let images = Arc::clone(self.images());
        let (name, path_owned) = (reference.to_owned(), path.to_owned());
        let (tx, mut rx) = mpsc::channel::<Piece>(4);
        let handle = tokio::runtime::Handle::current();
        let copy = self.blocking(BlockingKind::ImageContent, move || {
            let stat_tx = tx.clone();
            let stat_handle = handle.clone();
            let mut on_stat =
                move |stat: &PathStat| send(&stat_handle, &stat_tx, Piece::Stat(stat.clone()));
            let mut writer = io::BufWriter::with_capacity(
                CHUNK,
                ChannelWriter {
                    handle,
                    tx: tx.clone(),
                },
            );
            images.archive_path(&fs, &name, &path_owned, &mut on_stat, &mut writer)?;
            writer
                .flush()
                .map_err(|e| JobError::internal("failed to send the archive", &e))
        });
        let forward = async {
            while let Some(piece) = rx.recv().await {
                let sent = match piece {
                    Piece::Stat(stat) => out.write_json(&stat).await.map_err(drop),
                    Piece::Data(data) => out.write(data).await.map_err(drop),
                };
                if sent.is_err() {
                    // The client went away: dropping the receiver ends the copy.
                    break;
                }
            }
            drop(rx);
        };
        let (result, ()) = tokio::join!(copy, forward);
        self.archive_end(&container, mounted).await;
        if result.is_ok() {
            let record = container.record();
            self.container_event("archive-path", &record, &[]);
        }
        result
    }

    /// Extracts the tar stream `stdin` under the directory `path`.
    pub async fn archive_put(
        &self,
        reference: &str,
        path: &str,
        no_overwrite_dir_non_dir: bool,
        copy_uid_gid: bool,
        stdin: JobStdin,
    ) -> Result<(), JobError> {
        let (container, fs, mounted) = self.archive_begin(reference).await?;
        let user = container.lock().record.config.user.clone();
        let options = ExtractOptions {
            no_overwrite_dir_non_dir,
            copy_uid_gid: copy_uid_gid.then_some(user),
        };
        let images = Arc::clone(self.images());
        let (name, path) = (reference.to_owned(), path.to_owned());
        let handle = tokio::runtime::Handle::current();
        let result = self
            .blocking(BlockingKind::ImageContent, move || {
                let mut input = TimedReader { handle, stdin };
                let extracted = images.extract_to_dir(&fs, &name, &path, &options, &mut input);
                if extracted.is_ok() {
                    // A client may still be sending what follows the
                    // archive's end (tar pads to a 10 KiB record): read it,
                    // so that the answer never meets a client still writing
                    // (a broken pipe on its side). Bounded: a client that
                    // sends more after the end is not waited for.
                    use std::io::Read as _;
                    let _ =
                        std::io::copy(&mut (&mut input).take(TRAILER_LIMIT), &mut std::io::sink());
                }
                extracted
            })
            .await;
        self.archive_end(&container, mounted).await;
        if result.is_ok() {
            let record = container.record();
            self.container_event("extract-to-dir", &record, &[]);
        }
        result
    }

    /// The container, its file system as the graph driver reaches it, and
    /// whether this request mounted its rootfs.
    pub(crate) async fn archive_begin(
        &self,
        reference: &str,
    ) -> Result<(Arc<Container>, ContainerFs, bool), JobError> {
        let container = self.containers.get(reference)?;
        let (model, running) = {
            let mut inner = container.lock();
            let running = archive_keeps_mounted(&inner.record.state.status, inner.busy);
            (inner.record.ensure_model()?, running)
        };
        let images = Arc::clone(self.images());
        let id = container.id.clone();
        // The files the exec driver binds over `/etc` at start (moby's
        // network mounts), once they exist: a copy of `/etc/hosts` is the
        // container's, as in moby.
        let files = self.runtime.files(&container.id);
        let file_mounts = [
            ("/etc/resolv.conf", files.resolv_conf),
            ("/etc/hostname", files.hostname),
            ("/etc/hosts", files.hosts),
        ];
        let readonly = model.readonly_rootfs;
        let (root, mut mounts) = self
            .blocking(BlockingKind::Rootfs, move || {
                let root = images.mount_rootfs(&id)?;
                let present: Vec<FsMount> = file_mounts
                    .into_iter()
                    .filter(|(_, source)| source.is_file())
                    .map(|(destination, source)| FsMount {
                        destination: destination.into(),
                        source: Some(source),
                        read_only: readonly,
                    })
                    .collect();
                Ok((root, present))
            })
            .await?;
        let user_mounts: Vec<FsMount> = model
            .mounts
            .iter()
            .map(|m| match m {
                Mount::Bind {
                    source,
                    destination,
                    read_only,
                    ..
                } => FsMount {
                    destination: destination.as_str().into(),
                    source: Some(source.clone()),
                    read_only: *read_only,
                },
                // A volume is its data directory bound there: `docker cp`
                // into a running container writes into the volume.
                Mount::Volume {
                    source,
                    destination,
                    read_only,
                    ..
                } => FsMount {
                    destination: destination.as_str().into(),
                    source: Some(source.clone()),
                    read_only: *read_only,
                },
                Mount::Tmpfs { destination, .. } => FsMount {
                    destination: destination.as_str().into(),
                    source: None,
                    read_only: false,
                },
            })
            .collect();
        mounts.extend(user_mounts);
        let fs = ContainerFs {
            root,
            mounts,
            readonly_rootfs: model.readonly_rootfs,
        };
        Ok((container, fs, !running))
    }

    /// Unmounts a rootfs this request mounted, unless the container started
    /// meanwhile (its start found the rootfs mounted and uses it).
    pub(crate) async fn archive_end(&self, container: &Arc<Container>, mounted: bool) {
        if !mounted {
            return;
        }
        let keep = {
            let inner = container.lock();
            archive_keeps_mounted(&inner.record.state.status, inner.busy)
        };
        if keep {
            return;
        }
        let images = Arc::clone(self.images());
        let id = container.id.clone();
        if let Err(e) = self
            .blocking(BlockingKind::Rootfs, move || images.unmount_rootfs(&id))
            .await
        {
            tracing::warn!(id = %container.id, error = %e, "unmounting the rootfs after a copy failed");
        }
    }
}

/// Whether the rootfs is (or is about to be) mounted for the container's
/// own process, so that a copy must leave it mounted.
fn archive_keeps_mounted(status: &Status, busy: bool) -> bool {
    busy || matches!(
        status,
        Status::Running | Status::Paused | Status::Restarting
    )
}

pub(crate) fn send(
    handle: &tokio::runtime::Handle,
    tx: &mpsc::Sender<Piece>,
    piece: Piece,
) -> io::Result<()> {
    match handle.block_on(tokio::time::timeout(CLIENT_IDLE, tx.send(piece))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the client went away",
        )),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading",
        )),
    }
}

/// The blocking copy's output: each write is a chunk for the client.
pub(crate) struct ChannelWriter {
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) tx: mpsc::Sender<Piece>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send(
            &self.handle,
            &self.tx,
            Piece::Data(Bytes::copy_from_slice(buf)),
        )?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The request body read from the blocking copy, each read bounded by
/// [`CLIENT_IDLE`].
struct TimedReader {
    handle: tokio::runtime::Handle,
    stdin: JobStdin,
}

impl Read for TimedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let stdin = &mut self.stdin;
        match self
            .handle
            .block_on(tokio::time::timeout(CLIENT_IDLE, stdin.read(buf)))
        {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped sending",
            )),
        }
    }
}
