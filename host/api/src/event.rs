//! `GET /events` messages (Docker API: `EventMessage`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One event, one JSON object per line on the `/events` stream.
///
/// `Type` is Docker's object type (`container`, `image`, ...) or a berth
/// type (`job`, `plugin`); consumers skip types they do not know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventMessage {
    /// Object type.
    #[serde(rename = "Type")]
    pub kind: String,
    /// What happened (`create`, `start`, `die`, `destroy`, `import`, ...).
    #[serde(rename = "Action")]
    pub action: String,
    /// The object.
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// `local`.
    pub scope: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
    /// Deprecated copy of `Action` for container and image events.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Deprecated copy of `Actor.ID` for container and image events.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Deprecated: the image of a container event.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
}

/// The object an [`EventMessage`] is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Actor {
    /// Id (container id, image id, job name, ...).
    #[serde(rename = "ID")]
    pub id: String,
    /// Object attributes (`name`, `image`, `exitCode`, ...).
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}
