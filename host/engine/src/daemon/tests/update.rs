//! Update: moby's merge and errors, live limits through the exec driver,
//! all or nothing.

use super::*;
use berth_api::container::UpdateRequest;
use berth_model::container::Swap;

fn update(json: &str) -> UpdateRequest {
    serde_json::from_str(json).unwrap()
}

#[tokio::test]
async fn a_running_containers_limits_change_live_and_are_recorded() {
    // The fixture's host has every cgroup knob (swap accounting, CFS).
    let f = fixture();
    let id = f
        .create(
            Some("u"),
            r#"{"Image":"busybox","Cmd":["sleep"],"HostConfig":{"Memory":67108864}}"#,
        )
        .await
        .unwrap();
    f.daemon.start("u").await.unwrap();
    let mut events = f.engine.events().subscribe();
    let answer = f
        .daemon
        .update(
            "u",
            update(r#"{"Memory":134217728,"MemorySwap":268435456,"PidsLimit":50,"CpuShares":512,"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}}"#),
        )
        .await
        .unwrap();
    assert!(answer.warnings.is_empty(), "{:?}", answer.warnings);
    let written = f.runtime.updates.lock().unwrap().clone();
    assert_eq!(written.len(), 1);
    let memory = written[0].memory;
    assert_eq!(
        (memory.limit(), memory.swap()),
        (Some(128 << 20), Some(Swap::Bytes(256 << 20)))
    );
    assert_eq!(written[0].pids_limit, Some(50));
    let c = f.daemon.inspect(&id).unwrap();
    assert_eq!(
        (c.host_config.memory, c.host_config.memory_swap),
        (128 << 20, 256 << 20)
    );
    assert_eq!(c.host_config.pids_limit, Some(50));
    assert_eq!(c.host_config.cpu_shares, 512);
    assert_eq!(c.host_config.restart_policy.name, "on-failure");
    // Recorded: a new daemon (and the next start) has it.
    let stored = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    assert_eq!(stored.model.unwrap().resources, written[0]);
    let seen: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| e.action)
        .collect();
    assert_eq!(seen, ["update"]);
}

#[tokio::test]
async fn memory_above_the_swap_limit_is_refused_with_mobys_message_and_changes_nothing() {
    // The fixture's host has every cgroup knob (swap accounting, CFS).
    let f = fixture();
    let id = f
        .create(
            Some("m"),
            r#"{"Image":"busybox","Cmd":["sleep"],"HostConfig":{"Memory":67108864}}"#,
        )
        .await
        .unwrap();
    f.daemon.start("m").await.unwrap();
    let before = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    // 64m was given twice its size as swap: 256m alone is above it.
    let err = f
        .daemon
        .update("m", update(r#"{"Memory":268435456}"#))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert_eq!(
        err.message,
        format!(
            "Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
        )
    );
    // Below 6 MB: the request alone is refused, as moby.
    let err = f
        .daemon
        .update("m", update(r#"{"Memory":4194304,"MemorySwap":-1}"#))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::InvalidParameter,
            "Minimum memory limit allowed is 6MB"
        )
    );
    // A field it cannot update, and an unknown one.
    let err = f
        .daemon
        .update(
            "m",
            update(r#"{"Ulimits":[{"Name":"nofile","Soft":1,"Hard":1}]}"#),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "UpdateConfig.Ulimits is not supported by berth"
    );
    let err = f
        .daemon
        .update("m", update(r#"{"Frobnicate":true}"#))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
    assert!(f.runtime.updates.lock().unwrap().is_empty());
    assert_eq!(f.store.get(CONTAINERS, &id).unwrap().unwrap(), before);
    assert_eq!(
        f.daemon.inspect(&id).unwrap().host_config,
        before.host_config
    );
}

#[tokio::test]
async fn a_live_update_the_driver_refuses_leaves_the_record_as_it_was() {
    // The fixture's host has every cgroup knob (swap accounting, CFS).
    let f = fixture();
    let id = f
        .create(Some("r"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("r").await.unwrap();
    let before = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    *f.runtime.update_fails.lock().unwrap() = Some("cpuset.cpus: invalid argument".into());
    let err = f
        .daemon
        .update("r", update(r#"{"PidsLimit":10,"CpuShares":100}"#))
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        format!("Cannot update container {id}: cpuset.cpus: invalid argument")
    );
    assert_eq!(f.store.get(CONTAINERS, &id).unwrap().unwrap(), before);
    assert_eq!(f.daemon.inspect(&id).unwrap().host_config.pids_limit, None);
}

#[tokio::test]
async fn a_stopped_container_is_updated_in_its_record_for_its_next_start() {
    // The fixture's host has every cgroup knob (swap accounting, CFS).
    let f = fixture();
    f.create(Some("s"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon
        .update("s", update(r#"{"PidsLimit":7,"NanoCpus":500000000}"#))
        .await
        .unwrap();
    // Nothing runs: nothing written live.
    assert!(f.runtime.updates.lock().unwrap().is_empty());
    f.daemon.start("s").await.unwrap();
    let started = f.runtime.started.lock().unwrap().last().unwrap().clone();
    assert_eq!(started.resources.pids_limit, Some(7));
}

#[tokio::test]
async fn mobys_conflicts_between_nano_cpus_and_cfs_and_auto_remove() {
    // The fixture's host has every cgroup knob (swap accounting, CFS).
    let f = fixture();
    let id = f
        .create(
            Some("c"),
            r#"{"Image":"busybox","HostConfig":{"NanoCpus":1000000000,"AutoRemove":true}}"#,
        )
        .await
        .unwrap();
    for (body, message) in [
        (
            r#"{"CpuQuota":50000}"#,
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
        ),
        (
            r#"{"CpuPeriod":50000}"#,
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
        ),
        (
            r#"{"RestartPolicy":{"Name":"always"}}"#,
            "Restart policy cannot be updated because AutoRemove is enabled for the container",
        ),
    ] {
        let err = f.daemon.update("c", update(body)).await.unwrap_err();
        assert_eq!(
            (err.kind, err.message),
            (
                ErrorKind::Conflict,
                format!("Cannot update container {id}: {message}")
            ),
            "{body}"
        );
    }
    let err = f
        .daemon
        .update(
            "c",
            update(r#"{"RestartPolicy":{"Name":"always","MaximumRetryCount":1}}"#),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "invalid restart policy: maximum retry count can only be used with 'on-failure'"
    );
}

#[tokio::test(start_paused = true)]
async fn an_updated_restart_policy_applies_to_the_next_exit() {
    // The fixture's host has every cgroup knob (swap accounting, CFS).
    let f = fixture();
    let id = f
        .create(Some("p"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("p").await.unwrap();
    f.daemon
        .update("p", update(r#"{"RestartPolicy":{"Name":"always"}}"#))
        .await
        .unwrap();
    f.runtime.exit(&id, 1);
    let c = f.daemon.containers().get(&id).unwrap();
    let mut rx = c.watch();
    tokio::time::timeout(
        Duration::from_secs(60),
        rx.wait_for(|s| s.exits == 1 && s.status == Status::Running),
    )
    .await
    .expect("restarted")
    .unwrap();
    assert_eq!(f.daemon.inspect(&id).unwrap().restart_count, 1);
}
