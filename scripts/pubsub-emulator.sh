#!/usr/bin/env bash
# Local Pub/Sub emulator for log-gardener tests: Google's pstest fake
# (cloud.google.com/go/pubsub/pstest from Debian's golang-google-cloud-dev),
# served over plaintext gRPC by tools/pstest/main.go.
#
# Usage:
#   scripts/pubsub-emulator.sh build                 # install deps if missing, build target/pstest/pstest
#   scripts/pubsub-emulator.sh start [PORT] [ARGS..] # start in background (default 8085); prints host:port
#        extra ARGS go to pstest, e.g. -topic projects/p/topics/t -subscription projects/p/subscriptions/s -ack-deadline 10
#   scripts/pubsub-emulator.sh stop                  # stop the background server
#   scripts/pubsub-emulator.sh smoke [PORT] [N] [STREAMS]  # publish+streaming-pull N messages against a running server
#
# Needs only Debian packages (golang-go, golang-google-cloud-dev); builds in
# GOPATH mode against /usr/share/gocode, so no Go module proxy is contacted.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/target/pstest"
BIN="$OUT/pstest"
SMOKE_BIN="$OUT/smoke"
PIDFILE="$OUT/pstest.pid"
LOGFILE="$OUT/pstest.log"
SRC_MAIN="$ROOT/tools/pstest/main.go"
SRC_SMOKE="$ROOT/tools/pstest/smoke/main.go"
GOCODE=/usr/share/gocode
PSTEST_SRC="$GOCODE/src/cloud.google.com/go/pubsub/pstest/fake.go"

log() { echo "pubsub-emulator: $*" >&2; }

ensure_deps() {
  local missing=()
  command -v go >/dev/null 2>&1 || missing+=(golang-go)
  [[ -f "$PSTEST_SRC" ]] || missing+=(golang-google-cloud-dev)
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -ne 0 ]]; then
    log "missing ${missing[*]} and not root; install: apt-get install -y golang-go golang-google-cloud-dev"
    exit 1
  fi
  log "installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends golang-go golang-google-cloud-dev >/dev/null
  [[ -f "$PSTEST_SRC" ]] || { log "golang-google-cloud-dev did not provide $PSTEST_SRC"; exit 1; }
}

gobuild() { # gobuild OUTPUT PKGDIR
  mkdir -p "$OUT"
  (cd "$ROOT" && env GO111MODULE=off GOPATH="$GOCODE" GOCACHE="$OUT/gocache" \
    GOFLAGS= GOPROXY=off CGO_ENABLED=0 go build -o "$1" "$2")
}

build() {
  ensure_deps
  if [[ ! -x "$BIN" || "$SRC_MAIN" -nt "$BIN" ]]; then
    log "building $BIN"
    gobuild "$BIN" ./tools/pstest
  fi
}

build_smoke() {
  ensure_deps
  if [[ ! -x "$SMOKE_BIN" || "$SRC_SMOKE" -nt "$SMOKE_BIN" ]]; then
    log "building $SMOKE_BIN"
    gobuild "$SMOKE_BIN" ./tools/pstest/smoke
  fi
}

alive() { # alive PID: running and not a zombie
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z ]]
}

running_pid() { # prints pid if the recorded server is alive
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  [[ -n "$pid" ]] && alive "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == pstest ]] || return 1
  echo "$pid"
}

start() {
  local port="${1:-8085}"
  [[ "$port" =~ ^[0-9]+$ ]] || { log "bad port: $port"; exit 2; }
  shift || true
  build
  if pid="$(running_pid)"; then
    log "already running (pid $pid); run '$0 stop' first"
    exit 1
  fi
  : >"$LOGFILE"
  # setsid: own session, so it survives the caller's shell and Ctrl-C.
  setsid "$BIN" -port "$port" "$@" >>"$LOGFILE" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  local i
  for ((i = 0; i < 100; i++)); do # up to 10 s
    if grep -q "^pstest listening on 127.0.0.1:$port" "$LOGFILE"; then
      echo "127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      log "pstest exited during startup; log:"
      cat "$LOGFILE" >&2
      exit 1
    fi
    sleep 0.1
  done
  log "pstest did not report listening within 10 s; log:"
  cat "$LOGFILE" >&2
  kill "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  exit 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    log "not running"
    return 0
  fi
  kill -TERM "$pid"
  local i
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "pid $pid ignored SIGTERM for 5 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  log "stopped (pid $pid)"
}

smoke() {
  build_smoke
  "$SMOKE_BIN" -addr "127.0.0.1:${1:-8085}" -n "${2:-300}" -streams "${3:-1}"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  build) build; build_smoke ;;
  start) start "$@" ;;
  stop) stop ;;
  smoke) smoke "$@" ;;
  *)
    echo "usage: $0 {build|start [PORT] [pstest flags..]|stop|smoke [PORT] [N] [STREAMS]}" >&2
    exit 2
    ;;
esac
