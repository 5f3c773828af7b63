//! `attach`: the local streams on a running container, the terminal in
//! raw mode and its size followed for a TTY container; exits with the
//! container's status, as `docker attach` does.

use std::io::IsTerminal;

use tokio::io::AsyncWriteExt;

use crate::http::{Body, Client, query, segment};
use crate::stream::copy_output;

use super::containers::wait_one;
use super::terminal::{RawTerminal, follow_size};
use super::{Result, flag};

/// `attach CONTAINER`: stdin (unless `--no-stdin`), stdout and stderr.
pub async fn attach(client: &Client, id: &str, stdin: bool) -> Result<i32> {
    let inspect: serde_json::Value = client
        .get_json(&format!("/containers/{}/json", segment(id)))
        .await?;
    // The docker CLI's own refusals (cli/command/container/attach.go).
    if inspect["State"]["Running"] != true {
        anyhow::bail!("You cannot attach to a stopped container, start it first");
    }
    if inspect["State"]["Paused"] == true {
        anyhow::bail!("You cannot attach to a paused container, unpause it first");
    }
    let tty = inspect["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = stdin && inspect["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let q = query(&[
        ("stream", "1"),
        ("stdin", flag(stdin)),
        ("stdout", "1"),
        ("stderr", "1"),
    ]);
    let conn = client
        .hijack(
            &format!("/containers/{}/attach{q}", segment(id)),
            Body::Empty,
        )
        .await?;
    let raw_terminal = (tty && stdin && std::io::stdin().is_terminal()).then(RawTerminal::enable);
    let resizes = tty.then(|| follow_size(client, id));
    let (read, mut write) = tokio::io::split(conn);
    let input = stdin.then(|| {
        tokio::spawn(async move {
            let mut local = tokio::io::stdin();
            let _ = tokio::io::copy(&mut local, &mut write).await;
            let _ = write.shutdown().await;
        })
    });
    let output = copy_output(read, tty).await;
    for task in [input, resizes].into_iter().flatten() {
        task.abort();
    }
    drop(raw_terminal);
    output?;
    // The stream ends with the container: its status is the exit code.
    Ok(i32::try_from(wait_one(client, id, "not-running").await?).unwrap_or(1))
}
