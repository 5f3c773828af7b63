#!/usr/bin/env bash
# berth's test command. Installs the Debian packages the tests need when some
# are missing, builds the binaries the integration tests drive (berthd, berth,
# berth-shim, berth-runc; the built-in plugins come with berthd), then runs
# every unit and integration test once. Extra arguments go to nextest (e.g. a
# test filter).
#
# The privileged suite needs root: run it with sudo. A missing piece fails the
# test that needs it, with a message naming it.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=$(grep -v '^#' tests/debian-packages)
missing=()
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# docker-py, a client of berthd in the privileged suite: a venv of the
# pinned SDK, made again only when the pins change.
venv=target/docker-py
if ! cmp -s tests/docker-py/requirements.txt "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/docker-py/requirements.txt
    cp tests/docker-py/requirements.txt "$venv/requirements.txt"
fi

cargo build --locked --bins
cargo nextest run --locked --profile ci "$@"
