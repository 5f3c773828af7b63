//! Top: the host's ps, kept to the pids the exec driver lists.

use super::*;

#[tokio::test]
async fn top_runs_the_hosts_ps_and_keeps_the_pids_of_the_exec_driver() {
    let f = fixture();
    let id = f
        .create(Some("tp"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    // Stopped: moby's 409.
    let err = f.daemon.top("tp", "").await.unwrap_err();
    assert_eq!(
        (err.kind, err.message),
        (
            ErrorKind::Conflict,
            format!("Container {id} is not running")
        )
    );
    assert!(f.runtime.processes_asked.lock().unwrap().is_empty());
    f.daemon.start("tp").await.unwrap();
    // The fake's "container" is this test process: the real ps finds it.
    let me = std::process::id();
    *f.runtime.pids.lock().unwrap() = vec![me];
    let pool_before = f.daemon.pool.ran(BlockingKind::HostProcess);
    let list = f.daemon.top("tp", "").await.unwrap();
    assert_eq!(*f.runtime.processes_asked.lock().unwrap(), [id.as_str()]);
    assert_eq!(
        list.titles,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    assert_eq!(list.processes.len(), 1, "{list:?}");
    assert_eq!(list.processes[0][1], me.to_string());
    // ps was spawned through the bounded blocking pool.
    assert!(f.daemon.pool.ran(BlockingKind::HostProcess) > pool_before);

    // The client's ps_args, here with the PID column elsewhere.
    let list = f.daemon.top("tp", "-o comm,pid").await.unwrap();
    assert_eq!(list.titles, ["COMMAND", "PID"]);
    assert_eq!(list.processes.len(), 1, "{list:?}");
    assert_eq!(list.processes[0][1], me.to_string());
    // A column renamed PID is refused before ps runs; one without PID
    // fails on its output, as in moby.
    let err = f.daemon.top("tp", "-o user=PID").await.unwrap_err();
    assert_eq!(err.message, "specifying \"user=PID\" is not allowed");
    let err = f.daemon.top("tp", "-o comm").await.unwrap_err();
    assert_eq!(err.message, "Couldn't find PID field in ps output");
    // ps refusing its arguments is an error, not an empty list.
    let err = f.daemon.top("tp", "--no-such-ps-option").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Internal);
    assert!(err.message.starts_with("ps: "), "{err}");
}

#[tokio::test]
async fn the_top_job_answers_mobys_json() {
    let f = fixture();
    f.create(Some("tj"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("tj").await.unwrap();
    *f.runtime.pids.lock().unwrap() = vec![std::process::id()];
    let (job, streams) = Job::new("container_top");
    let (result, out) = f
        .run_job(job.arg("tj").env("ps_args", "-o pid,comm"), streams)
        .await;
    result.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["Titles"], serde_json::json!(["PID", "COMMAND"]));
    assert_eq!(json["Processes"].as_array().unwrap().len(), 1, "{json}");
}
