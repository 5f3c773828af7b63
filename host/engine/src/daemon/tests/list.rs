//! `docker ps`'s STATUS column.

use super::*;

#[test]
fn statuses_read_like_dockers() {
    use berth_api::container::State;
    let now = parse_time("2024-05-01T12:00:10Z").unwrap();
    let state = |status, started: &str, finished: &str, exit_code| State {
        status,
        started_at: started.to_owned(),
        finished_at: finished.to_owned(),
        exit_code,
        ..State::default()
    };
    let zero = berth_api::ZERO_TIME;
    let t0 = "2024-05-01T12:00:07Z";
    let t1 = "2024-05-01T12:00:08.5Z";
    assert_eq!(
        human_status(&state(Status::Running, t0, zero, 0), now),
        "Up 3 seconds"
    );
    assert_eq!(
        human_status(&state(Status::Paused, t0, zero, 0), now),
        "Up 3 seconds (Paused)"
    );
    assert_eq!(
        human_status(&state(Status::Exited, t0, t1, 3), now),
        "Exited (3) 1 second ago"
    );
    assert_eq!(
        human_status(&state(Status::Created, zero, zero, 0), now),
        "Created"
    );
    // A start that failed (127) never ran: Docker still says Created.
    assert_eq!(
        human_status(&state(Status::Exited, zero, t1, 127), now),
        "Created"
    );
    assert_eq!(
        human_status(&state(Status::Restarting, t0, t1, 1), now),
        "Restarting (1) 1 second ago"
    );
}
