"""The image verbs through docker-py: list, get, tag, inspect, history-free
attributes, remove, prune, and moby's errors for a missing image."""

from common import IMAGE, APIError, NotFound, client, expect_error

c = client()

image = c.images.get(IMAGE)
assert image.id.startswith("sha256:"), image.id
assert f"{IMAGE}:latest" in image.tags, image.tags
assert image.attrs["Os"] == "linux", image.attrs

# tag, list by reference, remove the tag only.
assert image.tag("pyimage", "v1")
assert c.images.get("pyimage:v1").id == image.id
listed = {i.id for i in c.images.list(name="pyimage")}
assert listed == {image.id}, listed
assert c.images.list(name="pynothing") == []
c.images.remove("pyimage:v1")
expect_error(NotFound, 404, "No such image", c.images.get, "pyimage:v1")
assert c.images.get(IMAGE).id == image.id

# An image a container uses stays; prune with a filter it does not know is a 400.
keep = c.containers.create(IMAGE, ["true"], name="pykeep")
expect_error(APIError, 409, "conflict", c.images.remove, image.id)
report = c.images.prune(filters={"dangling": False})
assert not report.get("ImagesDeleted"), report
assert c.images.get(IMAGE).id == image.id
expect_error(APIError, 400, "invalid filter", c.images.prune, filters={"bogus": "1"})
keep.remove()
print("images: ok")
