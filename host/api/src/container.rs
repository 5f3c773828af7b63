//! Container bodies: create, list, inspect, wait.
//!
//! - [`fields`]: which fields of a create request berth honours.
//! - [`security`]: `HostConfig.SecurityOpt`, parsed.
//! - [`stats`]: the samples of `GET /containers/{id}/stats`.

mod bind;
mod config;
mod create;
mod endpoint;
mod exit;
pub mod fields;
mod health;
mod inspect;
mod list;
mod log;
mod mount;
pub mod security;
pub mod stats;
mod top;
mod update;

pub use bind::*;
pub use config::*;
pub use create::*;
pub use endpoint::*;
pub use exit::*;
pub use health::*;
pub use inspect::*;
pub use list::*;
pub use log::*;
pub use mount::*;
pub use top::*;
pub use update::*;

use serde::{Deserialize, Deserializer};

/// Accepts `null` where a collection is expected (Go clients send `null` for
/// nil slices and maps).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `StrSlice` of the Docker API: a JSON string (one word) or an array.
fn str_slice<'de, D>(d: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrOrVec {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<StrOrVec>::deserialize(d)? {
        None => None,
        Some(StrOrVec::One(s)) => Some(vec![s]),
        Some(StrOrVec::Many(v)) => Some(v),
    })
}

#[cfg(test)]
mod tests;
