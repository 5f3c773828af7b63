//! `HostConfig.Mounts` (`--mount`, moby `api/types/mount`) and the
//! `Mounts` of inspect (moby `types.MountPoint`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::null_as_default;

/// One `HostConfig.Mounts` entry (moby `mount.Mount`). Members berth does
/// not honour land in the `rest` maps and are refused unless empty
/// ([`MountSpec::unsupported`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountSpec {
    /// `bind`, `volume` or `tmpfs` (anything else is refused).
    #[serde(rename = "Type")]
    pub kind: String,
    /// Host path (bind), volume name (volume; empty: anonymous).
    pub source: String,
    /// Container path.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Bind options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    /// Volume options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    /// tmpfs options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
    /// Members berth does not honour (`Consistency`, ...).
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_json::Value>,
}

/// moby `mount.BindOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    /// `bind-propagation`.
    pub propagation: String,
    /// Members berth does not honour (`NonRecursive`, `CreateMountpoint`, ...).
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_json::Value>,
}

/// moby `mount.VolumeOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    /// `volume-nocopy`: do not copy the image's content into a new volume.
    pub no_copy: bool,
    /// `volume-label`: labels of a volume created for the mount.
    #[serde(deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// `volume-driver` and `volume-opt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<DriverConfig>,
    /// Members berth does not honour (`Subpath`).
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_json::Value>,
}

/// moby `mount.Driver`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DriverConfig {
    /// The volume driver (`local`).
    pub name: String,
    /// `volume-opt` key=value pairs.
    #[serde(deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, String>,
}

/// moby `mount.TmpfsOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    /// `tmpfs-size` in bytes (0: the kernel's default).
    pub size_bytes: i64,
    /// `tmpfs-mode` (0: 1777 as moby).
    pub mode: u32,
    /// Members berth does not honour (`Options`).
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_json::Value>,
}

impl MountSpec {
    /// The first member berth does not honour that is set, as
    /// `Member.Path` (`BindOptions.NonRecursive`), if any. Empty values
    /// (`false`, `""`, `null`, `[]`, `{}`) are what clients send when the
    /// option is unused.
    pub fn unsupported(&self) -> Option<String> {
        fn set(prefix: &str, rest: &BTreeMap<String, serde_json::Value>) -> Option<String> {
            rest.iter()
                .find(|(_, v)| !is_empty(v))
                .map(|(k, _)| format!("{prefix}{k}"))
        }
        set("", &self.rest)
            .or_else(|| {
                self.bind_options
                    .as_ref()
                    .and_then(|b| set("BindOptions.", &b.rest))
            })
            .or_else(|| {
                self.volume_options
                    .as_ref()
                    .and_then(|v| set("VolumeOptions.", &v.rest))
            })
            .or_else(|| {
                self.tmpfs_options
                    .as_ref()
                    .and_then(|t| set("TmpfsOptions.", &t.rest))
            })
    }
}

fn is_empty(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        // moby's `Consistency` "default" is the absence of one.
        Value::String(s) => s.is_empty() || s == "default",
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// One `Mounts` entry of inspect (moby `container.MountPoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The volume's name (volumes only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Host path (the volume's directory for a volume).
    pub source: String,
    /// Container path.
    pub destination: String,
    /// The volume driver (volumes only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// The mode as given (`ro`, `z`, ...).
    pub mode: String,
    /// Writable.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// Propagation (binds).
    pub propagation: String,
}
