//! Command line, shaped like runc's (global flags before the command).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use berth_libcontainer::Container;
use clap::{Args, Parser, Subcommand, ValueEnum};
use oci_spec::runtime::{Capabilities, Capability, LinuxResources, Process};

/// berth's OCI runtime (runc-compatible command line).
#[derive(Debug, Parser)]
#[command(name = "berth-runc", version, about)]
pub struct Cli {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = "/run/berth-runc")]
    pub root: PathBuf,
    /// Also write errors to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of `--log`: text or json.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Accepted for compatibility; berth-runc logs errors only.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd cgroups (not supported: rejected with an error).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for compatibility (checkpoint/restore is not supported).
    #[arg(long, global = true, hide = true)]
    pub criu: Option<String>,
    /// Accepted for compatibility (`false` or `auto`; berth-runc runs as root).
    #[arg(long, global = true, hide = true)]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// logrus-like `time=... level=error msg=...` lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Options shared by `create` and `run`.
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// The bundle directory.
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to send the pty master to (runc's protocol).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write init's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Not supported (rejected).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Accepted for compatibility: berth-runc creates no session keyring.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Not supported (rejected when non-zero).
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id.
    pub id: String,
}

/// `run` options.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CreateArgs,
    /// Return after start instead of waiting for the container.
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Do not delete the container after it exits.
    #[arg(long)]
    pub keep: bool,
}

/// `exec` options.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Unix socket to send the pty master to.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables (NAME=value).
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// Allocate a pty (needs --console-socket).
    #[arg(long, short = 't')]
    pub tty: bool,
    /// uid[:gid] to run as.
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Additional gids.
    #[arg(long = "additional-gids", short = 'g')]
    pub additional_gids: Vec<u32>,
    /// A process.json (OCI `process` object) instead of the command line.
    #[arg(long, short = 'p')]
    pub process: Option<PathBuf>,
    /// Return once the process runs.
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// File to write the process's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Set no_new_privs.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Extra capabilities (CAP_...).
    #[arg(long, short = 'c')]
    pub cap: Vec<String>,
    /// Accepted for compatibility (SELinux is not supported).
    #[arg(long = "process-label", hide = true)]
    pub process_label: Option<String>,
    /// Accepted for compatibility (AppArmor is not supported).
    #[arg(long, hide = true)]
    pub apparmor: Option<String>,
    /// Container id.
    pub id: String,
    /// Command and arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `update` options (a subset of runc's; `--resources` takes the OCI
/// `linux.resources` JSON, `-` for stdin, as containerd sends it).
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// File with the OCI `linux.resources` JSON, or `-` for stdin.
    #[arg(long, short = 'r')]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes.
    #[arg(long, short = 'm')]
    pub memory: Option<i64>,
    /// Memory + swap limit in bytes (-1: unlimited).
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<i64>,
    /// Maximum number of pids (-1: unlimited).
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CFS quota in microseconds.
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPUs to use (cpuset).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (cpuset).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Container id.
    pub id: String,
}

/// The resources of `update`: the `--resources` JSON with the flags
/// applied on top.
pub fn update_resources(args: &UpdateArgs) -> Result<LinuxResources> {
    let mut value = match &args.resources {
        None => serde_json::json!({}),
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .context("read resources from stdin")?;
                text
            } else {
                std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?
            };
            let value: serde_json::Value =
                serde_json::from_str(&text).context("parse the resources JSON")?;
            // The flags below index into it; anything but an object would
            // panic there.
            if !value.is_object() {
                bail!(
                    "the resources JSON must be an object (linux.resources of the OCI runtime spec)"
                );
            }
            value
        }
    };
    let mut set = |section: &str, key: &str, v: serde_json::Value| {
        if !value[section].is_object() {
            value[section] = serde_json::json!({});
        }
        value[section][key] = v;
    };
    if let Some(v) = args.memory {
        set("memory", "limit", v.into());
    }
    if let Some(v) = args.memory_swap {
        set("memory", "swap", v.into());
    }
    if let Some(v) = args.pids_limit {
        set("pids", "limit", v.into());
    }
    if let Some(v) = args.cpu_share {
        set("cpu", "shares", v.into());
    }
    if let Some(v) = args.cpu_quota {
        set("cpu", "quota", v.into());
    }
    if let Some(v) = args.cpu_period {
        set("cpu", "period", v.into());
    }
    if let Some(v) = &args.cpuset_cpus {
        set("cpu", "cpus", v.clone().into());
    }
    if let Some(v) = &args.cpuset_mems {
        set("cpu", "mems", v.clone().into());
    }
    serde_json::from_value(value).context("the resources do not match the OCI runtime spec")
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container (init waits for `start`).
    Create(CreateArgs),
    /// Create and start a container.
    Run(RunArgs),
    /// Start a created container.
    Start {
        /// Container id.
        id: String,
    },
    /// Print the state JSON of a container.
    State {
        /// Container id.
        id: String,
    },
    /// Send a signal to init (or all processes).
    Kill {
        /// Signal every process of the container.
        #[arg(long, short = 'a')]
        all: bool,
        /// Container id.
        id: String,
        /// Signal name or number (default SIGTERM).
        signal: Option<String>,
    },
    /// Delete a container.
    Delete {
        /// Kill a running container first.
        #[arg(long, short = 'f')]
        force: bool,
        /// Container id.
        id: String,
    },
    /// Freeze a container.
    Pause {
        /// Container id.
        id: String,
    },
    /// Thaw a container.
    Resume {
        /// Container id.
        id: String,
    },
    /// List the processes of a container.
    Ps {
        /// table or json.
        #[arg(long, short = 'f', default_value = "table")]
        format: String,
        /// Container id.
        id: String,
    },
    /// List containers.
    List {
        /// Ids only.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Run a process in a container.
    Exec(ExecArgs),
    /// Change the resource limits of a running container.
    Update(UpdateArgs),
    /// Print the runtime's features (JSON).
    Features,
}

/// The process of `exec`: `--process` file, or the container's process
/// with the command line's changes (as runc's `exec`).
pub fn exec_process(container: &Container, args: &ExecArgs) -> Result<Process> {
    if let Some(path) = &args.process {
        let bytes =
            std::fs::read(path).with_context(|| format!("read process file {}", path.display()))?;
        let process: Process = serde_json::from_slice(&bytes)
            .with_context(|| format!("parse process file {}", path.display()))?;
        return Ok(process);
    }
    if args.command.is_empty() {
        bail!("exec needs a command (or --process)");
    }
    let mut process = container.config().process().clone().unwrap_or_default();
    process.set_args(Some(args.command.clone()));
    process.set_terminal(Some(args.tty));
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    if !args.env.is_empty() {
        let mut env = process.env().clone().unwrap_or_default();
        for var in &args.env {
            let name = var.split('=').next().unwrap_or_default();
            env.retain(|e| e.split('=').next() != Some(name));
            env.push(var.clone());
        }
        process.set_env(Some(env));
    }
    if let Some(user) = &args.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        let u = process.user_mut();
        u.set_uid(
            uid.parse()
                .with_context(|| format!("--user {user}: uid must be numeric"))?,
        );
        u.set_gid(match gid {
            Some(g) => g
                .parse()
                .with_context(|| format!("--user {user}: gid must be numeric"))?,
            None => 0,
        });
    }
    if !args.additional_gids.is_empty() {
        process
            .user_mut()
            .set_additional_gids(Some(args.additional_gids.clone()));
    }
    if args.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    if !args.cap.is_empty() {
        let mut caps = process.capabilities().clone().unwrap_or_default();
        for name in &args.cap {
            let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
                .with_context(|| format!("unknown capability {name}"))?;
            // runc adds an exec's --cap to every set but the ambient one.
            let with_cap = |set: &Option<Capabilities>| {
                let mut set = set.clone().unwrap_or_default();
                set.insert(cap);
                Some(set)
            };
            caps.set_bounding(with_cap(caps.bounding()));
            caps.set_effective(with_cap(caps.effective()));
            caps.set_permitted(with_cap(caps.permitted()));
            caps.set_inheritable(with_cap(caps.inheritable()));
        }
        process.set_capabilities(Some(caps));
    }
    Ok(process)
}

/// `features` output, shaped like runc's (OCI runtime spec
/// features.md).
pub fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
            "mand", "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime",
            "nostrictatime", "nosuid", "private", "rbind", "relatime", "remount", "ro",
            "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave",
            "strictatime", "suid", "sync", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": all_capabilities(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {
            "org.opencontainers.runc.version": env!("CARGO_PKG_VERSION"),
            "io.github.berth.runtime": "berth-runc"
        }
    })
}

/// The capabilities of this kernel (up to `cap_last_cap`) that the OCI
/// spec knows, by name, in kernel order.
fn all_capabilities() -> Vec<String> {
    let last = berth_libcontainer::last_cap();
    let mut known: Vec<caps::Capability> = caps::all()
        .into_iter()
        .filter(|c| c.index() <= last)
        .collect();
    known.sort_by_key(|c| c.index());
    known
        .into_iter()
        .map(|c| c.to_string())
        .filter(|name| {
            serde_json::from_value::<Capability>(serde_json::Value::String(name.clone())).is_ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn containerd_style_invocations_parse() {
        let cli = Cli::try_parse_from([
            "berth-runc",
            "--root",
            "/r",
            "--log",
            "/l.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket",
            "/s",
            "c1",
        ])
        .unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        let Command::Create(args) = cli.command else {
            panic!("not create")
        };
        assert_eq!(args.id, "c1");
        assert_eq!(args.bundle, PathBuf::from("/b"));

        let cli = Cli::try_parse_from([
            "berth-runc",
            "--root",
            "/r",
            "exec",
            "--process",
            "/p.json",
            "--detach",
            "--pid-file",
            "/p",
            "c1",
        ])
        .unwrap();
        let Command::Exec(args) = cli.command else {
            panic!("not exec")
        };
        assert!(args.detach && args.command.is_empty());

        let cli =
            Cli::try_parse_from(["berth-runc", "exec", "-t", "c1", "sh", "-c", "echo hi"]).unwrap();
        let Command::Exec(args) = cli.command else {
            panic!("not exec")
        };
        assert_eq!(args.command, ["sh", "-c", "echo hi"]);

        let cli = Cli::try_parse_from(["berth-runc", "kill", "--all", "c1", "KILL"]).unwrap();
        let Command::Kill { all, signal, .. } = cli.command else {
            panic!("not kill")
        };
        assert!(all);
        assert_eq!(signal.as_deref(), Some("KILL"));
    }

    /// `berth-runc update FLAGS... c1`, parsed.
    fn update_args(flags: &[&str]) -> UpdateArgs {
        let argv = ["berth-runc", "update"]
            .iter()
            .chain(flags)
            .chain(&["c1"])
            .copied();
        let Command::Update(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("not update")
        };
        args
    }

    #[test]
    fn update_flags_override_the_resources_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.json");
        std::fs::write(
            &file,
            r#"{"memory": {"limit": 1000}, "pids": {"limit": 5}}"#,
        )
        .unwrap();
        let args = update_args(&[
            "--resources",
            file.to_str().unwrap(),
            "--memory",
            "2000",
            "--cpu-share",
            "512",
        ]);
        let r = update_resources(&args).unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(2000));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 5);
        assert_eq!(r.cpu().as_ref().unwrap().shares(), Some(512));
    }

    #[test]
    fn update_resources_that_are_not_an_object_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.json");
        std::fs::write(&file, "[1]").unwrap();
        let args = update_args(&["--resources", file.to_str().unwrap(), "--memory", "2000"]);
        let err = update_resources(&args).unwrap_err().to_string();
        assert!(err.contains("must be an object"), "{err}");
    }

    #[test]
    fn features_lists_every_capability_of_the_kernel() {
        let f = features();
        let caps = f["linux"]["capabilities"].as_array().unwrap();
        assert!(caps.iter().any(|c| c == "CAP_SYS_ADMIN"));
        assert!(caps.len() >= 38, "{caps:?}");
    }
}
