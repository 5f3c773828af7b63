//! Blocking work of the daemon, bounded per kind.
//!
//! Tokio's blocking pool is one shared set of threads (berthd caps it at
//! 32). Work that can hang — reading an image's files, mounting a root
//! filesystem on a stalled disk, a store commit waiting on fsync, creating
//! or removing a directory — would
//! otherwise be able to take every thread, after which no other request
//! that needs one (create, start, import, inspect, rm) can make progress.
//! Each [`BlockingKind`] therefore gets its own semaphore, and the sum of
//! their sizes stays below the pool's limit: however many tasks of one kind
//! hang, the others still get threads.
//!
//! A permit moves into the blocking closure and is released only when the
//! closure returns, not when its caller stops waiting: a caller that gives
//! up (a start past its deadline, a cancelled request) leaves the hung
//! thread counted against its kind, so the bound holds for threads that
//! are really busy.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;

use crate::job::JobError;

/// What a piece of blocking work does, and so which bound it counts
/// against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockingKind {
    /// Reading or writing an image's content: import (tar extraction from
    /// the client's body), a container's writable layer (a copy of the
    /// image for vfs), image removal.
    ImageContent,
    /// Image metadata: list, inspect, tag.
    ImageMetadata,
    /// Mounting, unmounting and removing container root filesystems.
    Rootfs,
    /// The metadata store: commits (each one an fsync), and the reads on a
    /// request's path or at restore.
    StoreCommit,
    /// Creating, listing and removing the containers' directories.
    ContainerDir,
    /// Spawning a host helper process (`ps` for `top`). Only the fork and
    /// exec run here; the caller awaits the child asynchronously under a
    /// deadline, so a slow `ps` holds no thread.
    HostProcess,
    /// Reading a running container's cgroup files and the host's CPU clock
    /// for one stats sample: a few small reads, many containers' streams
    /// taking turns.
    Stats,
    /// The network driver (`NetworkService`): netlink and nftables round
    /// trips and namespace switches for a sandbox, a bridge or an
    /// endpoint. One: the driver applies one plan at a time anyway (one
    /// nftables table), and the budget had one thread left (taken from
    /// ImageMetadata, whose reads are short).
    Network,
    /// Extracting a layer while it downloads (a pull): the thread waits on
    /// the registry as much as on the disk, so it holds none of
    /// ImageContent's permits, which imports and image removal need while
    /// a registry is slow. As many as one pull downloads at once.
    LayerStream,
    /// A stopped container's network teardown ([`super::teardown`]): its
    /// veth pairs' deletion waits out an RCU grace period (15 to 20 ms) in
    /// the kernel, which must not hold up the next start's setup on
    /// [`BlockingKind::Network`]. One (taken from Rootfs, which keeps five
    /// for starts and exits at once): teardowns are off every request's
    /// path and queue without harm, their leases held until they end.
    NetworkTeardown,
}

impl BlockingKind {
    /// Every kind.
    pub const ALL: [BlockingKind; 10] = [
        BlockingKind::ImageContent,
        BlockingKind::ImageMetadata,
        BlockingKind::Rootfs,
        BlockingKind::StoreCommit,
        BlockingKind::ContainerDir,
        BlockingKind::HostProcess,
        BlockingKind::Stats,
        BlockingKind::Network,
        BlockingKind::LayerStream,
        BlockingKind::NetworkTeardown,
    ];

    /// How many tasks of this kind may run at once by default. The sum,
    /// 25 (ImageMetadata and HostProcess gave LayerStream its threads,
    /// Rootfs gave NetworkTeardown one),
    /// leaves 7 of berthd's 32 blocking threads to the exec driver's
    /// own bounded work (bundle preparation, orphan cleanup: 6) and to the
    /// rest (plugin compilation, file reads of the HTTP edge).
    pub const fn default_limit(self) -> usize {
        match self {
            BlockingKind::ImageContent => 4,
            BlockingKind::ImageMetadata => 3,
            BlockingKind::Rootfs => 5,
            BlockingKind::StoreCommit => 4,
            BlockingKind::ContainerDir => 2,
            BlockingKind::HostProcess => 1,
            BlockingKind::Stats => 1,
            BlockingKind::Network => 1,
            BlockingKind::LayerStream => super::pull::MAX_CONCURRENT_DOWNLOADS,
            BlockingKind::NetworkTeardown => 1,
        }
    }

    fn index(self) -> usize {
        match self {
            BlockingKind::ImageContent => 0,
            BlockingKind::ImageMetadata => 1,
            BlockingKind::Rootfs => 2,
            BlockingKind::StoreCommit => 3,
            BlockingKind::ContainerDir => 4,
            BlockingKind::HostProcess => 5,
            BlockingKind::Stats => 6,
            BlockingKind::Network => 7,
            BlockingKind::LayerStream => 8,
            BlockingKind::NetworkTeardown => 9,
        }
    }
}

/// One semaphore per [`BlockingKind`]. Cheap to clone; clones share the
/// bounds.
#[derive(Debug, Clone)]
pub struct BlockingPool {
    permits: Arc<[Arc<Semaphore>; 10]>,
    /// Tasks run to completion, per kind.
    ran: Arc<[AtomicU64; 10]>,
}

impl Default for BlockingPool {
    fn default() -> BlockingPool {
        BlockingPool::with_limits(|kind| kind.default_limit())
    }
}

impl BlockingPool {
    /// A pool with `limit(kind)` permits per kind (at least 1).
    pub fn with_limits(limit: impl Fn(BlockingKind) -> usize) -> BlockingPool {
        let semaphore = |kind: BlockingKind| Arc::new(Semaphore::new(limit(kind).max(1)));
        BlockingPool {
            permits: Arc::new(BlockingKind::ALL.map(semaphore)),
            ran: Arc::new(BlockingKind::ALL.map(|_| AtomicU64::new(0))),
        }
    }

    /// Runs `f` on the blocking pool once a permit of `kind` is free, and
    /// waits for its result (STYLE rule 5: never block an async worker).
    pub async fn run<T, F>(&self, kind: BlockingKind, f: F) -> Result<T, JobError>
    where
        F: FnOnce() -> Result<T, JobError> + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.permits[kind.index()])
            .acquire_owned()
            .await
            .map_err(|e| JobError::internal("the blocking pool is closed", &e))?;
        let ran = Arc::clone(&self.ran);
        tokio::task::spawn_blocking(move || {
            let result = f();
            drop(permit);
            ran[kind.index()].fetch_add(1, Ordering::Relaxed);
            result
        })
        .await
        .map_err(|e| JobError::internal("blocking task failed", &e))?
    }

    /// How many tasks of `kind` have run on the pool so far: which steps of
    /// a request went through it, for tests and diagnostics.
    pub fn ran(&self, kind: BlockingKind) -> u64 {
        self.ran[kind.index()].load(Ordering::Relaxed)
    }

    /// Permits of `kind` free now.
    pub fn available(&self, kind: BlockingKind) -> usize {
        self.permits[kind.index()].available_permits()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Barrier, Mutex, mpsc};
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_default_bounds_stay_below_berthds_pool() {
        let sum: usize = BlockingKind::ALL.iter().map(|k| k.default_limit()).sum();
        // berthd's max_blocking_threads, less the exec driver's own bounds.
        assert!(sum + 6 < 32, "{sum}");
    }

    /// A runtime as small as berthd's, with a pool just large enough for
    /// the bounds: 50 hanging tasks of one kind would take every thread
    /// without them.
    #[test]
    fn hanging_tasks_of_one_kind_do_not_starve_another() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(4)
            .enable_all()
            .build()
            .expect("runtime");
        let pool = BlockingPool::with_limits(|kind| match kind {
            BlockingKind::ImageContent => 2,
            _ => 1,
        });
        // Each hanging task waits on this channel until the test ends.
        let (release, hold) = mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        let running = Arc::new(AtomicUsize::new(0));
        let entered = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(Barrier::new(3));
        runtime.block_on(async {
            let mut hung = Vec::new();
            for _ in 0..50 {
                let (pool, hold, running, entered, most, started) = (
                    pool.clone(),
                    Arc::clone(&hold),
                    Arc::clone(&running),
                    Arc::clone(&entered),
                    Arc::clone(&most),
                    Arc::clone(&started),
                );
                hung.push(tokio::spawn(async move {
                    pool.run(BlockingKind::ImageContent, move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        // The first two tell the test they hold the
                        // kind's permits.
                        if entered.fetch_add(1, Ordering::SeqCst) < 2 {
                            started.wait();
                        }
                        // A hung read: blocks until the test releases it.
                        let _ = hold.lock().map(|rx| rx.recv());
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
                }));
            }
            // Both permits of the kind are taken by hanging tasks...
            let barrier = Arc::clone(&started);
            tokio::task::spawn_blocking(move || barrier.wait())
                .await
                .expect("both hanging tasks started");
            assert_eq!(pool.available(BlockingKind::ImageContent), 0);
            // ...and another kind still runs, to completion.
            let other = pool.run(BlockingKind::Rootfs, || Ok(7));
            let done = tokio::time::timeout(Duration::from_secs(20), other).await;
            assert_eq!(done.expect("not starved").expect("ran"), 7);
            assert_eq!(most.load(Ordering::SeqCst), 2, "the kind's bound held");
            drop(release);
            for task in hung {
                task.await.expect("joined").expect("released");
            }
        });
    }
}
