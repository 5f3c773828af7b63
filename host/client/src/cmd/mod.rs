//! The commands, by group: [`containers`], [`attach`], [`run`], [`images`],
//! [`jobs`], [`system`], [`prune`] (with `system df` and `diff`); the
//! helpers they share are here.

use crate::http::{Client, DaemonError};

mod attach;
mod containers;
mod cp;
mod credentials;
mod detach;
mod exec;
mod health_flags;
mod host_flags;
mod image_archive;
mod images;
mod jobs;
mod login;
mod net_flags;
mod network_connect;
mod networks;
mod prune;
mod pull;
mod push;
mod run;
mod stats;
mod system;
mod terminal;
mod update;
mod volumes;

pub use attach::*;
pub use containers::*;
pub use cp::*;
pub use credentials::registry_auth_header;
pub use exec::*;
pub use image_archive::*;
pub use images::*;
pub use jobs::*;
pub use login::*;
pub use network_connect::*;
pub use networks::*;
pub use prune::*;
pub use pull::*;
pub use push::*;
pub use run::*;
pub use stats::*;
pub use system::*;
pub use update::*;
pub use volumes::*;

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

/// `berth network|volume inspect NAME...`: `GET PREFIX/NAME` for each
/// name, the objects found printed as one JSON array and each missing one
/// on stderr, exit status 1 if any was missing, as docker does.
pub(crate) async fn inspect_each(
    client: &crate::http::Client,
    prefix: &str,
    names: &[String],
) -> anyhow::Result<i32> {
    let mut found = Vec::new();
    let mut code = 0;
    for name in names {
        let path = format!("{prefix}/{}", crate::http::segment(name));
        match client.get_json::<serde_json::Value>(&path).await {
            Ok(object) => found.push(object),
            Err(e) => {
                print_error(&e);
                code = 1;
            }
        }
    }
    println!(
        "{}",
        crate::format::pretty_json(&serde_json::Value::Array(found))
    );
    Ok(code)
}
