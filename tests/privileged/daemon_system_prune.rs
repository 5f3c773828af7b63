//! `docker system prune` against berthd end to end (issue 10): the docker
//! CLI calls `/containers/prune`, `/networks/prune`, `/images/prune` and
//! `/build/prune`; berthd answers each truthfully.

use berth_tests::daemon::Daemon;

#[test]
fn docker_system_prune_removes_stopped_containers_and_keeps_the_rest() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let old = d
        .docker(&["create", "--name", "old", "busybox", "true"])
        .ok()
        .trim()
        .to_owned();
    d.docker(&["run", "-d", "--name", "keep", "busybox", "sleep", "300"])
        .ok();
    let labelled = d
        .docker(&[
            "create", "--name", "labelled", "--label", "keep=yes", "busybox", "true",
        ])
        .ok()
        .trim()
        .to_owned();

    // Filters reach every endpoint: label!=… spares the labelled one.
    let out = d
        .docker(&["system", "prune", "-f", "--filter", "label!=keep=yes"])
        .ok();
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains(&old), "{out}");
    assert!(!out.contains(&labelled), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    let ids = d.container_ids();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&labelled), "{ids:?}");

    // Without filters; the image of the running container stays, even
    // with -a.
    let out = d.docker(&["system", "prune", "-a", "-f"]).ok();
    assert!(out.contains(&labelled), "{out}");
    assert_eq!(d.container_ids().len(), 1);
    let images = d.docker(&["images", "-q"]).ok();
    assert_eq!(images.lines().count(), 1, "{images}");

    // The endpoints berth has no objects for: nothing deleted, filters
    // checked.
    let r = d.http("POST", "/networks/prune", b"");
    assert_eq!(
        (r.status, r.text()),
        (200, "{\"NetworksDeleted\":null}\n".into())
    );
    let r = d.http("POST", "/build/prune?all=1", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["SpaceReclaimed"], 0);
    let r = d.http(
        "POST",
        "/networks/prune?filters=%7B%22colour%22%3A%5B%22red%22%5D%7D",
        b"",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["message"], "invalid filter 'colour'");
    let out = d.docker(&["network", "prune", "-f"]).ok();
    assert!(!out.contains("Deleted"), "{out}");
    // An unknown filter stops the prune before anything is removed.
    d.docker(&["create", "--name", "spared", "busybox", "true"])
        .ok();
    let out = d.docker(&["system", "prune", "-f", "--filter", "colour=red"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("invalid filter 'colour'"), "{out:?}");
    assert_eq!(d.container_ids().len(), 2);

    d.docker(&["rm", "-f", "keep", "spared"]).ok();
}
