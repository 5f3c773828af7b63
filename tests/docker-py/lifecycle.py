"""Restart policies, update (memory, swap, restart policy), stats and
health checks through docker-py."""

import time

from common import IMAGE, APIError, client, expect_error

c = client()

def wait(what, check, timeout=60):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.time() < deadline, f"never: {what}"
        time.sleep(0.05)

# on-failure:2: restarted twice, then left exited.
flaky = c.containers.run(IMAGE, ["sh", "-c", "exit 4"], name="pyflaky", detach=True,
                         restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
def settled():
    flaky.reload()
    return flaky.attrs["RestartCount"] == 2 and flaky.status == "exited"
wait("on-failure:2 settles", settled)
assert flaky.attrs["State"]["ExitCode"] == 4, flaky.attrs["State"]
flaky.remove()

# update: live memory and pids limits, restart policy.
svc = c.containers.run(IMAGE, ["sleep", "300"], name="pysvc2", detach=True, mem_limit="64m")
svc.update(mem_limit="96m", memswap_limit="192m",
           restart_policy={"Name": "unless-stopped"})
svc.reload()
host = svc.attrs["HostConfig"]
assert (host["Memory"], host["MemorySwap"]) == (96 * 1024 * 1024, 192 * 1024 * 1024), host
assert host["RestartPolicy"]["Name"] == "unless-stopped", host
expect_error(APIError, 409, "Memory limit should be smaller than already set memoryswap limit",
             svc.update, mem_limit="512m")

# stats: one sample in Docker's JSON.
sample = svc.stats(stream=False)
assert sample["memory_stats"]["limit"] == 96 * 1024 * 1024, sample["memory_stats"]
assert sample["pids_stats"]["current"] >= 1, sample["pids_stats"]
assert sample["cpu_stats"]["cpu_usage"]["total_usage"] > 0, sample["cpu_stats"]
svc.remove(force=True)

# health: a check that passes makes the container healthy.
checked = c.containers.run(IMAGE, ["sleep", "300"], name="pyhealth", detach=True,
                           healthcheck={"test": ["CMD-SHELL", "true"], "interval": 100_000_000})
def healthy():
    checked.reload()
    return checked.attrs["State"].get("Health", {}).get("Status") == "healthy"
wait("healthy", healthy)
checked.remove(force=True)
print("lifecycle: ok")
