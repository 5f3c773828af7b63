//! `run`: create, attach, wait, start, stream, exit with the container's
//! status, with the local terminal in raw mode for `-t`.

use std::io::IsTerminal;

use berth_api::container::WaitResponse;
use hyper::Method;

use hyper_util::rt::TokioIo;

use crate::http::{Body, Client, query};
use crate::stream::copy_output;

use super::containers::{RunArgs, create_request, create_with, start};
use super::detach::{detached, query_pair, spawn_input};
use super::terminal::{RawTerminal, follow_size};
use super::{flag, print_error};

/// docker's exit status for a start failure (`runStartContainerErr`):
/// 127/126 from the daemon's message, 125 otherwise.
fn start_failure_code(e: &anyhow::Error) -> i32 {
    berth_api::container::start_failure_code(&format!("{e:#}")).unwrap_or(125)
}

/// Attaches to container `id` and registers the wait for its exit, both
/// before it starts: the daemon answers wait's headers once the waiter is
/// registered, so the exit cannot be missed however fast the container is.
async fn attach_and_wait(
    client: &Client,
    id: &str,
    args: &RunArgs,
) -> anyhow::Result<(
    TokioIo<hyper::upgrade::Upgraded>,
    hyper::Response<hyper::body::Incoming>,
)> {
    let mut pairs = vec![
        ("stream", "1"),
        ("stdin", flag(args.create.interactive)),
        ("stdout", "1"),
        ("stderr", "1"),
    ];
    pairs.extend(query_pair(args.detach_keys.as_deref()));
    let attach_q = query(&pairs);
    let conn = client
        .hijack(&format!("/containers/{id}/attach{attach_q}"), Body::Empty)
        .await?;
    let condition = if args.create.rm {
        "removed"
    } else {
        "next-exit"
    };
    let wait_response = client
        .send(
            Method::POST,
            &format!(
                "/containers/{id}/wait{}",
                query(&[("condition", condition)])
            ),
            Body::Empty,
            None,
            false,
        )
        .await?;
    Ok((conn, wait_response))
}

/// `run`: create, attach, wait, start, stream, exit with the container's code.
pub async fn run(client: &Client, args: RunArgs) -> i32 {
    let fail = |e: anyhow::Error, code: i32| {
        print_error(&e);
        code
    };
    let req = match create_request(&args.create, !args.detach) {
        Ok(r) => r,
        Err(e) => return fail(e, 125),
    };
    let id = match create_with(client, &args.create, &req).await {
        Ok(id) => id,
        Err(e) => return fail(e, 125),
    };
    if args.detach {
        return match start(client, &id).await {
            Ok(()) => {
                println!("{id}");
                0
            }
            Err(e) => {
                let code = start_failure_code(&e);
                fail(e, code)
            }
        };
    }
    let tty = args.create.tty;
    let interactive = args.create.interactive;
    let (conn, wait_response) = match attach_and_wait(client, &id, &args).await {
        Ok(pair) => pair,
        Err(e) => return fail(e, 125),
    };
    let raw_terminal = (tty && std::io::stdin().is_terminal()).then(RawTerminal::enable);
    if let Err(e) = start(client, &id).await {
        drop(raw_terminal);
        let code = start_failure_code(&e);
        return fail(e, code);
    }
    // The size now and at every change of the local terminal.
    let resizes = tty.then(|| follow_size(client, &id));
    let (read, write) = tokio::io::split(conn);
    let keys = tty.then(|| args.detach_keys.clone().unwrap_or_default());
    let (input, signal) = match interactive.then(|| spawn_input(write, keys)) {
        Some((task, signal)) => (Some(task), Some(signal)),
        None => (None, None),
    };
    let output = tokio::select! {
        output = copy_output(read, tty) => Some(output),
        () = detached(signal) => None,
    };
    if let Some(task) = input {
        task.abort();
    }
    if let Some(task) = resizes {
        task.abort();
    }
    drop(raw_terminal);
    let Some(output) = output else {
        // Detached: the container runs on, docker run exits 0.
        return 0;
    };
    if let Err(e) = output {
        return fail(e, 125);
    }
    let status = async {
        let response = crate::http::check(wait_response).await?;
        let wait: WaitResponse = crate::http::read_json(response).await?;
        Ok::<_, anyhow::Error>(wait.status_code)
    };
    match status.await {
        Ok(code) => code as i32,
        Err(e) => fail(e, 125),
    }
}
