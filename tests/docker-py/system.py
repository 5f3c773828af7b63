"""The system verbs through docker-py: ping, version, info, df, events with
filters."""

import time

from common import IMAGE, client

c = client()

assert c.ping()
version = c.version()
assert version["Os"] == "linux" and version["ApiVersion"], version
info = c.info()
assert info["OSType"] == "linux", info

since = int(time.time()) - 1
c.containers.run(IMAGE, ["true"], name="pyevents", remove=True)
until = int(time.time()) + 1
events = list(c.events(since=since, until=until, decode=True,
                       filters={"type": "container", "container": "pyevents"}))
actions = [e["Action"] for e in events]
for action in ("create", "start", "die", "destroy"):
    assert action in actions, actions
assert all(e["Actor"]["Attributes"]["name"] == "pyevents" for e in events), events

df = c.df()
assert any(IMAGE + ":latest" in (i.get("RepoTags") or []) for i in df["Images"]), df
print("system: ok")
