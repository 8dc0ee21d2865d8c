#!/usr/bin/env bash
# `./pants advisories ::` with `required = true` against the fixture advisory service
# (pants-plugins/serverless_gis/advisories/osv_server.py on 127.0.0.1, over fixture-db.json: answers
# for the default canaries, so every kind is trusted), with the reviewed VEX file. Fails when any component is NOT checked, has an advisory, or a VEX statement expired.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

work="$(mktemp -d)"
python3 pants-plugins/serverless_gis/advisories/osv_server.py \
  --advisories build-support/advisories/fixture-db.json --port-file "$work/port" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 300); do
  [[ -s "$work/port" ]] && break
  kill -0 "$server" 2>/dev/null || { echo "the fixture advisory service did not start" >&2; exit 1; }
  sleep 0.1
done
[[ -s "$work/port" ]] || { echo "the fixture advisory service did not start within 30 s" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$work/port")"

./pants \
  --serverless-advisories-url="$url" \
  --serverless-advisories-cpe-url="$url" \
  --serverless-advisories-required \
  --serverless-advisories-vex=build-support/advisories/vex.json \
  advisories ::
