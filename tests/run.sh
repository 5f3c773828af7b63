#!/usr/bin/env bash
# berth's test command: builds the binaries the integration tests drive
# (berthd, berth, berth-shim, berth-runc; the built-in plugins come with
# berthd), then runs every unit and integration test once.
#
# The privileged suite needs root and the Debian packages `.ci/run` installs;
# a missing piece fails the test that needs it, with a message naming it.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --bins
cargo nextest run --locked --profile ci "$@"
