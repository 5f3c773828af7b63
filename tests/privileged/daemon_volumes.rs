//! Issue 10: volumes and mounts through the real docker CLI, `berth` and
//! the API, against a real berthd: data that outlives its container,
//! copy-up of an image's content, anonymous volumes and `rm -v`, a volume
//! in use, `--volumes-from`, `--mount`, `--read-only`, and bad input that
//! creates nothing.

use berth_tests::daemon::Daemon;

/// The volume names `docker volume ls -q` prints, sorted.
#[track_caller]
fn volumes(d: &Daemon) -> Vec<String> {
    let mut names: Vec<String> = d
        .docker(&["volume", "ls", "-q"])
        .ok()
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

#[test]
fn a_volume_outlives_its_container_and_is_refused_while_in_use() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let out = d
        .docker(&["volume", "create", "--label", "app=web", "web-data"])
        .ok();
    assert_eq!(out.trim(), "web-data");
    d.docker(&[
        "run",
        "--name",
        "writer",
        "-v",
        "web-data:/data",
        "busybox",
        "sh",
        "-c",
        "echo hello > /data/greeting",
    ])
    .ok();
    d.docker(&["rm", "writer"]).ok();
    let out = d
        .docker(&[
            "run",
            "--rm",
            "-v",
            "web-data:/data:ro",
            "busybox",
            "cat",
            "/data/greeting",
        ])
        .ok();
    assert_eq!(out.trim(), "hello");
    // Read-only means read-only.
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        "web-data:/data:ro",
        "busybox",
        "touch",
        "/data/x",
    ]);
    assert_ne!(out.code(), 0, "{out:?}");

    let inspect = d.docker(&["volume", "inspect", "web-data"]).ok();
    let inspect: serde_json::Value = serde_json::from_str(&inspect).expect("json");
    let mountpoint = inspect[0]["Mountpoint"]
        .as_str()
        .expect("mountpoint")
        .to_owned();
    assert_eq!(
        std::path::Path::new(&mountpoint),
        d.data_root().join("volumes/web-data/_data")
    );
    assert_eq!(inspect[0]["Labels"]["app"], "web");

    // In use by a stopped container: refused with moby's message.
    let user = d
        .docker(&[
            "create",
            "--name",
            "user",
            "-v",
            "web-data:/data",
            "busybox",
            "true",
        ])
        .ok();
    let out = d.docker(&["volume", "rm", "web-data"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "remove web-data: volume is in use - [{}]",
            user.trim()
        )),
        "{out:?}"
    );
    let out = d
        .docker(&["volume", "ls", "--filter", "dangling=true", "-q"])
        .ok();
    assert!(!out.contains("web-data"), "{out}");
    let out = d.docker(&["volume", "ls", "--filter", "bogus=1"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("invalid filter 'bogus'"), "{out:?}");

    // Mounts in inspect, as moby.
    let mounts = d
        .docker(&["inspect", "--format", "{{json .Mounts}}", "user"])
        .ok();
    let mounts: serde_json::Value = serde_json::from_str(&mounts).expect("json");
    assert_eq!(mounts[0]["Type"], "volume");
    assert_eq!(mounts[0]["Name"], "web-data");
    assert_eq!(mounts[0]["Destination"], "/data");
    assert_eq!(mounts[0]["Driver"], "local");
    assert_eq!(mounts[0]["RW"], true);

    // system df counts it, with its size and one user.
    let df = d
        .docker(&["system", "df", "-v", "--format", "{{json .Volumes}}"])
        .ok();
    assert!(df.contains("web-data"), "{df}");

    d.docker(&["rm", "user"]).ok();
    d.docker(&["volume", "rm", "web-data"]).ok();
    assert!(volumes(&d).is_empty());
    assert!(!std::path::Path::new(&mountpoint).exists());
    let events = d.past_events(Some("volume"));
    let actions: Vec<&str> = events
        .iter()
        .filter(|e| e["Actor"]["ID"] == "web-data")
        .filter_map(|e| e["Action"].as_str())
        .collect();
    assert_eq!(actions.first(), Some(&"create"), "{events:?}");
    assert_eq!(actions.last(), Some(&"destroy"), "{events:?}");
}

#[test]
fn image_content_is_copied_up_and_anonymous_volumes_go_with_rm_v() {
    let d = Daemon::start();
    let tarball = d.dir().join("with-data.tar");
    berth_tests::busybox::build_tarball_with(&tarball, |root| {
        std::fs::create_dir_all(root.join("srv/seed")).expect("mkdir");
        std::fs::write(root.join("srv/seed/file"), b"from the image\n").expect("write");
    });
    d.docker(&[
        "import",
        "--change",
        "VOLUME /srv/seed",
        tarball.to_str().expect("utf-8"),
        "seeded",
    ])
    .ok();
    // A new named volume gets the image's content at its mount point...
    let out = d
        .docker(&[
            "run",
            "--rm",
            "-v",
            "seeded-vol:/srv/seed",
            "seeded",
            "cat",
            "/srv/seed/file",
        ])
        .ok();
    assert_eq!(out.trim(), "from the image");
    // ... unless nocopy.
    let out = d
        .docker(&[
            "run",
            "--rm",
            "-v",
            "empty-vol:/srv/seed:nocopy",
            "seeded",
            "ls",
            "-A",
            "/srv/seed",
        ])
        .ok();
    assert_eq!(out.trim(), "");
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=mount-vol,dst=/srv/seed,volume-nocopy",
            "seeded",
            "ls",
            "-A",
            "/srv/seed",
        ])
        .ok();
    assert_eq!(out.trim(), "");
    assert_eq!(volumes(&d), ["empty-vol", "mount-vol", "seeded-vol"]);

    // The image's VOLUME: an anonymous volume with the content; `rm -v`
    // removes it, plain `rm` keeps it.
    d.docker(&["run", "--name", "anon", "seeded", "cat", "/srv/seed/file"])
        .ok();
    let anon = volumes(&d)
        .into_iter()
        .find(|n| n.len() == 64)
        .expect("an anonymous volume");
    let data = d.data_root().join("volumes").join(&anon).join("_data/file");
    assert_eq!(
        std::fs::read_to_string(&data).expect("copied"),
        "from the image\n"
    );
    d.docker(&["rm", "-v", "anon"]).ok();
    assert!(!volumes(&d).contains(&anon));
    d.docker(&["run", "--name", "kept", "-v", "/scratch", "seeded", "true"])
        .ok();
    let before = volumes(&d).len();
    d.docker(&["rm", "kept"]).ok();
    assert_eq!(volumes(&d).len(), before);
    // docker volume prune takes the anonymous one only; -a the rest.
    let out = d.docker(&["volume", "prune", "-f"]).ok();
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert_eq!(volumes(&d), ["empty-vol", "mount-vol", "seeded-vol"]);
    d.berth(&["volume", "prune", "-a", "-f"]).ok();
    assert!(volumes(&d).is_empty());
    // --rm takes its anonymous volumes along.
    d.docker(&["run", "--rm", "-v", "/scratch", "seeded", "true"])
        .ok();
    assert!(volumes(&d).is_empty());
}

#[test]
fn volumes_from_mount_and_read_only_roots() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let host_dir = d.dir().join("host-dir");
    std::fs::create_dir_all(&host_dir).expect("mkdir");
    std::fs::write(host_dir.join("f"), b"host\n").expect("write");
    let bind = format!("type=bind,src={},dst=/host,readonly", host_dir.display());
    d.docker(&[
        "create",
        "--name",
        "source",
        "-v",
        "shared:/shared",
        "--mount",
        &bind,
        "busybox",
        "true",
    ])
    .ok();
    // --volumes-from: its volume and its bind, read-only as asked.
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--volumes-from",
            "source:ro",
            "busybox",
            "sh",
            "-c",
            "cat /host/f; touch /shared/x && echo writable || echo read-only",
        ])
        .ok();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["host", "read-only"],
        "{out}"
    );
    // A read-only root with writable volumes and tmpfs.
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--read-only",
            "-v",
            "shared:/shared",
            "--mount",
            "type=tmpfs,dst=/scratch,tmpfs-size=1m",
            "busybox",
            "sh",
            "-c",
            "touch /shared/ok /scratch/ok && echo volumes; touch /root-file || echo root-ro",
        ])
        .ok();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["volumes", "root-ro"],
        "{out}"
    );
    // berth's own verbs.
    let out = d.berth(&["volume", "ls"]).ok();
    assert!(out.contains("shared"), "{out}");
    let out = d.berth(&["volume", "inspect", "shared"]).ok();
    assert!(out.contains("\"Mountpoint\""), "{out}");
    d.docker(&["rm", "source"]).ok();
    let out = d.berth(&["volume", "rm", "shared"]).ok();
    assert_eq!(out.trim(), "shared");
}

#[test]
fn bad_mounts_and_names_are_refused_and_create_nothing() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let cases: [(&[&str], &str); 6] = [
        (
            &["volume", "create", "a/b"],
            "\"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed",
        ),
        (
            &["run", "--rm", "-v", "a/b:/x", "busybox", "true"],
            "includes invalid characters for a local volume name",
        ),
        (
            &[
                "run",
                "--rm",
                "--mount",
                "type=bogus,dst=/x",
                "busybox",
                "true",
            ],
            "invalid mount config for type \"bogus\": mount type unknown",
        ),
        (
            &[
                "run",
                "--rm",
                "--mount",
                "type=bind,src=/nonexistent/berth-src,dst=/x",
                "busybox",
                "true",
            ],
            "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent/berth-src",
        ),
        (
            &["volume", "create", "-o", "type=nfs", "nfs-vol"],
            "missing required option: \"device\"",
        ),
        (
            &[
                "run", "--rm", "-v", "v1:/x", "-v", "v2:/x", "busybox", "true",
            ],
            "Duplicate mount point: /x",
        ),
    ];
    for (args, message) in cases {
        let out = d.docker(args);
        assert_ne!(out.code(), 0, "{args:?}: {out:?}");
        assert!(out.stderr.contains(message), "{args:?}: {out:?}");
        assert!(volumes(&d).is_empty(), "{args:?}");
        assert!(d.container_ids().is_empty(), "{args:?}");
    }
    assert!(!std::path::Path::new("/nonexistent/berth-src").exists());
    // An unknown --mount option is the CLI's own refusal.
    let out = d.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,dst=/x,colour=red",
        "busybox",
        "true",
    ]);
    assert_ne!(out.code(), 0, "{out:?}");
    // Through the API: a 400 with moby's message.
    let r = d.http(
        "POST",
        "/v1.43/containers/create",
        br#"{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"volume","Target":"/x","ReadOnly":true}]}}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text()
            .contains("must not set ReadOnly mode when using anonymous volumes"),
        "{}",
        r.text()
    );
    // berthd serves on.
    d.docker(&["run", "--rm", "-v", "fine:/x", "busybox", "true"])
        .ok();
    assert_eq!(volumes(&d), ["fine"]);
}
