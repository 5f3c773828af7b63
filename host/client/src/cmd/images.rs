//! Image commands: `import`, `images`, `tag`, `rmi`.

use anyhow::{Context, anyhow};
use berth_api::image::{ImageDeleteItem, ImageSummary, ProgressMessage};
use http_body_util::BodyExt;
use hyper::Method;

use crate::format::{ago, short_id, table};
use crate::http::{Body, Client, DaemonError, query, segment};

use super::{Result, flag, for_each};

pub async fn import(
    client: &Client,
    file: &str,
    reference: Option<&str>,
    changes: &[String],
    message: Option<&str>,
) -> Result<i32> {
    let body: Box<dyn tokio::io::AsyncRead + Send + Sync + Unpin> = if file == "-" {
        Box::new(tokio::io::stdin())
    } else {
        Box::new(
            tokio::fs::File::open(file)
                .await
                .with_context(|| format!("open {file}"))?,
        )
    };
    let mut pairs = vec![("fromSrc", "-"), ("repo", reference.unwrap_or(""))];
    if let Some(m) = message {
        pairs.push(("message", m));
    }
    for c in changes {
        pairs.push(("changes", c));
    }
    let response = client
        .call(
            Method::POST,
            &format!("/images/create{}", query(&pairs)),
            Body::Reader(body),
            Some("application/x-tar"),
        )
        .await?;
    let body = response.into_body().collect().await?.to_bytes();
    let mut id = None;
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let msg: ProgressMessage = serde_json::from_slice(line)?;
        if let Some(error) = msg.error {
            return Err(DaemonError {
                status: hyper::StatusCode::INTERNAL_SERVER_ERROR,
                message: error,
            }
            .into());
        }
        id = Some(msg.status);
    }
    println!(
        "{}",
        id.ok_or_else(|| anyhow!("the daemon sent no image id"))?
    );
    Ok(0)
}

pub async fn images(client: &Client, quiet: bool) -> Result<i32> {
    let images: Vec<ImageSummary> = client.get_json("/images/json").await?;
    if quiet {
        for i in &images {
            println!("{}", short_id(&i.id));
        }
        return Ok(0);
    }
    let mut rows = Vec::new();
    for i in &images {
        let tags = if i.repo_tags.is_empty() {
            vec!["<none>:<none>".to_owned()]
        } else {
            i.repo_tags.clone()
        };
        for t in tags {
            let (repo, tag) = t
                .rsplit_once(':')
                .filter(|(_, tag)| !tag.contains('/'))
                .unwrap_or((&t, "<none>"));
            rows.push(vec![
                repo.to_owned(),
                tag.to_owned(),
                short_id(&i.id),
                ago(i.created),
                berth_api::units::human_size(i.size),
            ]);
        }
    }
    print!(
        "{}",
        table(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows)
    );
    Ok(0)
}

pub async fn tag(client: &Client, source: &str, target: &str) -> Result<i32> {
    let (repo, tag) = match target.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (target, "latest"),
    };
    client
        .simple(
            Method::POST,
            &format!(
                "/images/{}/tag{}",
                segment(source),
                query(&[("repo", repo), ("tag", tag)])
            ),
        )
        .await?;
    Ok(0)
}

pub async fn rmi(client: &Client, images: &[String], force: bool) -> Result<i32> {
    Ok(for_each(images, |image| async move {
        let path = format!(
            "/images/{}{}",
            segment(image),
            query(&[("force", flag(force))])
        );
        let response = client
            .call(Method::DELETE, &path, Body::Empty, None)
            .await?;
        let items: Vec<ImageDeleteItem> = crate::http::read_json(response).await?;
        for item in items {
            match item {
                ImageDeleteItem::Untagged(r) => println!("Untagged: {r}"),
                ImageDeleteItem::Deleted(id) => println!("Deleted: {id}"),
            }
        }
        Ok(())
    })
    .await)
}
