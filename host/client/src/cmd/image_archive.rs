//! Image archive commands: `load`, `history`, `save`, `export`, `commit`.

use anyhow::Context;
use berth_api::image_archive::{HistoryResponseItem, StreamMessage};
use futures_util::TryStreamExt;
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

/// `berth save`.
#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    /// The images.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `berth export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    /// The container.
    pub container: String,
}

/// Streams a tar body to `output` or stdout; docker/cli refuses a
/// terminal as stdout ("cowardly refusing to save to a terminal").
async fn tar_to(client: &Client, path: &str, output: Option<&str>) -> Result<i32> {
    if output.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let response = client.call(Method::GET, path, Body::Empty, None).await?;
    let body = response
        .into_body()
        .into_data_stream()
        .map_err(std::io::Error::other);
    let mut reader = tokio_util::io::StreamReader::new(body);
    match output {
        Some(file) => {
            // Written beside the target and renamed, so a failed save
            // leaves no partial file under the name.
            let tmp = format!("{file}.berth-partial");
            let mut out = tokio::fs::File::create(&tmp)
                .await
                .with_context(|| format!("create {tmp}"))?;
            let copied = tokio::io::copy(&mut reader, &mut out).await;
            if let Err(e) = copied {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e).context("reading the archive from the daemon");
            }
            tokio::fs::rename(&tmp, file)
                .await
                .with_context(|| format!("rename {tmp} to {file}"))?;
        }
        None => {
            tokio::io::copy(&mut reader, &mut tokio::io::stdout())
                .await
                .context("writing the archive to stdout")?;
        }
    }
    Ok(0)
}

/// Saves images to a tar archive.
pub async fn save(client: &Client, args: &SaveArgs) -> Result<i32> {
    let names: Vec<(&str, &str)> = args.images.iter().map(|i| ("names", i.as_str())).collect();
    tar_to(
        client,
        &format!("/images/get{}", query(&names)),
        args.output.as_deref(),
    )
    .await
}

/// Exports a container's filesystem as a tar archive.
pub async fn export(client: &Client, args: &ExportArgs) -> Result<i32> {
    tar_to(
        client,
        &format!("/containers/{}/export", segment(&args.container)),
        args.output.as_deref(),
    )
    .await
}

/// `berth commit`.
#[derive(Debug, clap::Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply a Dockerfile instruction to the created image.
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Commit message.
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause the container during commit (default true; `--pause=false`).
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub pause: bool,
    /// The container.
    pub container: String,
    /// REPOSITORY[:TAG] for the new image.
    pub reference: Option<String>,
}

/// Commits a container and prints the new image's id.
pub async fn commit(client: &Client, args: &CommitArgs) -> Result<i32> {
    let reference = args.reference.as_deref().unwrap_or("");
    let (repo, tag) = match reference.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (reference, ""),
    };
    let mut pairs = vec![
        ("container", args.container.as_str()),
        ("repo", repo),
        ("tag", tag),
        ("pause", flag(args.pause)),
    ];
    if let Some(a) = &args.author {
        pairs.push(("author", a));
    }
    if let Some(m) = &args.message {
        pairs.push(("comment", m));
    }
    for c in &args.change {
        pairs.push(("changes", c));
    }
    let response: berth_api::image_archive::IdResponse = client
        .post_json(&format!("/commit{}", query(&pairs)), &serde_json::json!({}))
        .await?;
    println!("{}", response.id);
    Ok(0)
}
