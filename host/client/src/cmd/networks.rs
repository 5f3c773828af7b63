//! `berth network create|ls|inspect|rm`, with docker's flags and output.

use std::collections::BTreeMap;

use berth_api::network::{
    Ipam, IpamConfig, NetworkCreateRequest, NetworkCreateResponse, NetworkResource,
};
use hyper::Method;

use crate::format::table;
use crate::http::{Client, query, segment};

use super::prune::parse_filters;
use super::{Result, for_each};

/// What `berth network create` was given.
#[derive(Debug, Default)]
pub struct NetworkCreateFlags {
    /// `-d`.
    pub driver: String,
    /// `--subnet` (one per family).
    pub subnet: Vec<String>,
    /// `--gateway`, in the order of the subnets.
    pub gateway: Vec<String>,
    /// `--internal`.
    pub internal: bool,
    /// `--ipv6`.
    pub ipv6: bool,
    /// `--label k=v`.
    pub label: Vec<String>,
    /// `-o k=v`.
    pub opt: Vec<String>,
}

fn pairs(flags: &[String]) -> BTreeMap<String, String> {
    flags
        .iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (f.clone(), String::new()),
        })
        .collect()
}

/// `berth network create NAME`: prints the new network's id, as docker.
pub async fn network_create(
    client: &Client,
    name: &str,
    flags: &NetworkCreateFlags,
) -> Result<i32> {
    let config = flags
        .subnet
        .iter()
        .enumerate()
        .map(|(i, subnet)| IpamConfig {
            subnet: subnet.clone(),
            gateway: flags.gateway.get(i).cloned().unwrap_or_default(),
            ..IpamConfig::default()
        })
        .collect();
    let request = NetworkCreateRequest {
        name: name.to_owned(),
        driver: flags.driver.clone(),
        internal: flags.internal,
        enable_ipv6: Some(flags.ipv6),
        ipam: Some(Ipam {
            driver: "default".to_owned(),
            config,
            options: BTreeMap::new(),
        }),
        options: pairs(&flags.opt),
        labels: pairs(&flags.label),
        ..NetworkCreateRequest::default()
    };
    let created: NetworkCreateResponse = client.post_json("/networks/create", &request).await?;
    println!("{}", created.id);
    Ok(0)
}

/// `berth network ls [-q] [--no-trunc] [-f k=v]...`.
pub async fn network_ls(
    client: &Client,
    quiet: bool,
    no_trunc: bool,
    filter: &[String],
) -> Result<i32> {
    let filters = parse_filters(filter)?;
    let encoded = filters.to_query_json();
    let pairs: Vec<(&str, &str)> = if filters.is_empty() {
        Vec::new()
    } else {
        vec![("filters", &encoded)]
    };
    let list: Vec<NetworkResource> = client
        .get_json(&format!("/networks{}", query(&pairs)))
        .await?;
    let id = |n: &NetworkResource| {
        if no_trunc {
            n.id.clone()
        } else {
            n.id.chars().take(12).collect()
        }
    };
    if quiet {
        for n in &list {
            println!("{}", id(n));
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|n| vec![id(n), n.name.clone(), n.driver.clone(), n.scope.clone()])
        .collect();
    print!(
        "{}",
        table(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows)
    );
    Ok(0)
}

/// `berth network inspect NETWORK...`: the networks found as one JSON
/// array, each missing one on stderr, as docker does.
pub async fn network_inspect(client: &Client, names: &[String]) -> Result<i32> {
    super::inspect_each(client, "/networks", names).await
}

/// `berth network rm NETWORK...`: each removed name, as docker.
pub async fn network_rm(client: &Client, names: &[String]) -> Result<i32> {
    Ok(for_each(names, |name| async move {
        client
            .simple(Method::DELETE, &format!("/networks/{}", segment(name)))
            .await?;
        println!("{name}");
        Ok(())
    })
    .await)
}
