#!/usr/bin/env bash
# What the tests talk to, from Debian's packages, installed only when missing: Prometheus and
# Alertmanager (tests scrape and alert for real), Go and Google's Pub/Sub fake (pstest, built
# by scripts/pubsub-emulator.sh). Needs root for apt-get on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null \
  || [ ! -x /usr/bin/prometheus ] || [ ! -x /usr/bin/prometheus-alertmanager ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null
fi
scripts/pubsub-emulator.sh build
