//! `attach`: the local streams on a running container, the terminal in
//! raw mode and its size followed for a TTY container; exits with the
//! container's status, as `docker attach` does.

use std::io::IsTerminal;

use crate::http::{Body, Client, query, segment};
use crate::stream::copy_output;

use super::containers::wait_one;
use super::detach::{detached, query_pair, spawn_input};
use super::terminal::{RawTerminal, follow_size};
use super::{Result, flag};

/// `attach CONTAINER`: stdin (unless `--no-stdin`), stdout and stderr;
/// with a TTY, `detach_keys` (else ctrl-p,ctrl-q) leave it running.
pub async fn attach(
    client: &Client,
    id: &str,
    stdin: bool,
    detach_keys: Option<&str>,
) -> Result<i32> {
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
    let mut pairs = vec![
        ("stream", "1"),
        ("stdin", flag(stdin)),
        ("stdout", "1"),
        ("stderr", "1"),
    ];
    pairs.extend(query_pair(detach_keys));
    let q = query(&pairs);
    let conn = client
        .hijack(
            &format!("/containers/{}/attach{q}", segment(id)),
            Body::Empty,
        )
        .await?;
    let raw_terminal = (tty && stdin && std::io::stdin().is_terminal()).then(RawTerminal::enable);
    let resizes = tty.then(|| follow_size(client, id));
    let (read, write) = tokio::io::split(conn);
    let keys = tty.then(|| detach_keys.unwrap_or_default().to_owned());
    let (input, signal) = match stdin.then(|| spawn_input(write, keys)) {
        Some((task, signal)) => (Some(task), Some(signal)),
        None => (None, None),
    };
    let output = tokio::select! {
        output = copy_output(read, tty) => Some(output),
        () = detached(signal) => None,
    };
    for task in [input, resizes].into_iter().flatten() {
        task.abort();
    }
    drop(raw_terminal);
    let Some(output) = output else {
        // Detached: the container runs on. docker attach returns the
        // escape proxy's error (`term.EscapeError`), printed, status 1.
        eprintln!("read escape sequence");
        return Ok(1);
    };
    output?;
    // The stream ends with the container: its status is the exit code.
    Ok(i32::try_from(wait_one(client, id, "not-running").await?).unwrap_or(1))
}
