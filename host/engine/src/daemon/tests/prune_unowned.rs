//! `/networks/prune` and `/build/prune`: moby's filter checks (what
//! network prune removes is tested in `networks.rs`).

use super::*;

fn f(json: &str) -> Filters {
    Filters::parse(json).unwrap()
}

fn message(result: Result<impl std::fmt::Debug, JobError>) -> String {
    let err = result.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter, "{err}");
    err.message
}

#[tokio::test]
async fn network_prune_deletes_nothing_and_checks_mobys_filters() {
    let fx = fixture();
    let d = &fx.daemon;
    let report = d
        .network_prune(&f(r#"{"label":["a"],"until":["24h"]}"#))
        .await
        .unwrap();
    assert_eq!(report.networks_deleted, None);
    assert_eq!(
        serde_json::to_string(&report).unwrap(),
        r#"{"NetworksDeleted":null}"#
    );
    assert_eq!(
        message(d.network_prune(&f(r#"{"dangling":["1"]}"#)).await),
        "invalid filter 'dangling'"
    );
    assert_eq!(
        message(d.network_prune(&f(r#"{"until":["1h","2h"]}"#)).await),
        "more than one until filter specified"
    );
    assert!(d.network_prune(&f(r#"{"until":["soon"]}"#)).await.is_err());
}

#[tokio::test]
async fn build_prune_deletes_nothing_and_checks_mobys_filters() {
    let fx = fixture();
    let d = &fx.daemon;
    let report = d
        .build_prune(
            &f(r#"{"until":["24h"],"type":["regular"],"label":["x"]}"#),
            &[("keep-storage", "0")],
        )
        .unwrap();
    assert_eq!(
        serde_json::to_string(&report).unwrap(),
        r#"{"CachesDeleted":null,"SpaceReclaimed":0}"#
    );
    assert!(d.build_prune(&f(r#"{"unused-for":["1h"]}"#), &[]).is_ok());
    assert_eq!(
        message(d.build_prune(&f(r#"{"colour":["red"]}"#), &[])),
        "invalid filter 'colour'"
    );
    assert_eq!(
        message(d.build_prune(&f(r#"{"until":["1h"],"unused-for":["2h"]}"#), &[])),
        "conflicting filters: \"until\" and \"unused-for\""
    );
    assert_eq!(
        message(d.build_prune(&f(r#"{"id":["a","b"]}"#), &[])),
        "filters expect only one value"
    );
    assert!(
        message(d.build_prune(&f(r#"{"until":["later"]}"#), &[]))
            .starts_with("\"until\" filter expects a duration")
    );
    assert!(
        d.build_prune(&Filters::default(), &[("max-used-space", "1g")])
            .is_err()
    );
}
