//! The network seam: the driver a berthd without networking wires, and the
//! recording fake the engine's network tests run against.

use super::network_fake::{FailOn, NetCall};
use super::*;
use crate::driver::{NetworkService, UnavailableNetwork};

#[test]
fn a_berthd_without_a_network_driver_says_why_and_removes_nothing() {
    let driver = UnavailableNetwork::new("the kernel driver is not built in");
    let err = driver.create_sandbox("abc").expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert_eq!(
        err.message,
        "networking is not available: the kernel driver is not built in"
    );
    let sandbox = crate::driver::SandboxModel {
        container_id: "abc".into(),
        netns_path: PathBuf::from("/nonexistent/abc"),
    };
    // Nothing was created, so removing succeeds (a stop never fails on it).
    driver.remove_sandbox(&sandbox).expect("nothing to remove");
    driver
        .reconcile(&Default::default())
        .expect("nothing to reconcile");
}

#[tokio::test]
async fn the_fixture_runs_on_the_recording_network_fake_and_keeps_it_across_restarts() {
    let f = fixture();
    f.network.fail_on(Some(FailOn::CreateSandbox));
    assert!(f.daemon.network().create_sandbox("abc").is_err());
    f.network.fail_on(None);
    let sandbox = f.daemon.network().create_sandbox("abc").expect("sandbox");
    assert!(sandbox.netns_path.ends_with("exec/netns/abc"));
    let network = Arc::clone(&f.network);
    let f = f.restart(Arc::new(FakeRuntime::default()));
    assert!(Arc::ptr_eq(&network, &f.network));
    assert_eq!(
        f.network.calls(),
        vec![
            NetCall::CreateSandbox("abc".into()),
            NetCall::CreateSandbox("abc".into())
        ]
    );
    assert!(f.network.kernel().sandboxes.contains("abc"));
}

fn last_network(f: &Fixture) -> berth_model::network::NetworkSetup {
    f.runtime
        .started_networks
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("a start")
}

#[tokio::test]
async fn none_and_the_default_get_a_new_namespace_and_their_own_files() {
    let f = fixture();
    for mode in ["none", "bridge", "default", ""] {
        let id = f
            .create(
                None,
                &format!(
                    r#"{{"Image":"busybox","Cmd":["sh"],"HostConfig":{{"NetworkMode":"{mode}"}}}}"#
                ),
            )
            .await
            .expect(mode);
        f.daemon.start(&id).await.expect("start");
        assert_eq!(last_network(&f), Default::default(), "{mode}");
    }
    let record = f
        .daemon
        .containers()
        .get(
            &f.create(
                None,
                r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"none"}}"#,
            )
            .await
            .unwrap(),
        )
        .unwrap();
    let model = record.lock().record.model.clone().expect("model");
    assert_eq!(model.network, berth_model::network::NetworkMode::None);
}

#[tokio::test]
async fn host_mode_has_no_namespace_the_hosts_files_and_the_hosts_name() {
    let f = fixture();
    let id = f
        .create(
            None,
            r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"host"}}"#,
        )
        .await
        .expect("create");
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let c = f.daemon.containers().get(&id).unwrap();
    assert_eq!(c.lock().record.config.hostname, host_name.trim());
    f.daemon.start(&id).await.expect("start");
    assert_eq!(
        last_network(&f),
        berth_model::network::NetworkSetup {
            namespace: berth_model::network::NetworkNamespace::Host,
            files: berth_model::network::NetworkFiles::Host,
            addresses: Vec::new(),
            resolver: berth_model::dns::Resolver::Host,
        }
    );
    // A name of its own stays.
    let named = f
        .create(
            None,
            r#"{"Image":"busybox","Cmd":["sh"],"Hostname":"mine","HostConfig":{"NetworkMode":"host"}}"#,
        )
        .await
        .expect("create");
    let c = f.daemon.containers().get(&named).unwrap();
    assert_eq!(c.lock().record.config.hostname, "mine");
}

#[tokio::test]
async fn host_mode_refuses_network_sysctls_that_would_change_the_host() {
    let f = fixture();
    let err = f
        .create(
            None,
            r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"host","Sysctls":{"net.ipv4.ip_forward":"1"}}}"#,
        )
        .await
        .expect_err("refused");
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::InvalidParameter,
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        )
    );
    assert_eq!(f.record_count(), 0);
}

#[tokio::test]
async fn container_mode_joins_the_running_container_by_full_id_with_its_files_and_name() {
    let f = fixture();
    let web = f
        .create(
            Some("web"),
            r#"{"Image":"busybox","Cmd":["sh"],"Hostname":"webhost"}"#,
        )
        .await
        .expect("web");
    let side = f
        .create(
            Some("side"),
            r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"container:web"}}"#,
        )
        .await
        .expect("side");
    let c = f.daemon.containers().get(&side).unwrap();
    {
        let inner = c.lock();
        assert_eq!(
            inner.record.host_config.network_mode,
            format!("container:{web}")
        );
        assert_eq!(inner.record.config.hostname, "webhost");
        assert_eq!(
            inner.record.model.as_ref().unwrap().network,
            berth_model::network::NetworkMode::Container(web.clone())
        );
    }
    // moby `getNetworkedContainer`: the other one must run; nothing starts.
    let err = f.daemon.start(&side).await.expect_err("web is not running");
    assert_eq!(
        (err.kind, err.message.clone()),
        (
            ErrorKind::Conflict,
            format!("cannot join network of a non running container: {web}")
        )
    );
    assert!(f.runtime.started_networks.lock().unwrap().is_empty());
    assert_eq!(
        f.daemon
            .containers()
            .get(&side)
            .unwrap()
            .lock()
            .record
            .state
            .status,
        Status::Created
    );

    f.daemon.start(&web).await.expect("start web");
    let pid = f
        .daemon
        .containers()
        .get(&web)
        .unwrap()
        .lock()
        .record
        .state
        .pid;
    // A rename of the other container changes nothing: its id is stored.
    f.daemon.rename("web", "web2").await.expect("rename");
    f.daemon.start(&side).await.expect("start side");
    assert_eq!(
        last_network(&f),
        berth_model::network::NetworkSetup {
            namespace: berth_model::network::NetworkNamespace::Join(PathBuf::from(format!(
                "/proc/{pid}/ns/net"
            ))),
            files: berth_model::network::NetworkFiles::Shared(f.runtime.files(&web)),
            addresses: Vec::new(),
            resolver: berth_model::dns::Resolver::Host,
        }
    );
}

#[tokio::test]
async fn container_mode_refusals_are_mobys() {
    let f = fixture();
    f.create(Some("web"), r#"{"Image":"busybox","Cmd":["sh"]}"#)
        .await
        .expect("web");
    for (body, kind, message) in [
        (
            r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"container:nope"}}"#,
            ErrorKind::InvalidParameter,
            "No such container: nope",
        ),
        (
            r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"container:"}}"#,
            ErrorKind::InvalidParameter,
            "invalid network mode: invalid container format container:<name|id>",
        ),
        (
            r#"{"Image":"busybox","Cmd":["sh"],"Hostname":"h","HostConfig":{"NetworkMode":"container:web"}}"#,
            ErrorKind::InvalidParameter,
            "conflicting options: hostname and the network mode",
        ),
        (
            r#"{"Image":"busybox","Cmd":["sh"],"ExposedPorts":{"80/tcp":{}},"HostConfig":{"NetworkMode":"container:web"}}"#,
            ErrorKind::InvalidParameter,
            "conflicting options: port exposing and the container type network mode",
        ),
    ] {
        let err = f.create(None, body).await.expect_err(body);
        assert_eq!((err.kind, err.message.as_str()), (kind, message), "{body}");
    }
    assert_eq!(f.record_count(), 1);
}

#[tokio::test]
async fn an_unknown_user_network_is_mobys_404() {
    let f = fixture();
    let err = f
        .create(
            None,
            r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"mynet"}}"#,
        )
        .await
        .expect_err("no such network");
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.message, "network mynet not found");
    assert_eq!(f.record_count(), 0);
}
