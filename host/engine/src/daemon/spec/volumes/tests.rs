use berth_api::container::HostConfig;

use super::*;

fn host(json: &str) -> HostConfig {
    serde_json::from_str(json).unwrap()
}

fn inputs() -> VolumeInputs {
    VolumeInputs {
        root: "/data/volumes".into(),
        ..VolumeInputs::default()
    }
}

fn planned(json: &str) -> Result<(Vec<Mount>, Vec<VolumeUse>), JobError> {
    plan(&host(json), &inputs(), &[])
}

fn message(json: &str) -> String {
    planned(json).unwrap_err().message
}

#[test]
fn named_volumes_in_binds_are_volume_mounts() {
    let (mounts, volumes) =
        planned(r#"{"Binds":["data:/srv/data:ro,nocopy","/tmp:/host"]}"#).unwrap();
    assert_eq!(
        mounts[0],
        Mount::Volume {
            name: "data".into(),
            driver: "local".into(),
            source: "/data/volumes/data/_data".into(),
            destination: AbsolutePath::new("/srv/data").unwrap(),
            read_only: true,
            anonymous: false,
        }
    );
    assert!(matches!(&mounts[1], Mount::Bind { source, .. } if source == Path::new("/tmp")));
    assert_eq!(volumes.len(), 1);
    assert!(!volumes[0].copy_up, "nocopy");
    assert!(volumes[0].labels.is_empty());
    let err = message(r#"{"Binds":["a/b:/x"]}"#);
    assert!(
        err.starts_with("create a/b: \"a/b\" includes invalid characters"),
        "{err}"
    );
    assert_eq!(
        message(r#"{"Binds":["data:/x:rshared"]}"#),
        "invalid volume specification: 'data:/x:rshared'"
    );
}

#[test]
fn config_volumes_are_anonymous_unless_something_else_mounts_there() {
    let mut inputs = inputs();
    inputs.anonymous = ["/data".to_owned(), "/cache/".to_owned()].into();
    let (mounts, volumes) = plan(&host(r#"{"Binds":["named:/data"]}"#), &inputs, &[]).unwrap();
    assert_eq!(mounts.len(), 2);
    let anonymous: Vec<_> = mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Volume {
                name,
                destination,
                anonymous: true,
                ..
            } => Some((name.len(), destination.as_str().to_owned())),
            _ => None,
        })
        .collect();
    assert_eq!(anonymous, [(64, "/cache".to_owned())]);
    let anon = volumes.iter().find(|v| v.name != "named").unwrap();
    assert!(anon.copy_up);
    assert!(anon.labels.contains_key(berth_volume::ANONYMOUS_LABEL));
}

#[test]
fn mounts_follow_mobys_validation_and_messages() {
    let with = |m: &str| format!(r#"{{"Mounts":[{m}]}}"#);
    assert_eq!(
        message(&with(r#"{"Type":"bogus","Target":"/x"}"#)),
        "invalid mount config for type \"bogus\": mount type unknown"
    );
    assert_eq!(
        message(&with(
            r#"{"Type":"bind","Source":"/nonexistent/berth-x","Target":"/x"}"#
        )),
        "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent/berth-x"
    );
    assert_eq!(
        message(&with(r#"{"Type":"bind","Source":"/tmp","Target":"/"}"#)),
        "invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
    );
    assert_eq!(
        message(&with(r#"{"Type":"volume","Target":"/x","ReadOnly":true}"#)),
        "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes"
    );
    assert_eq!(
        message(&with(
            r#"{"Type":"bind","Source":"/tmp","Target":"/x","VolumeOptions":{"NoCopy":true}}"#
        )),
        "invalid mount config for type \"bind\": field VolumeOptions must not be specified"
    );
    assert_eq!(
        message(&with(r#"{"Type":"tmpfs","Source":"x","Target":"/x"}"#)),
        "invalid mount config for type \"tmpfs\": field Source must not be specified"
    );
    assert_eq!(
        message(&with(
            r#"{"Type":"bind","Source":"/tmp","Target":"/x","BindOptions":{"Propagation":"sideways"}}"#
        )),
        "invalid mount config for type \"bind\": invalid propagation mode: sideways"
    );
    assert_eq!(
        message(&with(
            r#"{"Type":"volume","Source":"v1","Target":"/x","VolumeOptions":{"Subpath":"a"}}"#
        )),
        "HostConfig.Mounts: VolumeOptions.Subpath is not supported by berth"
    );
    assert_eq!(
        message(r#"{"Binds":["/tmp:/x"],"Mounts":[{"Type":"tmpfs","Target":"/x/"}]}"#),
        "Duplicate mount point: /x"
    );
    // What the docker CLI sends for unused options is fine.
    let (mounts, volumes) = planned(&with(
        r#"{"Type":"volume","Source":"v1","Target":"/x","Consistency":"","VolumeOptions":{"NoCopy":true,"Labels":{"a":"b"},"DriverConfig":{"Name":"local","Options":{"type":"tmpfs"}}}}"#,
    ))
    .unwrap();
    assert!(matches!(&mounts[0], Mount::Volume { name, .. } if name == "v1"));
    assert_eq!(volumes[0].labels["a"], "b");
    assert_eq!(volumes[0].options["type"], "tmpfs");
    assert!(!volumes[0].copy_up);
    let (mounts, _) = planned(&with(
        r#"{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":67108864,"Mode":1023}}"#,
    ))
    .unwrap();
    assert_eq!(
        mounts[0],
        Mount::Tmpfs {
            destination: AbsolutePath::new("/t").unwrap(),
            options: vec!["size=64m".into(), "mode=1777".into()],
        }
    );
}

#[test]
fn inherited_mounts_give_way_to_the_containers_own() {
    let mut inputs = inputs();
    let from = |name: &str, dest: &str| Mount::Volume {
        name: name.into(),
        driver: "local".into(),
        source: format!("/data/volumes/{name}/_data").into(),
        destination: AbsolutePath::new(dest).unwrap(),
        read_only: true,
        anonymous: false,
    };
    inputs.inherited = vec![from("shared", "/shared"), from("old", "/data")];
    let (mounts, volumes) = plan(&host(r#"{"Binds":["new:/data"]}"#), &inputs, &[]).unwrap();
    let names: Vec<&str> = mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Volume { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["shared", "new"]);
    // The inherited volume exists already: nothing to make for it.
    assert_eq!(
        volumes.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        ["new"]
    );
}
