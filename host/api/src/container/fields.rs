//! The fields of `POST /containers/create`, one table: every field of the
//! Docker Engine API 1.43 `ContainerConfig`, `HostConfig` (with its
//! `Resources`) and `EndpointSettings` (moby `api/types/container/config.go`,
//! `hostconfig.go`, `api/types/network/network.go` at v24, the release that
//! speaks 1.43) is either honoured — a typed field of [`Config`] or
//! [`HostConfig`], validated at create — or not supported, and then refused
//! unless its value is what Docker's own clients send when the option is not
//! used (the docker CLI 28 sends most fields on every create, `null`, empty
//! or zero). A field the table does not know is refused unless it is empty:
//! berth cannot honour what it has never heard of.
//!
//! serde keeps what it does not know in the `rest` maps of [`Config`] and
//! [`HostConfig`]; [`CreateRequest::check_fields`] walks the typed fields and
//! those maps alike, so "accepted" is this table, not whatever serde keeps.
//!
//! [`Config`]: super::Config
//! [`HostConfig`]: super::HostConfig
//! [`CreateRequest::check_fields`]: super::CreateRequest::check_fields

use serde_json::Value;

/// The part of a create request a field belongs to, as messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The top-level `ContainerConfig`.
    Config,
    /// `HostConfig` (with `Resources` inlined, as on the wire).
    HostConfig,
    /// `NetworkingConfig` itself.
    NetworkingConfig,
    /// One `NetworkingConfig.EndpointsConfig` entry.
    EndpointSettings,
    /// Its `IPAMConfig`.
    EndpointIpamConfig,
}

/// What berth does with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// A typed field berth honours; its value is validated at create.
    Honoured,
    /// Not supported: refused unless its value counts as unused.
    Unsupported {
        /// The docker CLI option(s) that set it, for the message; `None`
        /// for fields only the API sets.
        option: Option<&'static str>,
        /// Which values count as unused.
        zero: Zero,
    },
}

/// Which values of an unsupported field mean "not used".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zero {
    /// `null`, `false`, `0` or `""`.
    Scalar,
    /// A scalar zero, or one of these values (as JSON text): what berth
    /// does anyway, e.g. `IpcMode` `"private"`, `MemorySwappiness` `-1`.
    ScalarOr(&'static [&'static str]),
    /// `null` or `[]`.
    List,
    /// `null` or `{}`: every key of a map is a setting.
    Map,
    /// `null`, or an object whose members are all unused (a Go struct the
    /// client fills with zero values).
    Struct,
}

const fn unsupported(option: &'static str, zero: Zero) -> Handling {
    Handling::Unsupported {
        option: Some(option),
        zero,
    }
}

const fn api_only(zero: Zero) -> Handling {
    Handling::Unsupported { option: None, zero }
}

use Handling::Honoured;
use Zero::{List, Map, Scalar, ScalarOr, Struct};

/// `ContainerConfig` (moby `api/types/container/config.go`).
pub const CONFIG: &[(&str, Handling)] = &[
    ("Hostname", Honoured),
    ("Domainname", Honoured),
    ("User", Honoured),
    ("AttachStdin", Honoured),
    ("AttachStdout", Honoured),
    ("AttachStderr", Honoured),
    // Without published ports `EXPOSE`/`--expose` is metadata in Docker too.
    ("ExposedPorts", Honoured),
    ("Tty", Honoured),
    ("OpenStdin", Honoured),
    ("StdinOnce", Honoured),
    ("Env", Honoured),
    ("Cmd", Honoured),
    ("Healthcheck", Honoured),
    // Windows only.
    ("ArgsEscaped", api_only(Scalar)),
    ("Image", Honoured),
    // Anonymous volumes (`-v /path`), with the image's `VOLUME`s.
    ("Volumes", Honoured),
    ("WorkingDir", Honoured),
    ("Entrypoint", Honoured),
    ("NetworkDisabled", api_only(Scalar)),
    ("MacAddress", unsupported("--mac-address", Scalar)),
    // Builder-only fields.
    ("OnBuild", api_only(List)),
    ("Labels", Honoured),
    ("StopSignal", Honoured),
    ("StopTimeout", Honoured),
    ("Shell", api_only(List)),
];

/// `HostConfig` and its inlined `Resources` (moby
/// `api/types/container/hostconfig.go`).
pub const HOST_CONFIG: &[(&str, Handling)] = &[
    ("Binds", Honoured),
    // The CLI writes the file; dockerd only records the path.
    ("ContainerIDFile", Honoured),
    ("LogConfig", Honoured),
    // Typed; the modes berth has are checked at create.
    ("NetworkMode", Honoured),
    // Typed and checked at create (moby's messages); published on the
    // host through the container's endpoint.
    ("PortBindings", Honoured),
    // Typed; run by the engine's restart manager.
    ("RestartPolicy", Honoured),
    ("AutoRemove", Honoured),
    // `local` is the only driver, and what "" means.
    (
        "VolumeDriver",
        unsupported("--volume-driver", ScalarOr(&[r#""local""#])),
    ),
    ("VolumesFrom", Honoured),
    ("ConsoleSize", Honoured),
    ("Annotations", unsupported("--annotation", Map)),
    ("CapAdd", Honoured),
    ("CapDrop", Honoured),
    ("CgroupnsMode", Honoured),
    ("Dns", Honoured),
    ("DnsOptions", Honoured),
    ("DnsSearch", Honoured),
    ("ExtraHosts", Honoured),
    ("GroupAdd", Honoured),
    // Every container has its own IPC namespace, which is Docker's
    // "private"; "shareable" differs only for containers that join it,
    // and joining (`container:ID`) is refused.
    (
        "IpcMode",
        unsupported("--ipc", ScalarOr(&[r#""private""#, r#""shareable""#])),
    ),
    ("Cgroup", unsupported("--cgroup", Scalar)),
    ("Links", unsupported("--link", List)),
    ("OomScoreAdj", Honoured),
    ("PidMode", unsupported("--pid", Scalar)),
    ("Privileged", Honoured),
    ("PublishAllPorts", Honoured),
    ("ReadonlyRootfs", Honoured),
    ("SecurityOpt", Honoured),
    ("StorageOpt", unsupported("--storage-opt", Map)),
    ("Tmpfs", Honoured),
    ("UTSMode", unsupported("--uts", Scalar)),
    // berthd remaps no user namespace, which is what "host" asks for.
    (
        "UsernsMode",
        unsupported("--userns", ScalarOr(&[r#""host""#])),
    ),
    ("ShmSize", Honoured),
    ("Sysctls", Honoured),
    ("Runtime", unsupported("--runtime", Scalar)),
    // Linux knows only the default isolation.
    (
        "Isolation",
        unsupported("--isolation", ScalarOr(&[r#""default""#])),
    ),
    ("CpuShares", Honoured),
    ("Memory", Honoured),
    ("NanoCpus", Honoured),
    ("CgroupParent", unsupported("--cgroup-parent", Scalar)),
    ("BlkioWeight", Honoured),
    (
        "BlkioWeightDevice",
        unsupported("--blkio-weight-device", List),
    ),
    ("BlkioDeviceReadBps", unsupported("--device-read-bps", List)),
    (
        "BlkioDeviceWriteBps",
        unsupported("--device-write-bps", List),
    ),
    (
        "BlkioDeviceReadIOps",
        unsupported("--device-read-iops", List),
    ),
    (
        "BlkioDeviceWriteIOps",
        unsupported("--device-write-iops", List),
    ),
    ("CpuPeriod", Honoured),
    ("CpuQuota", Honoured),
    ("CpuRealtimePeriod", unsupported("--cpu-rt-period", Scalar)),
    (
        "CpuRealtimeRuntime",
        unsupported("--cpu-rt-runtime", Scalar),
    ),
    ("CpusetCpus", Honoured),
    ("CpusetMems", Honoured),
    ("Devices", Honoured),
    ("DeviceCgroupRules", Honoured),
    ("DeviceRequests", unsupported("--gpus", List)),
    ("KernelMemory", unsupported("--kernel-memory", Scalar)),
    ("KernelMemoryTCP", api_only(Scalar)),
    ("MemoryReservation", Honoured),
    ("MemorySwap", Honoured),
    // -1: the kernel's default, which is what the CLI sends.
    (
        "MemorySwappiness",
        unsupported("--memory-swappiness", ScalarOr(&["-1"])),
    ),
    ("OomKillDisable", unsupported("--oom-kill-disable", Scalar)),
    ("PidsLimit", Honoured),
    ("Ulimits", Honoured),
    // Windows only.
    ("CpuCount", unsupported("--cpu-count", Scalar)),
    ("CpuPercent", unsupported("--cpu-percent", Scalar)),
    ("IOMaximumIOps", unsupported("--io-maxiops", Scalar)),
    (
        "IOMaximumBandwidth",
        unsupported("--io-maxbandwidth", Scalar),
    ),
    ("Mounts", Honoured),
    // `--security-opt systempaths=unconfined` sends both empty.
    ("MaskedPaths", Honoured),
    ("ReadonlyPaths", Honoured),
    ("Init", Honoured),
];

/// `NetworkingConfig` (moby `api/types/network/network.go`).
pub const NETWORKING_CONFIG: &[(&str, Handling)] = &[
    // Checked entry by entry against [`ENDPOINT_SETTINGS`].
    ("EndpointsConfig", Honoured),
];

/// One `EndpointsConfig` entry (`EndpointSettings`): `Aliases` and the
/// addresses of `IPAMConfig` are honoured; the docker CLI sends the entry
/// of the container's network with every other field zero.
pub const ENDPOINT_SETTINGS: &[(&str, Handling)] = &[
    // Checked member by member against [`ENDPOINT_IPAM_CONFIG`].
    ("IPAMConfig", Honoured),
    ("Links", unsupported("--link", List)),
    ("Aliases", Honoured),
    ("NetworkID", api_only(Scalar)),
    ("EndpointID", api_only(Scalar)),
    ("Gateway", api_only(Scalar)),
    ("IPAddress", api_only(Scalar)),
    ("IPPrefixLen", api_only(Scalar)),
    ("IPv6Gateway", api_only(Scalar)),
    ("GlobalIPv6Address", api_only(Scalar)),
    ("GlobalIPv6PrefixLen", api_only(Scalar)),
    ("MacAddress", unsupported("--mac-address", Scalar)),
    ("DriverOpts", unsupported("--network driver-opt", Map)),
    // API 1.48 (moby v28), which the docker CLI 28 sends zero on every
    // create: berth routes through the first network only.
    ("GwPriority", unsupported("--gw-priority", Scalar)),
];

/// `EndpointSettings.IPAMConfig` (moby `EndpointIPAMConfig`): `--ip` and
/// `--ip6`, checked by the engine against the network (moby
/// `validateNetworkingConfig`).
pub const ENDPOINT_IPAM_CONFIG: &[(&str, Handling)] = &[
    ("IPv4Address", Honoured),
    ("IPv6Address", Honoured),
    ("LinkLocalIPs", unsupported("--link-local-ip", List)),
];

/// A field of a create request that berth does not honour, set to a value
/// that would matter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A field of the 1.43 API that berth does not support.
    #[error("{field}{} is not supported by berth", option.map(|o| format!(" ({o})")).unwrap_or_default())]
    Unsupported {
        /// `Section.Name`.
        field: String,
        /// The CLI option that sets it.
        option: Option<&'static str>,
    },
    /// A field the 1.43 API does not have.
    #[error("{field} is not a field of the Docker Engine API 1.43: berth cannot honour it")]
    Unknown {
        /// `Section.Name`.
        field: String,
    },
}

/// The table of `section`.
pub fn table(section: Section) -> &'static [(&'static str, Handling)] {
    match section {
        Section::Config => CONFIG,
        Section::HostConfig => HOST_CONFIG,
        Section::NetworkingConfig => NETWORKING_CONFIG,
        Section::EndpointSettings => ENDPOINT_SETTINGS,
        Section::EndpointIpamConfig => ENDPOINT_IPAM_CONFIG,
    }
}

/// Checks the members of one section of a request (as JSON, typed fields
/// and the unknown ones alike) against its table; `path` is how the message
/// names the section (`HostConfig`, `NetworkingConfig.EndpointsConfig.x`).
pub fn check_section(
    section: Section,
    path: &str,
    members: &serde_json::Map<String, Value>,
) -> Result<(), FieldError> {
    let table = table(section);
    for (name, value) in members {
        let field = || format!("{path}.{name}");
        match table.iter().find(|(known, _)| known == name) {
            Some((_, Handling::Honoured)) => {}
            Some((_, Handling::Unsupported { option, zero })) => {
                if !is_unused(value, *zero) {
                    return Err(FieldError::Unsupported {
                        field: field(),
                        option: *option,
                    });
                }
            }
            // Unknown: only an empty value is certainly harmless.
            None if is_empty(value) => {}
            None => return Err(FieldError::Unknown { field: field() }),
        }
    }
    Ok(())
}

/// `null`, `false`, `0`, `""`, `[]` or `{}`.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Empty, or an object whose members are all unused structs or empty.
fn is_zero_struct(value: &Value) -> bool {
    match value {
        Value::Object(members) => members.values().all(is_zero_struct),
        other => is_empty(other),
    }
}

fn is_unused(value: &Value, zero: Zero) -> bool {
    match zero {
        Scalar => {
            matches!(
                value,
                Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)
            ) && is_empty(value)
        }
        ScalarOr(also) => is_unused(value, Scalar) || also.contains(&value.to_string().as_str()),
        List => matches!(value, Value::Null) || value.as_array().is_some_and(Vec::is_empty),
        Map => matches!(value, Value::Null) || value.as_object().is_some_and(|o| o.is_empty()),
        Struct => matches!(value, Value::Null | Value::Object(_)) && is_zero_struct(value),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_field_is_listed_once() {
        for section in [
            Section::Config,
            Section::HostConfig,
            Section::NetworkingConfig,
            Section::EndpointSettings,
            Section::EndpointIpamConfig,
        ] {
            let names: Vec<&str> = table(section).iter().map(|(n, _)| *n).collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(names.len(), unique.len(), "{section:?}");
        }
        // moby v24: ContainerConfig has 25 fields, HostConfig 40 plus the
        // 31 of Resources, EndpointSettings 13 (and 1.48's GwPriority).
        assert_eq!(
            (CONFIG.len(), HOST_CONFIG.len(), ENDPOINT_SETTINGS.len()),
            (25, 71, 14)
        );
    }

    #[test]
    fn unused_values_follow_the_kind_of_field() {
        assert!(is_unused(&json!(null), Scalar));
        assert!(is_unused(&json!(false), Scalar));
        assert!(is_unused(&json!(0), Scalar));
        assert!(is_unused(&json!(""), Scalar));
        assert!(!is_unused(&json!(true), Scalar));
        assert!(!is_unused(&json!("host"), Scalar));
        assert!(
            !is_unused(&json!([]), Scalar),
            "a scalar field given a list"
        );
        assert!(is_unused(&json!(-1), ScalarOr(&["-1"])));
        assert!(!is_unused(&json!(10), ScalarOr(&["-1"])));
        assert!(is_unused(&json!("private"), ScalarOr(&[r#""private""#])));
        assert!(is_unused(&json!([]), List));
        assert!(!is_unused(&json!([""]), List));
        assert!(is_unused(&json!({}), Map));
        assert!(
            !is_unused(&json!({"a": ""}), Map),
            "a map key is a setting even with an empty value"
        );
        assert!(is_unused(&json!({"Test": null, "Interval": 0}), Struct));
        assert!(is_unused(&json!({"Inner": {"A": []}}), Struct));
        assert!(!is_unused(&json!({"Test": ["CMD", "true"]}), Struct));
        assert!(!is_unused(&json!("x"), Struct));
    }

    #[test]
    fn messages_name_the_field_and_the_option() {
        let members = |v: Value| v.as_object().cloned().unwrap_or_default();
        let err = check_section(
            Section::HostConfig,
            "HostConfig",
            &members(json!({"Memory": 5, "DeviceRequests": [{"Count": 1}]})),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "HostConfig.DeviceRequests (--gpus) is not supported by berth"
        );
        let err = check_section(
            Section::Config,
            "Config",
            &members(json!({"NetworkDisabled": true})),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Config.NetworkDisabled is not supported by berth"
        );
        let err = check_section(
            Section::EndpointSettings,
            "NetworkingConfig.EndpointsConfig.default",
            &members(json!({"GwPriority": 0, "DNSNames": ["a"]})),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "NetworkingConfig.EndpointsConfig.default.DNSNames is not a field of the Docker Engine API 1.43: berth cannot honour it"
        );
        let err = check_section(
            Section::EndpointSettings,
            "NetworkingConfig.EndpointsConfig.n",
            &members(json!({"GwPriority": 5})),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "NetworkingConfig.EndpointsConfig.n.GwPriority (--gw-priority) is not supported by berth"
        );
        assert!(
            check_section(
                Section::EndpointSettings,
                "x",
                &members(json!({"GwPriority": 0, "DNSNames": null, "IPAMConfig": null})),
            )
            .is_ok()
        );
    }
}
