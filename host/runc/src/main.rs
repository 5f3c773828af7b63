//! `berth-runc`: the OCI runtime command line (as runc implements it) on
//! berth-libcontainer, usable as the runtime of containerd/dockerd.
//!
//! Errors go to stderr and, with `--log`, to the log file in the format of
//! `--log-format` (`json`: one `{"level","msg","time"}` object per line,
//! which containerd's shim reads back to report why a command failed).

// unsafe_code is denied workspace-wide; berth-runc hands a pty fd to the
// process that asked for it over --console-socket (tty.rs).
#![allow(unsafe_code)]

mod cli;
mod log;
mod signals;
mod tty;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use berth_libcontainer::console::ConsoleSocket;
use berth_libcontainer::{Container, CreateOptions, InitStdio};
use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logger = log::Logger::new(cli.log.as_deref(), cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}");
            logger.error(&msg);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    if cli.systemd_cgroup {
        bail!(
            "--systemd-cgroup is not supported: berth-runc manages cgroups through cgroupfs only"
        );
    }
    let root = cli.root.clone();
    match cli.command {
        Command::Create(args) => {
            let stdio = InitStdio::Inherit;
            create(&root, &args, stdio)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => run_container(&root, &args),
        Command::Start { id } => {
            let mut c = load(&root, &id)?;
            c.start().with_context(|| format!("start container {id}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::State { id } => {
            let c = load(&root, &id)?;
            let state = c.state()?;
            print_json(&state)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Kill { id, signal, all } => {
            let c = load(&root, &id)?;
            let signal = signals::parse(signal.as_deref().unwrap_or("SIGTERM"))?;
            c.kill(signal, all)
                .with_context(|| format!("kill container {id}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Delete { id, force } => {
            delete(&root, &id, force)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Pause { id } => {
            load(&root, &id)?
                .pause()
                .with_context(|| format!("pause container {id}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Resume { id } => {
            load(&root, &id)?
                .resume()
                .with_context(|| format!("resume container {id}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ps { id, format } => {
            ps(&load(&root, &id)?, &format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::List { quiet } => {
            list(&root, quiet)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Exec(args) => exec(&root, &args),
        Command::Update(args) => {
            let resources = cli::update_resources(&args)?;
            load(&root, &args.id)?
                .update(&resources)
                .with_context(|| format!("update container {}", args.id))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Features => {
            print_json(&cli::features())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `delete`: removes the container; with `force` a running one too, and
/// a missing one is no error (as runc).
fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    match Container::load(root, id) {
        Ok(c) => c
            .delete(force)
            .with_context(|| format!("delete container {id}")),
        // runc: deleting a container that does not exist succeeds
        // with --force.
        Err(berth_libcontainer::Error::NotFound { .. }) if force => Ok(()),
        Err(e) => Err(e).with_context(|| format!("load container {id}")),
    }
}

/// `ps`: the container's processes, as a JSON array of pids (`json`) or
/// a table with their command lines.
fn ps(c: &Container, format: &str) -> Result<()> {
    let pids = c.processes()?;
    if format == "json" {
        return print_json(&pids.iter().map(|p| p.as_raw()).collect::<Vec<_>>());
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "PID     CMD")?;
    for pid in pids {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        writeln!(out, "{:<7} {}", pid, cmd.trim_end())?;
    }
    Ok(())
}

/// `list`: the containers of the state root, ids only with `quiet`.
fn list(root: &Path, quiet: bool) -> Result<()> {
    let ids = Container::list(root)?;
    let mut out = std::io::stdout().lock();
    if !quiet {
        writeln!(out, "ID\tPID\tSTATUS\tBUNDLE\tCREATED")?;
    }
    for id in ids {
        if quiet {
            writeln!(out, "{id}")?;
        } else if let Ok(c) = Container::load(root, &id) {
            let s = c.state()?;
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}",
                s.id,
                s.pid,
                s.status,
                s.bundle.display(),
                s.created
            )?;
        }
    }
    Ok(())
}

fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn load(root: &Path, id: &str) -> Result<Container> {
    Container::load(root, id).with_context(|| format!("load container {id}"))
}

fn create(root: &Path, args: &cli::CreateArgs, stdio: InitStdio) -> Result<Container> {
    if args.no_pivot {
        bail!("--no-pivot is not supported: berth-runc always uses pivot_root");
    }
    if args.preserve_fds > 0 {
        bail!("--preserve-fds is not supported");
    }
    Container::create(CreateOptions {
        id: args.id.clone(),
        bundle: args.bundle.clone(),
        state_root: root.to_path_buf(),
        stdio,
        console_socket: args.console_socket.clone(),
        pid_file: args.pid_file.as_deref().map(absolute),
    })
    .with_context(|| format!("create container {}", args.id))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `run`: create + start; in the foreground, wait for init forwarding
/// signals, then delete and exit with its status.
fn run_container(root: &Path, args: &cli::RunArgs) -> Result<ExitCode> {
    // Block the signals we forward before cloning init so none is lost in
    // between; init unblocks everything before execve.
    let forwarder = if args.detach {
        None
    } else {
        Some(signals::Forwarder::block()?)
    };
    // runc relays the terminal itself when the spec asks for one and
    // nobody else takes the pty master.
    let console = if forwarder.is_some()
        && args.common.console_socket.is_none()
        && wants_terminal(&args.common.bundle)
    {
        std::fs::create_dir_all(root).with_context(|| format!("create {}", root.display()))?;
        let path = root.join(format!(".{}-console.sock", args.common.id));
        Some(ConsoleSocket::bind(&path).context("create a console socket")?)
    } else {
        None
    };
    let mut common = args.common.clone();
    if let Some(socket) = &console {
        common.console_socket = Some(socket.path().to_path_buf());
    }
    let mut c = create(root, &common, InitStdio::Inherit)?;
    // Init queued the master on the connected socket before `create`
    // returned.
    let master = match &console {
        Some(socket) => match socket.accept_master() {
            Ok(master) => Some(master),
            Err(e) => {
                let _ = c.delete(true);
                return Err(e).context("receive the pty master");
            }
        },
        None => None,
    };
    drop(console);
    if let Err(e) = c.start() {
        let _ = c.delete(true);
        return Err(e).context("start container");
    }
    let Some(forwarder) = forwarder else {
        return Ok(ExitCode::SUCCESS);
    };
    // We are init's parent: its pid is ours to wait for even if it has
    // already exited (then it is a zombie until we reap it).
    let pid = c.init_pid();
    let status = match master {
        Some(master) => tty::relay_console(forwarder, pid, master),
        None => forwarder.wait_for(pid),
    };
    let id = c.id().to_string();
    if !args.keep {
        c.delete(true)
            .with_context(|| format!("delete container {id}"))?;
    }
    Ok(ExitCode::from(status?))
}

/// Whether the bundle's process asks for a terminal. Only that field is
/// read: `create` loads and validates the whole bundle right after, and an
/// unreadable config is its error to report.
fn wants_terminal(bundle: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Config {
        process: Option<Process>,
    }
    #[derive(serde::Deserialize)]
    struct Process {
        terminal: Option<bool>,
    }
    std::fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Config>(&bytes).ok())
        .and_then(|config| config.process?.terminal)
        .unwrap_or(false)
}

fn exec(root: &Path, args: &cli::ExecArgs) -> Result<ExitCode> {
    let c = load(root, &args.id)?;
    let process = cli::exec_process(&c, args)?;
    let forwarder = if args.detach {
        None
    } else {
        Some(signals::Forwarder::block()?)
    };
    let terminal = process.terminal().unwrap_or(false);
    let console = if terminal && forwarder.is_some() && args.console_socket.is_none() {
        let path = root.join(format!(".{}-exec-{}.sock", args.id, std::process::id()));
        Some(ConsoleSocket::bind(&path).context("create a console socket")?)
    } else {
        None
    };
    let socket_path = console
        .as_ref()
        .map(|s| s.path().to_path_buf())
        .or_else(|| args.console_socket.clone());
    let pid = c
        .exec(&process, InitStdio::Inherit, socket_path.as_deref())
        .with_context(|| format!("exec in container {}", args.id))?;
    let master = match &console {
        Some(socket) => Some(socket.accept_master().context("receive the pty master")?),
        None => None,
    };
    drop(console);
    if let Some(pid_file) = &args.pid_file {
        berth_libcontainer::write_pid_file(&absolute(pid_file), pid)
            .context("write the exec pid file")?;
    }
    match (forwarder, master) {
        (None, _) => Ok(ExitCode::SUCCESS),
        (Some(f), Some(master)) => Ok(ExitCode::from(tty::relay_console(f, pid, master)?)),
        (Some(f), None) => Ok(ExitCode::from(f.wait_for(pid)?)),
    }
}
