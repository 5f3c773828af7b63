//! The local input of an attached session, watched for the detach keys as
//! the docker CLI does (cli/command/container/hijack.go): with a TTY the
//! terminal's input goes through the escape proxy (`--detach-keys`, else
//! ctrl-p,ctrl-q; an invalid spec falls back to the default, as docker's
//! `setupInput`, the daemon having refused it already). On the keys the
//! CLI leaves without ending the container's input: the session is over,
//! the container runs on.

use berth_api::escape::{DetachKeys, Scan};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The `detachKeys` query pair of an attach, when the user named keys.
pub(super) fn query_pair(keys: Option<&str>) -> Option<(&'static str, &str)> {
    keys.filter(|k| !k.is_empty()).map(|k| ("detachKeys", k))
}

/// Copies `local` into `conn`. With `keys` (a TTY), stops at the keys and
/// returns `true` without half-closing `conn`; else half-closes it at the
/// end of `local` and returns `false`.
pub(super) async fn send_input<R, W>(mut local: R, conn: &mut W, keys: Option<&str>) -> bool
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut scanner = keys.map(|k| DetachKeys::parse(k).unwrap_or_default().scanner());
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match local.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (data, detached) = match scanner.as_mut().map(|s| s.feed(&buf[..n])) {
            None => (buf[..n].to_vec(), false),
            Some(Scan::Pass(data)) => (data, false),
            Some(Scan::Detach(data)) => (data, true),
        };
        if conn.write_all(&data).await.is_err() {
            return false;
        }
        if detached {
            let _ = conn.flush().await;
            return true;
        }
    }
    if let Some(held) = scanner.as_mut().map(|s| s.finish()) {
        let _ = conn.write_all(&held).await;
    }
    // Half-close: the container sees the end of this client's input.
    let _ = conn.shutdown().await;
    false
}

/// Spawns the input side of a session on the local stdin: `keys` is
/// `Some` (possibly the empty default) with a TTY. The receiver fires when
/// the user detached.
pub(super) fn spawn_input<W>(
    mut conn: W,
    keys: Option<String>,
) -> (JoinHandle<()>, oneshot::Receiver<()>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        if send_input(tokio::io::stdin(), &mut conn, keys.as_deref()).await {
            let _ = tx.send(());
        }
    });
    (task, rx)
}

/// Resolves when the user detached; never, when the input ended
/// otherwise (or there is none).
pub(super) async fn detached(signal: Option<oneshot::Receiver<()>>) {
    if let Some(rx) = signal
        && rx.await.is_ok()
    {
        return;
    }
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_keys_end_the_input_without_a_half_close() {
        let (mut conn, mut peer) = tokio::io::duplex(64);
        let detached = send_input(&b"ls\x18x rest"[..], &mut conn, Some("ctrl-x,x")).await;
        assert!(detached);
        drop(conn);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"ls");
    }

    #[tokio::test]
    async fn without_a_tty_the_keys_are_input() {
        let (mut conn, mut peer) = tokio::io::duplex(64);
        assert!(!send_input(&b"a\x10\x11b"[..], &mut conn, None).await);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"a\x10\x11b");
        let (mut conn, mut peer) = tokio::io::duplex(64);
        assert!(!send_input(&b"a\x10"[..], &mut conn, Some("")).await);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"a\x10", "a partial sequence is input at the end");
    }
}
