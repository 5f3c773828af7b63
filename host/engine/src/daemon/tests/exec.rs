//! `docker exec` against the recording fake runtime.

use berth_api::exec::{ExecCreateRequest, ExecInspect};

use super::*;

fn exec_request(json: &str) -> ExecCreateRequest {
    serde_json::from_str(json).unwrap()
}

/// A started container named `name`.
async fn running(f: &Fixture, name: &str) -> String {
    let id = f
        .create(
            Some(name),
            r#"{"Image":"busybox","Cmd":["sleep"],"User":"guest","WorkingDir":"/srv"}"#,
        )
        .await
        .unwrap();
    f.daemon.start(name).await.unwrap();
    id
}

/// Runs `exec_start` for `exec_id` with `input` as the client's stdin;
/// returns the job's result and its output.
async fn start_job(f: &Fixture, exec_id: &str, input: &'static [u8]) -> (JobResult, Vec<u8>) {
    let (job, streams) = Job::new("exec_start");
    let job = job.arg(exec_id).stdin(input);
    f.run_job(job, streams).await
}

fn inspect(f: &Fixture, exec_id: &str) -> ExecInspect {
    f.daemon.exec_inspect(exec_id).unwrap()
}

fn exec_events(
    events: &mut tokio::sync::broadcast::Receiver<berth_api::event::EventMessage>,
) -> Vec<(String, BTreeMap<String, String>)> {
    events_seen(events, |e| {
        e.action
            .starts_with("exec_")
            .then_some((e.action, e.actor.attributes))
    })
}

#[tokio::test]
async fn create_start_stream_and_inspect_like_moby() {
    let f = fixture();
    let id = running(&f, "ex").await;
    let mut events = f.engine.events().subscribe();
    let exec_id = f
        .daemon
        .exec_create(
            "ex",
            exec_request(r#"{"Cmd":["echo","hi","there"],"AttachStdout":true,"AttachStderr":true,"Env":["A=1"]}"#),
        )
        .await
        .unwrap();
    assert_eq!(exec_id.len(), 64);
    let before = inspect(&f, &exec_id);
    assert_eq!(
        (before.running, before.exit_code, before.pid),
        (false, None, 0)
    );
    assert_eq!(before.container_id, id);
    assert_eq!(before.process_config.entrypoint, "echo");
    assert_eq!(before.process_config.arguments, ["hi", "there"]);
    assert_eq!(before.process_config.privileged, Some(false));
    // The container's User and WorkingDir are the exec's defaults.
    assert_eq!(before.process_config.user.as_deref(), Some("guest"));
    let json = serde_json::to_value(&before).unwrap();
    assert_eq!(json["ExitCode"], serde_json::Value::Null);
    assert_eq!(json["DetachKeys"], "");
    assert!(json.get("ContainerID").is_some() && json.get("ID").is_some());

    let (result, out) = start_job(&f, &exec_id, b"").await;
    result.unwrap();
    assert_eq!(
        out,
        encode_frame(StreamType::Stdout, b"hi there\n").to_vec()
    );
    let after = inspect(&f, &exec_id);
    assert_eq!(
        (after.running, after.exit_code, after.pid),
        (false, Some(0), 777)
    );
    let calls = f.runtime.execs.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (container, called_id, config) = &calls[0];
    assert_eq!((container, called_id), (&id, &exec_id));
    assert_eq!(config.env, ["A=1"]);
    assert_eq!(config.user, "guest");
    assert_eq!(config.working_dir.as_deref(), Some("/srv"));

    let seen = exec_events(&mut events);
    let actions: Vec<&str> = seen.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "exec_create: echo hi there",
            "exec_start: echo hi there",
            "exec_die"
        ]
    );
    assert_eq!(seen[0].1["execID"], exec_id);
    assert_eq!(seen[0].1["name"], "ex");
    assert_eq!(seen[2].1["exitCode"], "0");

    // Started once only.
    let (result, _) = start_job(&f, &exec_id, b"").await;
    let err = result.unwrap_err();
    assert_eq!(
        (err.kind, err.message),
        (
            ErrorKind::Conflict,
            format!("Error: Exec command {exec_id} has already run")
        )
    );
}

#[tokio::test]
async fn the_exit_code_is_recorded_before_the_stream_ends_and_stdin_reaches_the_process() {
    let f = fixture();
    running(&f, "ec").await;
    let exec_id = f
        .daemon
        .exec_create(
            "ec",
            exec_request(r#"{"Cmd":["exit","3"],"AttachStdout":true}"#),
        )
        .await
        .unwrap();
    let (job, mut streams) = Job::new("exec_start");
    let handle = f.engine.spawn(job.arg(exec_id.as_str()));
    // The moment the stream ends, the exit code is there.
    while streams.stdout.next().await.is_some() {}
    assert_eq!(inspect(&f, &exec_id).exit_code, Some(3));
    handle.await.unwrap().unwrap();

    let exec_id = f
        .daemon
        .exec_create(
            "ec",
            exec_request(r#"{"Cmd":["cat"],"AttachStdin":true,"AttachStdout":true,"Tty":true}"#),
        )
        .await
        .unwrap();
    let (result, out) = start_job(&f, &exec_id, b"piped\n").await;
    result.unwrap();
    assert_eq!(out, b"piped\n", "raw with a TTY, the input echoed back");
    assert_eq!(inspect(&f, &exec_id).exit_code, Some(0));
}

#[tokio::test]
async fn a_command_that_cannot_start_is_reported_on_the_stream_with_its_exit_code() {
    let f = fixture();
    running(&f, "mi").await;
    let exec_id = f
        .daemon
        .exec_create(
            "mi",
            exec_request(r#"{"Cmd":["missing"],"AttachStdout":true}"#),
        )
        .await
        .unwrap();
    let (result, out) = start_job(&f, &exec_id, b"").await;
    result.unwrap();
    let message = "exec: \"missing\": executable file not found in $PATH\r\n";
    assert_eq!(
        out,
        encode_frame(StreamType::Stdout, message.as_bytes()).to_vec()
    );
    assert_eq!(inspect(&f, &exec_id).exit_code, Some(127));
    // Detached, the start itself fails.
    let exec_id = f
        .daemon
        .exec_create("mi", exec_request(r#"{"Cmd":["missing"]}"#))
        .await
        .unwrap();
    let (job, streams) = Job::new("exec_start");
    let (result, _) = f
        .run_job(job.arg(exec_id.as_str()).env("detach", "1"), streams)
        .await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::InvalidParameter);
}

#[tokio::test]
async fn detached_execs_run_on_and_resize_reaches_the_runtime() {
    let f = fixture();
    running(&f, "dt").await;
    let exec_id = f
        .daemon
        .exec_create(
            "dt",
            exec_request(r#"{"Cmd":["wait"],"Tty":true,"ConsoleSize":[24,80]}"#),
        )
        .await
        .unwrap();
    assert_eq!(
        f.daemon
            .execs
            .running_ids(&f.daemon.containers().get("dt").unwrap().id),
        std::slice::from_ref(&exec_id)
    );
    let (job, streams) = Job::new("exec_start");
    let (result, out) = f
        .run_job(job.arg(exec_id.as_str()).env("detach", "1"), streams)
        .await;
    result.unwrap();
    assert!(out.is_empty());
    let running = inspect(&f, &exec_id);
    assert!(running.running);
    assert_eq!(running.pid, 777);
    let (job, streams) = Job::new("exec_start");
    let (result, _) = f.run_job(job.arg(exec_id.as_str()), streams).await;
    assert_eq!(
        result.unwrap_err().message,
        format!("Error: Exec command {exec_id} is already running")
    );
    let (job, streams) = Job::new("exec_resize");
    let (result, _) = f
        .run_job(
            job.arg(exec_id.as_str()).env("h", "40").env("w", "120"),
            streams,
        )
        .await;
    result.unwrap();
    assert_eq!(
        *f.runtime.exec_resizes.lock().unwrap(),
        [(exec_id.clone(), 40, 120)]
    );
    assert_eq!(
        f.runtime.execs.lock().unwrap()[0].2.console_size,
        Some((24, 80))
    );
    f.runtime.end_exec(&exec_id, 5);
    let mut phase = f.daemon.execs.get(&exec_id).unwrap().watch();
    tokio::time::timeout(
        Duration::from_secs(10),
        phase.wait_for(|p| matches!(p, crate::daemon::exec::ExecPhase::Exited { .. })),
    )
    .await
    .expect("the detached exec ended")
    .unwrap();
    assert_eq!(inspect(&f, &exec_id).exit_code, Some(5));
    let inspect = f.daemon.inspect("dt").unwrap();
    assert_eq!(inspect.exec_ids, None, "no exec left running");
}

#[tokio::test]
async fn refusals_use_mobys_messages() {
    let f = fixture();
    let err = f
        .daemon
        .exec_create("nope", exec_request(r#"{"Cmd":["true"]}"#))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "No such container: nope")
    );
    let id = f
        .create(Some("st"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    let err = f
        .daemon
        .exec_create("st", exec_request(r#"{"Cmd":["true"]}"#))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message),
        (
            ErrorKind::Conflict,
            format!("Container {id} is not running")
        )
    );
    f.daemon.start("st").await.unwrap();
    for (body, want) in [
        (r#"{}"#, "No exec command specified".to_owned()),
        (r#"{"Cmd":[]}"#, "No exec command specified".to_owned()),
        (
            r#"{"Cmd":["true"],"DetachKeys":"ctrl-"}"#,
            "Invalid escape keys (ctrl-) provided".to_owned(),
        ),
        (
            // moby's `term.ToBytes` names are lower case only.
            r#"{"Cmd":["true"],"DetachKeys":"ctrl-P,ctrl-q"}"#,
            "Invalid escape keys (ctrl-P,ctrl-q) provided".to_owned(),
        ),
        (
            r#"{"Cmd":["true"],"WorkingDir":"rel"}"#,
            "the working directory 'rel' is invalid, it needs to be an absolute path".to_owned(),
        ),
        (
            r#"{"Cmd":["true"],"ConsoleSize":[1]}"#,
            "invalid ConsoleSize: [1]: want [height, width]".to_owned(),
        ),
    ] {
        let err = f
            .daemon
            .exec_create("st", exec_request(body))
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind, err.message),
            (ErrorKind::InvalidParameter, want),
            "{body}"
        );
    }
    // An option berthd does not know is refused by the job, not dropped.
    let (job, streams) = Job::new("exec_create");
    let (result, _) = f
        .run_job(
            job.arg("st").stdin(&br#"{"Cmd":["true"],"Bogus":1}"#[..]),
            streams,
        )
        .await;
    let err = result.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
    assert!(err.message.contains("unknown field `Bogus`"), "{err}");
    // Paused: moby's message names the container as the client did.
    f.daemon.pause("st").await.unwrap();
    let err = f
        .daemon
        .exec_create("st", exec_request(r#"{"Cmd":["true"]}"#))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::Conflict,
            "Container st is paused, unpause the container before exec"
        )
    );
    f.daemon.unpause("st").await.unwrap();
    let exec_id = f
        .daemon
        .exec_create("st", exec_request(r#"{"Cmd":["true"]}"#))
        .await
        .unwrap();
    // The container stopped before the exec started: refused at start.
    f.runtime.exit(&id, 0);
    f.wait_status(&id, Status::Exited).await;
    let (job, streams) = Job::new("exec_start");
    let (result, _) = f.run_job(job.arg(exec_id.as_str()), streams).await;
    assert_eq!(
        result.unwrap_err().message,
        format!("Container {id} is not running")
    );
    // An unknown exec id: moby's 404.
    let err = f.daemon.exec_inspect("deadbeef").unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "No such exec instance: deadbeef")
    );
}

#[tokio::test]
async fn exec_collect_runs_a_process_for_the_engine_and_keeps_its_output_bounded() {
    let f = fixture();
    running(&f, "hc").await;
    let config = berth_model::exec_process::ExecProcessConfig {
        command: vec!["echo".into(), "healthy".into()],
        ..Default::default()
    };
    let got = f
        .daemon
        .exec_collect("hc", config.clone(), 4)
        .await
        .unwrap();
    assert_eq!((got.exit_code, got.output.as_slice()), (0, &b"heal"[..]));
    let config = berth_model::exec_process::ExecProcessConfig {
        command: vec!["exit".into(), "1".into()],
        ..config
    };
    assert_eq!(
        f.daemon
            .exec_collect("hc", config, 4096)
            .await
            .unwrap()
            .exit_code,
        1
    );
}

#[tokio::test]
async fn after_a_daemon_restart_old_exec_ids_are_unknown() {
    let f = fixture();
    running(&f, "rs").await;
    let exec_id = f
        .daemon
        .exec_create("rs", exec_request(r#"{"Cmd":["true"]}"#))
        .await
        .unwrap();
    let f = f.restart(Arc::new(FakeRuntime::default()));
    let err = f.daemon.exec_inspect(&exec_id).unwrap_err();
    assert_eq!(err.message, format!("No such exec instance: {exec_id}"));
}

#[tokio::test]
async fn the_legacy_container_field_must_name_the_paths_container() {
    let f = fixture();
    let id = running(&f, "ex").await;
    running(&f, "other").await;
    // docker-py sends the id again; a name of the same container is fine.
    for same in [id.as_str(), "ex"] {
        let body = format!(r#"{{"Cmd":["true"],"Container":"{same}"}}"#);
        f.daemon
            .exec_create("ex", exec_request(&body))
            .await
            .unwrap();
    }
    let err = f
        .daemon
        .exec_create(
            "ex",
            exec_request(r#"{"Cmd":["true"],"Container":"other"}"#),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
    assert_eq!(
        err.message,
        "Container in the body (other) is not the container of the path (ex)"
    );
}
