//! `berth cp`: copies between a container and the local file system, as
//! the docker CLI's `cp` (`cli/command/container/cp.go` and moby's
//! `pkg/archive/copy.go`, whose `PrepareArchiveCopy` decides where a tar
//! is extracted and under which name).

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use berth_model::files::{PathStat, go_mode};
use futures_util::TryStreamExt;
use http_body_util::BodyExt;
use hyper::Method;

use crate::http::{Body, Client, DaemonError, query, segment};

use super::Result;

mod xattrs;

/// One side of a copy.
#[derive(Debug, PartialEq, Eq)]
enum Endpoint<'a> {
    Local(&'a str),
    Container { container: &'a str, path: &'a str },
}

/// The docker CLI's `splitCpArg`: an absolute path, or one starting with
/// `.`, is local even with a colon in it; else `CONTAINER:PATH` names a
/// container.
fn split(arg: &str) -> Endpoint<'_> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Endpoint::Local(arg);
    }
    match arg.split_once(':') {
        Some((container, path)) if !container.is_empty() => Endpoint::Container { container, path },
        _ => Endpoint::Local(arg),
    }
}

/// `berth cp [-a] [-L] SRC DST`.
pub async fn cp(client: &Client, src: &str, dst: &str, archive: bool, follow: bool) -> Result<i32> {
    match (split(src), split(dst)) {
        (Endpoint::Container { .. }, Endpoint::Container { .. }) => {
            bail!("copying between containers is not supported")
        }
        (Endpoint::Local(_), Endpoint::Local(_)) => {
            bail!("must specify at least one container source")
        }
        (Endpoint::Container { container, path }, Endpoint::Local(local)) => {
            copy_from(client, container, path, local, follow).await
        }
        (Endpoint::Local(local), Endpoint::Container { container, path }) => {
            copy_to(client, local, container, path, archive, follow).await
        }
    }
}

fn archive_path(container: &str, path: &str) -> String {
    format!(
        "/containers/{}/archive{}",
        segment(container),
        query(&[("path", path)])
    )
}

/// The stat header of an archive response.
fn stat_of(response: &hyper::Response<hyper::body::Incoming>) -> Result<PathStat> {
    let value = response
        .headers()
        .get("X-Docker-Container-Path-Stat")
        .ok_or_else(|| anyhow!("the daemon sent no X-Docker-Container-Path-Stat header"))?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .context("the stat header is not base64")?;
    serde_json::from_slice(&json).context("the stat header is not a path stat")
}

async fn stat(client: &Client, container: &str, path: &str) -> Result<PathStat> {
    let response = client
        .call(
            Method::HEAD,
            &archive_path(container, path),
            Body::Empty,
            None,
        )
        .await
        .map_err(|e| match e.downcast::<DaemonError>() {
            // A HEAD answer has no body to carry moby's message.
            Ok(d) if d.status == hyper::StatusCode::NOT_FOUND => DaemonError {
                status: d.status,
                message: format!("Error: No such container:path: {container}:{path}"),
            }
            .into(),
            Ok(d) => d.into(),
            Err(e) => e,
        })?;
    stat_of(&response)
}

fn is_dir(stat: &PathStat) -> bool {
    stat.mode & go_mode::DIR != 0
}

/// A symlink's target as the CLI follows it: absolute, or joined to the
/// link's directory.
fn follow_target(path: &str, stat: &PathStat) -> String {
    if stat.link_target.starts_with('/') {
        return stat.link_target.clone();
    }
    let dir = Path::new(path).parent().unwrap_or(Path::new("/"));
    dir.join(&stat.link_target).display().to_string()
}

/// moby `SplitPathDirEntry`: the directory and the base name, a trailing
/// `/.` kept as the base `.`.
fn split_dir_entry(path: &str) -> (PathBuf, OsString) {
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let p = Path::new(trimmed);
    if path.ends_with("/.") || path == "." {
        let dir = Path::new(path.strip_suffix('.').unwrap_or(path));
        return (dir.to_path_buf(), OsString::from("."));
    }
    let base = p
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| OsString::from("/"));
    let dir = p
        .parent()
        .map(Path::to_path_buf)
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    (dir, base)
}

/// What is known of one side of a copy (moby `CopyInfo`).
#[derive(Debug, Clone)]
struct CopyInfo {
    path: String,
    exists: bool,
    is_dir: bool,
    /// The name the entries should have when a followed link renamed them.
    rebase_name: Option<OsString>,
}

/// moby `PrepareArchiveCopy`: the directory to extract into and the
/// rename (old base, new base) of the entries, if any.
fn prepare(src: &CopyInfo, dst: &CopyInfo) -> Result<(String, Option<(OsString, OsString)>)> {
    let (dst_dir, dst_base) = split_dir_entry(&dst.path);
    let (_, src_base) = split_dir_entry(&src.path);
    let src_base = src.rebase_name.clone().unwrap_or(src_base);
    let rebase = Some((src_base, dst_base));
    let dst_dir = dst_dir.display().to_string();
    if dst.exists && dst.is_dir {
        // Extracted into the directory as they are.
        return Ok((dst.path.clone(), None));
    }
    if dst.exists && src.is_dir {
        bail!("cannot copy directory");
    }
    if !dst.exists && !src.is_dir && (dst.path.ends_with('/') || dst.path.ends_with("/.")) {
        bail!("no such directory");
    }
    Ok((dst_dir, rebase))
}

/// Renames a tar entry `old/...` to `new/...` (moby `RebaseArchiveEntries`).
fn rebase(name: &[u8], rename: &Option<(OsString, OsString)>) -> Vec<u8> {
    let Some((old, new)) = rename else {
        return name.to_vec();
    };
    let old = old.as_bytes();
    if name == old || (name.starts_with(old) && name.get(old.len()) == Some(&b'/')) {
        let mut out = new.as_bytes().to_vec();
        out.extend_from_slice(&name[old.len()..]);
        return out;
    }
    name.to_vec()
}

async fn copy_from(
    client: &Client,
    container: &str,
    path: &str,
    local: &str,
    follow: bool,
) -> Result<i32> {
    let mut src_path = path.to_owned();
    let mut rebase_name = None;
    if follow {
        let s = stat(client, container, path).await?;
        if s.mode & go_mode::SYMLINK != 0 {
            rebase_name = Some(split_dir_entry(path).1);
            src_path = follow_target(path, &s);
        }
    }
    let response = client
        .call(
            Method::GET,
            &archive_path(container, &src_path),
            Body::Empty,
            None,
        )
        .await?;
    let src_stat = stat_of(&response)?;
    let body = response
        .into_body()
        .into_data_stream()
        .map_err(io::Error::other);
    let reader = tokio_util::io::StreamReader::new(body);
    if local == "-" {
        let mut reader = reader;
        tokio::io::copy(&mut reader, &mut tokio::io::stdout())
            .await
            .context("writing the archive to stdout")?;
        return Ok(0);
    }
    let src = CopyInfo {
        path: src_path,
        exists: true,
        is_dir: is_dir(&src_stat),
        rebase_name,
    };
    let meta = std::fs::metadata(local);
    let dst = CopyInfo {
        path: local.to_owned(),
        exists: meta.is_ok(),
        is_dir: meta.as_ref().map(|m| m.is_dir()).unwrap_or(false),
        rebase_name: None,
    };
    if let Err(e) = &meta
        && e.kind() != io::ErrorKind::NotFound
    {
        return Err(anyhow!("{local}: {e}"));
    }
    let (dir, rename) = prepare(&src, &dst)?;
    // A followed link's entries first take the link's name (the CLI's
    // `RebaseArchiveEntries(content, srcBase, RebaseName)`), then the
    // destination's.
    let mut renames = Vec::new();
    if let Some(name) = &src.rebase_name {
        renames.push(Some((split_dir_entry(&src.path).1, name.clone())));
    }
    renames.push(rename);
    let bridge = tokio_util::io::SyncIoBridge::new(reader);
    let warnings =
        tokio::task::spawn_blocking(move || extract_local(bridge, Path::new(&dir), &renames))
            .await
            .context("the extraction task failed")??;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    Ok(0)
}

/// Extracts a tar from the daemon into the local directory `dir`. Entry
/// names may only go down from `dir`; ownership is not applied (the
/// docker CLI's `NoLchown`); the allowed extended attributes are
/// ([`xattrs`]), a file capability only when run as root. Returns the
/// warnings of what was skipped.
fn extract_local(
    input: impl io::Read,
    dir: &Path,
    renames: &[Option<(OsString, OsString)>],
) -> Result<Vec<String>> {
    let may_set_capability = nix::unistd::geteuid().is_root();
    let mut warnings = Vec::new();
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    for entry in archive.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        let raw = entry.path_bytes().into_owned();
        let name = renames.iter().fold(raw.to_vec(), |n, r| rebase(&n, r));
        let name = PathBuf::from(OsString::from_vec(name));
        if name
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            bail!("refusing the archive entry {}", name.display());
        }
        let target = dir.join(&name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        // moby `createTarFile` leaves an existing directory as it is, its
        // attributes included.
        if entry.header().entry_type() == tar::EntryType::Directory && target.is_dir() {
            continue;
        }
        let attributes = xattrs::from_pax(&mut entry).context("reading the archive")?;
        entry
            .unpack(&target)
            .with_context(|| format!("extracting {}", target.display()))?;
        // After the content and the mode: writing a file clears its
        // capability.
        warnings.extend(xattrs::apply(&target, &attributes, may_set_capability)?);
    }
    Ok(warnings)
}

async fn copy_to(
    client: &Client,
    local: &str,
    container: &str,
    path: &str,
    archive: bool,
    follow: bool,
) -> Result<i32> {
    // The destination as the daemon sees it; a symlink is followed unless
    // the path ends with a separator (the CLI does the same).
    let mut dst = CopyInfo {
        path: path.to_owned(),
        exists: false,
        is_dir: false,
        rebase_name: None,
    };
    match stat(client, container, path).await {
        Ok(mut s) => {
            if s.mode & go_mode::SYMLINK != 0 && !path.ends_with('/') {
                dst.path = follow_target(path, &s);
                s = stat(client, container, &dst.path).await?;
            }
            dst.exists = true;
            dst.is_dir = is_dir(&s);
        }
        Err(e) => match e.downcast_ref::<DaemonError>() {
            Some(d) if d.status == hyper::StatusCode::NOT_FOUND => {}
            _ => return Err(e),
        },
    }
    let mut pairs = vec![("noOverwriteDirNonDir", "true")];
    if archive {
        pairs.push(("copyUIDGID", "true"));
    }
    if local == "-" {
        if !dst.is_dir {
            bail!("destination \"{container}:{path}\" must be a directory");
        }
        pairs.push(("path", &dst.path));
        let response = client
            .call(
                Method::PUT,
                &format!(
                    "/containers/{}/archive{}",
                    segment(container),
                    query(&pairs)
                ),
                Body::Reader(Box::new(tokio::io::stdin())),
                Some("application/x-tar"),
            )
            .await?;
        drop(response);
        return Ok(0);
    }
    let mut src_path = PathBuf::from(local);
    let mut rebase_name = None;
    let link = std::fs::symlink_metadata(&src_path).with_context(|| local.to_string())?;
    if follow && link.file_type().is_symlink() {
        rebase_name = src_path.file_name().map(|n| n.to_os_string());
        src_path = std::fs::canonicalize(&src_path).with_context(|| local.to_string())?;
    }
    let meta = if follow {
        std::fs::metadata(&src_path)
    } else {
        std::fs::symlink_metadata(&src_path)
    }
    .with_context(|| local.to_string())?;
    let src = CopyInfo {
        path: if local.ends_with("/.") {
            format!("{}/.", src_path.display())
        } else {
            src_path.display().to_string()
        },
        exists: true,
        is_dir: meta.is_dir(),
        rebase_name,
    };
    let (dst_dir, rename) = prepare(&src, &dst)?;
    pairs.push(("path", &dst_dir));
    let (writer, reader) = tokio::io::duplex(64 << 10);
    let (src_dir, src_base) = split_dir_entry(&src.path);
    // A followed link is archived under the link's name.
    let src_base = src.rebase_name.clone().unwrap_or(src_base);
    let source = src_path.clone();
    let packing = tokio::task::spawn_blocking(move || {
        pack_local(
            tokio_util::io::SyncIoBridge::new(writer),
            &source,
            &src_dir,
            &src_base,
            &rename,
        )
    });
    let sent = client
        .call(
            Method::PUT,
            &format!(
                "/containers/{}/archive{}",
                segment(container),
                query(&pairs)
            ),
            Body::Reader(Box::new(reader)),
            Some("application/x-tar"),
        )
        .await;
    let packed = packing.await.context("the archiving task failed")?;
    // The daemon's answer first: a refusal explains a broken pipe here.
    sent?;
    packed?;
    Ok(0)
}

/// Writes a tar of the local `source` (links kept as links), its entries
/// named from `base` (`.` for a `dir/.` source) renamed by `rename`, each
/// with its extended attributes ([`xattrs`]).
fn pack_local(
    out: impl io::Write,
    source: &Path,
    _dir: &Path,
    base: &OsString,
    rename: &Option<(OsString, OsString)>,
) -> Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let name = PathBuf::from(OsString::from_vec(rebase(base.as_bytes(), rename)));
    // Depth first, a directory before what it holds and names in order, so
    // that the same tree gives the same archive; a stack rather than
    // recursion, as deep as the tree may be.
    let mut stack = vec![(source.to_path_buf(), name)];
    while let Some((source, name)) = stack.pop() {
        let meta =
            std::fs::symlink_metadata(&source).with_context(|| format!("{}", source.display()))?;
        let attributes = xattrs::read(&source)
            .with_context(|| format!("reading the extended attributes of {}", source.display()))?;
        xattrs::append_pax(&mut builder, &attributes).context("sending the archive")?;
        builder
            .append_path_with_name(&source, &name)
            .with_context(|| format!("archiving {}", source.display()))?;
        if meta.is_dir() {
            let mut children = std::fs::read_dir(&source)
                .and_then(|d| {
                    d.map(|e| e.map(|e| e.file_name()))
                        .collect::<io::Result<Vec<_>>>()
                })
                .with_context(|| format!("reading {}", source.display()))?;
            children.sort();
            for child in children.into_iter().rev() {
                stack.push((source.join(&child), name.join(&child)));
            }
        }
    }
    builder
        .into_inner()
        .and_then(|mut w| w.flush())
        .context("sending the archive")?;
    Ok(())
}

#[cfg(test)]
mod xattr_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_as_the_docker_cli_does() {
        assert_eq!(
            split("c:/etc"),
            Endpoint::Container {
                container: "c",
                path: "/etc"
            }
        );
        assert_eq!(split("/abs:colon"), Endpoint::Local("/abs:colon"));
        assert_eq!(split("./rel:colon"), Endpoint::Local("./rel:colon"));
        assert_eq!(split("plain"), Endpoint::Local("plain"));
        assert_eq!(split("-"), Endpoint::Local("-"));
    }

    fn info(path: &str, exists: bool, is_dir: bool) -> CopyInfo {
        CopyInfo {
            path: path.into(),
            exists,
            is_dir,
            rebase_name: None,
        }
    }

    #[test]
    fn prepare_follows_mobys_cases() {
        // Into an existing directory: as is.
        let (dir, rename) =
            prepare(&info("/src/f", true, false), &info("/dst", true, true)).unwrap();
        assert_eq!((dir.as_str(), rename), ("/dst", None));
        // A file onto a new name: extracted in the parent, renamed.
        let (dir, rename) =
            prepare(&info("/src/f", true, false), &info("/dst/g", false, false)).unwrap();
        assert_eq!(dir, "/dst");
        assert_eq!(rename, Some(("f".into(), "g".into())));
        // A directory's contents (`dir/.`) into a new directory.
        let (dir, rename) =
            prepare(&info("/src/d/.", true, true), &info("/new", false, false)).unwrap();
        assert_eq!(dir, "/");
        assert_eq!(rename, Some((".".into(), "new".into())));
        assert!(prepare(&info("/src/d", true, true), &info("/file", true, false)).is_err());
        assert!(prepare(&info("/src/f", true, false), &info("/nodir/", false, false)).is_err());
    }

    #[test]
    fn rebase_renames_the_top_entry_and_its_children_only() {
        let r = Some((OsString::from("a"), OsString::from("b")));
        assert_eq!(rebase(b"a", &r), b"b");
        assert_eq!(rebase(b"a/x", &r), b"b/x");
        assert_eq!(rebase(b"ab/x", &r), b"ab/x");
        let dot = Some((OsString::from("."), OsString::from("new")));
        assert_eq!(rebase(b"./x", &dot), b"new/x");
    }
}
