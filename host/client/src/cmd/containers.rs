//! Container commands: `create` and its flags, `start`, `stop`, `restart`,
//! `rename`, `top`, `kill`, `pause`, `unpause`, `rm`, `ps`, `logs`, `wait`.

use anyhow::{Context, anyhow, bail};
use berth_api::container::{
    ContainerSummary, CreateRequest, CreateResponse, TopResponse, WaitResponse,
};
use clap::Args;
use hyper::Method;

use crate::format::{ago, ellipsis, pretty_json, short_id, table};
use crate::http::{Body, Client, DaemonError, query, segment};
use crate::stream::{body_reader, copy_output};

use super::{Result, flag, for_each, print_error};

/// `create` flags.
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to copy it).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Memory limit (e.g. 512m).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (-1 for unlimited).
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Size of /dev/shm (e.g. 128m).
    #[arg(long)]
    pub shm_size: Option<String>,
    /// Tune host's OOM preferences (-1000 to 1000).
    #[arg(long, allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
    /// Ulimit options (name=soft[:hard], e.g. nofile=1024:2048).
    #[arg(long = "ulimit")]
    pub ulimits: Vec<String>,
    /// Add Linux capabilities (ALL for every one).
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities (ALL for every one).
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Security options (no-new-privileges, seccomp=unconfined|FILE); as
    /// the docker CLI, a seccomp profile file is read and its JSON sent.
    #[arg(long = "security-opt", value_name = "OPTION")]
    pub security_opts: Vec<String>,
    /// Logging driver for the container (json-file, none).
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=10m, max-file=3).
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opts: Vec<String>,
    /// Cgroup namespace to use: host or private (default: the daemon's).
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only.
    #[arg(long)]
    pub read_only: bool,
    /// Mount a tmpfs directory (PATH[:OPTIONS], e.g. /run:size=64m).
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Bind mount a host directory (HOST:CONTAINER[:OPTIONS]; a missing
    /// host directory is created), a named volume (NAME:CONTAINER[:OPTIONS])
    /// or an anonymous one (CONTAINER).
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,src=,dst=,...).
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount volumes from the specified container(s) (CONTAINER[:ro|rw]).
    #[arg(long)]
    pub volumes_from: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Restart policy to apply when a container exits (no, always,
    /// on-failure[:max-retries], unless-stopped).
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Signal to stop the container.
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    #[command(flatten)]
    pub health: super::health_flags::HealthArgs,
    #[command(flatten)]
    pub host: super::host_flags::HostArgs,
    #[command(flatten)]
    pub net: super::net_flags::NetArgs,
    /// Print help (`-h` is the host name, as in docker).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Image.
    pub image: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `run` flags: `create`'s plus detach.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Run in the background and print the container id.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[command(flatten)]
    pub create: CreateArgs,
}

pub(super) fn create_request(args: &CreateArgs, attach: bool) -> Result<CreateRequest> {
    let mut req = CreateRequest::default();
    let c = &mut req.config;
    c.image = args.image.clone();
    if !args.command.is_empty() {
        c.cmd = Some(args.command.clone());
    }
    if let Some(ep) = &args.entrypoint {
        // docker: an empty --entrypoint resets the image's entrypoint.
        c.entrypoint = Some(if ep.is_empty() {
            Vec::new()
        } else {
            vec![ep.clone()]
        });
    }
    c.env = args
        .env
        .iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e.clone())
            } else {
                std::env::var(e).ok().map(|v| format!("{e}={v}"))
            }
        })
        .collect();
    c.working_dir = args.workdir.clone().unwrap_or_default();
    c.user = args.user.clone().unwrap_or_default();
    c.hostname = args.hostname.clone().unwrap_or_default();
    c.healthcheck = args.health.config()?;
    c.tty = args.tty;
    c.open_stdin = args.interactive;
    c.stdin_once = args.interactive;
    c.attach_stdin = attach && args.interactive;
    c.attach_stdout = attach;
    c.attach_stderr = attach;
    let h = &mut req.host_config;
    if let Some(m) = &args.memory {
        h.memory = berth_api::units::ram_in_bytes(m)
            .map_err(|e| anyhow!("invalid argument {m:?} for \"-m, --memory\" flag: {e}"))?;
    }
    if let Some(cpus) = args.cpus {
        if !cpus.is_finite() || cpus < 0.0 {
            bail!("invalid argument \"{cpus}\" for \"--cpus\" flag: must be a positive number");
        }
        h.nano_cpus = (cpus * 1e9).round() as i64;
    }
    if let Some(swap) = &args.memory_swap {
        h.memory_swap = if swap == "-1" {
            -1
        } else {
            berth_api::units::ram_in_bytes(swap)
                .map_err(|e| anyhow!("invalid argument {swap:?} for \"--memory-swap\" flag: {e}"))?
        };
    }
    h.pids_limit = args.pids_limit;
    h.cpuset_cpus = args.cpuset_cpus.clone().unwrap_or_default();
    h.cpuset_mems = args.cpuset_mems.clone().unwrap_or_default();
    if let Some(size) = &args.shm_size {
        h.shm_size = berth_api::units::ram_in_bytes(size)
            .map_err(|e| anyhow!("invalid argument {size:?} for \"--shm-size\" flag: {e}"))?;
    }
    h.oom_score_adj = args.oom_score_adj.unwrap_or(0);
    h.ulimits = args
        .ulimits
        .iter()
        .map(|u| parse_ulimit(u))
        .collect::<Result<_>>()?;
    h.cap_add = args.cap_add.clone();
    h.cap_drop = args.cap_drop.clone();
    h.security_opt = args
        .security_opts
        .iter()
        .map(|opt| security_opt(opt))
        .collect::<Result<_>>()?;
    h.cgroupns_mode = args.cgroupns.clone().unwrap_or_default();
    h.log_config.kind = args.log_driver.clone().unwrap_or_default();
    for opt in &args.log_opts {
        let (key, value) = opt
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid log opt {opt:?}: expected KEY=VALUE"))?;
        h.log_config.config.insert(key.to_owned(), value.to_owned());
    }
    h.privileged = args.privileged;
    h.readonly_rootfs = args.read_only;
    for entry in &args.tmpfs {
        let (path, options) = entry.split_once(':').unwrap_or((entry, ""));
        h.tmpfs.insert(path.to_owned(), options.to_owned());
    }
    // As the docker CLI: `-v /path` (no host part) asks for an anonymous
    // volume through `Config.Volumes`, the rest are `Binds`.
    for entry in &args.volumes {
        if entry.contains(':') {
            h.binds.push(entry.clone());
        } else {
            req.config
                .volumes
                .insert(entry.clone(), serde_json::json!({}));
        }
    }
    let h = &mut req.host_config;
    h.mounts = args
        .mount
        .iter()
        .map(|m| super::parse_mount(m))
        .collect::<Result<_>>()?;
    h.volumes_from = args.volumes_from.clone();
    h.auto_remove = args.rm;
    args.host.apply(h)?;
    args.net.apply(&mut req.config, &mut req.host_config)?;
    let h = &mut req.host_config;
    if let Some(policy) = &args.restart {
        h.restart_policy = restart_policy(policy)?;
    }
    req.config.stop_signal = args.stop_signal.clone();
    req.config.stop_timeout = args.stop_timeout;
    if req.host_config.network_mode.is_empty() {
        req.host_config.network_mode = "default".to_owned();
    }
    req.networking_config = args.net.networking_config(&req.host_config.network_mode)?;
    Ok(req)
}

/// `--restart NAME[:COUNT]` as the docker CLI parses it
/// (`opts.ParseRestartPolicy`): the daemon validates the policy.
pub(super) fn restart_policy(policy: &str) -> Result<berth_api::container::RestartPolicy> {
    let (name, count) = policy.split_once(':').unwrap_or((policy, ""));
    if policy.contains(':') && name.is_empty() {
        bail!("invalid restart policy format: no policy provided before colon");
    }
    let maximum_retry_count = if count.is_empty() {
        0
    } else {
        count.parse().map_err(|_| {
            anyhow!("invalid restart policy format: maximum retry count must be an integer")
        })?
    };
    Ok(berth_api::container::RestartPolicy {
        name: name.to_owned(),
        maximum_retry_count,
    })
}

/// A `--security-opt` as the docker CLI sends it (`parseSecurityOpts`): a
/// seccomp profile named by path is sent as the file's JSON.
fn security_opt(opt: &str) -> Result<String> {
    match opt.split_once(['=', ':']) {
        Some(("seccomp", value)) if !matches!(value, "unconfined" | "builtin" | "") => {
            let json = std::fs::read_to_string(value)
                .with_context(|| format!("opening seccomp profile ({value}) failed"))?;
            Ok(format!("seccomp={json}"))
        }
        _ => Ok(opt.to_owned()),
    }
}

/// go-units `ParseUlimit`: `name=soft[:hard]`, the hard limit defaulting
/// to the soft one.
fn parse_ulimit(value: &str) -> Result<berth_api::container::Ulimit> {
    let bad = |why: &str| anyhow!("invalid argument {value:?} for \"--ulimit\" flag: {why}");
    let (name, limits) = value
        .split_once('=')
        .ok_or_else(|| bad("expected name=soft[:hard]"))?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let number = |n: &str| n.parse::<i64>().map_err(|_| bad("limits must be numbers"));
    let (soft, hard) = (number(soft)?, number(hard)?);
    if soft > hard && hard != -1 {
        return Err(bad(&format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    Ok(berth_api::container::Ulimit {
        name: name.to_owned(),
        soft,
        hard,
    })
}

pub async fn create(client: &Client, args: &CreateArgs) -> Result<String> {
    let req = create_request(args, false)?;
    create_with(client, args, &req).await
}

pub(super) async fn create_with(
    client: &Client,
    args: &CreateArgs,
    req: &CreateRequest,
) -> Result<String> {
    let q = match &args.name {
        Some(n) => query(&[("name", n)]),
        None => String::new(),
    };
    let path = format!("/containers/create{q}");
    let created: CreateResponse = match client.post_json(&path, req).await {
        Err(e) if super::pull::is_missing_image(&e) => {
            // The docker CLI's `--pull=missing`: pull, then create again.
            let image = args.image.clone();
            eprintln!("Unable to find image '{image}' locally");
            let output = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                super::PullOutput::Bars
            } else {
                super::PullOutput::Lines
            };
            super::pull_with(client, &image, None, output, true).await?;
            client.post_json(&path, req).await?
        }
        other => other?,
    };
    for w in &created.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(created.id)
}

pub async fn start(client: &Client, id: &str) -> Result<()> {
    client
        .simple(Method::POST, &format!("/containers/{}/start", segment(id)))
        .await
}

/// The flags of `stop` and `restart` (docker's: the same for both).
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(short = 't', long = "time")]
    pub time: Option<i64>,
    /// Signal to send to the container.
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `stop` or `restart` (`verb`) of each container, printing each name.
pub async fn stop_all(client: &Client, verb: &str, args: StopArgs) -> Result<i32> {
    let StopArgs {
        time,
        signal,
        containers,
    } = args;
    super::each(client, &containers, |c, id| {
        stop_or_restart(c, verb, id, time, signal.clone())
    })
    .await
}

async fn stop_or_restart(
    client: &Client,
    verb: &str,
    id: &str,
    time: Option<i64>,
    signal: Option<String>,
) -> Result<()> {
    let t = time.map(|t| t.to_string());
    let mut pairs = Vec::new();
    if let Some(t) = &t {
        pairs.push(("t", t.as_str()));
    }
    if let Some(s) = &signal {
        pairs.push(("signal", s.as_str()));
    }
    client
        .simple(
            Method::POST,
            &format!("/containers/{}/{verb}{}", segment(id), query(&pairs)),
        )
        .await
}

/// `docker rename`: prints nothing, as docker does.
pub async fn rename(client: &Client, id: &str, new_name: &str) -> Result<()> {
    client
        .simple(
            Method::POST,
            &format!(
                "/containers/{}/rename{}",
                segment(id),
                query(&[("name", new_name)])
            ),
        )
        .await
}

/// `docker top CONTAINER [ps OPTIONS]`: the options reach the daemon's
/// `ps` as one space-separated `ps_args`, as the docker CLI sends them.
pub async fn top(client: &Client, id: &str, ps_options: &[String]) -> Result<i32> {
    let ps_args = ps_options.join(" ");
    let mut pairs = Vec::new();
    if !ps_args.is_empty() {
        pairs.push(("ps_args", ps_args.as_str()));
    }
    let list: TopResponse = client
        .get_json(&format!("/containers/{}/top{}", segment(id), query(&pairs)))
        .await?;
    let titles: Vec<&str> = list.titles.iter().map(String::as_str).collect();
    print!("{}", table(&titles, &list.processes));
    Ok(0)
}

pub async fn kill(client: &Client, id: &str, signal: String) -> Result<()> {
    client
        .simple(
            Method::POST,
            &format!(
                "/containers/{}/kill{}",
                segment(id),
                query(&[("signal", &signal)])
            ),
        )
        .await
}

/// `pause` (true) or `unpause` (false).
pub async fn freeze(client: &Client, id: &str, pause: bool) -> Result<()> {
    let verb = if pause { "pause" } else { "unpause" };
    client
        .simple(Method::POST, &format!("/containers/{}/{verb}", segment(id)))
        .await
}

/// `rm [-f] [-v]`: `-v` takes the container's anonymous volumes along.
pub async fn rm(client: &Client, id: &str, force: bool, volumes: bool) -> Result<()> {
    client
        .simple(
            Method::DELETE,
            &format!(
                "/containers/{}{}",
                segment(id),
                query(&[("force", flag(force)), ("v", flag(volumes))])
            ),
        )
        .await
}

pub async fn ps(client: &Client, all: bool, quiet: bool, filter: &[String]) -> Result<i32> {
    let filters = super::parse_filters(filter)?;
    let mut pairs = vec![("all", flag(all))];
    let encoded = filters.to_query_json();
    if !filters.is_empty() {
        pairs.push(("filters", &encoded));
    }
    let list: Vec<ContainerSummary> = client
        .get_json(&format!("/containers/json{}", query(&pairs)))
        .await?;
    if quiet {
        for c in &list {
            println!("{}", short_id(&c.id));
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                short_id(&c.id),
                c.image.clone(),
                format!("\"{}\"", ellipsis(&c.command, 20)),
                ago(c.created),
                c.status.clone(),
                String::new(),
                c.names
                    .iter()
                    .map(|n| n.trim_start_matches('/'))
                    .collect::<Vec<_>>()
                    .join(","),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES"
            ],
            &rows
        )
    );
    Ok(0)
}

pub(super) async fn is_tty(client: &Client, id: &str) -> Result<bool> {
    let inspect: serde_json::Value = client
        .get_json(&format!("/containers/{}/json", segment(id)))
        .await?;
    Ok(inspect["Config"]["Tty"].as_bool().unwrap_or(false))
}

pub async fn logs(
    client: &Client,
    id: &str,
    follow: bool,
    timestamps: bool,
    tail: &str,
) -> Result<i32> {
    let tty = is_tty(client, id).await?;
    let q = query(&[
        ("stdout", "1"),
        ("stderr", "1"),
        ("follow", flag(follow)),
        ("timestamps", flag(timestamps)),
        ("tail", tail),
    ]);
    let response = client
        .call(
            Method::GET,
            &format!("/containers/{}/logs{q}", segment(id)),
            Body::Empty,
            None,
        )
        .await?;
    copy_output(body_reader(response.into_body()), tty).await?;
    Ok(0)
}

pub async fn inspect(client: &Client, objects: &[String]) -> Result<i32> {
    let mut found = Vec::new();
    let mut code = 0;
    for object in objects {
        // Containers first, then images, as `docker inspect` does.
        let container = client
            .get_json::<serde_json::Value>(&format!("/containers/{}/json", segment(object)))
            .await;
        let not_found = |e: &anyhow::Error| {
            e.downcast_ref::<DaemonError>()
                .is_some_and(|d| d.status == hyper::StatusCode::NOT_FOUND)
        };
        match container {
            Ok(v) => found.push(v),
            Err(e) if !not_found(&e) => {
                print_error(&e);
                code = 1;
            }
            Err(_) => match client
                .get_json::<serde_json::Value>(&format!("/images/{}/json", segment(object)))
                .await
            {
                Ok(v) => found.push(v),
                Err(_) => {
                    eprintln!("Error: No such object: {object}");
                    code = 1;
                }
            },
        }
    }
    println!("{}", pretty_json(&serde_json::Value::Array(found)));
    Ok(code)
}

pub(super) async fn wait_one(client: &Client, id: &str, condition: &str) -> Result<i64> {
    let response = client
        .call(
            Method::POST,
            &format!(
                "/containers/{}/wait{}",
                segment(id),
                query(&[("condition", condition)])
            ),
            Body::Empty,
            None,
        )
        .await?;
    let wait: WaitResponse = crate::http::read_json(response).await?;
    if let Some(e) = wait.error {
        bail!("waiting for the container failed: {}", e.message);
    }
    Ok(wait.status_code)
}

pub async fn wait_all(client: &Client, ids: &[String]) -> Result<i32> {
    Ok(for_each(ids, |id| async move {
        println!("{}", wait_one(client, id, "not-running").await?);
        Ok(())
    })
    .await)
}

#[cfg(test)]
mod tests;
