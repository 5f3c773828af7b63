//! A client's input on its way to a container or exec, watched for the
//! detach keys.
//!
//! moby `container/stream/attach.go` (`copyEscapable`): with a TTY the
//! client's input goes through the escape proxy; on the key sequence the
//! copy ends with `term.EscapeError` ("read escape sequence"), the client's
//! session ends and the process runs on. Without a TTY input is copied as
//! it is (the keys are ordinary bytes of a binary stream).

use berth_api::escape::{DetachKeys, EscapeScanner, Scan};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::job::JobStdin;

/// Size of one read of the client's input.
const CHUNK: usize = 32 * 1024;

/// How the forwarding of a client's input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEnd {
    /// The client ended its input (or the connection failed); the caller
    /// half-closes the process's stdin.
    Eof,
    /// The client typed the detach keys: its session ends, the process's
    /// stdin stays as it is.
    Detached,
}

/// Copies `client` into `process` until the end of the client's input, or,
/// when `keys` is given (a TTY), until the detach keys.
pub async fn forward_input<W>(
    mut client: JobStdin,
    process: &mut W,
    keys: Option<&DetachKeys>,
) -> InputEnd
where
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut scanner: Option<EscapeScanner> = keys.map(DetachKeys::scanner);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match client.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (data, detached) = match scanner.as_mut().map(|s| s.feed(&buf[..n])) {
            None => (buf[..n].to_vec(), false),
            Some(Scan::Pass(data)) => (data, false),
            Some(Scan::Detach(data)) => (data, true),
        };
        if !data.is_empty() && process.write_all(&data).await.is_err() {
            return InputEnd::Eof;
        }
        if detached {
            let _ = process.flush().await;
            return InputEnd::Detached;
        }
    }
    // The keys held back at the end are the client's input too.
    if let Some(held) = scanner.as_mut().map(EscapeScanner::finish)
        && !held.is_empty()
    {
        let _ = process.write_all(&held).await;
    }
    InputEnd::Eof
}

/// Resolves when the input side sent on `detached` (the client typed the
/// keys); never when it ended otherwise (the sender dropped).
pub async fn on_detach(detached: tokio::sync::oneshot::Receiver<()>) {
    if detached.await.is_ok() {
        return;
    }
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input that arrives in the given reads, one read each.
    struct Reads(std::collections::VecDeque<&'static [u8]>);

    impl tokio::io::AsyncRead for Reads {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if let Some(read) = self.0.pop_front() {
                buf.put_slice(read);
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    fn client(reads: &[&'static [u8]]) -> JobStdin {
        Box::new(Reads(reads.iter().copied().collect()))
    }

    #[tokio::test]
    async fn the_keys_split_across_reads_detach_and_are_not_forwarded() {
        let keys = DetachKeys::default();
        let mut process = Vec::new();
        let end = forward_input(
            client(&[b"echo hi\r", b"\x10", b"\x11", b"never read"]),
            &mut process,
            Some(&keys),
        )
        .await;
        assert_eq!(end, InputEnd::Detached);
        assert_eq!(process, b"echo hi\r");
    }

    #[tokio::test]
    async fn a_partial_sequence_then_other_bytes_passes_all_through() {
        let keys = DetachKeys::parse("ctrl-x,x").unwrap();
        let mut process = Vec::new();
        let end = forward_input(
            client(&[b"a\x18", b"b", b"\x18"]),
            &mut process,
            Some(&keys),
        )
        .await;
        assert_eq!(end, InputEnd::Eof);
        assert_eq!(process, b"a\x18b\x18", "held key released at EOF");
    }

    #[tokio::test]
    async fn without_a_tty_the_keys_are_plain_input() {
        let mut process = Vec::new();
        let end = forward_input(client(&[b"\x10\x11", b"z"]), &mut process, None).await;
        assert_eq!(end, InputEnd::Eof);
        assert_eq!(process, b"\x10\x11z");
    }
}
