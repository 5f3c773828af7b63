//! `POST /containers/prune`, `POST /images/prune`, `GET /system/df` and
//! `GET /containers/{id}/changes` through their jobs: what goes, what
//! stays, and the filters each refuses.

use berth_api::container::ContainerPruneResponse;
use berth_api::image::ImagePruneResponse;
use berth_api::system::DiskUsageResponse;
use berth_model::graph::{ContainerUsage, DiskUsage, ImageUsage};

use super::*;

impl Fixture {
    /// Runs `name` with `env`; its JSON answer.
    async fn prune_job<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        env: &[(&str, &str)],
    ) -> Result<T, JobError> {
        let (mut job, streams) = Job::new(name);
        for (k, v) in env {
            job = job.env(*k, *v);
        }
        let (result, out) = self.run_job(job, streams).await;
        result?;
        Ok(serde_json::from_slice(&out).unwrap())
    }

    /// Runs `name` on the object `arg`; its JSON answer.
    async fn prune_job_with_arg<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        arg: &str,
    ) -> Result<T, JobError> {
        let (job, streams) = Job::new(name);
        let (result, out) = self.run_job(job.arg(arg), streams).await;
        result?;
        Ok(serde_json::from_slice(&out).unwrap())
    }

    fn removals(&self) -> Vec<String> {
        self.images
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter_map(|c| c.strip_prefix("remove ").map(str::to_owned))
            .collect()
    }
}

fn summary(
    id: &str,
    tags: &[&str],
    labels: &[(&str, &str)],
    created: i64,
) -> (ImageSummary, String) {
    (
        ImageSummary {
            id: id.to_owned(),
            repo_tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            created,
            ..ImageSummary::default()
        },
        chrono::DateTime::from_timestamp(created, 0)
            .unwrap()
            .to_rfc3339(),
    )
}

#[tokio::test]
async fn container_prune_removes_what_is_not_running_and_keeps_what_the_filters_keep() {
    let f = fixture();
    let created = f
        .create(Some("created"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let keep = f
        .create(
            Some("keep"),
            r#"{"Image":"busybox","Labels":{"keep":"yes"}}"#,
        )
        .await
        .unwrap();
    f.create(Some("up"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    f.daemon.start("up").await.unwrap();

    // Created after the until time: nothing goes.
    let report: ContainerPruneResponse = f
        .prune_job(
            "container_prune",
            &[("filters", r#"{"until":["2000-01-01T00:00:00Z"]}"#)],
        )
        .await
        .unwrap();
    assert_eq!(report.containers_deleted, None);
    assert_eq!(f.record_count(), 3);

    let report: ContainerPruneResponse = f
        .prune_job("container_prune", &[("filters", r#"{"label!":["keep"]}"#)])
        .await
        .unwrap();
    assert_eq!(report.containers_deleted, Some(vec![created]));
    assert!(f.daemon.containers().get("keep").is_ok());
    assert!(
        f.daemon.containers().get("up").is_ok(),
        "a running container stays"
    );

    let report: ContainerPruneResponse = f
        .prune_job(
            "container_prune",
            &[("filters", r#"{"label":["keep=yes"]}"#)],
        )
        .await
        .unwrap();
    assert_eq!(report.containers_deleted, Some(vec![keep]));
    assert_eq!(f.record_count(), 1);
}

#[tokio::test]
async fn container_prune_refuses_filters_it_does_not_have() {
    let f = fixture();
    f.create(Some("c"), r#"{"Image":"busybox"}"#).await.unwrap();
    for (filters, message) in [
        (r#"{"status":["exited"]}"#, "invalid filter 'status'"),
        (
            r#"{"until":["yesterday"]}"#,
            "failed to parse value as time or duration",
        ),
        (
            r#"{"until":["1h","2h"]}"#,
            "more than one until filter specified",
        ),
    ] {
        let err = f
            .prune_job::<ContainerPruneResponse>("container_prune", &[("filters", filters)])
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidParameter, "{filters}: {err}");
        assert!(err.message.contains(message), "{filters}: {err}");
    }
    assert_eq!(f.record_count(), 1, "a refused prune removes nothing");
}

fn with_prunable_images() -> Fixture {
    let f = fixture();
    *f.images.catalog.lock().unwrap() = vec![
        summary("sha256:tagged", &["web:1"], &[("tier", "front")], 100),
        summary("sha256:dangling", &[], &[], 200),
        summary("sha256:new", &["new:1"], &[], 4_000_000_000),
    ];
    f
}

#[tokio::test]
async fn image_prune_takes_dangling_images_by_default_and_unused_ones_with_dangling_false() {
    let f = with_prunable_images();
    let report: ImagePruneResponse = f.prune_job("image_prune", &[]).await.unwrap();
    assert_eq!(f.removals(), ["sha256:dangling"]);
    assert_eq!(
        report.images_deleted,
        Some(vec![ImageDeleteItem::Untagged("sha256:dangling".into())])
    );

    let f = with_prunable_images();
    let _: ImagePruneResponse = f
        .prune_job(
            "image_prune",
            &[(
                "filters",
                r#"{"dangling":["false"],"until":["2000-01-01"]}"#,
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        f.removals(),
        ["web:1", "sha256:dangling"],
        "the 2096 image stays"
    );

    let f = with_prunable_images();
    let _: ImagePruneResponse = f
        .prune_job(
            "image_prune",
            &[("filters", r#"{"dangling":["0"],"label!":["tier=front"]}"#)],
        )
        .await
        .unwrap();
    assert_eq!(f.removals(), ["sha256:dangling", "new:1"]);
}

#[tokio::test]
async fn image_prune_refuses_bad_filters_in_mobys_words_and_removes_nothing() {
    let f = with_prunable_images();
    for (filters, message) in [
        (r#"{"reference":["web"]}"#, "invalid filter 'reference'"),
        (
            r#"{"dangling":["maybe"]}"#,
            "invalid filter 'dangling=[maybe]'",
        ),
        (
            r#"{"until":["soon"]}"#,
            "invalid value for 'until' filter: failed to parse value as time or duration",
        ),
    ] {
        let err = f
            .prune_job::<ImagePruneResponse>("image_prune", &[("filters", filters)])
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidParameter, "{filters}: {err}");
        assert!(err.message.contains(message), "{filters}: {err}");
    }
    assert!(f.removals().is_empty());
}

#[tokio::test]
async fn system_df_reports_the_stores_sizes_for_the_types_asked() {
    let f = fixture();
    let id = f.create(Some("c"), r#"{"Image":"busybox"}"#).await.unwrap();
    *f.images.catalog.lock().unwrap() = vec![
        summary("sha256:tagged", &["web:1"], &[("tier", "front")], 100),
        summary("sha256:dangling", &[], &[], 200),
    ];
    *f.images.usage.lock().unwrap() = DiskUsage {
        driver: "fake".into(),
        layers_size: 5000,
        images: vec![
            ImageUsage {
                id: "sha256:tagged".into(),
                repo_tags: vec!["web:1".into()],
                size: 4000,
                shared_size: 1000,
                containers: 1,
                created: 100,
            },
            // The fake's busybox, which the container was made from.
            ImageUsage {
                id: "sha256:feed".into(),
                repo_tags: Vec::new(),
                size: 700,
                shared_size: 0,
                containers: 1,
                created: 100,
            },
        ],
        layers: Vec::new(),
        containers: vec![ContainerUsage {
            container_id: id.clone(),
            image_id: "sha256:tagged".into(),
            size_rw: 12,
            mounted: false,
        }],
    };
    let df: DiskUsageResponse = f.prune_job("system_df", &[]).await.unwrap();
    assert_eq!(df.layers_size, 5000);
    let images = df.images.unwrap();
    let tagged = images.iter().find(|i| i.id == "sha256:tagged").unwrap();
    assert_eq!(
        (tagged.size, tagged.shared_size, tagged.containers),
        (4000, 1000, 1)
    );
    let containers = df.containers.unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0].size_rw, Some(12));
    assert_eq!(df.volumes, Some(Vec::new()));

    // `docker ps -s`: the list with the same figures; without `size`, none.
    let rows: Vec<berth_api::container::ContainerSummary> = f
        .prune_job("container_list", &[("all", "1"), ("size", "1")])
        .await
        .unwrap();
    assert_eq!(
        (rows[0].size_rw, rows[0].size_root_fs),
        (Some(12), Some(712))
    );
    let rows: Vec<berth_api::container::ContainerSummary> = f
        .prune_job("container_list", &[("all", "1")])
        .await
        .unwrap();
    assert_eq!(rows[0].size_rw, None);

    let df: DiskUsageResponse = f
        .prune_job("system_df", &[("type", "image")])
        .await
        .unwrap();
    assert!(df.images.is_some() && df.containers.is_none() && df.volumes.is_none());

    let err = f
        .prune_job::<DiskUsageResponse>("system_df", &[("type", "networks")])
        .await
        .unwrap_err();
    assert_eq!(err.message, "unknown object type: networks");
}

#[tokio::test]
async fn changes_come_from_the_image_store_for_the_container_named() {
    let f = fixture();
    let id = f.create(Some("c"), r#"{"Image":"busybox"}"#).await.unwrap();
    let changes: Vec<berth_api::container::FilesystemChange> = f
        .prune_job_with_arg("container_changes", "c")
        .await
        .unwrap();
    assert_eq!(changes[0].path, "/etc/hosts");
    assert!(
        f.images
            .calls
            .lock()
            .unwrap()
            .contains(&format!("changes {id}"))
    );
    let err = f
        .prune_job_with_arg::<Vec<berth_api::container::FilesystemChange>>(
            "container_changes",
            "nope",
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
}
