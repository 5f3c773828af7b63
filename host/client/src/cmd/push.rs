//! `berth push` and `berth search`, as the docker CLI does them.

use std::io::IsTerminal;

use anyhow::Result;
use hyper::Method;

use super::pull::{PullOutput, show_progress};
use crate::format::{ellipsis, table};
use crate::http::{Body, Client, query};

/// Splits `NAME[:TAG]` into the name and tag the API takes; no tag means
/// `latest` unless `all_tags` (then none: every local tag is pushed).
fn name_and_tag(reference: &str, all_tags: bool) -> Result<(&str, &str)> {
    let tagged = reference
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'));
    match (tagged, all_tags) {
        (Some(_), true) => Err(anyhow::anyhow!("tag can't be used with --all-tags/-a")),
        (Some((name, tag)), false) => Ok((name, tag)),
        (None, true) => Ok((reference, "")),
        (None, false) => Ok((reference, "latest")),
    }
}

/// `berth push [-a] [-q] NAME[:TAG]`.
pub async fn push(client: &Client, reference: &str, all_tags: bool, quiet: bool) -> Result<i32> {
    if reference.contains('@') {
        return Err(anyhow::anyhow!("cannot push a digest reference"));
    }
    let (name, tag) = name_and_tag(reference, all_tags)?;
    let output = if quiet {
        PullOutput::Quiet
    } else if std::io::stdout().is_terminal() {
        PullOutput::Bars
    } else {
        PullOutput::Lines
    };
    let headers = crate::cmd::registry_auth_header(reference)
        .map(|h| vec![("X-Registry-Auth", h)])
        .unwrap_or_default();
    let path = format!("/images/{name}/push{}", query(&[("tag", tag)]));
    let response = client
        .send_with_headers(Method::POST, &path, Body::Empty, None, false, &headers)
        .await?;
    show_progress(response, output, false).await?;
    if quiet {
        println!("{reference}");
    }
    Ok(0)
}

/// One search result.
#[derive(serde::Deserialize)]
struct SearchResult {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    star_count: u64,
    #[serde(default)]
    is_official: bool,
}

/// One row of `GET /images/search?listTags=true`.
#[derive(serde::Deserialize)]
struct TagResult {
    name: String,
    tag: String,
}

/// `berth search [--limit N] [-f FILTER] [--no-trunc] [--list-tags] TERM`:
/// Docker's table of repositories, or with `--list-tags` podman's table of
/// one repository's tags.
pub async fn search(
    client: &Client,
    term: &str,
    limit: Option<u32>,
    filters: &[String],
    no_trunc: bool,
    list_tags: bool,
) -> Result<i32> {
    let limit = limit.map(|l| l.to_string());
    let mut pairs = vec![("term", term)];
    if list_tags {
        pairs.push(("listTags", "true"));
    }
    if let Some(l) = &limit {
        pairs.push(("limit", l));
    }
    let filters = super::parse_filters(filters)?;
    let filters_json = filters.to_query_json();
    if !filters.is_empty() {
        pairs.push(("filters", &filters_json));
    }
    let headers = crate::cmd::registry_auth_header(term)
        .map(|h| vec![("X-Registry-Auth", h)])
        .unwrap_or_default();
    let response = client
        .send_with_headers(
            Method::GET,
            &format!("/images/search{}", query(&pairs)),
            Body::Empty,
            None,
            false,
            &headers,
        )
        .await?;
    let response = crate::http::check(response).await?;
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await?
        .to_bytes();
    if list_tags {
        // podman's `search --list-tags` table.
        let tags: Vec<TagResult> = serde_json::from_slice(&body)?;
        let rows: Vec<Vec<String>> = tags.into_iter().map(|t| vec![t.name, t.tag]).collect();
        print!("{}", table(&["NAME", "TAG"], &rows));
        return Ok(0);
    }
    let results: Vec<SearchResult> = serde_json::from_slice(&body)?;
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let description = r.description.replace('\n', " ");
            vec![
                r.name.clone(),
                if no_trunc {
                    description
                } else {
                    ellipsis(&description, 45)
                },
                r.star_count.to_string(),
                if r.is_official { "[OK]" } else { "" }.to_owned(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["NAME", "DESCRIPTION", "STARS", "OFFICIAL"], &rows)
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_names_its_tag_as_the_docker_cli_does() {
        assert_eq!(
            name_and_tag("a/b", false).expect("latest"),
            ("a/b", "latest")
        );
        assert_eq!(
            name_and_tag("127.0.0.1:5000/a:v1", false).expect("tag"),
            ("127.0.0.1:5000/a", "v1")
        );
        assert_eq!(
            name_and_tag("127.0.0.1:5000/a", false).expect("port is no tag"),
            ("127.0.0.1:5000/a", "latest")
        );
        assert_eq!(name_and_tag("a", true).expect("all"), ("a", ""));
        assert!(name_and_tag("a:v1", true).is_err());
    }
}
