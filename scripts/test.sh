#!/usr/bin/env bash
# The README's test command: installs what the tests need (scripts/test-deps.sh), then runs
# every test — unit, end to end, the parser accuracy gate, and the tests against the Pub/Sub
# emulator, Prometheus and Alertmanager. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-deps.sh
cargo test "$@"
