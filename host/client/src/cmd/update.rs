//! `update`: new limits and restart policy for containers, with the docker
//! CLI's flags (`docker container update`).

use anyhow::{anyhow, bail};
use berth_api::container::{UpdateRequest, UpdateResponse};
use clap::Args;

use crate::http::{Client, segment};

use super::{Result, for_each};

/// `update` flags.
#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000.
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Memory limit.
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (-1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long)]
    pub restart: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// The body the docker CLI sends for these flags (`runUpdate`).
pub(super) fn update_request(args: &UpdateArgs) -> Result<UpdateRequest> {
    let bytes = |value: &Option<String>, flag: &str| -> Result<i64> {
        match value.as_deref() {
            None => Ok(0),
            Some("-1") if flag == "--memory-swap" => Ok(-1),
            Some(v) => berth_api::units::ram_in_bytes(v)
                .map_err(|e| anyhow!("invalid argument {v:?} for \"{flag}\" flag: {e}")),
        }
    };
    let nano_cpus = match args.cpus {
        None => 0,
        Some(cpus) if cpus.is_finite() && cpus >= 0.0 => (cpus * 1e9).round() as i64,
        Some(cpus) => {
            bail!("invalid argument \"{cpus}\" for \"--cpus\" flag: must be a positive number")
        }
    };
    let mut request = UpdateRequest {
        blkio_weight: args.blkio_weight.unwrap_or(0),
        cpu_period: args.cpu_period.unwrap_or(0),
        cpu_quota: args.cpu_quota.unwrap_or(0),
        cpu_shares: args.cpu_shares.unwrap_or(0),
        nano_cpus,
        cpuset_cpus: args.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: args.cpuset_mems.clone().unwrap_or_default(),
        memory: bytes(&args.memory, "--memory")?,
        memory_reservation: bytes(&args.memory_reservation, "--memory-reservation")?,
        memory_swap: bytes(&args.memory_swap, "--memory-swap")?,
        pids_limit: args.pids_limit,
        ..UpdateRequest::default()
    };
    if let Some(policy) = &args.restart {
        request.restart_policy = super::containers::restart_policy(policy)?;
    }
    Ok(request)
}

/// `docker update`: prints each container's name as given, its warnings
/// on stderr; 1 if any failed.
pub async fn update(client: &Client, args: &UpdateArgs) -> Result<i32> {
    let request = update_request(args)?;
    let request = &request;
    Ok(for_each(&args.containers, |id| async move {
        let answer: UpdateResponse = client
            .post_json(&format!("/containers/{}/update", segment(id)), request)
            .await?;
        for warning in &answer.warnings {
            eprintln!("WARNING: {warning}");
        }
        println!("{id}");
        Ok(())
    })
    .await)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: UpdateArgs,
    }

    fn parse(args: &[&str]) -> UpdateArgs {
        let argv = std::iter::once("update").chain(args.iter().copied());
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn flags_map_onto_the_update_config() {
        let args = parse(&[
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--cpus",
            "0.5",
            "--pids-limit",
            "20",
            "--restart",
            "on-failure:3",
            "c1",
            "c2",
        ]);
        let r = update_request(&args).unwrap();
        assert_eq!((r.memory, r.memory_swap), (64 << 20, -1));
        assert_eq!((r.nano_cpus, r.pids_limit), (500_000_000, Some(20)));
        assert_eq!(
            (
                r.restart_policy.name.as_str(),
                r.restart_policy.maximum_retry_count
            ),
            ("on-failure", 3)
        );
        assert_eq!(args.containers, ["c1", "c2"]);
        // Unset flags are zero: the daemon keeps those settings.
        let r = update_request(&parse(&["--cpu-shares", "512", "c"])).unwrap();
        assert_eq!((r.cpu_shares, r.memory, r.pids_limit), (512, 0, None));
        assert!(update_request(&parse(&["-m", "lots", "c"])).is_err());
    }
}
