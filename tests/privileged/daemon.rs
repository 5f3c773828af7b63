//! berthd end to end without running containers: API negotiation over raw
//! HTTP, images through `berth` and the real `docker` CLI, the job API,
//! events, and bad input (each refused with a clear error, nothing in the
//! store changed, the daemon still serving).

use berth_tests::daemon::Daemon;

#[test]
fn api_negotiation_over_raw_http() {
    let d = Daemon::start();
    let ping = d.http("GET", "/_ping", b"");
    assert_eq!((ping.status, ping.text().as_str()), (200, "OK"));
    assert_eq!(ping.header("api-version"), Some("1.43"));
    assert_eq!(ping.header("ostype"), Some("linux"));
    let head = d.http("HEAD", "/v1.24/_ping", b"");
    assert_eq!((head.status, head.body.len()), (200, 0));

    let version = d.http("GET", "/v1.43/version", b"").json();
    assert_eq!(version["ApiVersion"], "1.43");
    assert_eq!(version["MinAPIVersion"], "1.24");
    assert_eq!(version["Os"], "linux");

    let too_new = d.http("GET", "/v1.50/version", b"");
    assert_eq!(too_new.status, 400);
    assert_eq!(
        too_new.json()["message"],
        "client version 1.50 is too new. Maximum supported API version is 1.43"
    );
    let missing = d.http("GET", "/v1.43/no/such/thing", b"");
    assert_eq!(
        (missing.status, missing.json()["message"].as_str()),
        (404, Some("page not found"))
    );

    let info = d.http("GET", "/info", b"").json();
    assert_eq!(info["DockerRootDir"], d.data_root().display().to_string());
    assert_eq!(info["OSType"], "linux");
    assert_eq!(info["Containers"], 0);
}

#[test]
fn berth_image_lifecycle() {
    let d = Daemon::start();
    let id = d.import_busybox("busybox");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id:?}");
    let images = d.berth(&["images"]).ok();
    assert!(
        images
            .lines()
            .any(|l| l.starts_with("busybox ") && l.contains("latest")),
        "{images}"
    );

    d.berth(&["tag", "busybox", "mine:v1"]).ok();
    let images = d.berth(&["images"]).ok();
    assert!(
        images
            .lines()
            .any(|l| l.starts_with("mine ") && l.contains("v1")),
        "{images}"
    );

    let inspect: serde_json::Value =
        serde_json::from_str(&d.berth(&["inspect", "mine:v1"]).ok()).unwrap();
    assert_eq!(inspect[0]["Id"], id.as_str());
    assert_eq!(inspect[0]["RootFS"]["Type"], "layers");

    let untag = d.berth(&["rmi", "mine:v1"]).ok();
    assert!(untag.contains("Untagged: mine:v1"), "{untag}");
    let images = d.berth(&["images"]).ok();
    assert!(!images.contains("mine"), "{images}");
    assert!(images.contains("busybox"), "{images}");
}

/// A tar whose entries try to escape the layer root.
fn hostile_tarball(path: &std::path::Path) {
    let file = std::fs::File::create(path).expect("hostile tarball");
    let mut builder = tar::Builder::new(file);
    let mut header = tar::Header::new_gnu();
    let data = b"pwned\n";
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    // `set_path` refuses `..`; write the raw name as an attacker would.
    let name = b"../../../../escaped-by-berth-test";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_cksum();
    builder.append(&header, &data[..]).expect("tar entry");
    builder.finish().expect("tar end");
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.berth(&["create", "--name", "dup", "busybox", "true"])
        .ok();
    let images_before = d.http("GET", "/images/json", b"").json();
    let containers_before = d.container_ids();

    // Malformed JSON.
    let r = d.http("POST", "/containers/create", b"{\"Image\": ");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON"),
        "{}",
        r.text()
    );

    // Unknown image and containers.
    let r = d.http("POST", "/containers/create", br#"{"Image":"nope:never"}"#);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No such image: nope:never");
    for (method, path) in [
        ("GET", "/containers/nope/json"),
        ("POST", "/containers/nope/start"),
        ("POST", "/containers/nope/stop"),
        ("DELETE", "/containers/nope"),
    ] {
        let r = d.http(method, path, b"");
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.json()["message"], "No such container: nope");
    }
    let out = d.berth(&["start", "nope"]);
    assert_eq!(out.code(), 1);
    assert_eq!(
        out.stderr.trim(),
        "Error response from daemon: No such container: nope"
    );
    let out = d.berth(&["rmi", "nope:never"]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("No such image: nope:never"),
        "{}",
        out.stderr
    );

    // Name conflict.
    let out = d.berth(&["create", "--name", "dup", "busybox", "true"]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr
            .contains("Conflict. The container name \"/dup\" is already in use"),
        "{}",
        out.stderr
    );

    // Invalid memory: in the client, and below the minimum at the API.
    let out = d.berth(&["create", "-m", "lots", "busybox"]);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr.contains("invalid size: 'lots'"),
        "{}",
        out.stderr
    );
    let r = d.http(
        "POST",
        "/containers/create",
        br#"{"Image":"busybox","HostConfig":{"Memory":1024}}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "Minimum memory limit allowed is 6MB");

    // An unknown capability fails the create, not the later start.
    let out = d.berth(&["create", "--cap-add", "fly", "busybox", "true"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(
        out.stderr.trim(),
        r#"Error response from daemon: invalid CapAdd: unknown capability: "CAP_FLY""#
    );
    let r = d.http(
        "POST",
        "/containers/create",
        br#"{"Image":"busybox","HostConfig":{"CapDrop":["CAP_NOPE"]}}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        r#"invalid CapDrop: unknown capability: "CAP_NOPE""#
    );

    // A hostile layer tar.
    let tar = d.dir().join("hostile.tar");
    hostile_tarball(&tar);
    let out = d.berth(&["import", tar.to_str().unwrap(), "evil"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.starts_with("Error response from daemon:"),
        "{}",
        out.stderr
    );
    for escaped in ["/escaped-by-berth-test", "/tmp/escaped-by-berth-test"] {
        assert!(
            !std::path::Path::new(escaped).exists(),
            "{escaped} was written"
        );
    }

    // Nothing changed, and the daemon still serves.
    assert_eq!(d.http("GET", "/images/json", b"").json(), images_before);
    assert_eq!(d.container_ids(), containers_before);
    assert_eq!(d.http("GET", "/_ping", b"").status, 200);
}

#[test]
fn docker_cli_reads_version_info_and_images() {
    let d = Daemon::start();
    let version = d
        .docker(&[
            "version",
            "--format",
            "{{.Server.APIVersion}} {{.Server.Os}}",
        ])
        .ok();
    assert_eq!(version.trim(), "1.43 linux");
    let info = d
        .docker(&["info", "--format", "{{.OSType}} {{.DockerRootDir}}"])
        .ok();
    assert_eq!(info.trim(), format!("linux {}", d.data_root().display()));

    let tarball = berth_tests::busybox::shared_tarball();
    let id = d
        .docker(&["import", tarball.to_str().unwrap(), "viadocker:1"])
        .ok();
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let images = d
        .docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    assert!(images.lines().any(|l| l == "viadocker:1"), "{images}");
    let inspected = d.image_id("viadocker:1");
    assert_eq!(inspected, id.trim());
    let missing = d.docker(&["image", "inspect", "nope:never"]);
    assert_eq!(missing.code(), 1);
}

#[test]
fn job_api_lists_and_runs_jobs() {
    let d = Daemon::start();
    let table = d.berth(&["job", "ls"]).ok();
    for job in ["serveapi", "container_create", "image_import", "job_list"] {
        assert!(
            table.lines().any(|l| l.starts_with(job)),
            "{job} missing: {table}"
        );
    }
    // Plugin jobs run through the job API.
    let out = d.berth(&["job", "run", "disk-usage", "--json"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.trim_start().starts_with('{'), "{}", out.stdout);
    // A Docker operation runs only through its own route: the job API
    // refuses it (exit 1, saying why) and nothing happens.
    let tarball = std::fs::read(berth_tests::busybox::shared_tarball()).unwrap();
    let out = d.berth_with_input(
        &[
            "job",
            "run",
            "-e",
            "fromSrc=-",
            "-e",
            "repo=viajob",
            "image_import",
        ],
        Some(&tarball),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains(
            "job image_import is a Docker API operation: it runs only through its own API route"
        ),
        "{}",
        out.stderr
    );
    assert!(!d.berth(&["images"]).ok().contains("viajob"));
    let out = d.berth_with_input(&["job", "run", "no_such_job"], Some(b""));
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("no such job: no_such_job"),
        "{}",
        out.stderr
    );
    let listed = d.http("GET", "/berth/jobs", b"").json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["Name"] == "system_events")
    );
}

#[test]
fn events_report_images_and_jobs() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let events = d.past_events(None);
    assert!(
        events
            .iter()
            .any(|e| e["Type"] == "image" && e["Action"] == "import"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e["Type"] == "job"
            && e["Actor"]["ID"] == "image_import"
            && e["Action"] == "end"),
        "{events:?}"
    );
}
