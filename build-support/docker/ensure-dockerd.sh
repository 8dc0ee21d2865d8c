#!/usr/bin/env bash
# Idempotently make sure a Docker daemon answers `docker info`.
# - If `docker info` works: exit 0 immediately.
# - Else, if no `dockerd` binary: apt-get update && apt-get install -y docker.io (needs root).
# - Start `dockerd` in the background as root, logging to $DOCKERD_LOG (default /tmp/dockerd.log),
#   then wait until `docker info` works (timeout $DOCKERD_TIMEOUT seconds, default 60).
# Exit codes: 0 ok, 1 daemon did not come up, 2 cannot install/start (not root, apt failure).
set -euo pipefail

LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
TIMEOUT="${DOCKERD_TIMEOUT:-60}"

log() { echo "ensure-dockerd: $*" >&2; }

if docker info >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  log "ERROR: 'docker info' fails and we are not root; start dockerd yourself (sudo $0)."
  exit 2
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "dockerd not found; installing docker.io via apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io >/dev/null; }; then
    log "ERROR: apt-get install docker.io failed"
    exit 2
  fi
  command -v dockerd >/dev/null 2>&1 || { log "ERROR: docker.io installed but no dockerd on PATH"; exit 2; }
fi

# Another dockerd may still be starting (or a stale pid file blocks startup).
if ! pgrep -x dockerd >/dev/null 2>&1; then
  if [ -f /var/run/docker.pid ]; then
    pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then rm -f /var/run/docker.pid; fi
  fi
  log "starting dockerd (log: $LOG)"
  nohup dockerd >>"$LOG" 2>&1 </dev/null &
  disown || true
fi

for _ in $(seq 1 "$TIMEOUT"); do
  if docker info >/dev/null 2>&1; then
    log "dockerd is up"
    exit 0
  fi
  sleep 1
done
log "ERROR: dockerd did not answer 'docker info' within ${TIMEOUT}s; last log lines of $LOG:"
tail -n 20 "$LOG" >&2 || true
exit 1
