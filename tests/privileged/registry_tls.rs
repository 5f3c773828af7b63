//! Registry TLS from a `certs.d` directory and Docker Hub mirrors (issue
//! 11): a registry on 127.0.0.1 serving TLS with a throwaway CA is spoken
//! to over TLS because `--certs-dir` has a directory for it (loopback is
//! plain HTTP otherwise), the pull works with the CA there and fails with
//! an x509 error without it; a registry that requires a client
//! certificate gets the one in `certs.d` (and a broken pair is refused
//! clearly); a `--registry-mirror` serves Docker Hub names, the origin tried after it,
//! and a blob one mirror serves wrong comes from the next one.

use berth_tests::daemon::Daemon;
use berth_tests::registry::{Registry, five_layer_layout};
use berth_tests::tlsreg::TlsRegistry;

/// The five-layer image with `salt` pushed to a TLS registry as
/// `secure/app:v1`, and a daemon whose `--certs-dir` has an empty
/// directory for the registry.
struct Setup {
    reference: String,
    host_dir: std::path::PathBuf,
    d: Daemon,
    _tmp: tempfile::TempDir,
}

fn setup(registry: &TlsRegistry, salt: &str) -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    registry.push_five_layer("secure/app:v1", salt);
    let certs = tmp.path().join("certs.d");
    let host_dir = certs.join(&registry.addr);
    std::fs::create_dir_all(&host_dir).expect("certs.d/HOST");
    Setup {
        reference: registry.reference("secure/app:v1"),
        host_dir,
        d: Daemon::start_with(&["--certs-dir", certs.to_str().expect("utf-8")]),
        _tmp: tmp,
    }
}

#[test]
fn certs_d_makes_a_loopback_registry_tls_and_its_ca_is_needed() {
    let registry = TlsRegistry::start();
    let Setup {
        reference,
        host_dir,
        d,
        _tmp,
    } = setup(&registry, "tls");

    // A directory without the CA: TLS (not plain HTTP), and the system's
    // roots do not know the test CA.
    let out = d.docker(&["pull", &reference]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr
            .contains("x509: certificate signed by unknown authority"),
        "{out:#?}"
    );

    // The CA dropped in (read on every pull, as dockerd does): it works.
    std::fs::copy(registry.ca_crt(), host_dir.join("ca.crt")).expect("copy ca.crt");
    let out = d.docker(&["pull", &reference]).ok();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let out = d
        .docker(&["run", "--rm", &reference, "cat", "/layer2.txt"])
        .ok();
    assert_eq!(out, "2 tls\n");
}

#[test]
fn a_registry_that_requires_a_client_certificate_gets_the_one_in_certs_d() {
    let registry = TlsRegistry::start_requiring_client_certs();
    let Setup {
        reference,
        host_dir,
        d,
        _tmp,
    } = setup(&registry, "mtls");
    std::fs::copy(registry.ca_crt(), host_dir.join("ca.crt")).expect("copy ca.crt");
    let refused = |out: &berth_tests::cmd::Output, why: &str| {
        assert_eq!(out.code(), 1, "{out:#?}");
        assert!(
            out.stderr.contains(&format!(
                "cannot use the TLS configuration for {}: {why}",
                registry.addr
            )),
            "{out:#?}"
        );
    };

    // The CA alone: the registry ends the handshake, and the error says
    // what it wants.
    let out = d.docker(&["pull", &reference]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr
            .contains("the registry wants a client certificate it trusts"),
        "{out:#?}\n{}",
        registry.log()
    );

    // Half a pair: refused in moby's words.
    std::fs::copy(registry.client_cert(), host_dir.join("client.cert")).expect("client.cert");
    refused(
        &d.docker(&["pull", &reference]),
        "missing key client.key for client certificate client.cert",
    );

    // A key that is not the certificate's: refused before any connection.
    let other_key = host_dir.join("client.key");
    let openssl = berth_tests::require::program("openssl", "openssl");
    let made = std::process::Command::new(openssl)
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&other_key)
        .status()
        .expect("openssl genpkey");
    assert!(made.success(), "openssl genpkey: {made}");
    let out = d.docker(&["pull", &reference]);
    refused(&out, "");
    assert!(
        out.stderr
            .contains(&host_dir.join("client.cert").display().to_string()),
        "{out:#?}"
    );

    // The pair: pull, run, push and login all present it.
    std::fs::copy(registry.client_key(), &other_key).expect("client.key");
    let out = d.docker(&["pull", &reference]).ok();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let out = d
        .docker(&["run", "--rm", &reference, "cat", "/layer4.txt"])
        .ok();
    assert_eq!(out, "4 mtls\n");
    let copy = registry.reference("secure/copy:v1");
    d.docker(&["tag", &reference, &copy]).ok();
    d.docker(&["push", &copy]).ok();
    d.docker(&["rmi", &copy, &reference]).ok();
    let out = d.docker(&["pull", &copy]).ok();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let out = d.docker_with_input(
        &["login", "-u", "anyone", "--password-stdin", &registry.addr],
        Some(b"anything\n"),
    );
    assert!(out.stdout.contains("Login Succeeded"), "{out:#?}");

    // The certificate gone again: refused, never sent without it.
    std::fs::remove_file(host_dir.join("client.cert")).expect("rm client.cert");
    refused(
        &d.docker(&["pull", &copy]),
        "missing client certificate client.cert for key client.key",
    );
}

#[test]
fn a_registry_mirror_serves_docker_hub_names_before_the_origin() {
    let mirror = Registry::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let image = mirror.push_five_layer("library/mirrored:v1", "mirror");
    let url = format!("http://{}", mirror.addr);
    let d = Daemon::start_with(&["--registry-mirror", &url]);

    let out = d.docker(&["pull", "mirrored:v1"]).ok();
    assert!(
        out.contains("Status: Downloaded newer image for mirrored:v1"),
        "{out}"
    );
    let id = d.image_id("mirrored:v1");
    assert_eq!(id, image.image_id);

    // A tag the mirror lacks goes to Docker Hub itself (its API host,
    // moby's `DefaultV2Registry`), which this machine cannot reach: the
    // origin's error is the one reported.
    let out = d.docker(&["pull", "mirrored:absent"]);
    assert_eq!(out.code(), 1, "{out:#?}");
    assert!(
        out.stderr
            .contains("https://registry-1.docker.io/v2/library/mirrored/"),
        "{out:#?}"
    );

    // A mirror that is not a URL stops berthd at start.
    let bad = berth_tests::cmd::run_with_timeout(
        std::process::Command::new(berth_tests::workspace_bin("berthd"))
            .args(["--registry-mirror", "mirror.example"])
            .arg("--data-root")
            .arg(tmp.path().join("root")),
        std::time::Duration::from_secs(30),
    );
    assert!(!bad.status.success(), "{bad:#?}");
    assert!(
        bad.stderr
            .contains("invalid mirror: unsupported scheme: mirror.example"),
        "{bad:#?}"
    );
    assert!(!tmp.path().join("root").exists());
}

#[test]
fn a_blob_a_mirror_serves_wrong_comes_from_the_next_mirror() {
    // The first mirror's blob decompresses to the right layer but has
    // another digest (its gzip header's MTIME changed): its extraction,
    // run alongside the download, is dropped and the next mirror's attempt
    // extracts the layer again.
    let (bad, good) = (Registry::start(), Registry::start());
    let tmp = tempfile::tempdir().expect("tempdir");
    let image = five_layer_layout(&tmp.path().join("layout"), "v1", "mirror");
    for mirror in [&bad, &good] {
        mirror.push_layout(&tmp.path().join("layout"), "v1", "library/mirrored:v1");
    }
    let victim = bad.blob_file(&image.layer_digests[2]);
    let mut bytes = std::fs::read(&victim).expect("read blob");
    assert_eq!(bytes[..2], [0x1f, 0x8b], "the test needs a gzip layer");
    bytes[4] ^= 0xff;
    std::fs::write(&victim, &bytes).expect("rewrite blob");
    let (bad_url, good_url) = (
        format!("http://{}", bad.addr),
        format!("http://{}", good.addr),
    );
    let d = Daemon::start_with(&[
        "--registry-mirror",
        &bad_url,
        "--registry-mirror",
        &good_url,
    ]);

    let out = d.docker(&["pull", "mirrored:v1"]).ok();
    assert!(
        out.contains("Status: Downloaded newer image for mirrored:v1"),
        "{out}"
    );
    let id = d.image_id("mirrored:v1");
    assert_eq!(id, image.image_id);
    let out = d
        .docker(&["run", "--rm", "mirrored:v1", "cat", "/layer3.txt"])
        .ok();
    assert_eq!(out, "3 mirror\n");
}
