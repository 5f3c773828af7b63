//! The berth-runc lifecycle end to end: create/start/state/ps/exec/pause/
//! resume/kill/delete, foreground run with exit codes and signal
//! forwarding, the console socket, user namespaces and joining
//! namespaces by path.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_libcontainer::console::ConsoleSocket;
use serde_json::json;

use crate::runc_support::{
    Bundle, CgroupGuard, ContainerGuard, Runtime, TIMEOUT, assert_nothing_left, runc_spec, unique,
};

/// A nosuid,nodev,noexec tmpfs on the host, unmounted on drop.
struct TmpfsGuard(std::path::PathBuf);

impl TmpfsGuard {
    fn mount(dir: &std::path::Path) -> TmpfsGuard {
        use nix::mount::MsFlags;
        nix::mount::mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("size=1m"),
        )
        .expect("mount a tmpfs");
        TmpfsGuard(dir.to_path_buf())
    }
}

impl Drop for TmpfsGuard {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn path_str(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Waits for a spawned child with the test timeout.
fn wait_child(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn runc_lifecycle_create_start_exec_pause_kill_delete() {
    berth_tests::require::root();
    let berth = Runtime::berth();
    let id = unique("life");
    let cg = format!("/{id}");
    let _c = CgroupGuard(cg.clone());
    let bundle = Bundle::new(&runc_spec(&["sleep", "1000"], &cg));
    let _guard = ContainerGuard::new(&berth, &id);
    let pid_file = berth.root().join("init.pid");

    let out = berth.cmd_detached([
        "create",
        "--bundle",
        path_str(bundle.path()),
        "--pid-file",
        path_str(&pid_file),
        &id,
    ]);
    assert!(out.status.success(), "create: {out:#?}");
    let pid: i64 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let state = berth.state(&id);
    assert_eq!(state["status"], "created", "{state}");
    assert_eq!(state["pid"], pid);
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["bundle"], path_str(bundle.path()));

    let out = berth.cmd(["start", &id]);
    assert!(out.status.success(), "start: {out:#?}");
    berth.wait_status(&id, "running");

    let out = berth.cmd(["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_str(&out.stdout).expect("ps json");
    assert_eq!(pids, vec![pid], "{out:#?}");

    let out = berth.cmd([
        "exec",
        &id,
        "sh",
        "-c",
        "echo exec-ok; hostname; cat /proc/1/cmdline",
    ]);
    assert!(out.status.success(), "exec: {out:#?}");
    assert_eq!(out.stdout, "exec-ok\nrunc\nsleep\u{0}1000\u{0}");
    let out = berth.cmd(["exec", &id, "sh", "-c", "exit 3"]);
    assert_eq!(out.code(), 3, "exec exit code: {out:#?}");

    let process = json!({"user": {"uid": 1000, "gid": 1000}, "args": ["sleep", "1000"], "cwd": "/tmp",
                         "env": ["PATH=/bin"]});
    let process_file = berth.root().join("process.json");
    std::fs::write(&process_file, process.to_string()).expect("write process.json");
    let exec_pid_file = berth.root().join("exec.pid");
    let out = berth.cmd_detached([
        "exec",
        "--process",
        path_str(&process_file),
        "--detach",
        "--pid-file",
        path_str(&exec_pid_file),
        &id,
    ]);
    assert!(out.status.success(), "exec --detach: {out:#?}");
    let exec_pid: i64 = std::fs::read_to_string(&exec_pid_file)
        .expect("exec pid file")
        .trim()
        .parse()
        .expect("pid");
    let status =
        std::fs::read_to_string(format!("/proc/{exec_pid}/status")).expect("exec'd process runs");
    assert!(
        status.lines().any(|l| l.starts_with("Uid:\t1000\t")),
        "{status}"
    );
    let out = berth.cmd(["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_str(&out.stdout).expect("ps json");
    assert!(pids.contains(&exec_pid) && pids.contains(&pid), "{pids:?}");

    assert!(berth.cmd(["pause", &id]).status.success());
    assert_eq!(berth.state(&id)["status"], "paused");
    let out = berth.cmd(["exec", &id, "true"]);
    assert!(
        !out.status.success() && out.stderr.contains("paused"),
        "exec into a paused container: {out:#?}"
    );
    assert!(berth.cmd(["resume", &id]).status.success());
    assert_eq!(berth.state(&id)["status"], "running");

    let out = berth.cmd(["delete", &id]);
    assert!(
        !out.status.success() && out.stderr.contains("running"),
        "delete without force: {out:#?}"
    );

    assert!(berth.cmd(["kill", &id, "KILL"]).status.success());
    let state = berth.wait_status(&id, "stopped");
    assert_eq!(state["pid"], 0);
    // containerd's shim recognises this text as "already exited".
    let out = berth.cmd(["kill", &id, "KILL"]);
    assert!(
        !out.status.success() && out.stderr.contains("container not running"),
        "{out:#?}"
    );
    // The detached exec'd process is still in the cgroup: --all reaches it.
    assert!(berth.cmd(["kill", "--all", &id, "9"]).status.success());
    let out = berth.cmd(["delete", &id]);
    assert!(out.status.success(), "delete: {out:#?}");
    assert_nothing_left(&berth, &id, &cg, bundle.path());
    let out = berth.cmd(["state", &id]);
    assert!(
        !out.status.success() && out.stderr.contains("does not exist"),
        "{out:#?}"
    );
}

#[test]
fn runc_lifecycle_delete_of_created_and_force_delete_of_running() {
    berth_tests::require::root();
    let berth = Runtime::berth();
    let id = unique("del");
    let cg = format!("/{id}");
    let _c = CgroupGuard(cg.clone());
    let bundle = Bundle::new(&runc_spec(&["sleep", "1000"], &cg));
    let _guard = ContainerGuard::new(&berth, &id);
    assert!(
        berth
            .cmd_detached(["create", "--bundle", path_str(bundle.path()), &id])
            .status
            .success()
    );
    // runc deletes a created container without --force (its init only waits).
    let out = berth.cmd(["delete", &id]);
    assert!(out.status.success(), "{out:#?}");
    assert_nothing_left(&berth, &id, &cg, bundle.path());

    let out = berth.cmd_detached(["run", "--detach", "--bundle", path_str(bundle.path()), &id]);
    assert!(out.status.success(), "run -d: {out:#?}");
    berth.wait_status(&id, "running");
    let out = berth.cmd(["delete", "--force", &id]);
    assert!(out.status.success(), "{out:#?}");
    assert_nothing_left(&berth, &id, &cg, bundle.path());
}

#[test]
fn runc_lifecycle_run_exit_code_and_signal_forwarding() {
    berth_tests::require::root();
    let berth = Runtime::berth();
    let id = unique("exit");
    let cg = format!("/{id}");
    let _c = CgroupGuard(cg.clone());
    let bundle = Bundle::new(&runc_spec(
        &["sh", "-c", "echo out; echo err >&2; exit 7"],
        &cg,
    ));
    let out = berth.run(&bundle, &id);
    assert_eq!(out.code(), 7, "{out:#?}");
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    assert_nothing_left(&berth, &id, &cg, bundle.path());

    // PID 1 only gets signals it handles: the trap makes TERM observable.
    let id = unique("sig");
    let cg = format!("/{id}");
    let _c2 = CgroupGuard(cg.clone());
    bundle.write_config(&runc_spec(
        &[
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
        ],
        &cg,
    ));
    let _guard = ContainerGuard::new(&berth, &id);
    let mut child = Command::new(berth.binary())
        .arg("--root")
        .arg(berth.root())
        .args(["run", "--bundle", path_str(bundle.path()), &id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn run");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut ready = [0u8; 6];
    stdout.read_exact(&mut ready).expect("container says ready");
    assert_eq!(&ready, b"ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal berth-runc");
    let status = wait_child(&mut child);
    assert_eq!(
        status.code(),
        Some(42),
        "SIGTERM forwarded to the container"
    );
    assert_nothing_left(&berth, &id, &cg, bundle.path());
}

#[test]
fn runc_lifecycle_console_socket_gets_the_pty_master() {
    berth_tests::require::root();
    let berth = Runtime::berth();
    let id = unique("tty");
    let cg = format!("/{id}");
    let _c = CgroupGuard(cg.clone());
    let mut spec = runc_spec(&["sh", "-c", "tty; echo tty-ok"], &cg);
    spec["process"]["terminal"] = json!(true);
    let bundle = Bundle::new(&spec);
    let socket_dir = tempfile::tempdir().expect("tempdir");
    let socket =
        ConsoleSocket::bind(&socket_dir.path().join("console.sock")).expect("bind console socket");
    let _guard = ContainerGuard::new(&berth, &id);
    let mut create = Command::new(berth.binary())
        .arg("--root")
        .arg(berth.root())
        .args([
            "create",
            "--bundle",
            path_str(bundle.path()),
            "--console-socket",
            path_str(socket.path()),
            &id,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn create");
    let master = socket.accept_master().expect("receive the pty master");
    assert!(
        wait_child(&mut create).success(),
        "create with a console socket"
    );
    assert!(berth.cmd(["start", &id]).status.success());
    // Read the terminal until the program exits (EIO once the slave side
    // is closed), on a thread so that the test's timeout holds.
    let fd = master.as_raw_fd();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let _keep = master;
        let mut all = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) =
            nix::unistd::read(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, &mut buf)
        {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&all).contains("tty-ok") {
                break;
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&all).into_owned());
    });
    let text = rx
        .recv_timeout(TIMEOUT)
        .expect("terminal output within the timeout");
    reader.join().expect("reader");
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    assert!(
        text.contains("tty-ok\r\n"),
        "a terminal turns \\n into \\r\\n: {text:?}"
    );
    berth.wait_status(&id, "stopped");
    assert!(berth.cmd(["delete", &id]).status.success());
    assert_nothing_left(&berth, &id, &cg, bundle.path());
}

#[test]
fn runc_lifecycle_user_namespace_maps_root() {
    berth_tests::require::root();
    let berth = Runtime::berth();
    let id = unique("userns");
    let cg = format!("/{id}");
    let _c = CgroupGuard(cg.clone());
    let mut spec = runc_spec(
        &[
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map /proc/self/gid_map; ls -ln /bin/busybox; \
             grep ' /hostshm ' /proc/self/mountinfo | cut -d' ' -f6",
        ],
        &cg,
    );
    // A read-only bind of a nosuid,nodev,noexec host mount: in a user
    // namespace those flags are locked and the read-only remount must keep
    // them.
    let host_dir = tempfile::tempdir().expect("tempdir");
    let host_mount = TmpfsGuard::mount(host_dir.path());
    spec["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": "/hostshm", "type": "bind", "source": host_mount.0, "options": ["rbind", "ro"]
    }));
    spec["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(json!({"type": "user"}));
    spec["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    spec["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let bundle = Bundle::new(&spec);
    // Host root owns the rootfs and is not mapped: the container's root
    // cannot create mount points there, so the bundle brings it.
    std::fs::create_dir(bundle.rootfs().join("hostshm")).expect("mkdir mount point");
    let out = berth.run(&bundle, &id);
    assert!(out.status.success(), "{out:#?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "0", "root inside: {out:#?}");
    for map in &lines[1..3] {
        let fields: Vec<&str> = map.split_whitespace().collect();
        assert_eq!(fields, ["0", "100000", "65536"], "{out:#?}");
    }
    // Host root is not mapped: files it owns show the overflow id.
    assert!(lines[3].contains(" 65534 "), "{out:#?}");
    assert!(
        lines[4].starts_with("ro,nosuid,nodev"),
        "locked flags kept: {out:#?}"
    );
    assert_nothing_left(&berth, &id, &cg, bundle.path());
}

#[test]
fn runc_lifecycle_joins_namespaces_by_path() {
    berth_tests::require::root();
    let berth = Runtime::berth();
    let first = unique("ns-a");
    let cg_a = format!("/{first}");
    let _ca = CgroupGuard(cg_a.clone());
    let mut spec = runc_spec(&["sleep", "1000"], &cg_a);
    spec["hostname"] = json!("alpha");
    let bundle_a = Bundle::new(&spec);
    let _guard_a = ContainerGuard::new(&berth, &first);
    let out = berth.cmd_detached([
        "run",
        "--detach",
        "--bundle",
        path_str(bundle_a.path()),
        &first,
    ]);
    assert!(out.status.success(), "{out:#?}");
    let pid = berth.wait_status(&first, "running")["pid"]
        .as_i64()
        .expect("pid");

    let second = unique("ns-b");
    let cg_b = format!("/{second}");
    let _cb = CgroupGuard(cg_b.clone());
    let mut spec = runc_spec(
        &[
            "sh",
            "-c",
            "hostname; cat /proc/1/cmdline; echo; readlink /proc/self/ns/net",
        ],
        &cg_b,
    );
    spec.as_object_mut().expect("object").remove("hostname");
    spec["linux"]["namespaces"] = json!([
        {"type": "pid", "path": format!("/proc/{pid}/ns/pid")},
        {"type": "network", "path": format!("/proc/{pid}/ns/net")},
        {"type": "ipc", "path": format!("/proc/{pid}/ns/ipc")},
        {"type": "uts", "path": format!("/proc/{pid}/ns/uts")},
        {"type": "mount"}
    ]);
    let bundle_b = Bundle::new(&spec);
    let out = berth.run(&bundle_b, &second);
    assert!(out.status.success(), "{out:#?}");
    let net_a = std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("ns of A");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "alpha", "uts joined: {out:#?}");
    assert_eq!(
        lines[1], "sleep\u{0}1000\u{0}",
        "pid namespace joined: {out:#?}"
    );
    assert_eq!(lines[2], net_a.to_string_lossy(), "net joined: {out:#?}");
    assert_nothing_left(&berth, &second, &cg_b, bundle_b.path());
    assert!(berth.cmd(["delete", "--force", &first]).status.success());
    assert_nothing_left(&berth, &first, &cg_a, bundle_a.path());
}

#[test]
fn runc_lifecycle_run_with_terminal_relays_the_pty() {
    berth_tests::require::root();
    let berth = Runtime::berth();
    let id = unique("relay");
    let cg = format!("/{id}");
    let _c = CgroupGuard(cg.clone());
    // `runc spec` asks for a terminal; without --console-socket, `run`
    // relays the pty itself as runc does.
    let mut spec = runc_spec(&["sh", "-c", "tty; echo relayed; exit 4"], &cg);
    spec["process"]["terminal"] = json!(true);
    let bundle = Bundle::new(&spec);
    let out = berth.run(&bundle, &id);
    assert_eq!(out.code(), 4, "{out:#?}");
    assert_eq!(out.stdout, "/dev/pts/0\r\nrelayed\r\n");
    assert_nothing_left(&berth, &id, &cg, bundle.path());
    let sockets: Vec<_> = std::fs::read_dir(berth.root())
        .expect("state root")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(sockets.is_empty(), "console socket left: {sockets:?}");
}

#[test]
fn runc_lifecycle_container_gets_its_own_session_keyring() {
    berth_tests::require::root();
    let berth = Runtime::berth();
    let id = unique("keys");
    let cg = format!("/{id}");
    let _c = CgroupGuard(cg.clone());
    let mut spec = runc_spec(&["cat", "/proc/keys"], &cg);
    // /proc/keys is masked by default; unmask it to look.
    spec["linux"]["maskedPaths"] = json!([]);
    let bundle = Bundle::new(&spec);
    let out = berth.run(&bundle, &id);
    assert!(out.status.success(), "{out:#?}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("keyring") && l.ends_with(&format!("_ses.{id}: empty"))),
        "runc's _ses.<id> session keyring: {}",
        out.stdout
    );
    assert_nothing_left(&berth, &id, &cg, bundle.path());
}
