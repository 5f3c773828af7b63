//! Dedicated threads that enter a network namespace.
//!
//! `setns(CLONE_NEWNET)` and `unshare(CLONE_NEWNET)` change the calling
//! *thread's* namespace (setns(2), unshare(2)), and netlink sockets and
//! `/proc/sys/net` files belong to the namespace current when they are
//! opened. So every operation runs on a fresh OS thread that enters its
//! namespace first and ends with the operation: no thread of the daemon,
//! least of all a tokio worker, ever runs in a container's namespace.

use std::fs::File;
use std::future::Future;
use std::path::Path;

use nix::sched::{CloneFlags, setns};
use rtnetlink::Handle;

use crate::NetworkError;

/// Runs `work` on a new thread, inside the namespace bind-mounted at
/// `netns` (the caller's own namespace when `None`), and waits for it.
pub(crate) fn in_netns<T, W>(netns: Option<&Path>, work: W) -> Result<T, NetworkError>
where
    T: Send,
    W: FnOnce() -> Result<T, NetworkError> + Send,
{
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("berth-netns".into())
            .spawn_scoped(scope, move || {
                if let Some(path) = netns {
                    enter(path)?;
                }
                work()
            })
            .map_err(|e| NetworkError::Thread(format!("cannot spawn: {e}")))?;
        worker
            .join()
            .map_err(|_| NetworkError::Thread("panicked".into()))?
    })
}

/// Enters the network namespace at `path` on the calling thread.
pub(crate) fn enter(path: &Path) -> Result<(), NetworkError> {
    let file = File::open(path).map_err(|source| NetworkError::Io {
        op: "open network namespace",
        path: path.to_path_buf(),
        source,
    })?;
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|source| NetworkError::Sys {
        op: "enter network namespace",
        object: path.display().to_string(),
        source,
    })
}

/// Runs a netlink conversation on a current-thread runtime of the calling
/// thread (which must already be in the namespace to work in: the socket is
/// opened here).
pub(crate) fn block_on_netlink<T, F, Fut>(op: F) -> Result<T, NetworkError>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<T, NetworkError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| NetworkError::Thread(format!("cannot build a netlink runtime: {e}")))?;
    runtime.block_on(async move {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(|source| NetworkError::Io {
                op: "open a netlink socket",
                path: "NETLINK_ROUTE".into(),
                source,
            })?;
        let conversation = tokio::spawn(connection);
        let result = op(handle).await;
        conversation.abort();
        result
    })
}
