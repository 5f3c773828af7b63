//! `berthd`: the berth daemon. It opens the metadata store, the graph and
//! exec drivers, builds the Engine with the daemon's jobs, reconciles with
//! containers still running, and runs the `serveapi` job on the `-H`
//! addresses until SIGTERM or SIGINT. Containers keep running when it stops:
//! their shims are independent processes. At shutdown it removes its cgroup
//! parent (`--cgroup-parent`) where no container is left in it.

// unsafe_code is denied workspace-wide; berthd adopts the listening sockets
// systemd passes it by fd number (fd:// hosts, listen.rs).
#![allow(unsafe_code)]

mod app;
mod authz;
mod drivers;
mod edge;
mod error;
mod exec;
mod facts;
mod hijack;
mod listen;
mod logging;
mod peer;
mod plugins;
mod serve;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use berth_engine::daemon::handlers::register_all;
use berth_engine::daemon::sysinfo::{CgroupFeatures, CgroupnsMode};
use berth_engine::daemon::{Daemon, DaemonConfig};
use berth_engine::{Engine, Exposure, Job};
use berth_fsutil::write_atomic;
use clap::Parser;
use tokio::sync::watch;

/// Command line, with dockerd's flag names where dockerd has them.
#[derive(Debug, Parser)]
#[command(
    name = "berthd",
    version,
    about = "The berth daemon: a container engine speaking the Docker Engine API"
)]
struct Args {
    /// Daemon socket(s) to listen on: unix://PATH, tcp://HOST:PORT, fd://[N].
    #[arg(short = 'H', long = "host", value_name = "ADDR")]
    hosts: Vec<String>,
    /// Root of persistent daemon state.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/berth")]
    data_root: PathBuf,
    /// Root of runtime state (sockets, shim state).
    #[arg(long, value_name = "DIR", default_value = "/run/berth")]
    exec_root: PathBuf,
    /// Path of the daemon's PID file.
    #[arg(
        short = 'p',
        long,
        value_name = "FILE",
        default_value = "/run/berth/berthd.pid"
    )]
    pidfile: PathBuf,
    /// Logging level: debug, info, warn, error, fatal.
    #[arg(short = 'l', long, value_name = "LEVEL", default_value = "info")]
    log_level: String,
    /// Log format: text (one line per record, coloured only on a terminal)
    /// or json (one object per line).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = logging::LogFormat::Text)]
    log_format: logging::LogFormat,
    /// Use TLS on tcp:// listeners; `--tls=false` allows plain TCP.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    tls: Option<bool>,
    /// Use TLS and verify client certificates.
    #[arg(long)]
    tlsverify: bool,
    /// CA that signs trusted client certificates.
    #[arg(long, value_name = "FILE")]
    tlscacert: Option<PathBuf>,
    /// Server certificate.
    #[arg(long, value_name = "FILE")]
    tlscert: Option<PathBuf>,
    /// Server key.
    #[arg(long, value_name = "FILE")]
    tlskey: Option<PathBuf>,
    /// Most connections each API listener keeps open, hijacked streams
    /// included. When full, the connection that has waited longest (for a
    /// TLS handshake, request headers, or idle between requests) is closed
    /// to make room; while all are busy, new ones are closed at once.
    #[arg(long, value_name = "N", default_value_t = listen::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    api_max_connections: u32,
    /// Seconds a tcp:// client has to complete its TLS handshake.
    #[arg(long, value_name = "SECONDS", default_value_t = listen::DEFAULT_HANDSHAKE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    api_tls_handshake_timeout: u64,
    /// Seconds a client has to send a request's headers, counted from its
    /// connection (after the TLS handshake) or from its first byte after an
    /// idle keep-alive spell. A request in flight (a streaming response,
    /// an upload) and a hijacked stream are never cut.
    #[arg(long, value_name = "SECONDS", default_value_t = listen::DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    api_header_timeout: u64,
    /// Seconds a keep-alive connection may stay idle between requests.
    #[arg(long, value_name = "SECONDS", default_value_t = listen::DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    api_idle_timeout: u64,
    /// Storage driver: overlay2, vfs (default: probe overlay, fall back to vfs).
    #[arg(short = 's', long, value_name = "DRIVER")]
    storage_driver: Option<String>,
    /// The per-container monitor binary (default: berth-shim next to berthd).
    #[arg(long, value_name = "FILE")]
    shim: Option<PathBuf>,
    /// The init binary `--init` containers run as PID 1, bind-mounted at
    /// /sbin/docker-init (default: berthd writes its own static berth-init
    /// to EXEC_ROOT/berth-init at start). A missing file refuses `--init`.
    #[arg(long, value_name = "FILE")]
    init_path: Option<PathBuf>,
    /// Watched directory of WebAssembly plugins (NAME.wasm + NAME.toml).
    #[arg(long, value_name = "DIR", default_value = berth_plugin_host::DEFAULT_PLUGIN_DIR)]
    plugin_dir: PathBuf,
    /// The admin's capability grants for plugins.
    #[arg(long, value_name = "FILE", default_value = berth_plugin_host::DEFAULT_GRANTS_FILE)]
    plugin_grants: PathBuf,
    /// Authz plugin that decides on every API request (repeatable: all must
    /// allow). Default: the plugin directory's authz plugins, else the
    /// built-in authz-default, which allows everything.
    #[arg(long = "authorization-plugin", value_name = "NAME")]
    authorization_plugins: Vec<String>,
    /// Parent cgroup of every container (absolute, or relative to berthd's
    /// own cgroup); removed at shutdown when no container is left in it.
    #[arg(long, value_name = "CGROUP", default_value = berth_exec::host_cgroups::DEFAULT_CGROUP_PARENT)]
    cgroup_parent: String,
    /// Cgroup namespace of containers that do not choose: private or host
    /// (default: private on cgroup v2 hosts, host on v1, as dockerd).
    #[arg(long, value_name = "MODE", value_parser = parse_cgroupns_mode)]
    default_cgroupns_mode: Option<CgroupnsMode>,
    /// berthd's nftables table (inet family) for NAT and published ports;
    /// daemons sharing a host each need their own.
    #[arg(long, value_name = "NAME", default_value = drivers::network::DEFAULT_TABLE)]
    nft_table: String,
    /// The default network's bridge interface (dockerd's `--bridge`).
    #[arg(long = "bridge", value_name = "NAME", default_value = berth_engine::daemon::networks::DEFAULT_BRIDGE)]
    bridge: String,
    /// The default bridge's address with the subnet's prefix, e.g.
    /// `172.17.0.1/16` (dockerd's `--bip`); without it a free subnet is
    /// chosen once and kept.
    #[arg(long = "bip", value_name = "CIDR", value_parser = parse_bip)]
    bip: Option<berth_model::network::IpNet>,
    /// Turn on `net.ipv4.ip_forward` for bridge networks, and IPv6
    /// forwarding (`all` and `default`) for dual-stack ones, as dockerd's
    /// `--ip-forward` (on by default).
    #[arg(long = "ip-forward", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    ip_forward: bool,
    /// The host's resolver configuration: the embedded DNS server of
    /// user-defined networks forwards to its name servers, containers'
    /// `resolv.conf` is made from it (tests give a file of their own).
    #[arg(long = "dns-resolv-conf", value_name = "FILE", default_value = drivers::names::DEFAULT_RESOLV_CONF)]
    dns_resolv_conf: PathBuf,
    /// A registry (`host[:port]`) to speak to over plain HTTP (repeatable);
    /// 127.0.0.0/8, ::1 and localhost always are, as with dockerd.
    #[arg(long = "insecure-registry", value_name = "REGISTRY")]
    insecure_registries: Vec<String>,
    /// The admin's registry credentials: a docker CLI `config.json`
    /// (`auths`), offered to the registry policy beside the client's own.
    #[arg(long = "registry-auth-config", value_name = "FILE")]
    registry_auth_config: Option<PathBuf>,
    /// Per-registry TLS material, as dockerd's /etc/docker/certs.d:
    /// DIR/HOST[:PORT]/*.crt are CA roots for that registry (a directory
    /// for a loopback registry makes it TLS).
    #[arg(
        long = "certs-dir",
        value_name = "DIR",
        default_value = "/etc/berth/certs.d"
    )]
    certs_dir: PathBuf,
    /// A Docker Hub mirror (`http://` or `https://` URL), tried before
    /// Docker Hub (repeatable, in order).
    #[arg(long = "registry-mirror", value_name = "URL")]
    registry_mirrors: Vec<String>,
    /// Internal: compile the plugins into the cache and exit (berthd runs
    /// itself this way at start, see `plugins::precompile_in_child`).
    #[arg(long, hide = true)]
    precompile_plugins: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    logging::init(&args.log_level, args.log_format)?;
    if args.precompile_plugins {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("failed to start the async runtime")?;
        return runtime.block_on(plugins::precompile(&plugin_options(&args)));
    }
    // A small fixed pool: the daemon mostly waits on sockets and shims, and
    // every worker costs stack and allocator arenas (idle RSS target).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(32)
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let result = runtime.block_on(run(args));
    // Dropping the runtime would wait for every blocking task, and one that
    // hangs on an image's file (bounded per kind, but never cancelled) would
    // keep berthd from exiting: give the rest a moment, then leave.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    result
}

fn plugin_options(args: &Args) -> plugins::PluginOptions {
    plugins::PluginOptions {
        plugin_dir: args.plugin_dir.clone(),
        grants_file: args.plugin_grants.clone(),
        data_root: args.data_root.clone(),
        authorization_plugins: args.authorization_plugins.clone(),
        log_format: args.log_format,
        default_ipv6_pool: default_ipv6_pool(args),
    }
}

/// The daemon's default IPv6 pool, from its engine id (moby
/// `deriveULABaseNetwork` from `daemon.id`).
fn default_ipv6_pool(args: &Args) -> berth_engine::daemon::ipam::Ipv6Net {
    berth_engine::daemon::ipam::default_ipv6_pool(&facts::engine_id(&args.data_root))
}

/// The daemon's life: check every option, create the data and exec roots,
/// open the store, probe the host, start the plugins and drivers, build
/// the Engine and restore its containers, then serve until a signal.
async fn run(args: Args) -> anyhow::Result<()> {
    // One TLS stack: the registry client's rustls uses ring, as the
    // listeners do. Fails only if a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    berth_exec::host_cgroups::validate_cgroup_parent(&args.cgroup_parent)
        .with_context(|| format!("invalid --cgroup-parent {:?}", args.cgroup_parent))?;
    // Every -H address (and the TLS material) is checked before anything is
    // created: a daemon that cannot serve what it was asked to leaves no
    // data root behind.
    let (addresses, limits) = api_listeners(&args)?;
    // The admin's registry credentials too: a file named but unreadable
    // would otherwise mean pulls made anonymously.
    let admin_credentials = match &args.registry_auth_config {
        Some(path) => drivers::registry_auth::AdminCredentials::load(path)?,
        None => drivers::registry_auth::AdminCredentials::default(),
    };
    let mirrors = args
        .registry_mirrors
        .iter()
        .map(|url| berth_registry::Mirror::parse(url))
        .collect::<Result<Vec<_>, _>>()?;
    for dir in [&args.data_root, &args.exec_root] {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let _pidfile = PidFile::create(&args.pidfile)?;

    let store = berth_store::Store::open_in(&args.data_root)
        .context("failed to open the metadata store")?;
    // What the kernel offers containers, probed once: a `HostConfig` the
    // host cannot honour becomes a warning or an error at create.
    let cgroups = berth_exec::host_cgroups::detect();
    if cgroups.is_none() {
        tracing::warn!("no cgroup filesystem found: resource limits cannot be applied");
    }
    // berthd's own capabilities and limits, which shims and containers
    // inherit.
    let status = facts::own_status();
    let mut sysinfo = facts::sysinfo(cgroups.as_ref(), &status);
    if let Some(mode) = args.default_cgroupns_mode {
        sysinfo.default_cgroupns_mode = mode;
    }
    let config = DaemonConfig {
        data_root: args.data_root.clone(),
        exec_root: args.exec_root.clone(),
        sysinfo: sysinfo.clone(),
        start_timeout: berth_engine::daemon::DEFAULT_START_TIMEOUT,
        default_bridge: berth_engine::daemon::DefaultBridge {
            name: args.bridge.clone(),
            bip: args.bip,
        },
        default_ipv6_pool: default_ipv6_pool(&args),
    };
    let plugins = plugins::start(&plugin_options(&args)).await?;
    let drivers::Drivers {
        images,
        runtime,
        exec,
    } = drivers::open(
        &config,
        &store,
        args.storage_driver.as_deref(),
        &exec_options(&args, cgroups.as_ref(), &status)?,
        &plugins.host,
    )?;

    let engine = Engine::new();
    // The kernel side of networking (host/network): namespaces under
    // EXEC_ROOT/netns, rules in the daemon's own nftables table.
    let network = Arc::new(drivers::network::NetworkAdapter::new(
        &args.exec_root,
        &args.nft_table,
        args.ip_forward,
    )?);
    let daemon = Daemon::with_network(
        config,
        store,
        images,
        runtime,
        network,
        Arc::clone(engine.events()),
    );
    // The embedded DNS server of user-defined networks (host/network `dns`).
    daemon.set_name_service(Arc::new(drivers::names::NameAdapter::new(
        args.dns_resolv_conf.clone(),
    )?));
    // Container addresses and host ports, through the network policy.
    daemon.set_network_policy(Arc::new(
        drivers::network_policy::NetworkPolicyAdapter::new(plugins.host.clone()),
    ));
    daemon.set_registry(Arc::new(
        drivers::registry::RegistryAdapter::new(berth_registry::Registry::new(
            berth_registry::RegistryConfig {
                insecure_registries: args.insecure_registries.clone(),
                certs_dir: Some(args.certs_dir.clone()),
                mirrors,
            },
        ))
        .with_chooser(drivers::registry_auth::CredentialChooser::new(
            Some(plugins.host.clone()),
            admin_credentials,
        )),
    ));
    let restored = daemon
        .restore()
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    tracing::info!(containers = restored, "daemon state loaded");
    register_all(
        &engine,
        &daemon,
        facts::collect(
            &args.data_root,
            &sysinfo,
            cgroups.as_ref().map(|c| c.version),
        ),
    );
    plugins::register(&engine, &plugins.host);
    serve_until_signal(&engine, addresses, limits, &plugins.host).await?;
    // The network teardowns of containers that exited last end before
    // berthd does, rather than be cut short (their leases would wait for
    // the next start's reconcile).
    daemon.finish_teardowns().await;
    release_cgroup_parent(&exec);
    Ok(())
}

/// The `-H` addresses (default: the unix socket) with their TLS material,
/// parsed and checked, and the limits on their connections; raises the
/// open-files limit for them.
fn api_listeners(args: &Args) -> anyhow::Result<(Vec<listen::Address>, listen::ConnectionLimits)> {
    let hosts = if args.hosts.is_empty() {
        vec![format!("unix://{}", listen::DEFAULT_UNIX_SOCKET)]
    } else {
        args.hosts.clone()
    };
    let tls = listen::TlsOptions {
        insecure: args.tls == Some(false) && !args.tlsverify,
        verify: args.tlsverify,
        ca: args.tlscacert.clone(),
        cert: args.tlscert.clone(),
        key: args.tlskey.clone(),
    };
    let addresses = listen::Address::parse_all(&hosts, &tls)?;
    match listen::raise_open_files_limit() {
        Ok((before, after)) if before != after => {
            tracing::debug!(before, after, "raised the soft limit on open files");
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot raise the soft limit on open files"),
    }
    let limits = listen::ConnectionLimits {
        max_connections: args.api_max_connections as usize,
        handshake_timeout: Duration::from_secs(args.api_tls_handshake_timeout),
        header_timeout: Duration::from_secs(args.api_header_timeout),
        idle_timeout: Duration::from_secs(args.api_idle_timeout),
    };
    Ok((addresses, limits))
}

/// What the exec driver is given: the shim binary (default: next to
/// berthd) and the spec options that come from the host (cgroup parent,
/// swap accounting, the capabilities berthd itself has).
fn exec_options(
    args: &Args,
    cgroups: Option<&CgroupFeatures>,
    status: &str,
) -> anyhow::Result<drivers::ExecOptions> {
    let shim = match &args.shim {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("cannot locate berthd's own binary")?
            .with_file_name("berth-shim"),
    };
    let init_path = match &args.init_path {
        Some(path) => path.clone(),
        None => {
            // Written at every start: the exec root is runtime state, and
            // the file always matches this berthd.
            let path = args.exec_root.join("berth-init");
            berth_init::install(&path)
                .with_context(|| format!("failed to write {}", path.display()))?;
            path
        }
    };
    let spec = berth_exec::spec::SpecOptions {
        init_path: Some(init_path),
        cgroup_parent: args.cgroup_parent.clone(),
        swap_limit: cgroups.is_some_and(|c| c.swap_limit),
        available_caps: facts::bounding_capabilities(status),
        ..berth_exec::spec::SpecOptions::default()
    };
    Ok(drivers::ExecOptions {
        shim,
        spec,
        resolv_conf: args.dns_resolv_conf.clone(),
    })
}

/// Registers and runs the `serveapi` job until SIGTERM or SIGINT.
async fn serve_until_signal(
    engine: &Arc<Engine>,
    addresses: Vec<listen::Address>,
    limits: listen::ConnectionLimits,
    plugins: &berth_plugin_host::PluginHost,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    engine.register(
        "serveapi",
        Exposure::Internal,
        Arc::new(serve::ServeApi::new(
            engine,
            addresses,
            limits,
            authz::Authz::new(Arc::new(plugins.clone())),
            stop_rx,
        )),
    );

    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down; containers keep running");
        let _ = stop_tx.send(true);
    });

    let (job, streams) = Job::new("serveapi");
    edge_log(streams);
    engine
        .run(job)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))
        .context("serveapi failed")?;
    Ok(())
}

/// Removes `--cgroup-parent` where no container is left in it, so that a
/// stopped daemon leaves no empty cgroups behind (with running containers
/// it stays: they keep running without berthd).
fn release_cgroup_parent(exec: &berth_exec::ExecDriver) {
    let parent = &exec.config().spec.cgroup_parent;
    match exec.release_cgroup_parent() {
        Ok(kept) => {
            for (dir, error) in kept {
                tracing::debug!(cgroup = %dir.display(), %error, "cgroup parent kept");
            }
        }
        Err(error) => tracing::warn!(%parent, %error, "cannot remove the cgroup parent"),
    }
}

fn edge_log(streams: berth_engine::JobStreams) {
    let berth_engine::JobStreams { stdout, stderr } = streams;
    edge::drain_stderr("serveapi".to_owned(), stderr);
    tokio::spawn(async move {
        let _ = stdout.collect().await;
    });
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop berthd with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// `--bip`: an address with its prefix whose host part is not zero (the
/// bridge's own address), as dockerd requires.
fn parse_bip(value: &str) -> Result<berth_model::network::IpNet, String> {
    let bip = berth_model::network::parse_cidr(value).map_err(|e| e.to_string())?;
    if !bip.addr().is_ipv4() {
        return Err(format!(
            "--bip {value:?} must be an IPv4 address with a prefix"
        ));
    }
    if bip.addr() == bip.network() || bip.addr() == bip.broadcast() {
        return Err(format!(
            "--bip {value:?} names the subnet, not an address in it (e.g. 172.17.0.1/16)"
        ));
    }
    Ok(bip)
}

fn parse_cgroupns_mode(value: &str) -> Result<CgroupnsMode, String> {
    CgroupnsMode::parse(value)
        .ok_or_else(|| format!("invalid cgroup namespace mode {value:?}: must be private or host"))
}

/// The `--pidfile`: refuses to start when it names a live process, removed
/// on exit.
struct PidFile(PathBuf);

impl PidFile {
    fn create(path: &Path) -> anyhow::Result<PidFile> {
        if let Ok(old) = std::fs::read_to_string(path)
            && let Ok(pid) = old.trim().parse::<i32>()
            && pid != std::process::id() as i32
            && process_alive(pid)
        {
            bail!(
                "pid file found, ensure berthd is not running or delete {}",
                path.display()
            );
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {}", parent.display()))?;
        }
        let pid = format!("{}\n", std::process::id());
        write_atomic(path, pid.as_bytes(), 0o644)?;
        Ok(PidFile(path.to_owned()))
    }
}

/// Whether `pid` names a process that still runs. A zombie (a killed berthd
/// its parent has not reaped yet) no longer does: its pid file is stale.
fn process_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may
    // itself contain spaces and parentheses.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zombie_does_not_hold_the_pid_file() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        assert!(process_alive(pid), "a running child is alive");

        child.kill().expect("kill sleep");
        // Not reaped yet: the child is a zombie until wait. Its state turns
        // to Z once the kernel has delivered the SIGKILL.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while process_alive(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "killed child {pid} never became a zombie"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "the zombie is still in /proc"
        );

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("berthd.pid");
        std::fs::write(&path, format!("{pid}\n")).expect("write stale pid file");
        let pidfile = PidFile::create(&path).expect("a zombie's pid file is stale");
        let written = std::fs::read_to_string(&path).expect("read pid file");
        assert_eq!(written.trim(), std::process::id().to_string());
        drop(pidfile);
        assert!(!path.exists(), "the pid file goes on exit");

        child.wait().expect("reap sleep");
        assert!(!process_alive(pid), "a reaped child is gone");
    }

    #[test]
    fn a_live_process_holds_the_pid_file() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("spawn sleep");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("berthd.pid");
        std::fs::write(&path, format!("{}\n", child.id())).expect("write pid file");
        let err = PidFile::create(&path).err().map(|e| e.to_string());
        child.kill().expect("kill sleep");
        child.wait().expect("reap sleep");
        let err = err.expect("a live process holds the pid file");
        assert!(err.contains("ensure berthd is not running"), "{err}");
    }
}
