//! `POST /containers/{id}/update`: the request body and the answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::fields::{self, FieldError, Handling, Section};
use super::{RestartPolicy, null_as_default};

/// `POST /containers/{id}/update` body: moby's `container.UpdateConfig`,
/// the `Resources` of a `HostConfig` and its `RestartPolicy`. A zero, empty
/// or absent field leaves the container's setting as it is (moby
/// `Container.UpdateContainer`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateRequest {
    /// CPU shares (relative weight).
    pub cpu_shares: i64,
    /// Memory limit in bytes.
    pub memory: i64,
    /// CPU quota in units of 1e-9 CPUs.
    pub nano_cpus: i64,
    /// Block I/O weight (10..=1000).
    pub blkio_weight: u16,
    /// CFS period in microseconds.
    pub cpu_period: i64,
    /// CFS quota in microseconds.
    pub cpu_quota: i64,
    /// CPUs the container may run on, cpuset(7) list format.
    #[serde(deserialize_with = "null_as_default")]
    pub cpuset_cpus: String,
    /// Memory nodes the container may use, list format.
    #[serde(deserialize_with = "null_as_default")]
    pub cpuset_mems: String,
    /// Memory soft limit in bytes.
    pub memory_reservation: i64,
    /// Memory plus swap in bytes; -1 unlimited.
    pub memory_swap: i64,
    /// Maximum number of pids; 0 or -1 unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// The new restart policy; an empty name keeps the container's.
    #[serde(deserialize_with = "null_as_default")]
    pub restart_policy: RestartPolicy,
    /// The other members of the body, as sent: checked by
    /// [`UpdateRequest::check_fields`].
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_json::Value>,
}

impl UpdateRequest {
    /// Refuses a member berth cannot update, unless its value is what the
    /// docker CLI sends for an option not used: the other fields of
    /// `Resources` ([`fields::HOST_CONFIG`] says which values mean "unused"
    /// for those berth does not support at all; the ones it honours at
    /// create, such as `Ulimits`, cannot change on a live container), and
    /// names the API does not have.
    pub fn check_fields(&self) -> Result<(), FieldError> {
        for (name, value) in &self.rest {
            let handling = fields::HOST_CONFIG
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, handling)| *handling);
            match handling {
                Some(Handling::Honoured) if !fields::is_empty(value) => {
                    return Err(FieldError::Unsupported {
                        field: format!("UpdateConfig.{name}"),
                        option: None,
                    });
                }
                Some(Handling::Honoured) => {}
                _ => {
                    let members = serde_json::Map::from_iter([(name.clone(), value.clone())]);
                    fields::check_section(Section::HostConfig, "UpdateConfig", &members)?;
                }
            }
        }
        Ok(())
    }
}

/// `POST /containers/{id}/update` answer (moby `ContainerUpdateOKBody`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateResponse {
    /// Warnings about settings the host cannot apply.
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `docker update --memory 64m --memory-swap 128m --restart always`
    /// of the docker CLI 28 sends.
    const DOCKER_CLI_UPDATE: &str = r#"{"CpuShares":0,"Memory":67108864,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":null,"BlkioDeviceReadBps":null,"BlkioDeviceWriteBps":null,"BlkioDeviceReadIOps":null,"BlkioDeviceWriteIOps":null,"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":null,"DeviceCgroupRules":null,"DeviceRequests":null,"KernelMemory":0,"KernelMemoryTCP":0,"MemoryReservation":0,"MemorySwap":134217728,"MemorySwappiness":null,"OomKillDisable":null,"PidsLimit":null,"Ulimits":null,"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"RestartPolicy":{"Name":"always","MaximumRetryCount":0}}"#;

    fn parse(json: &str) -> UpdateRequest {
        serde_json::from_str(json).expect("an update body")
    }

    #[test]
    fn the_docker_cli_body_reads_and_passes() {
        let update = parse(DOCKER_CLI_UPDATE);
        assert_eq!((update.memory, update.memory_swap), (64 << 20, 128 << 20));
        assert_eq!(update.restart_policy.name, "always");
        assert_eq!(update.pids_limit, None);
        assert_eq!(update.check_fields(), Ok(()));
    }

    #[test]
    fn fields_berth_cannot_update_are_refused_by_name() {
        let refused = |json: &str| parse(json).check_fields().unwrap_err().to_string();
        assert_eq!(
            refused(r#"{"Ulimits":[{"Name":"nofile","Soft":1,"Hard":1}]}"#),
            "UpdateConfig.Ulimits is not supported by berth"
        );
        assert_eq!(
            refused(r#"{"KernelMemory":1048576}"#),
            "UpdateConfig.KernelMemory (--kernel-memory) is not supported by berth"
        );
        assert_eq!(
            refused(r#"{"BlkioDeviceReadBps":[{"Path":"/dev/sda","Rate":1}]}"#),
            "UpdateConfig.BlkioDeviceReadBps (--device-read-bps) is not supported by berth"
        );
        assert_eq!(
            refused(r#"{"Frobnicate":1}"#),
            "UpdateConfig.Frobnicate is not a field of the Docker Engine API 1.43: berth cannot honour it"
        );
        // Empty values of the same are what clients send when unused.
        assert_eq!(
            parse(r#"{"Ulimits":[],"KernelMemory":0,"Frobnicate":null}"#).check_fields(),
            Ok(())
        );
    }
}
