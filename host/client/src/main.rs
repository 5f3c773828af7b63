//! `berth`: the command-line client of berthd. Docker-like verbs and flags
//! over the Docker Engine API; errors print as docker prints them and exit
//! non-zero (125 for `run` failures before the container starts).

// unsafe_code is denied workspace-wide; the client borrows a raw fd to split
// a connection (http.rs) and asks the terminal its size with TIOCGWINSZ (cmd.rs).
#![allow(unsafe_code)]

mod cmd;
mod format;
mod http;
mod plugin;
mod plugin_new;
mod stream;

use clap::{Args, Parser, Subcommand};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "A container engine on the classic Docker architecture"
)]
struct Cli {
    /// Daemon socket to connect to: unix://PATH, tcp://HOST:PORT, fd://N.
    #[arg(
        short = 'H',
        long = "host",
        env = "BERTH_HOST",
        global = true,
        value_name = "ADDR"
    )]
    host: Option<String>,
    /// Use TLS and verify the daemon (tcp:// hosts).
    #[arg(long, global = true)]
    tlsverify: bool,
    /// Trust certs signed only by this CA.
    #[arg(long, global = true, value_name = "FILE")]
    tlscacert: Option<std::path::PathBuf>,
    /// TLS certificate file.
    #[arg(long, global = true, value_name = "FILE")]
    tlscert: Option<std::path::PathBuf>,
    /// TLS key file.
    #[arg(long, global = true, value_name = "FILE")]
    tlskey: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the client and daemon versions.
    Version,
    /// Display system-wide information.
    Info,
    /// Import a root filesystem tarball as an image.
    Import {
        /// Tarball path, or - for stdin.
        file: String,
        /// REPOSITORY[:TAG] for the new image.
        reference: Option<String>,
        /// Apply a Dockerfile instruction (CMD, ENV, WORKDIR, ...).
        #[arg(short = 'c', long = "change")]
        change: Vec<String>,
        /// Commit message.
        #[arg(short = 'm', long)]
        message: Option<String>,
    },
    /// Log in to a registry (credentials checked by the daemon, stored in
    /// the docker CLI's config file).
    Login {
        /// The registry (default: Docker Hub).
        server: Option<String>,
        /// User name.
        #[arg(short, long)]
        username: Option<String>,
        /// Password.
        #[arg(short, long)]
        password: Option<String>,
        /// Read the password from stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Log out from a registry.
    Logout {
        /// The registry (default: Docker Hub).
        server: Option<String>,
    },
    /// Pull an image from a registry.
    Pull {
        /// NAME[:TAG|@DIGEST].
        reference: String,
        /// os[/arch[/variant]] to pull from a multi-platform image.
        #[arg(long)]
        platform: Option<String>,
        /// Print only the reference, no progress.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Push an image to a registry.
    Push {
        /// NAME[:TAG].
        reference: String,
        /// Push every tag of the repository.
        #[arg(short, long)]
        all_tags: bool,
        /// Print only the reference, no progress.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Search a registry for repositories.
    Search {
        /// [REGISTRY/]TERM.
        term: String,
        /// At most this many results (1-100, default 25).
        #[arg(long)]
        limit: Option<u32>,
        /// Filter (is-official=true, is-automated=true, stars=N).
        #[arg(short, long)]
        filter: Vec<String>,
        /// Do not truncate descriptions.
        #[arg(long)]
        no_trunc: bool,
        /// List the tags of the repository TERM names (as podman).
        #[arg(long)]
        list_tags: bool,
    },
    /// List images.
    Images {
        /// Only show image ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Load images from a tar archive (docker-archive or OCI layout).
    Load(cmd::LoadArgs),
    /// Show the history of an image.
    History(cmd::HistoryArgs),
    /// Save images to a tar archive (docker-archive and OCI layout).
    Save(cmd::SaveArgs),
    /// Export a container's filesystem as a tar archive.
    Export(cmd::ExportArgs),
    /// Create a new image from a container's changes.
    Commit(cmd::CommitArgs),
    /// Tag an image: SOURCE TARGET[:TAG].
    Tag { source: String, target: String },
    /// Remove images.
    Rmi {
        /// Images to remove.
        #[arg(required = true)]
        images: Vec<String>,
        /// Force removal.
        #[arg(short, long)]
        force: bool,
    },
    /// Create and run a container.
    #[command(disable_help_flag = true)]
    Run(cmd::RunArgs),
    /// Create a container.
    #[command(disable_help_flag = true)]
    Create(cmd::CreateArgs),
    /// Execute a command in a running container.
    Exec(cmd::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach {
        /// Do not attach STDIN.
        #[arg(long = "no-stdin")]
        no_stdin: bool,
        /// Override the key sequence for detaching a container.
        #[arg(long = "detach-keys")]
        detach_keys: Option<String>,
        container: String,
    },
    /// Start stopped containers.
    Start {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Stop running containers.
    Stop(cmd::StopArgs),
    /// Restart one or more containers.
    Restart(cmd::StopArgs),
    /// Rename a container: CONTAINER NEW_NAME.
    Rename { container: String, new_name: String },
    /// Update the limits and restart policy of one or more containers.
    Update(cmd::UpdateArgs),
    /// Display the running processes of a container: CONTAINER [ps OPTIONS].
    Top {
        container: String,
        /// Options for the host's ps (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_options: Vec<String>,
    },
    /// Display a live stream of container(s) resource usage statistics.
    Stats {
        /// Show all containers (default shows just running).
        #[arg(short = 'a', long)]
        all: bool,
        /// Disable streaming stats and only pull the first result.
        #[arg(long = "no-stream")]
        no_stream: bool,
        containers: Vec<String>,
    },
    /// Kill running containers.
    Kill {
        /// Signal to send.
        #[arg(short = 's', long, default_value = "KILL")]
        signal: String,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Pause all processes within containers.
    Pause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Unpause all processes within containers.
    Unpause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove containers.
    Rm {
        /// Kill and remove running containers.
        #[arg(short, long)]
        force: bool,
        /// Remove anonymous volumes associated with the container.
        #[arg(short, long)]
        volumes: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List containers.
    Ps {
        /// Show all containers (default shows just running).
        #[arg(short, long)]
        all: bool,
        /// Only show container ids.
        #[arg(short, long)]
        quiet: bool,
        /// Filter output (name=, status=, id=, label=).
        #[arg(short, long)]
        filter: Vec<String>,
    },
    /// Fetch the logs of a container.
    Logs {
        /// Follow log output.
        #[arg(short, long)]
        follow: bool,
        /// Show timestamps.
        #[arg(short, long)]
        timestamps: bool,
        /// Number of lines to show from the end ("all").
        #[arg(short = 'n', long, default_value = "all")]
        tail: String,
        container: String,
    },
    /// Return low-level information on containers or images.
    Inspect {
        #[arg(required = true)]
        objects: Vec<String>,
    },
    /// Block until containers stop, then print their exit codes.
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Inspect changes to files or directories on a container's filesystem.
    Diff { container: String },
    /// Copy files between a container and the local filesystem:
    /// CONTAINER:SRC_PATH DEST_PATH|- or SRC_PATH|- CONTAINER:DEST_PATH.
    Cp {
        /// Archive mode (copy all uid/gid information).
        #[arg(short = 'a', long)]
        archive: bool,
        /// Always follow symbol link in SRC_PATH.
        #[arg(short = 'L', long)]
        follow_link: bool,
        source: String,
        destination: String,
    },
    /// Manage containers (`container prune`).
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images (`image prune`).
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage berth (`system df`).
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// The engine's jobs.
    #[command(subcommand)]
    Job(JobCommand),
    /// WebAssembly plugins: list, inspect, enable, disable, reload.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

#[derive(Debug, Subcommand)]
enum ContainerCommand {
    /// Remove all stopped containers.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Provide filter values (`until=<timestamp>`, `label=<key>[=<value>]`).
        #[arg(long)]
        filter: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// Remove unused images.
    Prune {
        /// Remove all unused images, not just dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Provide filter values (`until=<timestamp>`, `label=<key>[=<value>]`).
        #[arg(long)]
        filter: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum NetworkCommand {
    /// Create a network.
    Create {
        /// Driver to manage the network (`bridge`).
        #[arg(short, long, default_value = "bridge")]
        driver: String,
        /// Subnet in CIDR format (one per address family).
        #[arg(long)]
        subnet: Vec<String>,
        /// Gateway for the subnet, in the order of the subnets.
        #[arg(long)]
        gateway: Vec<String>,
        /// Restrict external access to the network.
        #[arg(long)]
        internal: bool,
        /// Enable IPv6 networking.
        #[arg(long)]
        ipv6: bool,
        /// Set metadata on a network.
        #[arg(long)]
        label: Vec<String>,
        /// Set driver specific options.
        #[arg(short, long = "opt")]
        opt: Vec<String>,
        /// The network's name.
        name: String,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls {
        /// Only display network IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Do not truncate the output.
        #[arg(long)]
        no_trunc: bool,
        /// Provide filter values (`driver=`, `id=`, `label=`, `name=`, `scope=`, `type=`, `dangling=`).
        #[arg(short, long)]
        filter: Vec<String>,
    },
    /// Display detailed information on one or more networks.
    Inspect {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Connect a container to a network.
    Connect {
        /// IPv4 address (e.g., `172.30.100.104`).
        #[arg(long)]
        ip: Option<String>,
        /// IPv6 address (e.g., `2001:db8::33`).
        #[arg(long)]
        ip6: Option<String>,
        /// Add network-scoped alias for the container.
        #[arg(long)]
        alias: Vec<String>,
        /// The network.
        network: String,
        /// The container.
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect {
        /// Force the container to disconnect from a network.
        #[arg(short, long)]
        force: bool,
        /// The network.
        network: String,
        /// The container.
        container: String,
    },
}

#[derive(Debug, Subcommand)]
enum VolumeCommand {
    /// Create a volume.
    Create {
        /// Specify volume driver name.
        #[arg(short, long, default_value = "local")]
        driver: String,
        /// Set metadata for a volume.
        #[arg(long)]
        label: Vec<String>,
        /// Set driver specific options.
        #[arg(short, long = "opt")]
        opt: Vec<String>,
        /// The name (generated when absent).
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        /// Only display volume names.
        #[arg(short, long)]
        quiet: bool,
        /// Provide filter values (`dangling=true`, `driver=`, `label=`, `name=`).
        #[arg(short, long)]
        filter: Vec<String>,
    },
    /// Display detailed information on one or more volumes.
    Inspect {
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm {
        /// Do not fail for a volume that does not exist.
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove unused local volumes.
    Prune {
        /// Remove all unused volumes, not just anonymous ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Provide filter values (`label=<key>[=<value>]`).
        #[arg(long)]
        filter: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SystemCommand {
    /// Show berth disk usage.
    Df {
        /// Show detailed information on space usage.
        #[arg(short, long)]
        verbose: bool,
    },
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// List the engine's handler table.
    Ls,
    /// Run a job, streaming stdin (when not a terminal), stdout and stderr.
    Run(JobRunArgs),
}

#[derive(Debug, Args)]
struct JobRunArgs {
    /// KEY=VALUE for the job's env.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Job name.
    name: String,
    /// Job arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(dispatch(cli));
    // Exit without waiting for a blocked stdin reader thread.
    std::process::exit(code);
}

async fn dispatch(cli: Cli) -> i32 {
    let client = match connect(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e:#}");
            return 1;
        }
    };
    match execute(&client, cli.command).await {
        Ok(code) => code,
        Err(e) => {
            cmd::print_error(&e);
            1
        }
    }
}

/// The daemon client `-H` and the TLS flags ask for.
fn connect(cli: &Cli) -> anyhow::Result<http::Client> {
    let host = cli
        .host
        .clone()
        .unwrap_or_else(|| http::DEFAULT_HOST.to_owned());
    let tls = http::TlsOptions {
        ca: cli.tlscacert.clone(),
        cert: cli.tlscert.clone(),
        key: cli.tlskey.clone(),
    };
    let client = http::Client::new(&host)?;
    if cli.tlsverify || cli.tlscacert.is_some() {
        client.with_tls(&tls)
    } else {
        Ok(client)
    }
}

/// Runs one command; its exit code.
async fn execute(client: &http::Client, command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Version => cmd::version(client).await,
        Command::Info => cmd::info(client).await,
        Command::Import {
            file,
            reference,
            change,
            message,
        } => {
            cmd::import(
                client,
                &file,
                reference.as_deref(),
                &change,
                message.as_deref(),
            )
            .await
        }
        Command::Login {
            server,
            username,
            password,
            password_stdin,
        } => {
            cmd::login(
                client,
                server.as_deref(),
                username.as_deref(),
                password.as_deref(),
                password_stdin,
            )
            .await
        }
        Command::Logout { server } => cmd::logout(server.as_deref()),
        Command::Pull {
            reference,
            platform,
            quiet,
        } => cmd::pull(client, &reference, platform.as_deref(), quiet).await,
        Command::Push {
            reference,
            all_tags,
            quiet,
        } => cmd::push(client, &reference, all_tags, quiet).await,
        Command::Search {
            term,
            limit,
            filter,
            no_trunc,
            list_tags,
        } => cmd::search(client, &term, limit, &filter, no_trunc, list_tags).await,
        Command::Images { quiet } => cmd::images(client, quiet).await,
        Command::Tag { source, target } => cmd::tag(client, &source, &target).await,
        Command::Load(args) => cmd::load(client, &args).await,
        Command::History(args) => cmd::history(client, &args).await,
        Command::Save(args) => cmd::save(client, &args).await,
        Command::Export(args) => cmd::export(client, &args).await,
        Command::Commit(args) => cmd::commit(client, &args).await,
        Command::Rmi { images, force } => cmd::rmi(client, &images, force).await,
        // These print their own errors and exit with the container's or
        // the job's status.
        Command::Run(args) => Ok(cmd::run(client, args).await),
        Command::Job(JobCommand::Run(args)) => {
            Ok(cmd::job_run(client, &args.name, &args.args, &args.env).await)
        }
        Command::Create(args) => cmd::create(client, &args).await.map(|id| {
            println!("{id}");
            0
        }),
        Command::Attach {
            no_stdin,
            detach_keys,
            container,
        } => cmd::attach(client, &container, !no_stdin, detach_keys.as_deref()).await,
        Command::Exec(args) => cmd::exec(client, &args).await,
        Command::Start { containers } => cmd::each(client, &containers, cmd::start).await,
        Command::Stop(args) => cmd::stop_all(client, "stop", args).await,
        Command::Restart(args) => cmd::stop_all(client, "restart", args).await,
        Command::Rename {
            container,
            new_name,
        } => cmd::rename(client, &container, &new_name).await.map(|()| 0),
        Command::Update(args) => cmd::update(client, &args).await,
        Command::Top {
            container,
            ps_options,
        } => cmd::top(client, &container, &ps_options).await,
        Command::Stats {
            all,
            no_stream,
            containers,
        } => cmd::stats(client, no_stream, all, &containers).await,
        Command::Kill { signal, containers } => {
            cmd::each(client, &containers, |c, id| {
                cmd::kill(c, id, signal.clone())
            })
            .await
        }
        Command::Pause { containers } => {
            cmd::each(client, &containers, |c, id| cmd::freeze(c, id, true)).await
        }
        Command::Unpause { containers } => {
            cmd::each(client, &containers, |c, id| cmd::freeze(c, id, false)).await
        }
        Command::Rm {
            force,
            volumes,
            containers,
        } => cmd::each(client, &containers, |c, id| cmd::rm(c, id, force, volumes)).await,
        Command::Ps { all, quiet, filter } => cmd::ps(client, all, quiet, &filter).await,
        Command::Logs {
            follow,
            timestamps,
            tail,
            container,
        } => cmd::logs(client, &container, follow, timestamps, &tail).await,
        Command::Inspect { objects } => cmd::inspect(client, &objects).await,
        Command::Wait { containers } => cmd::wait_all(client, &containers).await,
        Command::Container(ContainerCommand::Prune { force, filter }) => {
            cmd::container_prune(client, force, &filter).await
        }
        Command::Image(ImageCommand::Prune { all, force, filter }) => {
            cmd::image_prune(client, all, force, &filter).await
        }
        Command::System(SystemCommand::Df { verbose }) => cmd::system_df(client, verbose).await,
        Command::Volume(VolumeCommand::Create {
            driver,
            label,
            opt,
            name,
        }) => cmd::volume_create(client, name.as_deref(), &driver, &label, &opt).await,
        Command::Volume(VolumeCommand::Ls { quiet, filter }) => {
            cmd::volume_ls(client, quiet, &filter).await
        }
        Command::Volume(VolumeCommand::Inspect { volumes }) => {
            cmd::volume_inspect(client, &volumes).await
        }
        Command::Volume(VolumeCommand::Rm { force, volumes }) => {
            cmd::volume_rm(client, &volumes, force).await
        }
        Command::Volume(VolumeCommand::Prune { all, force, filter }) => {
            cmd::volume_prune(client, all, force, &filter).await
        }
        Command::Network(NetworkCommand::Create {
            driver,
            subnet,
            gateway,
            internal,
            ipv6,
            label,
            opt,
            name,
        }) => {
            let flags = cmd::NetworkCreateFlags {
                driver,
                subnet,
                gateway,
                internal,
                ipv6,
                label,
                opt,
            };
            cmd::network_create(client, &name, &flags).await
        }
        Command::Network(NetworkCommand::Ls {
            quiet,
            no_trunc,
            filter,
        }) => cmd::network_ls(client, quiet, no_trunc, &filter).await,
        Command::Network(NetworkCommand::Inspect { networks }) => {
            cmd::network_inspect(client, &networks).await
        }
        Command::Network(NetworkCommand::Rm { networks }) => {
            cmd::network_rm(client, &networks).await
        }
        Command::Network(NetworkCommand::Connect {
            ip,
            ip6,
            alias,
            network,
            container,
        }) => {
            let flags = cmd::NetworkConnectFlags { ip, ip6, alias };
            cmd::network_connect(client, &network, &container, &flags).await
        }
        Command::Network(NetworkCommand::Disconnect {
            force,
            network,
            container,
        }) => cmd::network_disconnect(client, &network, &container, force).await,
        Command::Diff { container } => cmd::diff(client, &container).await,
        Command::Cp {
            archive,
            follow_link,
            source,
            destination,
        } => cmd::cp(client, &source, &destination, archive, follow_link).await,
        Command::Job(JobCommand::Ls) => cmd::job_ls(client).await,
        Command::Plugin(command) => plugin::run(client, &command).await,
    }
}
