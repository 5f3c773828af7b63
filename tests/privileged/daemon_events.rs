//! `docker events` filters through berthd (issue 10, observation): each of
//! moby's filters (`daemon/events/filter.go`) through the real docker CLI
//! and the API, `since`/`until` in the CLI's forms, and an unknown filter
//! refused.

use berth_tests::daemon::Daemon;

/// `docker events` over everything kept until now, with `args`, as
/// `Type Action name` lines.
#[track_caller]
fn events(d: &Daemon, args: &[&str]) -> Vec<String> {
    let mut argv = vec![
        "events",
        "--since",
        "0",
        "--until",
        "0s",
        "--format",
        "{{.Type}} {{.Action}} {{index .Actor.Attributes \"name\"}}",
    ];
    argv.extend_from_slice(args);
    d.docker(&argv).ok().lines().map(str::to_owned).collect()
}

#[test]
fn docker_events_filters_are_mobys() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.docker(&[
        "run",
        "--name",
        "web",
        "--label",
        "tier=front",
        "busybox",
        "true",
    ])
    .ok();
    d.docker(&["create", "--name", "db", "busybox", "true"])
        .ok();
    // The CLI sends `--until 0s` as whole Unix seconds: events of the
    // current second come after it (dockerd's answer too). Let it pass.
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let web = events(&d, &["--filter", "container=web"]);
    for wanted in [
        "container create web",
        "container start web",
        "container die web",
    ] {
        assert!(web.iter().any(|e| e == wanted), "{wanted}: {web:?}");
    }
    assert!(web.iter().all(|e| e.ends_with(" web")), "{web:?}");

    let creates = events(&d, &["--filter", "event=create"]);
    assert_eq!(
        creates,
        ["container create web", "container create db"],
        "in order"
    );
    let front = events(&d, &["--filter", "label=tier=front"]);
    assert!(!front.is_empty(), "{front:?}");
    assert!(front.iter().all(|e| e.ends_with(" web")), "{front:?}");
    let both = events(
        &d,
        &["--filter", "type=container", "--filter", "event=start"],
    );
    assert_eq!(both, ["container start web"]);
    let images = events(&d, &["--filter", "type=image", "--filter", "image=busybox"]);
    assert!(
        images.iter().any(|e| e.starts_with("image import")),
        "{images:?}"
    );
    // A container's events carry its image: image=busybox selects them too.
    let from_busybox = events(
        &d,
        &["--filter", "image=busybox", "--filter", "event=start"],
    );
    assert_eq!(from_busybox, ["container start web"]);
    assert_eq!(
        events(&d, &["--filter", "scope=local", "--filter", "event=die"]).len(),
        1
    );
    assert!(events(&d, &["--filter", "scope=swarm"]).is_empty());
    // Filters on objects berthd has none of: accepted, and nothing is named
    // so, as on a dockerd without them (moby matches any event's actor id
    // and name by prefix: short values would select job events).
    for filter in [
        "volume=data1",
        "daemon=other-daemon",
        "plugin=none-such",
        "node=node1",
        "service=svc1",
        "secret=sec1",
        "config=cfg1",
    ] {
        assert!(events(&d, &["--filter", filter]).is_empty(), "{filter}");
    }
    // web joined and left the default network (moby's network events,
    // named by the network; issue 12).
    assert_eq!(
        events(&d, &["--filter", "network=bridge"]),
        ["network connect bridge", "network disconnect bridge"]
    );
    // `since` in the CLI's date form, after everything: nothing.
    let out = d
        .docker(&["events", "--since", "2100-01-01", "--until", "0s"])
        .ok();
    assert!(out.is_empty(), "{out}");

    // An unknown filter is a 400 with moby's wording, through the CLI too.
    let r = d.http(
        "GET",
        "/events?since=0&until=1&filters=%7B%22colour%22%3A%5B%22red%22%5D%7D",
        b"",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["message"], "invalid filter 'colour'");
    let out = d.docker(&["events", "--until", "0s", "--filter", "colour=red"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("invalid filter 'colour'"), "{out:?}");
    let r = d.http("GET", "/events?since=yesterday&until=1", b"");
    assert_eq!(r.status, 400, "{}", r.text());

    d.docker(&["rm", "-f", "web", "db"]).ok();
}
