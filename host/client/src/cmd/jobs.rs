//! Job commands: `job ls`, `job run`.

use std::io::IsTerminal;

use anyhow::anyhow;
use berth_api::job::JobHandlerInfo;
use hyper::Method;
use tokio::io::AsyncWriteExt;

use crate::format::table;
use crate::http::{Body, Client, query, segment};
use crate::stream::{body_reader, copy_output};

use super::{Result, print_error};

pub async fn job_ls(client: &Client) -> Result<i32> {
    let jobs: Vec<JobHandlerInfo> = client.get_json("/berth/jobs").await?;
    let rows: Vec<Vec<String>> = jobs
        .into_iter()
        .map(|j| {
            vec![
                j.name,
                j.source,
                j.exposure.as_str().to_owned(),
                j.description,
            ]
        })
        .collect();
    // CALLABLE: `api` jobs run through `berth job run`; `route` ones (the
    // Docker operations) only through their own API route; `internal` ones
    // are the daemon's own and are refused.
    print!(
        "{}",
        table(&["NAME", "SOURCE", "CALLABLE", "DESCRIPTION"], &rows)
    );
    Ok(0)
}

/// `job run NAME ARGS...`: stdin is streamed when it is not a terminal;
/// stdout and stderr are printed live; the exit status is the job's.
pub async fn job_run(client: &Client, name: &str, args: &[String], env: &[String]) -> i32 {
    let mut pairs: Vec<(&str, &str)> = args.iter().map(|a| ("arg", a.as_str())).collect();
    pairs.extend(env.iter().map(|e| ("env", e.as_str())));
    let path = format!("/berth/jobs/{}{}", segment(name), query(&pairs));
    let streamed = !std::io::stdin().is_terminal();
    let result = async {
        let exit = if streamed {
            let conn = client.hijack(&path, Body::Empty).await?;
            let (read, mut write) = tokio::io::split(conn);
            let input = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut write).await;
                let _ = write.shutdown().await;
            });
            let exit = copy_output(read, false).await;
            input.abort();
            exit?
        } else {
            let response = client.call(Method::POST, &path, Body::Empty, None).await?;
            copy_output(body_reader(response.into_body()), false).await?
        };
        exit.ok_or_else(|| anyhow!("the job stream ended without an exit status"))
    };
    match result.await {
        Ok(exit) => {
            if let Some(error) = exit.error {
                eprintln!("Error: job {name} failed: {error}");
            }
            exit.status
        }
        Err(e) => {
            print_error(&e);
            1
        }
    }
}
