//! `berth plugin ls|inspect|enable|disable|reload`: the plugin host's admin
//! surface under `/berth/plugins`; `berth plugin new` writes a plugin crate
//! (no daemon needed, see `plugin_new`).

use clap::Subcommand;
use hyper::Method;
use serde_json::Value;

use crate::format::{ellipsis, pretty_json, table};
use crate::http::{Body, Client, read_json, segment};

type Result<T> = anyhow::Result<T>;

/// `berth plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List plugins: built-in and from the plugin directory.
    Ls,
    /// Show everything about plugins (status, limits, jobs, errors).
    Inspect {
        #[arg(required = true)]
        plugins: Vec<String>,
    },
    /// Enable a plugin.
    Enable { plugin: String },
    /// Disable a plugin (a disabled policy falls back to the default).
    Disable { plugin: String },
    /// Re-read the grants file and reload a plugin from its files.
    Reload { plugin: String },
    /// Write a buildable plugin crate NAME/ for a world, from the SDK's
    /// templates.
    New {
        /// The plugin's name ([a-z0-9][a-z0-9._-]*).
        name: String,
        /// The world it implements.
        #[arg(long, value_parser = world_parser())]
        world: crate::plugin_new::World,
        /// The plugin SDK to depend on (default: this checkout's plugin-sdk).
        #[arg(long, value_name = "PATH")]
        sdk: Option<std::path::PathBuf>,
    },
}

/// `--world`: the model's world names, listed in `--help` and in the
/// error for an unknown one.
fn world_parser() -> impl clap::builder::TypedValueParser<Value = crate::plugin_new::World> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(
        crate::plugin_new::World::ALL.map(crate::plugin_new::World::as_str),
    )
    .try_map(|world| world.parse::<crate::plugin_new::World>())
}

fn text(value: &Value, key: &str) -> String {
    match &value[key] {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// The STATUS column: the state, plus what an admin must notice.
fn status(plugin: &Value) -> String {
    let mut status = text(plugin, "state");
    if plugin["state"] != "disabled"
        && plugin["active"] == false
        && plugin["version"] != Value::Null
    {
        status.push_str(" (inactive)");
    }
    if plugin["refused"] != Value::Null && plugin["version"] != Value::Null {
        status.push_str(" (update refused)");
    }
    status
}

/// Runs a plugin subcommand; returns the exit code.
pub async fn run(client: &Client, command: &PluginCommand) -> Result<i32> {
    match command {
        PluginCommand::New { name, world, sdk } => {
            crate::plugin_new::create(std::path::Path::new("."), name, *world, sdk.as_deref())?;
            println!(
                "created {name}/ (world {}): see {name}/README.md to build and install it",
                world.as_str()
            );
            Ok(0)
        }
        PluginCommand::Ls => {
            let plugins: Vec<Value> = client.get_json("/berth/plugins").await?;
            let rows: Vec<Vec<String>> = plugins
                .iter()
                .map(|p| {
                    let source = match p["source"]["kind"].as_str() {
                        Some("builtin") => "builtin".to_owned(),
                        Some(_) => "directory".to_owned(),
                        None => "-".to_owned(),
                    };
                    let detail = match p["refused"].as_str() {
                        Some(reason) => reason.to_owned(),
                        None => text(p, "summary"),
                    };
                    vec![
                        text(p, "name"),
                        text(p, "version"),
                        text(p, "world"),
                        status(p),
                        source,
                        format!("{}/{}", text(p, "failures"), text(p, "calls")),
                        ellipsis(&detail, 60),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "NAME",
                        "VERSION",
                        "WORLD",
                        "STATUS",
                        "SOURCE",
                        "FAILED/CALLS",
                        "DETAIL"
                    ],
                    &rows
                )
            );
            Ok(0)
        }
        PluginCommand::Inspect { plugins } => {
            let mut all = Vec::new();
            let mut code = 0;
            for name in plugins {
                match client
                    .get_json::<Value>(&format!("/berth/plugins/{}", segment(name)))
                    .await
                {
                    Ok(plugin) => all.push(plugin),
                    Err(e) => {
                        crate::cmd::print_error(&e);
                        code = 1;
                    }
                }
            }
            println!("{}", pretty_json(&Value::Array(all)));
            Ok(code)
        }
        PluginCommand::Enable { plugin }
        | PluginCommand::Disable { plugin }
        | PluginCommand::Reload { plugin } => {
            let action = match command {
                PluginCommand::Enable { .. } => "enable",
                PluginCommand::Disable { .. } => "disable",
                _ => "reload",
            };
            let path = format!("/berth/plugins/{}/{action}", segment(plugin));
            let response = client.call(Method::POST, &path, Body::Empty, None).await?;
            let status: Value = read_json(response).await?;
            match status["refused"].as_str() {
                Some(reason) => {
                    eprintln!("{plugin}: {reason}");
                    Ok(1)
                }
                None => {
                    println!("{plugin} {}", text(&status, "state"));
                    Ok(0)
                }
            }
        }
    }
}
