"""What every docker-py script shares: the client and loud checks.

The Rust side (tests/privileged/docker_py.rs) starts a berthd of its own,
imports the busybox test image as `busybox`, and runs a script with
DOCKER_HOST pointing at that daemon. A script fails by raising: the
traceback is the test's failure message.
"""

import os

import docker
from docker.errors import APIError, NotFound

IMAGE = os.environ.get("BERTH_TEST_IMAGE", "busybox")


def client():
    """A docker-py client of the daemon under test (API version negotiated)."""
    return docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto", timeout=60)


def expect_error(kind, status, words, call, *args, **kwargs):
    """`call` must fail with the exception `kind`, the HTTP `status` and a
    message containing `words`; returns the message."""
    try:
        call(*args, **kwargs)
    except kind as e:
        message = e.explanation if isinstance(e, APIError) else str(e)
        assert e.status_code == status, f"{call.__name__}: status {e.status_code}, not {status}: {message}"
        assert words in (message or ""), f"{call.__name__}: {message!r} lacks {words!r}"
        return message
    raise AssertionError(f"{call.__name__}{args} succeeded; expected {kind.__name__} {status} ({words})")


__all__ = ["APIError", "IMAGE", "NotFound", "client", "expect_error"]
