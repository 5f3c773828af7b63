//! `berth pull`, and the pull `berth create`/`run` do for a missing image
//! (the docker CLI's `--pull=missing` default).

use std::collections::HashMap;
use std::io::IsTerminal;

use anyhow::Result;
use berth_api::image::ProgressMessage;
use futures_util::StreamExt;
use http_body_util::BodyStream;
use hyper::Method;

use crate::http::{Body, Client, DaemonError, check, query};

/// How pull progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullOutput {
    /// Nothing but errors.
    Quiet,
    /// One line per message (`ID: STATUS`), as the docker CLI prints when
    /// its output is not a terminal.
    Lines,
    /// A progress bar per layer.
    Bars,
}

/// `berth pull [--platform] [-q] NAME[:TAG|@DIGEST]`.
pub async fn pull(
    client: &Client,
    reference: &str,
    platform: Option<&str>,
    quiet: bool,
) -> Result<i32> {
    let output = if quiet {
        PullOutput::Quiet
    } else if std::io::stdout().is_terminal() {
        PullOutput::Bars
    } else {
        PullOutput::Lines
    };
    pull_with(client, reference, platform, output, false).await?;
    if quiet {
        println!("{reference}");
    }
    Ok(0)
}

/// Pulls `reference`, showing progress on stdout (or stderr with
/// `to_stderr`, as `run` does so that its stdout stays the container's).
pub async fn pull_with(
    client: &Client,
    reference: &str,
    platform: Option<&str>,
    output: PullOutput,
    to_stderr: bool,
) -> Result<()> {
    let mut pairs = vec![("fromImage", reference)];
    if let Some(p) = platform {
        pairs.push(("platform", p));
    }
    let headers = crate::cmd::registry_auth_header(reference)
        .map(|h| vec![("X-Registry-Auth", h)])
        .unwrap_or_default();
    let response = client
        .send_with_headers(
            Method::POST,
            &format!("/images/create{}", query(&pairs)),
            Body::Empty,
            None,
            false,
            &headers,
        )
        .await?;
    show_progress(response, output, to_stderr).await
}

/// Shows a progress stream (a pull's or a push's) as `output` asks; an
/// in-band error ends it as the daemon's error.
pub(crate) async fn show_progress(
    response: hyper::Response<hyper::body::Incoming>,
    output: PullOutput,
    to_stderr: bool,
) -> Result<()> {
    let response = check(response).await?;
    let mut body = BodyStream::new(response.into_body());
    let mut pending = Vec::new();
    let mut view = View::new(output, to_stderr);
    while let Some(frame) = body.next().await {
        let frame = frame?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let msg: ProgressMessage = serde_json::from_slice(&line)?;
            if let Some(error) = msg.error {
                view.finish();
                return Err(DaemonError {
                    status: hyper::StatusCode::INTERNAL_SERVER_ERROR,
                    message: error,
                }
                .into());
            }
            view.show(&msg);
        }
    }
    view.finish();
    Ok(())
}

/// The progress display.
struct View {
    output: PullOutput,
    to_stderr: bool,
    bars: Option<indicatif::MultiProgress>,
    layers: HashMap<String, indicatif::ProgressBar>,
}

impl View {
    fn new(output: PullOutput, to_stderr: bool) -> View {
        let bars = (output == PullOutput::Bars).then(|| {
            let target = if to_stderr {
                indicatif::ProgressDrawTarget::stderr()
            } else {
                indicatif::ProgressDrawTarget::stdout()
            };
            indicatif::MultiProgress::with_draw_target(target)
        });
        View {
            output,
            to_stderr,
            bars,
            layers: HashMap::new(),
        }
    }

    fn line(&self, text: &str) {
        if self.to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    fn show(&mut self, msg: &ProgressMessage) {
        let text = if msg.id.is_empty() {
            msg.status.clone()
        } else {
            format!("{}: {}", msg.id, msg.status)
        };
        match (self.output, &self.bars) {
            (PullOutput::Quiet, _) => {}
            (PullOutput::Bars, Some(bars))
                if !msg.id.is_empty() && msg.status != "Pulling from" =>
            {
                let bar = self.layers.entry(msg.id.clone()).or_insert_with(|| {
                    let bar = bars.add(indicatif::ProgressBar::new(0));
                    let style = indicatif::ProgressStyle::with_template(
                        "{prefix}: {msg:<18} {bar:30} {bytes}/{total_bytes}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
                    bar.set_style(style);
                    bar.set_prefix(msg.id.clone());
                    bar
                });
                bar.set_message(msg.status.clone());
                if let Some(d) = msg.progress_detail {
                    bar.set_length(d.total);
                    bar.set_position(d.current);
                }
            }
            (PullOutput::Bars, Some(bars)) => {
                let _ = bars.println(text);
            }
            // Lines: every message but the byte counts.
            _ if msg.progress_detail.is_some() => {}
            _ => self.line(&text),
        }
    }

    fn finish(&mut self) {
        for bar in self.layers.values() {
            bar.abandon();
        }
    }
}

/// Whether `err` is the daemon's 404 for an image it does not have
/// (moby's `No such image: ...`, what the docker CLI checks before it
/// pulls).
pub(crate) fn is_missing_image(err: &anyhow::Error) -> bool {
    err.downcast_ref::<DaemonError>().is_some_and(|e| {
        e.status == hyper::StatusCode::NOT_FOUND && e.message.starts_with("No such image")
    })
}
