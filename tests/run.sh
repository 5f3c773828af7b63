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

cargo build --locked --bins
cargo nextest run --locked --profile ci "$@"
