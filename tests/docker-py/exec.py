"""exec through docker-py: exec_run output and exit code, environment,
working directory, user, stdin-less streams, exec inspect, and moby's errors
for a stopped container and a missing exec."""

import time

from common import IMAGE, APIError, NotFound, client, expect_error

c = client()
box = c.containers.run(IMAGE, ["sleep", "300"], name="pyexec", detach=True)
deadline = time.time() + 30
while c.containers.get("pyexec").status != "running":
    assert time.time() < deadline, "pyexec never ran"
    time.sleep(0.05)

result = box.exec_run(["sh", "-c", "echo out; echo err >&2; exit 3"])
assert result.exit_code == 3, result
assert b"out\n" in result.output and b"err\n" in result.output, result
result = box.exec_run(["sh", "-c", 'echo "$GREETING $(pwd) $(id -u)"'],
                      environment={"GREETING": "hi"}, workdir="/tmp", user="1000")
assert (result.exit_code, result.output) == (0, b"hi /tmp 1000\n"), result
out, err = box.exec_run(["sh", "-c", "echo a; echo b >&2"], demux=True).output
assert (out, err) == (b"a\n", b"b\n"), (out, err)

# The low-level API: create, start, inspect.
exec_id = c.api.exec_create(box.id, ["sh", "-c", "exit 7"])["Id"]
before = c.api.exec_inspect(exec_id)
assert before["Running"] is False and before["ExitCode"] is None, before
c.api.exec_start(exec_id)
after = c.api.exec_inspect(exec_id)
assert after["ExitCode"] == 7 and after["ContainerID"] == box.id, after
assert after["ProcessConfig"]["entrypoint"] == "sh", after
expect_error(NotFound, 404, "No such exec instance", c.api.exec_inspect, "f" * 64)

box.stop(timeout=0)
expect_error(APIError, 409, "is not running", box.exec_run, ["true"])
box.remove()
expect_error(NotFound, 404, "No such container", c.api.exec_create, "pyexec", ["true"])
print("exec: ok")
