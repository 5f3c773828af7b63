"""The container verbs through docker-py: run, create/start/wait, logs,
inspect, rename, restart, top, diff, pause/unpause, kill, stop, remove, prune,
and the errors moby gives for a missing container, a taken name, a bad filter."""

import time

import docker

from common import IMAGE, APIError, NotFound, client, expect_error

c = client()

# run: output, exit code, auto-remove.
assert c.containers.run(IMAGE, ["echo", "hello"], remove=True) == b"hello\n"
try:
    c.containers.run(IMAGE, ["sh", "-c", "echo oops >&2; exit 3"], remove=True)
    raise AssertionError("a failing run did not raise")
except docker.errors.ContainerError as e:
    assert getattr(e, "exit_status", None) == 3, repr(e)
    assert b"oops" in (e.stderr or b""), repr(e)

# create, start, wait, logs, inspect.
box = c.containers.create(IMAGE, ["sh", "-c", "echo out; echo err >&2; exit 5"],
                          name="pybox", labels={"suite": "docker-py"})
assert box.status == "created", box.status
box.start()
result = box.wait(timeout=30)
assert result["StatusCode"] == 5, result
assert box.logs(stdout=True, stderr=False) == b"out\n", box.logs()
assert box.logs(stdout=False, stderr=True) == b"err\n", box.logs()
box.reload()
assert box.attrs["State"]["ExitCode"] == 5, box.attrs["State"]
assert box.labels == {"suite": "docker-py"}, box.labels
assert c.containers.get("pybox").id == box.id

# rename, and moby's conflict when the name is taken.
box.rename("pybox2")
assert c.containers.get("pybox2").id == box.id
expect_error(NotFound, 404, "No such container: pybox", c.containers.get, "pybox")
other = c.containers.create(IMAGE, ["true"], name="pyother")
expect_error(APIError, 409, "Conflict", other.rename, "pybox2")

# A long-running one: top, diff, pause/unpause, restart, kill, stop.
svc = c.containers.run(IMAGE, ["sh", "-c", "echo x > /made; exec sleep 300"], name="pysvc", detach=True)
deadline = time.time() + 30
while c.containers.get("pysvc").status != "running":
    assert time.time() < deadline, "pysvc never ran"
    time.sleep(0.05)
top = svc.top()
assert "PID" in top["Titles"], top
assert any("sleep" in " ".join(p) for p in top["Processes"]), top
deadline = time.time() + 30
while {"Path": "/made", "Kind": 1} not in (svc.diff() or []):
    assert time.time() < deadline, f"diff never showed /made: {svc.diff()}"
    time.sleep(0.05)
svc.pause()
svc.reload()
assert svc.status == "paused", svc.status
svc.unpause()
svc.reload()
first_pid = svc.attrs["State"]["Pid"]
svc.restart(timeout=1)
svc.reload()
assert svc.status == "running" and svc.attrs["State"]["Pid"] != first_pid, svc.attrs["State"]
svc.kill(signal="SIGKILL")
assert svc.wait(timeout=30)["StatusCode"] == 137
svc.start()
svc.stop(timeout=1)
svc.reload()
assert svc.status == "exited", svc.status

# list with filters; an unknown filter is refused, never widened.
names = {x.name for x in c.containers.list(all=True, filters={"label": "suite=docker-py"})}
assert names == {"pybox2"}, names
expect_error(APIError, 400, "invalid filter", c.containers.list, all=True, filters={"bogus": "1"})

# remove, prune (only what the filter selects).
svc.remove()
expect_error(NotFound, 404, "No such container", c.containers.get, "pysvc")
report = c.containers.prune(filters={"label": "suite=docker-py"})
assert report["ContainersDeleted"] == [box.id], report
assert c.containers.get("pyother").id == other.id
expect_error(APIError, 400, "invalid filter", c.containers.prune, filters={"bogus": "1"})
other.remove(force=True)
print("containers: ok")
