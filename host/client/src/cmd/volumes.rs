//! `berth volume create|ls|inspect|rm|prune`, with docker's flags and
//! output.

use std::collections::BTreeMap;

use berth_api::units::human_size;
use berth_api::volume::{Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse};
use hyper::Method;

use crate::format::table;
use crate::http::{Client, query, segment};

use super::prune::{confirm, parse_filters, prune};
use super::{Result, flag, for_each};

/// `KEY=VALUE` flags (`--label`, `--opt`) as a map; a bare `KEY` is an
/// empty value, as docker's.
fn pairs(flags: &[String]) -> BTreeMap<String, String> {
    flags
        .iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (f.clone(), String::new()),
        })
        .collect()
}

/// `berth volume create [NAME] [-d DRIVER] [--label k=v] [-o k=v]`.
pub async fn volume_create(
    client: &Client,
    name: Option<&str>,
    driver: &str,
    labels: &[String],
    options: &[String],
) -> Result<i32> {
    let request = VolumeCreateRequest {
        name: name.unwrap_or_default().to_owned(),
        driver: driver.to_owned(),
        driver_opts: pairs(options),
        labels: pairs(labels),
        cluster_volume_spec: None,
    };
    let volume: Volume = client.post_json("/volumes/create", &request).await?;
    println!("{}", volume.name);
    Ok(0)
}

/// `berth volume ls [-q] [-f k=v]...`.
pub async fn volume_ls(client: &Client, quiet: bool, filter: &[String]) -> Result<i32> {
    let filters = parse_filters(filter)?;
    let encoded = filters.to_query_json();
    let pairs: Vec<(&str, &str)> = if filters.is_empty() {
        Vec::new()
    } else {
        vec![("filters", &encoded)]
    };
    let list: VolumeListResponse = client
        .get_json(&format!("/volumes{}", query(&pairs)))
        .await?;
    if quiet {
        for v in &list.volumes {
            println!("{}", v.name);
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .volumes
        .iter()
        .map(|v| vec![v.driver.clone(), v.name.clone()])
        .collect();
    print!("{}", table(&["DRIVER", "VOLUME NAME"], &rows));
    Ok(0)
}

/// `berth volume inspect NAME...`: the volumes found as one JSON array,
/// each missing one on stderr, as docker does.
pub async fn volume_inspect(client: &Client, names: &[String]) -> Result<i32> {
    super::inspect_each(client, "/volumes", names).await
}

/// `berth volume rm [-f] NAME...`: each removed name, as docker.
pub async fn volume_rm(client: &Client, names: &[String], force: bool) -> Result<i32> {
    Ok(for_each(names, |name| async move {
        client
            .simple(
                Method::DELETE,
                &format!(
                    "/volumes/{}{}",
                    segment(name),
                    query(&[("force", flag(force))])
                ),
            )
            .await?;
        println!("{name}");
        Ok(())
    })
    .await)
}

/// `berth volume prune [-a] [-f] [--filter k=v]...`.
pub async fn volume_prune(
    client: &Client,
    all: bool,
    force: bool,
    filter: &[String],
) -> Result<i32> {
    let mut filters = parse_filters(filter)?;
    if all {
        filters.add("all", "true");
    }
    let warning = if all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !force && !confirm(warning)? {
        return Ok(0);
    }
    let report: VolumePruneResponse = prune(client, "/volumes/prune", &filters).await?;
    if !report.volumes_deleted.is_empty() {
        println!("Deleted Volumes:");
        for name in &report.volumes_deleted {
            println!("{name}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(i64::try_from(report.space_reclaimed).unwrap_or(i64::MAX))
    );
    Ok(0)
}

/// A boolean `--mount` option: bare means true (docker CLI `opts/mount.go`).
fn mount_bool(key: &str, value: Option<&str>) -> Result<bool> {
    match value {
        None | Some("1" | "true" | "True" | "TRUE") => Ok(true),
        Some("0" | "false" | "False" | "FALSE") => Ok(false),
        Some(other) => Err(anyhow::anyhow!("invalid value for {key}: {other}")),
    }
}

/// One `--mount` flag as the docker CLI turns it into a `Mounts` entry
/// (`opts/mount.go` `MountOpt.Set`): comma-separated `key=value` pairs,
/// `type` `volume` by default, an unknown key refused with its message.
pub fn parse_mount(value: &str) -> Result<berth_api::container::MountSpec> {
    use berth_api::container::{BindOptions, DriverConfig, MountSpec, TmpfsOptions, VolumeOptions};
    let mut spec = MountSpec {
        kind: "volume".to_owned(),
        ..MountSpec::default()
    };
    let mut volume: Option<VolumeOptions> = None;
    let mut bind: Option<BindOptions> = None;
    let mut tmpfs: Option<TmpfsOptions> = None;
    for field in value.split(',').filter(|f| !f.is_empty()) {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        let need = || {
            val.ok_or_else(|| anyhow::anyhow!("invalid field '{field}' must be a key=value pair"))
        };
        match key.as_str() {
            "type" => spec.kind = need()?.to_owned(),
            "source" | "src" => spec.source = need()?.to_owned(),
            "target" | "dst" | "destination" => spec.target = need()?.to_owned(),
            "readonly" | "ro" => spec.read_only = mount_bool(&key, val)?,
            "bind-propagation" => {
                bind.get_or_insert_with(BindOptions::default).propagation = need()?.to_owned();
            }
            "volume-nocopy" => {
                volume.get_or_insert_with(VolumeOptions::default).no_copy = mount_bool(&key, val)?;
            }
            "volume-label" => {
                let (k, v) = need()?.split_once('=').unwrap_or((need()?, ""));
                volume
                    .get_or_insert_with(VolumeOptions::default)
                    .labels
                    .insert(k.to_owned(), v.to_owned());
            }
            "volume-driver" => {
                volume
                    .get_or_insert_with(VolumeOptions::default)
                    .driver_config
                    .get_or_insert_with(DriverConfig::default)
                    .name = need()?.to_owned();
            }
            "volume-opt" => {
                let (k, v) = need()?.split_once('=').unwrap_or((need()?, ""));
                volume
                    .get_or_insert_with(VolumeOptions::default)
                    .driver_config
                    .get_or_insert_with(DriverConfig::default)
                    .options
                    .insert(k.to_owned(), v.to_owned());
            }
            "tmpfs-size" => {
                let size = berth_api::units::ram_in_bytes(need()?)
                    .map_err(|e| anyhow::anyhow!("invalid value for {key}: {e}"))?;
                tmpfs.get_or_insert_with(TmpfsOptions::default).size_bytes = size;
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(need()?, 8).map_err(|_| {
                    anyhow::anyhow!("invalid value for {key}: {}", need().unwrap_or(""))
                })?;
                tmpfs.get_or_insert_with(TmpfsOptions::default).mode = mode;
            }
            _ => anyhow::bail!("unexpected key '{key}' in '{field}'"),
        }
    }
    if spec.target.is_empty() {
        anyhow::bail!("target is required");
    }
    spec.bind_options = bind;
    spec.volume_options = volume;
    spec.tmpfs_options = tmpfs;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_flags_become_mounts_entries_as_the_docker_cli_makes_them() {
        let m = parse_mount("type=bind,src=/a,dst=/b,readonly,bind-propagation=rslave").unwrap();
        assert_eq!(
            (
                m.kind.as_str(),
                m.source.as_str(),
                m.target.as_str(),
                m.read_only
            ),
            ("bind", "/a", "/b", true)
        );
        assert_eq!(m.bind_options.unwrap().propagation, "rslave");
        let m = parse_mount("src=v,target=/d,volume-nocopy,volume-label=a=b,volume-opt=type=tmpfs")
            .unwrap();
        assert_eq!(m.kind, "volume");
        let v = m.volume_options.unwrap();
        assert!(v.no_copy);
        assert_eq!(v.labels["a"], "b");
        assert_eq!(v.driver_config.unwrap().options["type"], "tmpfs");
        let m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        let t = m.tmpfs_options.unwrap();
        assert_eq!((t.size_bytes, t.mode), (1 << 20, 0o1770));
        assert!(parse_mount("type=volume,dst=/x,colour=red").is_err());
        assert!(parse_mount("type=volume").is_err());
    }
}
