//! The layer transfers of one pull or push, as moby's `distribution/xfer`
//! runs them: at most N at once, their results in layer order, and every
//! transfer's progress lines funnelled through one channel into the job's
//! output (a [`JobOutput`] takes one writer at a time).

use std::future::Future;

use berth_api::image::ProgressMessage;
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::mpsc;

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
/// The items are owned: a stream of borrowed ones trips the `Send` check
/// of the handler's boxed future (rust-lang/rust#102211).
pub(crate) async fn run<I, T, F, Fut>(
    items: Vec<I>,
    limit: usize,
    out: &JobOutput,
    transfer: F,
) -> Result<Vec<T>, JobError>
where
    F: Fn(I, ProgressSender) -> Fut,
    Fut: Future<Output = Result<T, JobError>>,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<ProgressMessage>();
    let work = async move {
        let results = stream::iter(items)
            .map(|item| transfer(item, tx.clone()))
            .buffered(limit)
            .try_collect::<Vec<T>>()
            .await;
        // The last sender goes here, so the writer sees the end.
        drop(tx);
        results
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
