#!/usr/bin/env bash
# What the tests talk to, from Debian's packages, installed only when missing: Prometheus and
# Alertmanager (tests scrape and alert for real), Go and Google's Pub/Sub fake (pstest, built
# by scripts/pubsub-emulator.sh), and Redis on 127.0.0.1:6379 (the state store's tests; started
# here, without persistence, if nothing answers there). Needs root for apt-get on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null \
  || [ ! -x /usr/bin/prometheus ] || [ ! -x /usr/bin/prometheus-alertmanager ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null
fi
scripts/pubsub-emulator.sh build

if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  if ! command -v redis-server >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq redis-server >/dev/null
  fi
  # Debian's package may have started it; otherwise start one that keeps nothing on disk.
  if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >/dev/null
  fi
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 0.1; done
fi
echo "test-deps: Redis answers on 127.0.0.1:6379"
