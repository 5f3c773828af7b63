"""docker cp through docker-py: put_archive into a running container,
get_archive of a file and a directory with its stat, and moby's 404 for a
missing path."""

import io
import tarfile
import time

from common import IMAGE, NotFound, client, expect_error

c = client()
box = c.containers.run(IMAGE, ["sleep", "300"], name="pyfiles", detach=True)
deadline = time.time() + 30
while c.containers.get("pyfiles").status != "running":
    assert time.time() < deadline, "pyfiles never ran"
    time.sleep(0.05)

data = io.BytesIO()
with tarfile.open(fileobj=data, mode="w") as tar:
    body = b"copied in\n"
    info = tarfile.TarInfo("hello.txt")
    info.size = len(body)
    tar.addfile(info, io.BytesIO(body))
assert box.put_archive("/tmp", data.getvalue())
assert box.exec_run(["cat", "/tmp/hello.txt"]).output == b"copied in\n"

stream, stat = box.get_archive("/tmp/hello.txt")
assert stat["name"] == "hello.txt" and stat["size"] == 10, stat
with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
    assert tar.extractfile("hello.txt").read() == b"copied in\n"
stream, stat = box.get_archive("/etc")
assert stat["name"] == "etc", stat
with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
    assert "etc/passwd" in tar.getnames(), tar.getnames()[:10]
expect_error(NotFound, 404, "Could not find the file", box.get_archive, "/nonexistent")
box.remove(force=True)
print("files: ok")
