//! Copying daemon output streams to the terminal.

use anyhow::{Context, bail};
use berth_api::job::JobExit;
use berth_api::stream::{FrameDecoder, StreamType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Copies `source` to stdout/stderr until EOF: raw (TTY) or demultiplexed
/// from 8-byte-header frames. Returns the job exit record when the stream
/// carried one (job streams end with it on stream 3).
pub async fn copy_output(
    mut source: impl AsyncRead + Unpin,
    raw: bool,
) -> anyhow::Result<Option<JobExit>> {
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut decoder = FrameDecoder::new();
    let mut exit = None;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = source
            .read(&mut buf)
            .await
            .context("reading from the daemon")?;
        if n == 0 {
            break;
        }
        if raw {
            stdout.write_all(&buf[..n]).await?;
            stdout.flush().await?;
            continue;
        }
        decoder.push(&buf[..n]);
        while let Some((stream, data)) = decoder.next_frame()? {
            match stream {
                StreamType::Stdout => {
                    stdout.write_all(&data).await?;
                    stdout.flush().await?;
                }
                StreamType::Stderr => {
                    stderr.write_all(&data).await?;
                    stderr.flush().await?;
                }
                StreamType::Systemerr => {
                    exit = Some(
                        serde_json::from_slice::<JobExit>(&data).unwrap_or_else(|_| JobExit {
                            status: 1,
                            error: Some(String::from_utf8_lossy(&data).into_owned()),
                        }),
                    );
                }
                StreamType::Stdin => bail!("the daemon sent a frame on the stdin stream"),
            }
        }
    }
    if decoder.pending() > 0 {
        bail!("the stream ended inside a frame");
    }
    Ok(exit)
}

/// A hyper body as an `AsyncRead`.
pub fn body_reader(body: hyper::body::Incoming) -> impl AsyncRead + Unpin {
    use futures_util::TryStreamExt;
    use http_body_util::BodyExt;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    tokio_util::io::StreamReader::new(stream)
}
