"""Volumes through docker-py: create with labels, list with filters,
inspect, a volume written by one container and read by another after the
first is removed, in-use refusal, remove, prune, bad names."""

from common import IMAGE, APIError, NotFound, client, expect_error

c = client()
vol = c.volumes.create("pyvol", labels={"suite": "docker-py"})
assert vol.attrs["Driver"] == "local" and vol.attrs["Labels"] == {"suite": "docker-py"}, vol.attrs
assert [v.name for v in c.volumes.list(filters={"label": "suite=docker-py"})] == ["pyvol"]
expect_error(APIError, 400, "", c.volumes.list, filters={"bogus": "1"})

c.containers.run(IMAGE, ["sh", "-c", "echo kept > /data/file"],
                 volumes={"pyvol": {"bind": "/data", "mode": "rw"}}, remove=True)
assert c.containers.run(IMAGE, ["cat", "/data/file"], volumes=["pyvol:/data:ro"],
                        remove=True) == b"kept\n"

user = c.containers.create(IMAGE, ["true"], volumes=["pyvol:/data"], name="pyuser")
expect_error(APIError, 409, "volume is in use", vol.remove)
user.remove()
vol.remove()
expect_error(NotFound, 404, "", c.volumes.get, "pyvol")
expect_error(APIError, 400, "", c.volumes.create, "bad/name")

c.volumes.create("pyprune", labels={"suite": "docker-py"})
report = c.volumes.prune(filters={"all": "true", "label": "suite=docker-py"})
assert report["VolumesDeleted"] == ["pyprune"], report
print("volumes: ok")
