//! The probe's arithmetic and the health record, without a daemon.

use super::*;

fn check(test: &[&str]) -> HealthConfig {
    HealthConfig {
        test: test.iter().map(|s| (*s).to_owned()).collect(),
        ..HealthConfig::default()
    }
}

fn result(code: i64) -> HealthcheckResult {
    HealthcheckResult {
        exit_code: code,
        ..HealthcheckResult::default()
    }
}

#[test]
fn go_durations_read_as_go_prints_them() {
    for (d, text) in [
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(1), "1ns"),
        (Duration::from_micros(1), "1µs"),
        (Duration::from_millis(1), "1ms"),
        (Duration::from_micros(1500), "1.5ms"),
        (Duration::from_millis(500), "500ms"),
        (Duration::from_secs(1), "1s"),
        (Duration::from_millis(1500), "1.5s"),
        (Duration::from_secs(30), "30s"),
        (Duration::from_secs(90), "1m30s"),
        (Duration::from_secs(3600), "1h0m0s"),
        (Duration::from_millis(3_661_250), "1h1m1.25s"),
    ] {
        assert_eq!(go_duration(d), text, "{d:?}");
    }
}

#[test]
fn validation_has_mobys_messages() {
    let cases = [
        (
            HealthConfig {
                interval: -10_000_000,
                ..check(&["CMD", "true"])
            },
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            HealthConfig {
                interval: 500_000,
                ..check(&["CMD", "true"])
            },
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            HealthConfig {
                timeout: -1,
                ..check(&["CMD", "true"])
            },
            "Timeout in Healthcheck cannot be less than 1ms",
        ),
        (
            HealthConfig {
                retries: -1,
                ..check(&["CMD", "true"])
            },
            "Retries in Healthcheck cannot be negative",
        ),
        (
            HealthConfig {
                start_period: 1,
                ..check(&["CMD", "true"])
            },
            "StartPeriod in Healthcheck cannot be less than 1ms",
        ),
        (
            HealthConfig {
                start_interval: 999_999,
                ..check(&["CMD", "true"])
            },
            "StartInterval in Healthcheck cannot be less than 1ms",
        ),
        (check(&["CMD"]), "Healthcheck CMD needs a command"),
        (
            check(&["HTTP", "/"]),
            "unknown healthcheck type 'HTTP' (expected CMD, CMD-SHELL or NONE)",
        ),
        (
            HealthConfig {
                rest: [("Probe".to_owned(), serde_json::json!(1))].into(),
                ..check(&["CMD", "true"])
            },
            "Config.Healthcheck.Probe is not a field of the Docker Engine API 1.43: berth cannot honour it",
        ),
    ];
    for (config, message) in cases {
        let err = validate(&config).unwrap_err();
        assert_eq!(err.message, message, "{config:?}");
        assert_eq!(err.kind, crate::job::ErrorKind::InvalidParameter);
    }
    for ok in [
        check(&[]),
        check(&["NONE"]),
        check(&["CMD-SHELL", "true"]),
        HealthConfig {
            interval: 1_000_000,
            retries: 0,
            ..check(&["CMD", "true", "x"])
        },
    ] {
        validate(&ok).unwrap();
    }
}

#[test]
fn the_image_fills_what_the_container_leaves_empty() {
    let image = HealthConfig {
        interval: 5,
        timeout: 6,
        retries: 7,
        ..check(&["CMD", "image-probe"])
    };
    let mut none = None;
    merge(&mut none, Some(&image));
    assert_eq!(none.as_ref(), Some(&image));

    let mut own = Some(HealthConfig {
        timeout: 60,
        ..check(&[])
    });
    merge(&mut own, Some(&image));
    assert_eq!(
        own,
        Some(HealthConfig {
            timeout: 60,
            interval: 5,
            retries: 7,
            ..check(&["CMD", "image-probe"])
        })
    );
    // NONE stays NONE; no image check leaves the container's as it is.
    let mut disabled = Some(check(&["NONE"]));
    merge(&mut disabled, Some(&image));
    assert_eq!(disabled.unwrap().test, ["NONE"]);
    let mut kept = Some(check(&["CMD", "x"]));
    merge(&mut kept, None);
    assert_eq!(kept, Some(check(&["CMD", "x"])));
}

#[test]
fn probes_come_from_cmd_and_cmd_shell_with_mobys_defaults() {
    let config = |hc: Option<HealthConfig>| Config {
        healthcheck: hc,
        ..Config::default()
    };
    assert_eq!(Probe::from_config(&config(None)), None);
    assert_eq!(Probe::from_config(&config(Some(check(&["NONE"])))), None);
    assert_eq!(Probe::from_config(&config(Some(check(&[])))), None);
    let shell = Probe::from_config(&config(Some(check(&["CMD-SHELL", "test -f /ok"])))).unwrap();
    assert_eq!(shell.argv, ["/bin/sh", "-c", "test -f /ok"]);
    assert_eq!(
        (
            shell.interval,
            shell.timeout,
            shell.start_period,
            shell.start_interval,
            shell.retries
        ),
        (
            Duration::from_secs(30),
            Duration::from_secs(30),
            Duration::ZERO,
            Duration::from_secs(5),
            3
        )
    );
    let cmd = Probe::from_config(&config(Some(HealthConfig {
        interval: 2_000_000_000,
        retries: 1,
        ..check(&["CMD", "cat", "/ok"])
    })))
    .unwrap();
    assert_eq!(cmd.argv, ["cat", "/ok"]);
    assert_eq!((cmd.interval, cmd.retries), (Duration::from_secs(2), 1));
}

#[test]
fn the_delay_keeps_to_the_start_interval_inside_the_start_period() {
    let probe = Probe {
        argv: vec!["true".into()],
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(1),
        start_period: Duration::from_secs(60),
        start_interval: Duration::from_secs(5),
        retries: 3,
    };
    let s = Duration::from_secs;
    assert_eq!(probe.next_delay(s(0), health_status::STARTING), s(5));
    assert_eq!(probe.next_delay(s(0), health_status::HEALTHY), s(30));
    // Less than an interval left of the period: probe at its end.
    assert_eq!(probe.next_delay(s(50), health_status::STARTING), s(10));
    assert_eq!(probe.next_delay(s(60), health_status::STARTING), s(30));
    assert_eq!(probe.next_delay(s(600), health_status::HEALTHY), s(30));
}

#[test]
fn results_move_the_status_as_moby_does() {
    let mut health = Health {
        status: health_status::STARTING.to_owned(),
        ..Health::default()
    };
    // Failures inside the start period do not count while starting.
    assert!(!record_result(&mut health, result(1), true, 2));
    assert_eq!(
        (health.status.as_str(), health.failing_streak),
        ("starting", 0)
    );
    // Outside it they do; Retries of them make it unhealthy.
    assert!(!record_result(&mut health, result(1), false, 2));
    assert_eq!(health.failing_streak, 1);
    assert!(record_result(&mut health, result(-1), false, 2));
    assert_eq!(
        (health.status.as_str(), health.failing_streak),
        ("unhealthy", 2)
    );
    // One success: healthy, the streak reset.
    assert!(record_result(&mut health, result(0), false, 2));
    assert_eq!(
        (health.status.as_str(), health.failing_streak),
        ("healthy", 0)
    );
    // Once healthy, the start period no longer shields a failure.
    assert!(!record_result(&mut health, result(3), true, 2));
    assert_eq!(
        (health.status.as_str(), health.failing_streak),
        ("healthy", 1)
    );
    // The log keeps the last five, oldest first.
    for code in 10..14 {
        record_result(&mut health, result(code), false, 100);
    }
    let codes: Vec<i64> = health.log.iter().map(|r| r.exit_code).collect();
    assert_eq!(codes, [3, 10, 11, 12, 13]);
}

#[test]
fn output_is_cut_at_4096_bytes_with_an_ellipsis() {
    assert_eq!(limit_output(b"ok\n"), "ok\n");
    let exact = vec![b'a'; MAX_OUTPUT_LEN];
    assert_eq!(limit_output(&exact).len(), MAX_OUTPUT_LEN);
    let long = vec![b'a'; MAX_OUTPUT_LEN + 1];
    let cut = limit_output(&long);
    assert_eq!(cut.len(), MAX_OUTPUT_LEN + 3);
    assert!(cut.ends_with("a..."));
    // A two-byte character across the cut is dropped, not mangled.
    let mut split = vec![b'a'; MAX_OUTPUT_LEN - 1];
    split.extend("é".as_bytes());
    let cut = limit_output(&split);
    assert_eq!(cut, format!("{}...", "a".repeat(MAX_OUTPUT_LEN - 1)));
}

#[test]
fn ps_shows_the_status_as_moby_words_it() {
    let health = |s: &str| Health {
        status: s.to_owned(),
        ..Health::default()
    };
    assert_eq!(status_suffix(&health("starting")), "health: starting");
    assert_eq!(status_suffix(&health("healthy")), "healthy");
    assert_eq!(status_suffix(&health("unhealthy")), "unhealthy");
    assert_eq!(status_suffix(&health("")), "unhealthy");
}
