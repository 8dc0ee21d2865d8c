#!/usr/bin/env bash
# Local BuildGrid REAPI cache server (CAS + ByteStream + ActionCache + Capabilities) on loopback.
#
#   server.sh start  [--port N|0|free] [--data DIR] [--instance NAME]
#   server.sh stop   [--data DIR]
#   server.sh status [--data DIR]
#
# start: installs BuildGrid if needed (install.sh), renders bgd.yml.tmpl into DIR/bgd.yml, starts the
#        server in the background (pid DIR/bgd.pid, log DIR/bgd.log), waits until the port accepts
#        connections and prints the address, e.g. `grpc://127.0.0.1:9092`, as the only stdout line
#        (also written to DIR/address). --port 0 or free picks a free port. Already running: prints
#        the address of the running server (error if it runs on another port than asked for).
# stop:  stops the server; the cache (DIR/cas, DIR/ac) stays and is served again by the next start.
# status: prints the address and exits 0 when running, exits 3 when not.
# Defaults: --port 9092, --data ${XDG_CACHE_HOME:-$HOME/.cache}/serverless-gis/remote-cache,
#           --instance "" (Pants: leave remote_instance_name unset).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HOST=127.0.0.1

usage() { sed -n '4,6p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2; exit 2; }

[[ $# -ge 1 ]] || usage
cmd="$1"; shift
port=9092
port_given=0
data="${XDG_CACHE_HOME:-$HOME/.cache}/serverless-gis/remote-cache"
instance=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) port="${2:?--port needs a value}"; port_given=1; shift 2 ;;
    --port=*) port="${1#*=}"; port_given=1; shift ;;
    --data) data="${2:?--data needs a value}"; shift 2 ;;
    --data=*) data="${1#*=}"; shift ;;
    --instance) instance="${2?--instance needs a value}"; shift 2 ;;
    --instance=*) instance="${1#*=}"; shift ;;
    -h|--help) usage ;;
    *) echo "server.sh: unknown argument: $1" >&2; usage ;;
  esac
done
[[ "$port" == free ]] && port=0
[[ "$port" =~ ^[0-9]+$ && "$port" -le 65535 ]] || { echo "server.sh: bad --port: $port" >&2; exit 2; }

mkdir -p "$data"
data="$(cd "$data" && pwd)"
PIDFILE="$data/bgd.pid"
LOG="$data/bgd.log"
ADDRFILE="$data/address"

running_pid() {
  # Prints the server's pid if the pidfile points at a live bgd_persistent process.
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'bgd_persistent.py' || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

do_status() {
  local pid
  if pid="$(running_pid)"; then
    cat "$ADDRFILE"
    echo "server.sh: running, pid $pid, data $data" >&2
    return 0
  fi
  echo "server.sh: not running (data $data)" >&2
  return 3
}

do_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    echo "server.sh: not running (data $data)" >&2
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "server.sh: pid $pid ignored SIGTERM for 10 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  echo "server.sh: stopped pid $pid; cache kept in $data" >&2
}

do_start() {
  local pid venv py addr
  if pid="$(running_pid)"; then
    addr="$(cat "$ADDRFILE")"
    if [[ "$port_given" == 1 && "$port" != 0 && "$addr" != "grpc://$HOST:$port" ]]; then
      echo "server.sh: already running at $addr (pid $pid) with data $data; stop it first" >&2
      return 1
    fi
    echo "server.sh: already running, pid $pid" >&2
    echo "$addr"
    return 0
  fi

  venv="$("$HERE/install.sh")"
  py="$venv/bin/python"

  if [[ "$port" == 0 ]]; then
    port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  elif port_open "$port"; then
    echo "server.sh: $HOST:$port is already taken by another process; pick --port N or --port free" >&2
    return 1
  fi

  "$py" - "$HERE/bgd.yml.tmpl" "$data/bgd.yml" "$HOST:$port" "$data" "$instance" <<'EOF'
import sys
tmpl, out, address, data, instance = sys.argv[1:]
text = open(tmpl).read()
for key, value in (("@ADDRESS@", address), ("@DATA@", data), ("@INSTANCE@", instance)):
    if '"' in value or "\\" in value:
        sys.exit(f"server.sh: {key} value must not contain quotes or backslashes: {value!r}")
    text = text.replace(key, value)
open(out, "w").write(text)
EOF

  echo "=== $(date -u +%FT%TZ) start $HOST:$port" >>"$LOG"
  # setsid: own session, so the server outlives the calling shell and its Ctrl-C.
  setsid "$py" "$HERE/bgd_persistent.py" server start "$data/bgd.yml" </dev/null >>"$LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  addr="grpc://$HOST:$port"
  echo "$addr" >"$ADDRFILE"

  for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "server.sh: BuildGrid exited during startup; last log lines ($LOG):" >&2
      tail -n 30 "$LOG" >&2
      rm -f "$PIDFILE"
      return 1
    fi
    if port_open "$port"; then
      echo "server.sh: BuildGrid pid $pid serving $addr, data $data, log $LOG" >&2
      echo "$addr"
      return 0
    fi
    sleep 0.1
  done
  echo "server.sh: BuildGrid did not accept connections on $HOST:$port within 60 s; see $LOG" >&2
  kill -TERM "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  return 1
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) usage ;;
esac
