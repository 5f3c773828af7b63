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
