//! `exec`: run a command in a running container, as `docker exec` does
//! (cli/command/container/exec.go): create the exec, start it (detached,
//! or on a hijacked stream with the terminal in raw mode and its size
//! followed for `-t`), then exit with the exec's exit code.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use berth_api::exec::{ExecCreateRequest, ExecCreateResponse, ExecInspect, ExecStartRequest};
use bytes::Bytes;

use crate::http::{Body, Client, segment};
use crate::stream::copy_output;

use super::Result;
use super::detach::{detached, spawn_input};
use super::terminal::{RawTerminal, follow_resize, terminal_size};

/// `berth exec` flags (docker's).
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep STDIN open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to copy it).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Give extended privileges to the command.
    #[arg(long)]
    pub privileged: bool,
    /// The container.
    pub container: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

/// `KEY=VALUE` as is; `KEY` alone takes the local value (dropped when the
/// variable is not set here), as the docker CLI's `-e` does.
fn env_entry(entry: &str) -> Option<String> {
    if entry.contains('=') {
        Some(entry.to_owned())
    } else {
        std::env::var(entry).ok().map(|v| format!("{entry}={v}"))
    }
}

/// docker's `--env-file`: one entry a line, blank lines and `#` comments
/// skipped, each line as `-e` takes it.
fn read_env_file(path: &PathBuf) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("open env file {}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(env_entry)
        .collect())
}

/// The create request of `args`.
fn create_request(args: &ExecArgs) -> Result<ExecCreateRequest> {
    let mut env = Vec::new();
    for file in &args.env_file {
        env.extend(read_env_file(file)?);
    }
    env.extend(args.env.iter().filter_map(|e| env_entry(e)));
    Ok(ExecCreateRequest {
        user: args.user.clone().unwrap_or_default(),
        privileged: args.privileged,
        tty: args.tty,
        console_size: args
            .tty
            .then(terminal_size)
            .flatten()
            .map(|(h, w)| vec![u64::from(h), u64::from(w)]),
        attach_stdin: args.interactive && !args.detach,
        attach_stdout: !args.detach,
        attach_stderr: !args.detach,
        detach: args.detach,
        env: (!env.is_empty()).then_some(env),
        working_dir: args.workdir.clone().unwrap_or_default(),
        cmd: Some(args.command.clone()),
        detach_keys: args.detach_keys.clone().unwrap_or_default(),
        ..ExecCreateRequest::default()
    })
}

/// `exec CONTAINER COMMAND [ARG...]`: the exec's exit code.
pub async fn exec(client: &Client, args: &ExecArgs) -> Result<i32> {
    let request = create_request(args)?;
    let created: ExecCreateResponse = client
        .post_json(
            &format!("/containers/{}/exec", segment(&args.container)),
            &request,
        )
        .await?;
    let id = created.id;
    let start = format!("/exec/{}/start", segment(&id));
    let mut options = ExecStartRequest {
        detach: args.detach,
        tty: args.tty,
        console_size: request.console_size.clone(),
    };
    if args.detach {
        let body = Body::Bytes(Bytes::from(serde_json::to_vec(&options)?));
        client
            .call(hyper::Method::POST, &start, body, Some("application/json"))
            .await?;
        return Ok(0);
    }
    options.detach = false;
    let body = Body::Bytes(Bytes::from(serde_json::to_vec(&options)?));
    let conn = client.hijack(&start, body).await?;
    let stdin = args.interactive;
    let raw_terminal =
        (args.tty && stdin && std::io::stdin().is_terminal()).then(RawTerminal::enable);
    let resizes = args
        .tty
        .then(|| follow_resize(client, format!("/exec/{}/resize", segment(&id))));
    let (read, write) = tokio::io::split(conn);
    let keys = args
        .tty
        .then(|| args.detach_keys.clone().unwrap_or_default());
    let (input, signal) = match stdin.then(|| spawn_input(write, keys)) {
        Some((task, signal)) => (Some(task), Some(signal)),
        None => (None, None),
    };
    let output = tokio::select! {
        output = copy_output(read, args.tty) => Some(output),
        () = detached(signal) => None,
    };
    for task in [input, resizes].into_iter().flatten() {
        task.abort();
    }
    drop(raw_terminal);
    let Some(output) = output else {
        // Detached: the command runs on. docker exec, as docker attach,
        // prints the escape proxy's error and exits 1.
        eprintln!("read escape sequence");
        return Ok(1);
    };
    output?;
    // The stream ends once the daemon has the exit code.
    let inspect: ExecInspect = client
        .get_json(&format!("/exec/{}/json", segment(&id)))
        .await?;
    Ok(inspect.exit_code.unwrap_or(126))
}
