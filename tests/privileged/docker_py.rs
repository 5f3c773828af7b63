//! docker-py, the Docker SDK for Python, as a real client of berthd: each
//! script in `tests/docker-py/` drives one group of verbs against a daemon
//! of its own and fails with its traceback. `tests/run.sh` installs the
//! pinned SDK (`tests/docker-py/requirements.txt`) into `target/docker-py`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use berth_tests::cmd::run_with_timeout;
use berth_tests::daemon::Daemon;

/// The venv's interpreter, or a failure that says how to make it.
fn python() -> PathBuf {
    let venv = berth_tests::target_tmp()
        .parent()
        .expect("target/tmp has a parent")
        .join("docker-py");
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "docker-py is not installed at {}: run tests/run.sh, which creates that venv from \
         tests/docker-py/requirements.txt (python3 -m venv, pip install -r)",
        venv.display()
    );
    python
}

/// Runs `tests/docker-py/<script>.py` against a fresh berthd that has the
/// busybox test image as `busybox`.
fn run_script(script: &str) {
    let python = python();
    let d = Daemon::start();
    d.import_busybox("busybox");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docker-py");
    let out = run_with_timeout(
        Command::new(python)
            .arg(dir.join(format!("{script}.py")))
            .env("DOCKER_HOST", d.host())
            .env("PYTHONPATH", &dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("BERTH_TEST_IMAGE", "busybox"),
        Duration::from_secs(180),
    );
    assert_eq!(
        out.code(),
        0,
        "docker-py {script}.py failed:\n{}\n{}\nberthd log:\n{}",
        out.stdout,
        out.stderr,
        d.log()
    );
    assert!(
        out.stdout.contains(&format!("{script}: ok")),
        "{script}.py did not finish: {}",
        out.stdout
    );
}

#[test]
fn containers() {
    run_script("containers");
}

#[test]
fn images() {
    run_script("images");
}

#[test]
fn system() {
    run_script("system");
}

#[test]
fn exec() {
    run_script("exec");
}

#[test]
fn volumes() {
    run_script("volumes");
}

#[test]
fn files() {
    run_script("files");
}

#[test]
fn lifecycle() {
    run_script("lifecycle");
}
