//! `docker cp` (issue 10, files): `GET`/`HEAD`/`PUT /containers/{id}/archive`
//! through the API, `berth cp` and the real `docker` CLI, into and out of
//! running and stopped containers and binds; hostile symlinks and paths
//! never reach the host.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use berth_tests::daemon::Daemon;

/// A daemon with `busybox`, and `cpimage`: busybox plus a container
/// `/etc/shadow` and symlinks planted the way a hostile image would.
fn ready(host_victim: &Path) -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let tarball = tempfile::NamedTempFile::new().expect("tarball");
    let victim = host_victim.to_path_buf();
    berth_tests::busybox::build_tarball_with(tarball.path(), move |rootfs| {
        fs::write(rootfs.join("etc/shadow"), "container shadow\n").expect("shadow");
        symlink("/", rootfs.join("link-root")).expect("link-root");
        symlink("/etc/shadow", rootfs.join("link-shadow")).expect("link-shadow");
        symlink("../../../../../../etc", rootfs.join("link-up")).expect("link-up");
        // The host's directory by its host path: inside the container it
        // names nothing.
        symlink(&victim, rootfs.join("link-host")).expect("link-host");
    });
    d.berth(&["import", tarball.path().to_str().expect("utf-8"), "cpimage"])
        .ok();
    d
}

/// A host directory the tests check is never written, with a file never read.
struct Victim {
    dir: tempfile::TempDir,
}

impl Victim {
    fn new() -> Victim {
        let dir = tempfile::tempdir().expect("victim");
        fs::write(dir.path().join("secret"), "HOST SECRET\n").expect("secret");
        Victim { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    #[track_caller]
    fn assert_untouched(&self) {
        let names: Vec<_> = fs::read_dir(self.path())
            .expect("ls victim")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["secret"], "the host directory was written");
        assert_eq!(
            fs::read_to_string(self.path().join("secret")).expect("secret"),
            "HOST SECRET\n"
        );
    }
}

/// The names and contents of a tar.
fn tar_entries(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for e in archive.entries().expect("tar") {
        let mut e = e.expect("entry");
        let name = e.path().expect("name").display().to_string();
        let mut data = String::new();
        std::io::Read::read_to_string(&mut e, &mut data).expect("data");
        out.push((name, data));
    }
    out
}

fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data.as_bytes())
            .expect("append");
    }
    b.into_inner().expect("tar")
}

#[test]
fn docker_cp_copies_files_and_directories_out_of_and_into_containers() {
    let victim = Victim::new();
    let d = ready(victim.path());
    let work = tempfile::tempdir().expect("work");
    let w = work.path();

    // Out of a running container: a file and a directory.
    d.docker(&[
        "run", "-d", "--name", "src", "busybox", "sh", "-c",
        "mkdir -p /d/sub && echo one > /d/a && echo two > /d/sub/b && echo hi > /f && exec sleep 1000",
    ])
    .ok();
    // The files exist once the shell ran: poll the stat through HEAD.
    for _ in 0..100 {
        if d.http("HEAD", "/containers/src/archive?path=/d/sub/b", b"")
            .status
            == 200
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    d.docker(&["cp", "src:/f", w.join("f").to_str().expect("utf-8")])
        .ok();
    assert_eq!(fs::read_to_string(w.join("f")).expect("f"), "hi\n");
    d.docker(&["cp", "src:/d", w.join("d").to_str().expect("utf-8")])
        .ok();
    assert_eq!(fs::read_to_string(w.join("d/a")).expect("a"), "one\n");
    assert_eq!(fs::read_to_string(w.join("d/sub/b")).expect("b"), "two\n");

    // The API: the stat header (base64 JSON with Go's FileMode) and the tar.
    let r = d.http("GET", "/containers/src/archive?path=/d", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    let stat = r
        .header("x-docker-container-path-stat")
        .expect("stat header");
    let stat: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, stat).expect("base64"),
    )
    .expect("json");
    assert_eq!(stat["name"], "d");
    assert_ne!(
        stat["mode"].as_u64().unwrap_or_default() & (1 << 31),
        0,
        "{stat}"
    );
    let names: Vec<String> = tar_entries(&r.body).into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["d/", "d/a", "d/sub/", "d/sub/b"]);
    let r = d.http("HEAD", "/containers/src/archive?path=/f", b"");
    assert_eq!(r.status, 200);
    assert!(r.header("x-docker-container-path-stat").is_some());
    assert!(r.body.is_empty());

    // `/etc/hostname` is the file berthd binds there, as in moby.
    let hostname = d
        .docker(&["inspect", "-f", "{{.Config.Hostname}}", "src"])
        .ok();
    let r = d.http("GET", "/containers/src/archive?path=/etc/hostname", b"");
    assert_eq!(tar_entries(&r.body), [("hostname".to_owned(), hostname)]);

    // Into a running container: it waits for the file, then cats it.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "dst",
        "busybox",
        "sh",
        "-c",
        "while [ ! -f /in/ready ]; do sleep 0.1; done; cat /in/msg",
    ])
    .ok();
    fs::create_dir_all(w.join("in")).expect("in");
    fs::write(w.join("in/msg"), "copied in while running\n").expect("msg");
    fs::write(w.join("in/ready"), "").expect("ready");
    d.docker(&["cp", w.join("in").to_str().expect("utf-8"), "dst:/"])
        .ok();
    assert_eq!(d.docker(&["wait", "dst"]).ok().trim(), "0");
    assert_eq!(d.docker(&["logs", "dst"]).ok(), "copied in while running\n");

    // Into a stopped (created) container: its first run sees the file.
    d.docker(&["create", "--name", "cold", "busybox", "cat", "/etc/motd"])
        .ok();
    fs::write(w.join("motd"), "copied in while stopped\n").expect("motd");
    d.docker(&[
        "cp",
        w.join("motd").to_str().expect("utf-8"),
        "cold:/etc/motd",
    ])
    .ok();
    d.docker(&["start", "-a", "cold"]).ok();
    assert_eq!(
        d.docker(&["logs", "cold"]).ok(),
        "copied in while stopped\n"
    );
    // Nothing of berthd's stays mounted for it.
    let mounts = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let cold_id = d.docker(&["inspect", "-f", "{{.Id}}", "cold"]).ok();
    assert!(
        !mounts.contains(cold_id.trim()),
        "the stopped container's rootfs stays mounted"
    );

    // Into a bind: the file lands in the bind's source.
    let bind = tempfile::tempdir().expect("bind");
    d.docker(&[
        "run",
        "-d",
        "--name",
        "bound",
        "-v",
        &format!("{}:/data", bind.path().display()),
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    d.docker(&[
        "cp",
        w.join("f").to_str().expect("utf-8"),
        "bound:/data/viacp",
    ])
    .ok();
    assert_eq!(
        fs::read_to_string(bind.path().join("viacp")).expect("in bind"),
        "hi\n"
    );

    // From stdin as a tar, and to stdout.
    let out = d.docker_with_input(&["cp", "-", "src:/d"], Some(&tar_of(&[("t", "tarred\n")])));
    assert!(out.status.success(), "{out:?}");
    let r = d.http("GET", "/containers/src/archive?path=/d/t", b"");
    assert_eq!(
        tar_entries(&r.body),
        [("t".to_owned(), "tarred\n".to_owned())]
    );

    d.docker(&["rm", "-f", "src", "dst", "cold", "bound"]).ok();
    victim.assert_untouched();
}

#[test]
fn hostile_paths_and_symlinks_stay_inside_the_container() {
    let victim = Victim::new();
    let d = ready(victim.path());
    let work = tempfile::tempdir().expect("work");
    let w = work.path();
    d.docker(&["run", "-d", "--name", "h", "cpimage", "sleep", "1000"])
        .ok();

    // A symlink is copied as a link; followed (-L) it is the container's file.
    d.docker(&["cp", "h:/link-shadow", w.join("l").to_str().expect("utf-8")])
        .ok();
    assert_eq!(
        fs::read_link(w.join("l")).expect("a link"),
        Path::new("/etc/shadow")
    );
    d.docker(&[
        "cp",
        "-L",
        "h:/link-shadow",
        w.join("s").to_str().expect("utf-8"),
    ])
    .ok();
    assert_eq!(
        fs::read_to_string(w.join("s")).expect("s"),
        "container shadow\n"
    );
    // Through links to / and up, and `..` beyond the root.
    for path in [
        "/link-root/etc/shadow",
        "/link-up/shadow",
        "/../../../../etc/shadow",
    ] {
        let r = d.http("GET", &format!("/containers/h/archive?path={path}"), b"");
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(
            tar_entries(&r.body),
            [("shadow".to_owned(), "container shadow\n".to_owned())],
            "{path}"
        );
    }
    // A link naming the host's directory names nothing in the container.
    let secret = "h:/link-host/secret";
    let out = d.docker(&["cp", secret, w.join("x").to_str().expect("utf-8")]);
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("Could not find the file"), "{out:?}");
    fs::write(w.join("planted"), "planted\n").expect("planted");
    let out = d.docker(&[
        "cp",
        w.join("planted").to_str().expect("utf-8"),
        "h:/link-host/",
    ]);
    assert!(!out.status.success(), "{out:?}");
    // Written through the link to /: the container's /etc, not the host's.
    d.docker(&[
        "cp",
        w.join("planted").to_str().expect("utf-8"),
        "h:/link-root/etc/",
    ])
    .ok();
    assert!(
        !Path::new("/etc/planted").exists(),
        "written to the host's /etc"
    );
    let r = d.http("GET", "/containers/h/archive?path=/etc/planted", b"");
    assert_eq!(r.status, 200, "{}", r.text());

    // moby's errors.
    let r = d.http("GET", "/containers/h/archive?path=/nope", b"");
    assert_eq!(
        (r.status, r.json()["message"].as_str().unwrap_or_default()),
        (404, "Could not find the file /nope in container h")
    );
    let r = d.http("HEAD", "/containers/h/archive?path=/nope", b"");
    assert_eq!(r.status, 404);
    let r = d.http("GET", "/containers/h/archive", b"");
    assert_eq!(
        (r.status, r.json()["message"].as_str().unwrap_or_default()),
        (400, "Path cannot be empty")
    );
    let r = d.http("GET", "/containers/nope/archive?path=/", b"");
    assert_eq!(
        (r.status, r.json()["message"].as_str().unwrap_or_default()),
        (404, "No such container: nope")
    );
    let r = d.http(
        "PUT",
        "/containers/h/archive?path=/etc/shadow",
        &tar_of(&[("x", "x")]),
    );
    assert_eq!(
        (r.status, r.json()["message"].as_str().unwrap_or_default()),
        (400, "extraction point is not a directory")
    );
    let out = d.docker(&["cp", "h:/nope", w.to_str().expect("utf-8")]);
    assert!(
        out.stderr
            .contains("Could not find the file /nope in container h"),
        "{out:?}"
    );

    // Hostile tar entries: `..` names, a symlink climbing out, a device.
    let mut climbing = tar_of(&[("aaaaaaa", "x")]);
    climbing[..7].copy_from_slice(b"../../x");
    recompute_checksum(&mut climbing);
    let r = d.http("PUT", "/containers/h/archive?path=/tmp", &climbing);
    assert_eq!(r.status, 400, "{}", r.text());
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "out", "../../../../../../etc")
        .expect("link");
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Char);
    h.set_size(0);
    h.set_device_major(1).expect("major");
    h.set_device_minor(1).expect("minor");
    let mem = b.into_inner().expect("tar");
    let r = d.http("PUT", "/containers/h/archive?path=/tmp", &mem);
    assert_eq!(r.status, 400, "{}", r.text());
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut h, "mem", std::io::empty())
        .expect("device");
    let r = d.http(
        "PUT",
        "/containers/h/archive?path=/tmp",
        &b.into_inner().expect("tar"),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // An entry through a symlink of the same tar: written in the container.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "s", "/").expect("link");
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(5);
    h.set_mode(0o644);
    b.append_data(&mut h, "s/etc/viatar", &b"tar\n\n"[..])
        .expect("file");
    let r = d.http(
        "PUT",
        "/containers/h/archive?path=/tmp",
        &b.into_inner().expect("tar"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        !Path::new("/etc/viatar").exists(),
        "written to the host's /etc"
    );
    assert_eq!(
        d.http("HEAD", "/containers/h/archive?path=/etc/viatar", b"")
            .status,
        200
    );

    // berthd serves on.
    assert_eq!(d.http("GET", "/_ping", b"").text(), "OK");
    d.docker(&["rm", "-f", "h"]).ok();
    victim.assert_untouched();
}

/// The header checksum after editing its bytes (tar's sum of the header
/// with the checksum field as spaces).
fn recompute_checksum(tar: &mut [u8]) {
    tar[148..156].copy_from_slice(b"        ");
    let sum: u32 = tar[..512].iter().map(|b| u32::from(*b)).sum();
    let field = format!("{sum:06o}\0 ");
    tar[148..156].copy_from_slice(field.as_bytes());
}

/// The uid and gid of a path's tar header through the API.
fn owner(d: &Daemon, container: &str, path: &str) -> (u64, u64) {
    let r = d.http(
        "GET",
        &format!("/containers/{container}/archive?path={path}"),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut archive = tar::Archive::new(r.body.as_slice());
    let e = archive
        .entries()
        .expect("tar")
        .next()
        .expect("an entry")
        .expect("entry");
    (
        e.header().uid().expect("uid"),
        e.header().gid().expect("gid"),
    )
}

#[test]
fn berth_cp_copies_both_ways_with_docker_flags() {
    let victim = Victim::new();
    let d = ready(victim.path());
    let work = tempfile::tempdir().expect("work");
    let w = work.path();
    let s = |p: &Path| p.to_str().expect("utf-8").to_owned();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "b",
        "--user",
        "1234:5678",
        "cpimage",
        "sleep",
        "1000",
    ])
    .ok();
    fs::create_dir_all(w.join("tree/sub")).expect("tree");
    fs::write(w.join("tree/sub/leaf"), "leaf\n").expect("leaf");
    fs::write(w.join("file"), "file\n").expect("file");

    // In: a file under a new name, a directory into an existing one.
    d.berth(&["cp", &s(&w.join("file")), "b:/tmp/renamed"]).ok();
    d.berth(&["cp", &s(&w.join("tree")), "b:/tmp/"]).ok();
    // Out: the file, the directory under a new name, its contents (`/.`).
    d.berth(&["cp", "b:/tmp/renamed", &s(&w.join("back"))]).ok();
    assert_eq!(fs::read_to_string(w.join("back")).expect("back"), "file\n");
    d.berth(&["cp", "b:/tmp/tree", &s(&w.join("tree2"))]).ok();
    assert_eq!(
        fs::read_to_string(w.join("tree2/sub/leaf")).expect("leaf"),
        "leaf\n"
    );
    fs::create_dir_all(w.join("into")).expect("into");
    d.berth(&["cp", "b:/tmp/tree/.", &s(&w.join("into"))]).ok();
    assert_eq!(
        fs::read_to_string(w.join("into/sub/leaf")).expect("leaf"),
        "leaf\n"
    );

    // `-`: a tar on stdout, and one from stdin.
    let out = d.berth(&["cp", "b:/tmp/renamed", "-"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        tar_entries(out.stdout.as_bytes()),
        [("renamed".to_owned(), "file\n".to_owned())]
    );
    let out = d.berth_with_input(
        &["cp", "-", "b:/tmp"],
        Some(&tar_of(&[("stdin", "from stdin\n")])),
    );
    assert!(out.status.success(), "{out:?}");
    let r = d.http("GET", "/containers/b/archive?path=/tmp/stdin", b"");
    assert_eq!(
        tar_entries(&r.body),
        [("stdin".to_owned(), "from stdin\n".to_owned())]
    );

    // -L follows the container's link, inside the container.
    d.berth(&["cp", "b:/link-shadow", &s(&w.join("nolink"))])
        .ok();
    assert!(
        fs::symlink_metadata(w.join("nolink"))
            .expect("nolink")
            .file_type()
            .is_symlink()
    );
    d.berth(&["cp", "-L", "b:/link-shadow", &s(&w.join("followed"))])
        .ok();
    assert_eq!(
        fs::read_to_string(w.join("followed")).expect("followed"),
        "container shadow\n"
    );

    // -a: the container's user owns what is copied in; without it, the tar's.
    d.berth(&["cp", "-a", &s(&w.join("file")), "b:/tmp/owned"])
        .ok();
    assert_eq!(owner(&d, "b", "/tmp/owned"), (1234, 5678));
    assert_eq!(owner(&d, "b", "/tmp/renamed"), (0, 0));

    // Errors, as the docker CLI words them.
    let out = d.berth(&["cp", "b:/nope", &s(w)]);
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("Could not find the file /nope in container b"),
        "{out:?}"
    );
    let out = d.berth(&["cp", &s(&w.join("file")), "nope:/tmp"]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("No such container"), "{out:?}");
    let out = d.berth(&["cp", "a:/x", "b:/y"]);
    assert!(
        out.stderr
            .contains("copying between containers is not supported"),
        "{out:?}"
    );

    d.berth(&["rm", "-f", "b"]).ok();
    victim.assert_untouched();
}

#[test]
fn stalled_copies_do_not_stall_the_daemon() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let victim = Victim::new();
    let d = ready(victim.path());
    d.docker(&["run", "-d", "--name", "s", "busybox", "sleep", "1000"])
        .ok();
    // A file larger than every buffer between the copy and the client.
    // (The test's `http` says its body is JSON, which the authz layer
    // reads whole up to 1 MiB, as moby's; the docker CLI sends a tar.)
    let work = tempfile::tempdir().expect("work");
    fs::write(work.path().join("big"), "z".repeat(16 << 20)).expect("big");
    d.docker(&[
        "cp",
        work.path().join("big").to_str().expect("utf-8"),
        "s:/tmp/",
    ])
    .ok();

    // Two uploads whose body stops after one header, and a download
    // nobody reads.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut s = UnixStream::connect(d.socket()).expect("connect");
        let head = "PUT /containers/s/archive?path=/tmp HTTP/1.1\r\nHost: berth\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n";
        s.write_all(head.as_bytes()).expect("head");
        let partial = &tar_of(&[("partial", &"p".repeat(1 << 20))])[..1024];
        s.write_all(format!("{:x}\r\n", partial.len()).as_bytes())
            .expect("chunk");
        s.write_all(partial).expect("chunk");
        s.write_all(b"\r\n").expect("chunk");
        stalled.push(s);
    }
    let mut s = UnixStream::connect(d.socket()).expect("connect");
    s.write_all(b"GET /containers/s/archive?path=/tmp/big HTTP/1.1\r\nHost: berth\r\n\r\n")
        .expect("get");
    stalled.push(s);

    // The daemon serves on, copies included.
    assert_eq!(d.http("GET", "/_ping", b"").text(), "OK");
    d.docker(&["ps"]).ok();
    fs::write(work.path().join("small"), "small\n").expect("small");
    d.docker(&[
        "cp",
        work.path().join("small").to_str().expect("utf-8"),
        "s:/tmp/",
    ])
    .ok();
    let r = d.http("GET", "/containers/s/archive?path=/tmp/small", b"");
    assert_eq!(
        tar_entries(&r.body),
        [("small".to_owned(), "small\n".to_owned())]
    );
    // Once their clients go away, their blocking threads are free again.
    drop(stalled);
    for _ in 0..3 {
        d.docker(&[
            "cp",
            work.path().join("small").to_str().expect("utf-8"),
            "s:/tmp/",
        ])
        .ok();
    }
    d.docker(&["rm", "-f", "s"]).ok();
    victim.assert_untouched();
}
