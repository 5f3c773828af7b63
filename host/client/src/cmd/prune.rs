//! `container prune`, `image prune`, `system df` and `diff`, with
//! docker's flags, prompt and output.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::anyhow;
use berth_api::container::{ContainerPruneResponse, FilesystemChange};
use berth_api::filters::Filters;
use berth_api::image::{ImageDeleteItem, ImagePruneResponse};
use berth_api::system::DiskUsageResponse;
use berth_api::units::human_size;
use hyper::Method;

use crate::format::{ago, ellipsis, short_id, table};
use crate::http::{Body, Client, query, read_json, segment};

use super::Result;

/// `--filter name=value` flags as the API's filters.
pub fn parse_filters(flags: &[String]) -> Result<Filters> {
    let mut filters = Filters::default();
    for f in flags {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow!("bad format of filter (expected name=value)"))?;
        filters.add(k, v);
    }
    Ok(filters)
}

/// docker's confirmation: `y`/`Y` goes on, anything else (or no input)
/// stops.
pub(super) fn confirm(warning: &str) -> Result<bool> {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !std::io::stdin().is_terminal() && answer.is_empty() {
        println!();
    }
    Ok(matches!(answer.trim(), "y" | "Y"))
}

/// POSTs a prune with `filters`; its JSON report.
pub(super) async fn prune<T: serde::de::DeserializeOwned>(
    client: &Client,
    path: &str,
    filters: &Filters,
) -> Result<T> {
    let encoded = filters.to_query_json();
    let pairs: Vec<(&str, &str)> = if filters.is_empty() {
        Vec::new()
    } else {
        vec![("filters", &encoded)]
    };
    let response = client
        .call(
            Method::POST,
            &format!("{path}{}", query(&pairs)),
            Body::Empty,
            None,
        )
        .await?;
    read_json(response).await
}

/// `berth container prune [-f] [--filter k=v]...`.
pub async fn container_prune(client: &Client, force: bool, filter: &[String]) -> Result<i32> {
    let filters = parse_filters(filter)?;
    if !force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(0);
    }
    let report: ContainerPruneResponse = prune(client, "/containers/prune", &filters).await?;
    let deleted = report.containers_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &deleted {
            println!("{id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(i64::try_from(report.space_reclaimed).unwrap_or(i64::MAX))
    );
    Ok(0)
}

/// `berth image prune [-a] [-f] [--filter k=v]...`.
pub async fn image_prune(
    client: &Client,
    all: bool,
    force: bool,
    filter: &[String],
) -> Result<i32> {
    let mut filters = parse_filters(filter)?;
    if all {
        filters.add("dangling", "false");
    }
    let warning = if all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !force && !confirm(warning)? {
        return Ok(0);
    }
    let report: ImagePruneResponse = prune(client, "/images/prune", &filters).await?;
    let deleted = report.images_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Images:");
        for item in &deleted {
            match item {
                ImageDeleteItem::Untagged(r) => println!("untagged: {r}"),
                ImageDeleteItem::Deleted(id) => println!("deleted: {id}"),
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(i64::try_from(report.space_reclaimed).unwrap_or(i64::MAX))
    );
    Ok(0)
}

/// `berth system df [-v]`: docker's summary table (or, verbose, one table
/// per kind).
pub async fn system_df(client: &Client, verbose: bool) -> Result<i32> {
    let df: DiskUsageResponse = client.get_json("/system/df").await?;
    if verbose {
        print_df_verbose(&df);
    } else {
        print_df_summary(&df);
    }
    Ok(0)
}

/// `system df -v`: images, then containers.
fn print_df_verbose(df: &DiskUsageResponse) {
    let images = df.images.as_deref().unwrap_or_default();
    let containers = df.containers.as_deref().unwrap_or_default();
    println!("Images space usage:\n");
    let rows: Vec<Vec<String>> = images
        .iter()
        .map(|i| {
            let tag = i.repo_tags.first().map_or("<none>:<none>", String::as_str);
            vec![
                tag.to_owned(),
                short_id(&i.id),
                ago(i.created),
                human_size(i.size),
                human_size(i.shared_size),
                human_size(i.size - i.shared_size),
                i.containers.to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "REFERENCE",
                "IMAGE ID",
                "CREATED",
                "SIZE",
                "SHARED SIZE",
                "UNIQUE SIZE",
                "CONTAINERS"
            ],
            &rows
        )
    );
    println!("\nContainers space usage:\n");
    let rows: Vec<Vec<String>> = containers
        .iter()
        .map(|c| {
            vec![
                short_id(&c.id),
                c.image.clone(),
                ellipsis(&c.command, 20),
                human_size(c.size_rw.unwrap_or(0)),
                ago(c.created),
                c.status.clone(),
                c.names.join(",").trim_start_matches('/').to_owned(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "SIZE",
                "CREATED",
                "STATUS",
                "NAMES"
            ],
            &rows
        )
    );
}

/// `system df`: one row per kind, with what is in use and what a prune
/// would reclaim.
fn print_df_summary(df: &DiskUsageResponse) {
    let images = df.images.as_deref().unwrap_or_default();
    let containers = df.containers.as_deref().unwrap_or_default();
    let active_images = images.iter().filter(|i| i.containers > 0).count();
    let reclaimable_images: i64 = images
        .iter()
        .filter(|i| i.containers <= 0)
        .map(|i| i.size - i.shared_size)
        .sum();
    let containers_size: i64 = containers.iter().filter_map(|c| c.size_rw).sum();
    let active_containers = containers.iter().filter(|c| c.state == "running").count();
    let reclaimable_containers: i64 = containers
        .iter()
        .filter(|c| c.state != "running")
        .filter_map(|c| c.size_rw)
        .sum();
    let percent = |part: i64, whole: i64| {
        if whole > 0 {
            format!("{} ({}%)", human_size(part), part * 100 / whole)
        } else {
            human_size(part)
        }
    };
    let rows = vec![
        vec![
            "Images".to_owned(),
            images.len().to_string(),
            active_images.to_string(),
            human_size(df.layers_size),
            percent(reclaimable_images, df.layers_size),
        ],
        vec![
            "Containers".to_owned(),
            containers.len().to_string(),
            active_containers.to_string(),
            human_size(containers_size),
            percent(reclaimable_containers, containers_size),
        ],
        // berth has no volumes and no build cache yet: the daemon's lists
        // are empty, so these rows count nothing.
        vec![
            "Local Volumes".to_owned(),
            df.volumes.as_ref().map_or(0, Vec::len).to_string(),
            "0".to_owned(),
            human_size(0),
            human_size(0),
        ],
        vec![
            "Build Cache".to_owned(),
            df.build_cache.as_ref().map_or(0, Vec::len).to_string(),
            "0".to_owned(),
            human_size(0),
            human_size(0),
        ],
    ];
    print!(
        "{}",
        table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &rows)
    );
}

/// `berth diff CONTAINER`: one `C`/`A`/`D` line per changed path.
pub async fn diff(client: &Client, container: &str) -> Result<i32> {
    let changes: Vec<FilesystemChange> = client
        .get_json(&format!("/containers/{}/changes", segment(container)))
        .await?;
    for change in changes {
        let letter = match change.kind {
            0 => 'C',
            1 => 'A',
            2 => 'D',
            other => return Err(anyhow!("unknown change kind {other} for {}", change.path)),
        };
        println!("{letter} {}", change.path);
    }
    Ok(0)
}
