//! Issue 10: `container prune`, `image prune`, `system df` and `diff`
//! through the real docker CLI and `berth`, against a real berthd and its
//! image store.

use berth_tests::daemon::Daemon;

/// The short ids `docker ps -aq` / `docker images -q` print, sorted.
#[track_caller]
fn ids(d: &Daemon, args: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = d.docker(args).ok().lines().map(str::to_owned).collect();
    ids.sort();
    ids
}

#[track_caller]
fn short(id: &str) -> String {
    id.trim_start_matches("sha256:")[..12].to_owned()
}

#[test]
fn prune_removes_what_docker_would_and_keeps_what_the_filters_keep() {
    let d = Daemon::start();
    let busybox = d.import_busybox("busybox");
    // An image without a tag: dangling.
    let tarball = berth_tests::busybox::shared_tarball();
    let dangling = d
        .berth(&["import", tarball.to_str().expect("utf-8 path")])
        .ok()
        .trim()
        .to_owned();
    assert_ne!(short(&dangling), short(&busybox));

    let created = d
        .docker(&["create", "--name", "created", "busybox", "true"])
        .ok();
    d.docker(&["run", "--name", "exited", "busybox", "true"])
        .ok();
    let kept = d
        .docker(&[
            "create", "--label", "keep=1", "--name", "kept", "busybox", "true",
        ])
        .ok();
    let up = d
        .docker(&["run", "-d", "--name", "up", "busybox", "sleep", "300"])
        .ok();

    // A filter prune does not have is refused, and nothing goes.
    let out = d.docker(&["container", "prune", "-f", "--filter", "status=exited"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("invalid filter 'status'"), "{out:?}");
    let out = d.docker(&["container", "prune", "-f", "--filter", "until=yesterday"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("failed to parse value as time or duration"),
        "{out:?}"
    );
    assert_eq!(ids(&d, &["ps", "-aq"]).len(), 4);

    // Everything was created after an hour ago: until=1h keeps it all.
    let out = d
        .docker(&["container", "prune", "-f", "--filter", "until=1h"])
        .ok();
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert_eq!(ids(&d, &["ps", "-aq"]).len(), 4);

    let out = d
        .docker(&["container", "prune", "-f", "--filter", "label!=keep"])
        .ok();
    assert!(out.contains(created.trim()), "{out}");
    let mut left = ids(&d, &["ps", "-aq"]);
    let mut expected = vec![short(kept.trim()), short(up.trim())];
    expected.sort();
    left.sort();
    assert_eq!(
        left, expected,
        "the running and the labelled container stay"
    );

    // ps -s: each row with what it wrote and its image's size.
    let sizes = d.docker(&["ps", "-a", "-s", "--format", "{{.Size}}"]).ok();
    assert_eq!(sizes.lines().count(), 2, "{sizes}");
    assert!(sizes.lines().all(|l| l.contains("(virtual ")), "{sizes}");

    // system df: both images, two containers, one of them running.
    let df = d.docker(&["system", "df"]).ok();
    let row = |kind: &str| -> Vec<String> {
        df.lines()
            .find(|l| l.starts_with(kind))
            .unwrap_or_else(|| panic!("no {kind} row in\n{df}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(row("Images")[1..3], ["2", "1"], "{df}");
    assert_eq!(row("Containers")[1..3], ["2", "1"], "{df}");
    let berth_df = d.berth(&["system", "df"]).ok();
    assert!(berth_df.contains("Containers"), "{berth_df}");

    // image prune: the dangling image goes; busybox, in use and tagged, stays.
    let out = d.docker(&["image", "prune", "-f"]).ok();
    assert!(out.contains(&dangling), "{out}");
    assert_eq!(ids(&d, &["images", "-q"]), [short(&busybox)]);
    // -a: busybox is used by containers, so it stays.
    d.docker(&["image", "prune", "-a", "-f"]).ok();
    assert_eq!(ids(&d, &["images", "-q"]), [short(&busybox)]);

    // berth's own verbs: the rest goes.
    d.docker(&["rm", "-f", "up"]).ok();
    let out = d.berth(&["container", "prune", "-f"]).ok();
    assert!(out.contains(kept.trim()), "{out}");
    assert!(ids(&d, &["ps", "-aq"]).is_empty());
    let out = d.berth(&["image", "prune", "-a", "-f"]).ok();
    assert!(out.contains(&busybox), "{out}");
    assert!(ids(&d, &["images", "-q"]).is_empty());
    let events = d.past_events(Some("image"));
    assert!(
        events.iter().any(|e| e["Action"] == "prune"),
        "a prune event: {events:?}"
    );
}

#[test]
fn diff_lists_what_a_container_changed_and_never_follows_its_links() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // Adds a file, changes one, deletes one, and plants links that point
    // out of the container (at the host's /etc and /).
    d.docker(&[
        "run",
        "--name",
        "changer",
        "busybox",
        "sh",
        "-c",
        "echo hi >/new; echo x >>/etc/passwd; rm /bin/vi; ln -s /etc /root/host-etc; mkdir -p /tmp/a/b; ln -s / /tmp/a/b/up",
    ])
    .ok();
    let out = d.docker(&["diff", "changer"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    for expected in [
        "A /new",
        "C /etc",
        "C /etc/passwd",
        "C /bin",
        "D /bin/vi",
        "C /root",
        "A /root/host-etc",
        "A /tmp/a/b/up",
    ] {
        assert!(lines.contains(&expected), "{expected} missing from\n{out}");
    }
    // berth's mount points are not the container's changes (moby keeps
    // them in the init layer).
    assert!(!out.contains("/etc/hosts"), "{out}");
    assert!(!out.contains("/etc/resolv.conf"), "{out}");
    // Nothing from the host: a followed link would list the host's files.
    assert!(!out.contains("/root/host-etc/"), "{out}");
    assert!(!out.contains("/tmp/a/b/up/"), "{out}");
    // berth says the same.
    assert_eq!(d.berth(&["diff", "changer"]).ok(), out);
    let out = d.docker(&["diff", "nope"]);
    assert_ne!(out.code(), 0);
    assert!(out.stderr.contains("No such container: nope"), "{out:?}");
}
