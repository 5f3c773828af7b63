//! An exec process's start as the driver reports it, as the engine's
//! [`ExecLaunch`]: the output is the driver's own reader (pulled by the
//! engine's session, no task in between), and the exit frame that ends it
//! becomes the exit record the engine waits for.

use berth_engine::driver::{AttachStreams, ExecLaunch, ExecStreams, stream_type};
use berth_exec::{AttachEvent, Attached};
use tokio::sync::oneshot;

/// The driver's launch as the engine's.
pub fn launch(launch: berth_exec::ExecLaunch) -> ExecLaunch {
    match launch {
        berth_exec::ExecLaunch::Failed(record) => ExecLaunch::Failed(record),
        berth_exec::ExecLaunch::Running { pid, attached } => {
            let (streams, exit) = streams(attached);
            ExecLaunch::Running(ExecStreams { pid, streams, exit })
        }
    }
}

fn streams(attached: Attached) -> (AttachStreams, oneshot::Receiver<berth_exec::ExitRecord>) {
    let Attached { stdin, output } = attached;
    let (exit_tx, exit_rx) = oneshot::channel();
    let output = futures_util::stream::unfold(
        (output, Some(exit_tx)),
        |(mut output, mut exit_tx)| async move {
            match output.next().await? {
                Ok(AttachEvent::Output(chunk)) => {
                    Some(((stream_type(chunk.stream), chunk.data), (output, exit_tx)))
                }
                Ok(AttachEvent::Exited(record)) => {
                    if let Some(tx) = exit_tx.take() {
                        let _ = tx.send(record);
                    }
                    None
                }
                Err(e) => {
                    // The exit record never comes: the sender is dropped.
                    tracing::warn!(error = %e, "exec stream ended");
                    None
                }
            }
        },
    );
    let streams = AttachStreams {
        stdin: stdin.map(|s| Box::new(s) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>),
        output: Box::pin(output),
    };
    (streams, exit_rx)
}
