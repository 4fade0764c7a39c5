#!/usr/bin/env bash
# Sync and Event invokes over HTTP with keep-alive, beside the HTTP floor (GET /health on the
# same server) and the disk's floor (one fdatasync of a small append), in one run. Installs
# wrk from Debian's packages if it is missing.
#
#   benches/http.sh [seconds] [connections]
#
# HEARTH_BIN=target/debug/hearth runs that binary instead of building the release one (see
# benches/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}

source benches/common.sh
ensure_wrk
start_hearth
"$bin" deploy echo target/guests/wasm32-wasip2/guest/echo.wasm --endpoint "$endpoint" >/dev/null

cat > "$state/invoke.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"hello":"world"}'
wrk.headers["Content-Type"] = "application/json"
LUA

echo "== floor: GET /health ($secs s, $conns connections)"
wrk -t1 -c"$conns" -d"${secs}s" --latency "$endpoint/health" | tee "$state/floor.txt"
echo "== sync invoke of echo ($secs s, $conns connections)"
wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$state/invoke.lua" \
  "$endpoint/2015-03-31/functions/echo/invocations" | tee "$state/invoke.txt"

cat > "$state/event.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"hello":"world"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Amz-Invocation-Type"] = "Event"
LUA
echo "== Event invoke of echo: durable acceptance ($secs s, $conns connections)"
wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$state/event.lua" \
  "$endpoint/2015-03-31/functions/echo/invocations" | tee "$state/event.txt"

echo "== floor: fdatasync of a 200-byte append on the state disk"
fsync_floor=$(fsync_floor)
echo "$fsync_floor"

floor=$(awk '/Requests\/sec/ {print $2}' "$state/floor.txt")
invoke=$(awk '/Requests\/sec/ {print $2}' "$state/invoke.txt")
errors=$(grep -c "Non-2xx" "$state/invoke.txt" || true)
echo
printf 'floor  GET /health : %10.0f req/s\n' "$floor"
awk -v i="$invoke" -v f="$floor" 'BEGIN { printf "invoke echo       : %10.0f req/s  (%.2f of the floor)\n", i, i / f }'
event=$(awk '/Requests\/sec/ {print $2}' "$state/event.txt")
read -r syncs_per_s sync_p50_us <<<"$fsync_floor"
awk -v e="$event" -v s="$syncs_per_s" -v p="$sync_p50_us" 'BEGIN { printf "event accepted    : %10.0f req/s  (%.1f per fdatasync; bare fdatasync p50 %d us = %d/s)\n", e, e / s, p, s }'
[ "$errors" = 0 ] || echo "WARNING: non-2xx responses during the invoke run"
grep -q "Non-2xx" "$state/event.txt" && echo "WARNING: non-2xx responses during the Event run"
true
