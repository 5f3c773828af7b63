//! The commands.

use std::io::IsTerminal;

use anyhow::{Context, anyhow, bail};
use berth_api::container::{ContainerSummary, CreateRequest, CreateResponse, WaitResponse};
use berth_api::filters::Filters;
use berth_api::image::{ImageDeleteItem, ImageSummary, ProgressMessage};
use berth_api::job::JobHandlerInfo;
use berth_api::system::{InfoResponse, VersionResponse};
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;
use tokio::io::AsyncWriteExt;

use crate::format::{ago, ellipsis, pretty_json, short_id, table};
use crate::http::{Body, Client, DaemonError, query, segment};
use crate::stream::{body_reader, copy_output};

type Result<T> = anyhow::Result<T>;

/// Prints an error the way docker does.
pub fn print_error(e: &anyhow::Error) {
    if let Some(daemon) = e.downcast_ref::<DaemonError>() {
        eprintln!("{daemon}");
    } else {
        eprintln!("{e:#}");
    }
}

/// Runs `f` on each object in turn. A failure is printed and the others
/// still run, as docker does; returns 1 if any failed.
async fn for_each<'a, F, Fut>(objects: &'a [String], f: F) -> i32
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut code = 0;
    for object in objects {
        if let Err(e) = f(object).await {
            print_error(&e);
            code = 1;
        }
    }
    code
}

/// Runs `f` for each container, printing each name; returns 1 if any failed.
pub async fn each<'a, F, Fut>(client: &'a Client, ids: &'a [String], f: F) -> Result<i32>
where
    F: Fn(&'a Client, &'a str) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    Ok(for_each(ids, |id| {
        let done = f(client, id);
        async move {
            done.await?;
            println!("{id}");
            Ok(())
        }
    })
    .await)
}

/// A boolean query value as the API reads it.
fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

pub async fn version(client: &Client) -> Result<i32> {
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       {}", berth_api::version::CURRENT);
    println!(" OS/Arch:           linux/{}", berth_api::system::go_arch());
    println!();
    let v: VersionResponse = client.get_json("/version").await?;
    println!("Server: {}", v.platform.name);
    println!(" Engine:");
    println!("  Version:          {}", v.version);
    println!(
        "  API version:      {} (minimum version {})",
        v.api_version, v.min_api_version
    );
    println!("  OS/Arch:          {}/{}", v.os, v.arch);
    println!("  Kernel Version:   {}", v.kernel_version);
    println!("  Experimental:     {}", v.experimental);
    Ok(0)
}

pub async fn info(client: &Client) -> Result<i32> {
    let i: InfoResponse = client.get_json("/info").await?;
    println!("Server:");
    println!(" Containers: {}", i.containers);
    println!("  Running: {}", i.containers_running);
    println!("  Paused: {}", i.containers_paused);
    println!("  Stopped: {}", i.containers_stopped);
    println!(" Images: {}", i.images);
    println!(" Server Version: {}", i.server_version);
    println!(" Storage Driver: {}", i.driver);
    println!(" Logging Driver: {}", i.logging_driver);
    println!(" Cgroup Driver: {}", i.cgroup_driver);
    println!(" Cgroup Version: {}", i.cgroup_version);
    println!(" Default Runtime: {}", i.default_runtime);
    println!(" Security Options: {}", i.security_options.join(", "));
    println!(" Kernel Version: {}", i.kernel_version);
    println!(" Operating System: {}", i.operating_system);
    println!(" OSType: {}", i.os_type);
    println!(" Architecture: {}", i.architecture);
    println!(" CPUs: {}", i.ncpu);
    println!(
        " Total Memory: {:.2}GiB",
        i.mem_total as f64 / (1u64 << 30) as f64
    );
    println!(" Name: {}", i.name);
    println!(" ID: {}", i.id);
    println!(" Berth Root Dir: {}", i.docker_root_dir);
    for w in &i.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(0)
}

pub async fn import(
    client: &Client,
    file: &str,
    reference: Option<&str>,
    changes: &[String],
    message: Option<&str>,
) -> Result<i32> {
    let body: Box<dyn tokio::io::AsyncRead + Send + Sync + Unpin> = if file == "-" {
        Box::new(tokio::io::stdin())
    } else {
        Box::new(
            tokio::fs::File::open(file)
                .await
                .with_context(|| format!("open {file}"))?,
        )
    };
    let mut pairs = vec![("fromSrc", "-"), ("repo", reference.unwrap_or(""))];
    if let Some(m) = message {
        pairs.push(("message", m));
    }
    for c in changes {
        pairs.push(("changes", c));
    }
    let response = client
        .call(
            Method::POST,
            &format!("/images/create{}", query(&pairs)),
            Body::Reader(body),
            Some("application/x-tar"),
        )
        .await?;
    let body = response.into_body().collect().await?.to_bytes();
    let mut id = None;
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let msg: ProgressMessage = serde_json::from_slice(line)?;
        if let Some(error) = msg.error {
            return Err(DaemonError {
                status: hyper::StatusCode::INTERNAL_SERVER_ERROR,
                message: error,
            }
            .into());
        }
        id = Some(msg.status);
    }
    println!(
        "{}",
        id.ok_or_else(|| anyhow!("the daemon sent no image id"))?
    );
    Ok(0)
}

pub async fn images(client: &Client, quiet: bool) -> Result<i32> {
    let images: Vec<ImageSummary> = client.get_json("/images/json").await?;
    if quiet {
        for i in &images {
            println!("{}", short_id(&i.id));
        }
        return Ok(0);
    }
    let mut rows = Vec::new();
    for i in &images {
        let tags = if i.repo_tags.is_empty() {
            vec!["<none>:<none>".to_owned()]
        } else {
            i.repo_tags.clone()
        };
        for t in tags {
            let (repo, tag) = t
                .rsplit_once(':')
                .filter(|(_, tag)| !tag.contains('/'))
                .unwrap_or((&t, "<none>"));
            rows.push(vec![
                repo.to_owned(),
                tag.to_owned(),
                short_id(&i.id),
                ago(i.created),
                berth_api::units::human_size(i.size),
            ]);
        }
    }
    print!(
        "{}",
        table(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows)
    );
    Ok(0)
}

pub async fn tag(client: &Client, source: &str, target: &str) -> Result<i32> {
    let (repo, tag) = match target.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (target, "latest"),
    };
    client
        .simple(
            Method::POST,
            &format!(
                "/images/{}/tag{}",
                segment(source),
                query(&[("repo", repo), ("tag", tag)])
            ),
        )
        .await?;
    Ok(0)
}

pub async fn rmi(client: &Client, images: &[String], force: bool) -> Result<i32> {
    Ok(for_each(images, |image| async move {
        let path = format!(
            "/images/{}{}",
            segment(image),
            query(&[("force", flag(force))])
        );
        let response = client
            .call(Method::DELETE, &path, Body::Empty, None)
            .await?;
        let items: Vec<ImageDeleteItem> = crate::http::read_json(response).await?;
        for item in items {
            match item {
                ImageDeleteItem::Untagged(r) => println!("Untagged: {r}"),
                ImageDeleteItem::Deleted(id) => println!("Deleted: {id}"),
            }
        }
        Ok(())
    })
    .await)
}

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
    /// Bind mount a host directory (HOST:CONTAINER[:OPTIONS]); a missing
    /// host directory is created.
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
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
    #[command(flatten)]
    pub create: CreateArgs,
}

fn create_request(args: &CreateArgs, attach: bool) -> Result<CreateRequest> {
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
    h.binds = args.volumes.clone();
    h.auto_remove = args.rm;
    h.network_mode = "default".to_owned();
    Ok(req)
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

async fn create_with(client: &Client, args: &CreateArgs, req: &CreateRequest) -> Result<String> {
    let q = match &args.name {
        Some(n) => query(&[("name", n)]),
        None => String::new(),
    };
    let created: CreateResponse = client
        .post_json(&format!("/containers/create{q}"), req)
        .await?;
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

pub async fn stop(
    client: &Client,
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
            &format!("/containers/{}/stop{}", segment(id), query(&pairs)),
        )
        .await
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

pub async fn rm(client: &Client, id: &str, force: bool) -> Result<()> {
    client
        .simple(
            Method::DELETE,
            &format!(
                "/containers/{}{}",
                segment(id),
                query(&[("force", flag(force))])
            ),
        )
        .await
}

pub async fn ps(client: &Client, all: bool, quiet: bool, filter: &[String]) -> Result<i32> {
    let mut filters = Filters::default();
    for f in filter {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow!("bad format of filter (expected name=value)"))?;
        filters.add(k, v);
    }
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

async fn is_tty(client: &Client, id: &str) -> Result<bool> {
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

async fn wait_one(client: &Client, id: &str, condition: &str) -> Result<i64> {
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

/// docker's exit status for a start failure (`runStartContainerErr`):
/// 127/126 from the daemon's message, 125 otherwise.
fn start_failure_code(e: &anyhow::Error) -> i32 {
    berth_api::container::start_failure_code(&format!("{e:#}")).unwrap_or(125)
}

/// Puts the local terminal in raw mode for `run -t`, restored on drop.
struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    fn enable() -> RawTerminal {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let Ok(original) = tcgetattr(&stdin) else {
            return RawTerminal(None);
        };
        let mut raw = original.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
        RawTerminal(Some(original))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(original) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                original,
            );
        }
    }
}

fn terminal_size() -> Option<(u16, u16)> {
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we own.
    let rc = unsafe { nix::libc::ioctl(1, nix::libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
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
    let attach_q = query(&[
        ("stream", "1"),
        ("stdin", flag(interactive)),
        ("stdout", "1"),
        ("stderr", "1"),
    ]);
    let conn = match client
        .hijack(&format!("/containers/{id}/attach{attach_q}"), Body::Empty)
        .await
    {
        Ok(c) => c,
        Err(e) => return fail(e, 125),
    };
    // The daemon answers wait's headers once the waiter is registered, so
    // the exit cannot be missed however fast the container is.
    let condition = if args.create.rm {
        "removed"
    } else {
        "next-exit"
    };
    let wait_response = match client
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
        .await
    {
        Ok(r) => r,
        Err(e) => return fail(e, 125),
    };
    let raw_terminal = (tty && std::io::stdin().is_terminal()).then(RawTerminal::enable);
    if let Err(e) = start(client, &id).await {
        drop(raw_terminal);
        let code = start_failure_code(&e);
        return fail(e, code);
    }
    if tty && let Some((h, w)) = terminal_size() {
        let _ = client
            .simple(
                Method::POST,
                &format!(
                    "/containers/{id}/resize{}",
                    query(&[("h", &h.to_string()), ("w", &w.to_string())])
                ),
            )
            .await;
    }
    let (read, mut write) = tokio::io::split(conn);
    let input = interactive.then(|| {
        tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let _ = tokio::io::copy(&mut stdin, &mut write).await;
            // Half-close: the container sees end of input.
            let _ = write.shutdown().await;
        })
    });
    let output = copy_output(read, tty).await;
    if let Some(task) = input {
        task.abort();
    }
    drop(raw_terminal);
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    #[command(disable_help_flag = true)]
    struct T {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> RunArgs {
        T::try_parse_from(std::iter::once("run").chain(args.iter().copied()))
            .unwrap()
            .run
    }

    #[test]
    fn a_seccomp_profile_file_is_sent_as_its_json() {
        let path = std::env::temp_dir().join(format!("berth-seccomp-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
        let sent = security_opt(&format!("seccomp={}", path.display()));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            sent.unwrap(),
            r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#
        );
        assert_eq!(
            security_opt("seccomp=unconfined").unwrap(),
            "seccomp=unconfined"
        );
        assert_eq!(security_opt("label=disable").unwrap(), "label=disable");
        let err = security_opt("seccomp=/nonexistent/profile.json").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/profile.json"),
            "{err}"
        );
    }

    #[test]
    fn resource_and_security_flags_map_onto_the_host_config() {
        let args = parse(&[
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--cpuset-cpus",
            "0-1",
            "--cpuset-mems",
            "0",
            "--shm-size",
            "128m",
            "--oom-score-adj",
            "-5",
            "--ulimit",
            "nofile=1024:2048",
            "--ulimit",
            "core=0",
            "--cap-add",
            "ALL",
            "--cap-drop",
            "NET_RAW",
            "--security-opt",
            "no-new-privileges",
            "--security-opt",
            "seccomp=unconfined",
            "--cgroupns",
            "host",
            "--log-driver",
            "json-file",
            "--log-opt",
            "max-size=10m",
            "--log-opt",
            "max-file=3",
            "--privileged",
            "--read-only",
            "--tmpfs",
            "/run:size=64m,mode=1777",
            "--tmpfs",
            "/scratch",
            "-v",
            "/srv/data:/data:ro",
            "busybox",
        ]);
        let h = create_request(&args.create, false).unwrap().host_config;
        assert_eq!((h.memory, h.memory_swap), (64 << 20, -1));
        assert_eq!(
            (h.cpuset_cpus.as_str(), h.cpuset_mems.as_str()),
            ("0-1", "0")
        );
        assert_eq!((h.shm_size, h.oom_score_adj), (128 << 20, -5));
        let ulimits: Vec<(&str, i64, i64)> = h
            .ulimits
            .iter()
            .map(|u| (u.name.as_str(), u.soft, u.hard))
            .collect();
        assert_eq!(ulimits, [("nofile", 1024, 2048), ("core", 0, 0)]);
        assert_eq!(
            (h.cap_add, h.cap_drop),
            (vec!["ALL".to_owned()], vec!["NET_RAW".to_owned()])
        );
        assert!(h.privileged && h.readonly_rootfs);
        assert_eq!(h.security_opt, ["no-new-privileges", "seccomp=unconfined"]);
        assert_eq!(h.cgroupns_mode, "host");
        assert_eq!(h.log_config.kind, "json-file");
        assert_eq!(
            h.log_config.config.iter().collect::<Vec<_>>(),
            [
                (&"max-file".to_owned(), &"3".to_owned()),
                (&"max-size".to_owned(), &"10m".to_owned())
            ]
        );
        assert_eq!(h.tmpfs["/run"], "size=64m,mode=1777");
        assert_eq!(h.tmpfs["/scratch"], "");
        assert_eq!(h.binds, ["/srv/data:/data:ro"]);

        for bad in [
            &["--ulimit", "nofile"][..],
            &["--ulimit", "nofile=2048:1024"],
            &["--ulimit", "nofile=a"],
            &["--shm-size", "lots"],
            &["--memory-swap", "x"],
        ] {
            let mut argv = bad.to_vec();
            argv.push("busybox");
            assert!(
                create_request(&parse(&argv).create, false).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn run_flags_map_onto_the_create_request() {
        let args = parse(&[
            "--rm",
            "-i",
            "-m",
            "512m",
            "--cpus",
            "1.5",
            "--pids-limit",
            "20",
            "-u",
            "1000",
            "-h",
            "box",
            "-w",
            "/tmp",
            "-e",
            "A=b",
            "busybox",
            "sh",
            "-c",
            "exit 3",
        ]);
        let req = create_request(&args.create, true).unwrap();
        assert_eq!(
            req.config.cmd.as_deref(),
            Some(&["sh".to_owned(), "-c".into(), "exit 3".into()][..])
        );
        assert_eq!(req.host_config.memory, 512 << 20);
        assert_eq!(req.host_config.nano_cpus, 1_500_000_000);
        assert_eq!(req.host_config.pids_limit, Some(20));
        assert!(req.host_config.auto_remove && req.config.open_stdin && req.config.attach_stdin);
        assert_eq!(
            (
                req.config.user.as_str(),
                req.config.hostname.as_str(),
                req.config.working_dir.as_str()
            ),
            ("1000", "box", "/tmp")
        );
        assert_eq!(req.config.env, ["A=b"]);
    }

    #[test]
    fn invalid_memory_is_reported_like_docker() {
        let args = parse(&["-m", "lots", "busybox"]);
        let err = create_request(&args.create, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'"
        );
    }

    #[tokio::test]
    async fn every_object_is_tried_and_any_failure_sets_the_exit_status() {
        let tried = std::sync::Mutex::new(Vec::new());
        let objects = ["a".to_owned(), "bad".to_owned(), "c".to_owned()];
        let code = for_each(&objects, |object| {
            tried.lock().unwrap().push(object.to_owned());
            async move {
                if object == "bad" {
                    bail!("no such object: {object}");
                }
                Ok(())
            }
        })
        .await;
        assert_eq!(code, 1);
        assert_eq!(*tried.lock().unwrap(), objects);
        assert_eq!(for_each(&objects[..1], |_| async { Ok(()) }).await, 0);
    }

    #[test]
    fn empty_entrypoint_resets() {
        let args = parse(&["--entrypoint", "", "busybox"]);
        assert_eq!(
            create_request(&args.create, false)
                .unwrap()
                .config
                .entrypoint,
            Some(vec![])
        );
    }
}
