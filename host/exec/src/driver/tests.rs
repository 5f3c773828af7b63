use super::*;

#[test]
fn ids_must_be_safe_path_components() {
    for ok in ["abc", "0123456789abcdef", "web_1", "a.b-c"] {
        validate_id(ok).expect(ok);
    }
    for bad in ["", ".", "..", ".hidden", "a/b", "a b", &"x".repeat(65), "ü"] {
        assert!(validate_id(bad).is_err(), "{bad:?}");
    }
}

fn driver() -> (tempfile::TempDir, ExecDriver) {
    let dir = tempfile::tempdir().expect("tempdir");
    let shim = dir.path().join("berth-shim");
    fs::write(&shim, b"").expect("fake shim");
    let config = ExecConfig::new(dir.path().join("run"), dir.path().join("containers"), shim);
    let driver = ExecDriver::new(config).expect("driver");
    (dir, driver)
}

#[test]
fn new_creates_the_layout_and_needs_the_shim() {
    let (dir, driver) = driver();
    assert!(dir.path().join("run/shims").is_dir());
    assert!(dir.path().join("run/runtime").is_dir());
    assert!(dir.path().join("containers").is_dir());
    let paths = driver.paths("c1");
    assert_eq!(
        paths.files.log,
        dir.path().join("containers/c1/c1-json.log")
    );
    assert_eq!(paths.files.hosts, dir.path().join("containers/c1/hosts"));
    let missing = ExecConfig::new(
        dir.path().join("r2"),
        dir.path().join("c2"),
        dir.path().join("nope"),
    );
    let err = ExecDriver::new(missing).expect_err("no shim");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn a_container_without_shim_or_record_was_never_started() {
    let (_dir, driver) = driver();
    assert_eq!(
        driver.state("c1").await.expect("state"),
        RunState::NeverStarted
    );
    assert!(matches!(
        driver.wait("c1").await,
        Err(ExecError::NeverStarted(_))
    ));
    assert!(matches!(
        driver.kill("c1", 15).await,
        Err(ExecError::NotRunning(_))
    ));
    assert!(matches!(
        driver.attach("c1", AttachOptions::default()).await,
        Err(ExecError::NotRunning(_))
    ));
}

#[tokio::test]
async fn an_exit_record_answers_when_the_shim_is_gone() {
    let (_dir, driver) = driver();
    let paths = driver.paths("c1");
    fs::create_dir_all(&paths.dir).expect("dir");
    let record = ExitRecord::exited(3, None, Timestamp::from_unix(10, 0));
    record.write(&paths.exit).expect("record");
    assert_eq!(driver.wait("c1").await.expect("wait"), record);
    assert_eq!(
        driver.state("c1").await.expect("state"),
        RunState::Exited(record.clone())
    );
    assert_eq!(
        driver
            .stop("c1", 15, Duration::from_secs(1))
            .await
            .expect("stop"),
        record
    );
}

#[tokio::test]
async fn a_vanished_shim_gets_a_durable_lost_record() {
    let (_dir, driver) = driver();
    // A shim directory with a stale socket and no exit record: the shim
    // was SIGKILLed.
    let shim_dir = driver.shim_dir("c1");
    fs::create_dir_all(&shim_dir).expect("shim dir");
    let stale = std::os::unix::net::UnixListener::bind(shim_dir.join("sock")).expect("bind");
    drop(stale);
    let state = driver.state("c1").await.expect("state");
    let RunState::Exited(record) = state else {
        panic!("expected exited, got {state:?}");
    };
    assert_eq!(record.exit_code, LOST_EXIT_CODE);
    assert!(record.error.as_deref().unwrap_or_default().contains("gone"));
    assert_eq!(
        driver.wait("c1").await.expect("wait"),
        record,
        "the record is durable"
    );
    assert_eq!(driver.known_ids().expect("ids"), ["c1"]);
    driver.remove("c1").await.expect("remove");
    assert!(!shim_dir.exists());
    assert!(driver.known_ids().expect("ids").is_empty());
}
