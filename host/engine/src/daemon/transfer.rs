//! The layer transfers of one pull or push, as moby's `distribution/xfer`
//! runs them: at most N at once, their results in layer order, and every
//! transfer's progress lines funnelled through one channel into the job's
//! output (a [`JobOutput`] takes one writer at a time).

use std::future::Future;

use berth_api::image::ProgressMessage;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::job::{JobError, JobOutput};

/// Where a transfer sends its progress lines. A send only fails once the
/// writer is gone, which happens only when the whole transfer is over.
pub(crate) type ProgressSender = mpsc::UnboundedSender<ProgressMessage>;

/// Runs `transfer` on every item, at most `limit` at once, while the
/// progress lines they send are written to `out`; returns their results in
/// the items' order, or the first error. Every transfer runs to its end
/// even if the client goes away (a layer half-written is worth less than
/// one finished); the write error is returned after them.
///
/// On the first error no transfer is started any more and `cancel`, the
/// token every transfer gets, is cancelled: a transfer stops what can stop
/// at once (a download) and cleans up what cannot (a blocking extraction,
/// its temp files). The error is returned only once every transfer started
/// has ended, never with work of this run still going on beside the
/// answer (a client that sees the error may look at the data root).
///
/// The items are owned: a stream of borrowed ones trips the `Send` check
/// of the handler's boxed future (rust-lang/rust#102211).
pub(crate) async fn run<I, T, F, Fut>(
    items: Vec<I>,
    limit: usize,
    out: &JobOutput,
    transfer: F,
) -> Result<Vec<T>, JobError>
where
    F: Fn(I, ProgressSender, CancellationToken) -> Fut,
    Fut: Future<Output = Result<T, JobError>>,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<ProgressMessage>();
    let cancel = CancellationToken::new();
    let work = async move {
        let count = items.len();
        let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(count).collect();
        let mut first_error = None;
        let mut pending = items.into_iter().enumerate();
        let mut running = FuturesUnordered::new();
        loop {
            // Top up to the limit, unless a transfer has failed.
            while first_error.is_none() && running.len() < limit.max(1) {
                let Some((n, item)) = pending.next() else {
                    break;
                };
                let done = transfer(item, tx.clone(), cancel.clone());
                running.push(async move { (n, done.await) });
            }
            // Empty only once nothing more will be started.
            let Some((n, result)) = running.next().await else {
                break;
            };
            match result {
                Ok(value) => results[n] = Some(value),
                Err(e) => {
                    if first_error.is_none() {
                        cancel.cancel();
                        first_error = Some(e);
                    }
                }
            }
        }
        // The last sender goes here, so the writer sees the end.
        drop(tx);
        if let Some(e) = first_error {
            // The finished transfers' results go with it (a pull's layer
            // holds, released).
            return Err(e);
        }
        results
            .into_iter()
            .map(|r| {
                r.ok_or_else(|| {
                    JobError::new(
                        crate::job::ErrorKind::Internal,
                        "a transfer ended without its result",
                    )
                })
            })
            .collect()
    };
    let writer = async {
        while let Some(m) = rx.recv().await {
            out.write_json(&m).await?;
        }
        Ok::<(), JobError>(())
    };
    let (results, written) = tokio::join!(work, writer);
    let results = results?;
    written?;
    Ok(results)
}

/// Runs a step of a transfer that may stop at any point (a network round
/// trip: dropping it stops it and leaves nothing behind) unless `cancel`
/// fires first; then it fails. Never for blocking work, which runs on
/// after its future is dropped: that is awaited to its end instead.
pub(crate) async fn unless_cancelled<T>(
    cancel: &CancellationToken,
    step: impl Future<Output = Result<T, JobError>>,
) -> Result<T, JobError> {
    match cancel.run_until_cancelled(step).await {
        Some(result) => result,
        None => Err(cancelled()),
    }
}

/// Fails a step not started because `cancel` fired: for blocking work,
/// which is better not begun than begun and awaited for nothing.
pub(crate) fn unless_cancelled_now(cancel: &CancellationToken) -> Result<(), JobError> {
    if cancel.is_cancelled() {
        return Err(cancelled());
    }
    Ok(())
}

/// A transfer's error once another one failed (never the one reported:
/// the run returns the first error).
fn cancelled() -> JobError {
    JobError::new(
        crate::job::ErrorKind::Internal,
        "the transfer was cancelled: another layer failed",
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::job::output_pipe;

    #[tokio::test]
    async fn the_first_error_is_returned_only_once_the_other_transfers_have_ended() {
        let (out, _stream) = output_pipe();
        let cleaned = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        let result = run(vec![0, 1, 2, 3], 2, &out, |n, _tx, cancel| {
            let (cleaned, started) = (Arc::clone(&cleaned), Arc::clone(&started));
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                match n {
                    // Work that cannot stop at once: told to stop, it still
                    // has blocking cleanup to do.
                    0 => {
                        cancel.cancelled().await;
                        tokio::task::spawn_blocking(move || {
                            std::thread::sleep(Duration::from_millis(50));
                            cleaned.store(true, Ordering::SeqCst);
                        })
                        .await
                        .expect("cleanup");
                        Err(cancelled())
                    }
                    1 => Err(JobError::invalid("layer 1 is bad")),
                    _ => Ok(n),
                }
            }
        })
        .await;
        let err = result.expect_err("layer 1 failed");
        assert_eq!(err.message, "layer 1 is bad", "the first error is returned");
        assert!(
            cleaned.load(Ordering::SeqCst),
            "the error came before the other transfer had cleaned up"
        );
        assert_eq!(
            started.load(Ordering::SeqCst),
            2,
            "no transfer starts after the first error"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn results_come_in_the_items_order_whatever_order_they_end_in() {
        let (out, _stream) = output_pipe();
        let results = run(
            vec![30u64, 10, 20],
            3,
            &out,
            |ms, _tx, _cancel| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(ms)
            },
        )
        .await
        .expect("no transfer fails");
        assert_eq!(results, vec![30, 10, 20]);
    }
}
