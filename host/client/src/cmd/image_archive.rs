//! Image archive commands: `load`, `history`.

use anyhow::Context;
use berth_api::image_archive::{HistoryResponseItem, StreamMessage};
use http_body_util::BodyExt;
use hyper::Method;

use crate::format::{ago, ellipsis, short_id, table};
use crate::http::{Body, Client, DaemonError, query, segment};

use super::{Result, flag};

/// `berth load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Read from a tar archive file, instead of STDIN.
    #[arg(short = 'i', long = "input")]
    pub input: Option<String>,
    /// Suppress the load output.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `berth history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// The image.
    pub image: String,
}

/// Loads an image archive from a file or stdin and prints the daemon's
/// `Loaded image` lines.
pub async fn load(client: &Client, args: &LoadArgs) -> Result<i32> {
    let body: Box<dyn tokio::io::AsyncRead + Send + Sync + Unpin> = match &args.input {
        Some(file) => Box::new(
            tokio::fs::File::open(file)
                .await
                .with_context(|| format!("open {file}"))?,
        ),
        None => {
            // docker/cli `runLoad`.
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                anyhow::bail!(
                    "requested load from stdin, but stdin is empty; use -i to load from a file"
                );
            }
            Box::new(tokio::io::stdin())
        }
    };
    let response = client
        .call(
            Method::POST,
            &format!("/images/load{}", query(&[("quiet", flag(args.quiet))])),
            Body::Reader(body),
            Some("application/x-tar"),
        )
        .await?;
    let body = response.into_body().collect().await?.to_bytes();
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let msg: StreamMessage = serde_json::from_slice(line)?;
        if let Some(error) = msg.error {
            return Err(DaemonError {
                status: hyper::StatusCode::INTERNAL_SERVER_ERROR,
                message: error,
            }
            .into());
        }
        print!("{}", msg.stream);
    }
    Ok(0)
}

/// Prints an image's history as `docker history` does.
pub async fn history(client: &Client, args: &HistoryArgs) -> Result<i32> {
    let items: Vec<HistoryResponseItem> = client
        .get_json(&format!("/images/{}/history", segment(&args.image)))
        .await?;
    let id = |i: &HistoryResponseItem| {
        if args.no_trunc || i.id == "<missing>" {
            i.id.clone()
        } else {
            short_id(&i.id)
        }
    };
    if args.quiet {
        for i in &items {
            println!("{}", id(i));
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            // docker/cli `historyContext.CreatedBy`.
            let created_by = i.created_by.replace('\t', " ");
            vec![
                id(i),
                ago(i.created),
                if args.no_trunc {
                    created_by
                } else {
                    ellipsis(&created_by, 45)
                },
                berth_api::units::human_size(i.size),
                i.comment.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &rows
        )
    );
    Ok(0)
}
