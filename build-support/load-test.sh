#!/usr/bin/env bash
# Run a command while every CPU is kept busy by `stress-ng --cpu N`, to show that no test's verdict
# depends on how fast the machine is.
#
#   build-support/load-test.sh [--cpus N] [-- command args...]
#
# Default command: README's test command, `./pants test ::`, run from the repository root (every
# command runs there). `--cpus N`: load generator workers, default the machine's CPU count (`nproc`).
# stress-ng (Debian's package) is installed with apt-get if missing. The load generator runs in its
# own process group, is started (and seen running) before the command, and is always stopped
# afterwards (trap on exit, Ctrl-C or TERM). Prints the wall time and the command's exit code, and
# exits with that code.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cpus="$(nproc)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cpus) cpus="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "load-test.sh: unknown argument '$1' (the command goes after --)" >&2; exit 2 ;;
  esac
done
if [[ $# -eq 0 ]]; then
  set -- ./pants test ::
fi

if ! command -v stress-ng >/dev/null 2>&1; then
  sudo=""
  [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
  echo "load-test.sh: installing stress-ng (apt-get)" >&2
  if ! $sudo apt-get install -y stress-ng >/dev/null; then
    $sudo apt-get update >/dev/null && $sudo apt-get install -y stress-ng >/dev/null || {
      echo "load-test.sh: could not install stress-ng" >&2
      exit 2
    }
  fi
fi

log="$(mktemp -t load-test-stress-ng.XXXXXX)"
load_pgid=""

stop_load() {
  [[ -n "$load_pgid" ]] || return 0
  # stress-ng stops its workers on TERM; KILL whatever of its group is left after 10 s.
  kill -TERM -- "-$load_pgid" 2>/dev/null
  for _ in $(seq 100); do
    pgrep -g "$load_pgid" >/dev/null || break
    sleep 0.1
  done
  if pgrep -g "$load_pgid" >/dev/null; then
    echo "load-test.sh: stress-ng did not stop on TERM: killing its process group" >&2
    kill -KILL -- "-$load_pgid" 2>/dev/null
  fi
  wait "$load_pgid" 2>/dev/null
  echo "load-test.sh: load generator stopped; its report:" >&2
  sed 's/^/  /' "$log" >&2
  rm -f "$log"
  load_pgid=""
}
cmd_pid=""
on_signal() {  # pass INT/TERM on to the command, then stop the load (EXIT trap)
  trap - "$1"
  [[ -z "$cmd_pid" ]] || { kill -"$1" "$cmd_pid" 2>/dev/null; wait "$cmd_pid" 2>/dev/null; }
  exit "$2"
}
trap stop_load EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

# setsid: stress-ng and its workers form their own process group (the command's processes do not).
setsid stress-ng --cpu "$cpus" --timeout 0 --metrics-brief >"$log" 2>&1 &
load_pgid=$!
# Ready when its N workers run (a poll, at most 30 s).
for _ in $(seq 300); do
  workers=$(( $(pgrep -g "$load_pgid" -c || true) - 1 ))
  [[ "$workers" -ge "$cpus" ]] && break
  if ! kill -0 "$load_pgid" 2>/dev/null; then
    echo "load-test.sh: stress-ng exited at start:" >&2
    cat "$log" >&2
    exit 2
  fi
  sleep 0.1
done
if [[ "$workers" -lt "$cpus" ]]; then
  echo "load-test.sh: stress-ng started only $workers of $cpus workers" >&2
  exit 2
fi
echo "load-test.sh: stress-ng --cpu $cpus running (process group $load_pgid, $workers workers); running: $*" >&2

start=$(date +%s.%N)
# In the background (stdin kept) so that a signal to this script is handled while the command runs.
"$@" <&0 &
cmd_pid=$!
wait "$cmd_pid"
status=$?
cmd_pid=""
end=$(date +%s.%N)

stop_load
wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
echo "load-test.sh: wall time ${wall} s under stress-ng --cpu $cpus; exit code $status: $*"
exit "$status"
