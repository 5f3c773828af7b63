//! berth's wire types against an independent reading of the Docker Engine
//! API: bollard's generated models. What berthd writes must parse as what
//! the Docker SDKs expect, and what they send must parse as berth's types.

use std::collections::BTreeMap;

use berth_api::container::{
    Config, ContainerInspect, ContainerSummary, CreateRequest, HostConfig, State, Status,
    WaitResponse,
};
use berth_api::event::{Actor, EventMessage};
use berth_api::image::{ImageInspect, ImageSummary, RootFs};
use berth_api::system::{InfoResponse, VersionResponse};
use bollard::models;

fn through<T: serde::Serialize, U: serde::de::DeserializeOwned>(value: &T) -> U {
    let json = serde_json::to_string(value).expect("serialize");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[test]
fn container_inspect_parses_as_bollard_reads_it() {
    let ours = ContainerInspect {
        id: "ab".repeat(32),
        name: "/web".into(),
        path: "sh".into(),
        args: vec!["-c".into(), "exit 3".into()],
        state: State {
            status: Status::Exited,
            exit_code: 3,
            oom_killed: true,
            started_at: "2024-01-01T00:00:00.5Z".into(),
            finished_at: "2024-01-01T00:00:01Z".into(),
            ..State::default()
        },
        config: Config {
            hostname: "box".into(),
            tty: true,
            cmd: Some(vec!["sh".into()]),
            labels: BTreeMap::from([("a".into(), "b".into())]),
            ..Config::default()
        },
        host_config: HostConfig {
            memory: 64 << 20,
            pids_limit: Some(50),
            auto_remove: true,
            ..HostConfig::default()
        },
        ..ContainerInspect::default()
    };
    let theirs: models::ContainerInspectResponse = through(&ours);
    let state = theirs.state.unwrap();
    assert_eq!(state.status, Some(models::ContainerStateStatusEnum::EXITED));
    assert_eq!((state.exit_code, state.oom_killed), (Some(3), Some(true)));
    assert_eq!(theirs.name.as_deref(), Some("/web"));
    let config = theirs.config.unwrap();
    assert_eq!(
        (config.hostname.as_deref(), config.tty),
        (Some("box"), Some(true))
    );
    let host = theirs.host_config.unwrap();
    assert_eq!(
        (host.memory, host.pids_limit, host.auto_remove),
        (Some(64 << 20), Some(50), Some(true))
    );
}

#[test]
fn lists_and_images_parse_as_bollard_reads_them() {
    let summary = ContainerSummary {
        id: "cd".repeat(32),
        names: vec!["/x".into()],
        state: "running".into(),
        status: "Up 3 seconds".into(),
        created: 1_700_000_000,
        ..ContainerSummary::default()
    };
    let theirs: models::ContainerSummary = through(&summary);
    assert_eq!(theirs.names, Some(vec!["/x".to_owned()]));
    assert_eq!(theirs.status.as_deref(), Some("Up 3 seconds"));

    let image = ImageSummary {
        id: "sha256:ee".into(),
        repo_tags: vec!["busybox:latest".into()],
        created: 1_700_000_000,
        size: 2_000_000,
        shared_size: -1,
        containers: -1,
        ..ImageSummary::default()
    };
    let theirs: models::ImageSummary = through(&image);
    assert_eq!((theirs.id.as_str(), theirs.size), ("sha256:ee", 2_000_000));
    assert_eq!(theirs.repo_tags, ["busybox:latest"]);

    let inspect = ImageInspect {
        id: "sha256:ee".into(),
        created: "2024-01-01T00:00:00Z".into(),
        os: "linux".into(),
        root_fs: RootFs {
            kind: "layers".into(),
            layers: vec!["sha256:ff".into()],
        },
        ..ImageInspect::default()
    };
    let theirs: models::ImageInspect = through(&inspect);
    assert_eq!(
        theirs.root_fs.unwrap().layers,
        Some(vec!["sha256:ff".to_owned()])
    );
}

#[test]
fn system_wait_and_event_bodies_parse_as_bollard_reads_them() {
    let version = VersionResponse {
        api_version: "1.43".into(),
        min_api_version: "1.24".into(),
        os: "linux".into(),
        ..VersionResponse::default()
    };
    let theirs: models::SystemVersion = through(&version);
    assert_eq!(theirs.api_version.as_deref(), Some("1.43"));
    assert_eq!(theirs.min_api_version.as_deref(), Some("1.24"));

    let info = InfoResponse {
        os_type: "linux".into(),
        ncpu: 2,
        containers_running: 1,
        ..InfoResponse::default()
    };
    let theirs: models::SystemInfo = through(&info);
    assert_eq!(
        (
            theirs.os_type.as_deref(),
            theirs.ncpu,
            theirs.containers_running
        ),
        (Some("linux"), Some(2), Some(1))
    );

    let theirs: models::ContainerWaitResponse = through(&WaitResponse {
        status_code: 137,
        error: None,
    });
    assert_eq!(theirs.status_code, 137);

    let event = EventMessage {
        kind: "container".into(),
        action: "die".into(),
        actor: Actor {
            id: "ab".into(),
            attributes: BTreeMap::from([("exitCode".into(), "3".into())]),
        },
        scope: "local".into(),
        time: 1,
        time_nano: 1_000_000_000,
        ..EventMessage::default()
    };
    let theirs: models::EventMessage = through(&event);
    assert_eq!(theirs.typ, Some(models::EventMessageTypeEnum::CONTAINER));
    assert_eq!(theirs.action.as_deref(), Some("die"));
    assert_eq!(theirs.actor.unwrap().attributes.unwrap()["exitCode"], "3");
}

#[test]
fn create_bodies_from_the_sdk_parse_as_berths_request() {
    let body = models::ContainerCreateBody {
        image: Some("busybox".into()),
        cmd: Some(vec!["echo".into(), "hi".into()]),
        env: Some(vec!["A=b".into()]),
        tty: Some(false),
        open_stdin: Some(true),
        host_config: Some(models::HostConfig {
            memory: Some(6 << 20),
            nano_cpus: Some(500_000_000),
            pids_limit: Some(10),
            auto_remove: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let ours: CreateRequest = through(&body);
    assert_eq!(ours.config.image, "busybox");
    assert_eq!(
        ours.config.cmd,
        Some(vec!["echo".to_owned(), "hi".to_owned()])
    );
    assert!(ours.config.open_stdin);
    assert_eq!(ours.host_config.memory, 6 << 20);
    assert_eq!(ours.host_config.nano_cpus, 500_000_000);
    assert_eq!(ours.host_config.pids_limit, Some(10));
    assert!(ours.host_config.auto_remove);
}
