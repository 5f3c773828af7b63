//! Finding 6 of issue 8: a filter berthd does not apply is a 400, never an
//! unfiltered list; the image list applies Docker's filters.

use std::collections::BTreeMap;

use super::*;

fn image(id: &str, tags: &[&str], labels: &[(&str, &str)], created: i64) -> (ImageSummary, String) {
    let time = chrono::DateTime::from_timestamp(created, 0).unwrap();
    (
        ImageSummary {
            id: id.to_owned(),
            repo_tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            created,
            ..ImageSummary::default()
        },
        now_like(time),
    )
}

fn now_like(time: chrono::DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Four images: two tagged with labels, a dangling one, one in a registry
/// with a port, oldest first.
fn with_images() -> Fixture {
    let f = fixture();
    *f.images.catalog.lock().unwrap() = vec![
        image(
            "sha256:aaa",
            &["busybox:latest", "busybox:1.36"],
            &[("app", "x")],
            100,
        ),
        image(
            "sha256:bbb",
            &["myrepo/web:1.0"],
            &[("app", "y"), ("tier", "front")],
            200,
        ),
        image("sha256:ccc", &[], &[], 300),
        image("sha256:ddd", &["localhost:5000/tools/jq:1.7"], &[], 400),
    ];
    f
}

impl Fixture {
    /// `GET /images/json?filters=...` through the job: the ids, sorted, and
    /// the tags shown for each.
    async fn images(&self, filters: &str) -> Result<BTreeMap<String, Vec<String>>, JobError> {
        let (job, streams) = Job::new("image_list");
        let job = job.env("filters", filters);
        let (result, out) = self.run_job(job, streams).await;
        result?;
        let list: Vec<ImageSummary> = serde_json::from_slice(&out).unwrap();
        Ok(list.into_iter().map(|i| (i.id, i.repo_tags)).collect())
    }

    async fn image_ids(&self, filters: &str) -> Vec<String> {
        self.images(filters)
            .await
            .unwrap_or_else(|e| panic!("{filters}: {e}"))
            .into_keys()
            .collect()
    }
}

#[tokio::test]
async fn image_list_filters_narrow_the_list() {
    let f = with_images();
    let ids = |list: &[&str]| {
        list.iter()
            .map(|i| format!("sha256:{i}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(f.image_ids("").await, ids(&["aaa", "bbb", "ccc", "ddd"]));
    for (filters, wanted) in [
        (r#"{"label":["app=x"]}"#, &["aaa"][..]),
        (r#"{"label":["app"]}"#, &["aaa", "bbb"]),
        (r#"{"label":["app","tier=front"]}"#, &["bbb"]),
        (r#"{"label":["app=z"]}"#, &[]),
        (r#"{"label!":["tier"]}"#, &["aaa", "ccc", "ddd"]),
        (r#"{"dangling":["true"]}"#, &["ccc"]),
        (r#"{"dangling":{"1":true}}"#, &["ccc"]),
        (r#"{"dangling":["false"]}"#, &["aaa", "bbb", "ddd"]),
        (r#"{"reference":["busybox"]}"#, &["aaa"]),
        (r#"{"reference":["myrepo/*"]}"#, &["bbb"]),
        (r#"{"reference":["*/web:1.?"]}"#, &["bbb"]),
        (r#"{"reference":["web"]}"#, &[]),
        (r#"{"reference":["nosuchrepo"]}"#, &[]),
        (r#"{"reference":["localhost:5000/tools/*"]}"#, &["ddd"]),
        (r#"{"reference":["busybox","myrepo/web"]}"#, &["aaa", "bbb"]),
        (r#"{"before":["myrepo/web:1.0"]}"#, &["aaa"]),
        (r#"{"since":["busybox"]}"#, &["bbb", "ccc", "ddd"]),
        (
            r#"{"since":["sha256:aaa"],"before":["sha256:ddd"]}"#,
            &["bbb", "ccc"],
        ),
        (r#"{"since":["sha256:aaa"],"dangling":["true"]}"#, &["ccc"]),
    ] {
        assert_eq!(f.image_ids(filters).await, ids(wanted), "{filters}");
    }
    // A reference filter shows only the matching tags (moby `Images`).
    let shown = f.images(r#"{"reference":["busybox:1.36"]}"#).await.unwrap();
    assert_eq!(shown["sha256:aaa"], ["busybox:1.36"]);
    // The positional argument of `docker images REPO` arrives as reference;
    // API < 1.28 clients send it as `filter`.
    let (job, streams) = Job::new("image_list");
    let (result, out) = f.run_job(job.env("filter", "myrepo/web"), streams).await;
    result.unwrap();
    let old: Vec<ImageSummary> = serde_json::from_slice(&out).unwrap();
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].id, "sha256:bbb");
}

#[tokio::test]
async fn image_list_refuses_what_it_cannot_apply() {
    let f = with_images();
    for (filters, kind, message) in [
        (
            r#"{"bogus":["1"]}"#,
            ErrorKind::InvalidParameter,
            "invalid filter 'bogus'",
        ),
        (
            r#"{"until":["10m"]}"#,
            ErrorKind::InvalidParameter,
            "invalid filter 'until'",
        ),
        (
            r#"{"dangling":["maybe"]}"#,
            ErrorKind::InvalidParameter,
            "invalid filter 'dangling=[maybe]'",
        ),
        (
            r#"{"dangling":["true","false"]}"#,
            ErrorKind::InvalidParameter,
            "invalid filter 'dangling=[false true]'",
        ),
        (
            r#"{"reference":["busybox["]}"#,
            ErrorKind::InvalidParameter,
            "syntax error in pattern",
        ),
        (
            r#"{"before":["nosuch"]}"#,
            ErrorKind::NotFound,
            "No such image: nosuch",
        ),
        (
            "{not json",
            ErrorKind::InvalidParameter,
            "invalid filter: key must be a string at line 1 column 2",
        ),
    ] {
        let err = f.images(filters).await.unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (kind, message),
            "{filters}"
        );
    }
}

#[tokio::test]
async fn container_list_refuses_filters_it_does_not_apply() {
    let f = fixture();
    f.create(Some("web"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    for (filters, message) in [
        (r#"{"bogus":["x"]}"#, "invalid filter 'bogus'"),
        (
            r#"{"exited":["abc"]}"#,
            "invalid filter 'exited=abc': not an integer",
        ),
        (r#"{"status":["bogus"]}"#, "invalid filter 'status=bogus'"),
        (
            r#"{"health":["sick"]}"#,
            "unrecognized filter value for health: sick",
        ),
        (
            r#"{"is-task":["maybe"]}"#,
            "invalid filter 'is-task': not supported by berth",
        ),
        (
            r#"{"volume":["/data"]}"#,
            "invalid filter 'volume': not supported by berth",
        ),
        (
            r#"{"network":["bridge"]}"#,
            "invalid filter 'network': not supported by berth",
        ),
        (
            r#"{"publish":["80"]}"#,
            "invalid filter 'publish': not supported by berth",
        ),
        (
            r#"{"expose":["80"]}"#,
            "invalid filter 'expose': not supported by berth",
        ),
        (
            r#"{"isolation":["default"]}"#,
            "invalid filter 'isolation': not supported by berth",
        ),
    ] {
        let err = f
            .daemon
            .list(true, &Filters::parse(filters).unwrap())
            .unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::InvalidParameter, message),
            "{filters}"
        );
    }
    let err = f
        .daemon
        .list(true, &Filters::parse(r#"{"before":["nosuch"]}"#).unwrap())
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "No such container: nosuch")
    );
}

#[tokio::test]
async fn container_list_filters_follow_moby() {
    let f = fixture();
    let mut ids = Vec::new();
    for name in ["one", "two", "three"] {
        ids.push(
            f.create(Some(name), r#"{"Image":"busybox"}"#)
                .await
                .unwrap(),
        );
        // Creation times order the list; make them distinct.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let names = |filters: &str| {
        let mut names: Vec<String> = f
            .daemon
            .list(true, &Filters::parse(filters).unwrap())
            .unwrap_or_else(|e| panic!("{filters}: {e}"))
            .into_iter()
            .map(|c| c.names[0].clone())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(r#"{"before":["two"]}"#), ["/one"]);
    assert_eq!(names(r#"{"since":["two"]}"#), ["/three"]);
    assert_eq!(
        names(&format!(r#"{{"since":["{}"]}}"#, &ids[0][..12])),
        ["/three", "/two"]
    );
    // name and id are regular expressions, as in moby's `Args.Match`.
    assert_eq!(names(r#"{"name":["^/t"]}"#), ["/three", "/two"]);
    assert_eq!(names(r#"{"name":["^two$"]}"#), ["/two"]);
    assert_eq!(
        names(&format!(r#"{{"id":["{}"]}}"#, &ids[2][..10])),
        ["/three"]
    );
    // No container has a health check: every one is "none".
    assert_eq!(names(r#"{"health":["none"]}"#).len(), 3);
    assert!(names(r#"{"health":["healthy"]}"#).is_empty());
}

#[tokio::test]
async fn event_filters_are_checked_before_the_stream_starts() {
    let f = fixture();
    for (filters, since, message) in [
        (r#"{"bogus":["x"]}"#, "", "invalid filter 'bogus'"),
        (
            "",
            "yesterday",
            "invalid value for \"since\": failed to parse value as time or duration: invalid seconds \"yesterday\": invalid syntax",
        ),
    ] {
        let (job, streams) = Job::new("system_events");
        let job = job
            .env("filters", filters)
            .env("since", since)
            .env("until", "1");
        let (result, _) = f.run_job(job, streams).await;
        let err = result.unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::InvalidParameter, message),
            "{filters}"
        );
    }
    // moby's filters on objects berth has none of are accepted (and match
    // by name, as moby's do), not refused.
    for filters in [
        r#"{"volume":["v"]}"#,
        r#"{"daemon":["d"]}"#,
        r#"{"network":["n"]}"#,
    ] {
        let (job, streams) = Job::new("system_events");
        let job = job.env("filters", filters).env("until", "1");
        let (result, _) = f.run_job(job, streams).await;
        result.unwrap_or_else(|e| panic!("{filters}: {e}"));
    }
}
