#!/usr/bin/env bash
# DynamoDB PutItem over HTTP beside the floors, in one run: GET /health under wrk (the HTTP
# floor), a bare fdatasync of the state disk, then PutItem of a 100-byte item with a new key
# each request (wrk's Lua counter) into a table whose stream is on (NEW_AND_OLD_IMAGES), each
# answered once the journal has synced the item and its stream record.
#
#   benches/dynamodb.sh [seconds] [connections]
#
# HEARTH_BIN=target/debug/hearth runs that binary instead of building the release one (see
# benches/common.sh). Installs wrk from Debian's packages if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}

source benches/common.sh
ensure_wrk
start_hearth

curl -sf "$endpoint/" -H "X-Amz-Target: DynamoDB_20120810.CreateTable" -H "Content-Type: application/x-amz-json-1.0" \
  -d '{"TableName":"bench","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST","StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"}}' >/dev/null

cat > "$state/put.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"TableName":"bench","Item":{"pk":{"S":"key-%d-%d"},"v":{"S":"%s"}}}', math.random(1000000), n, string.rep("x", 100))
  return wrk.format("POST", "/", {["Content-Type"] = "application/x-amz-json-1.0", ["X-Amz-Target"] = "DynamoDB_20120810.PutItem"}, body)
end
LUA

echo "== floor: GET /health ($secs s, $conns connections)"
wrk -t1 -c"$conns" -d"${secs}s" --latency "$endpoint/health" | tee "$state/floor.txt"
echo "== PutItem ($secs s, $conns connections)"
wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$state/put.lua" "$endpoint/" | tee "$state/put.txt"
echo "== floor: fdatasync of a 200-byte append on the state disk"
fsync_floor=$(fsync_floor)

floor=$(awk '/Requests\/sec/ {print $2}' "$state/floor.txt")
put=$(awk '/Requests\/sec/ {print $2}' "$state/put.txt")
p50=$(awk '/ 50%/ {print $2}' "$state/put.txt")
read -r syncs_per_s sync_p50_us <<<"$fsync_floor"
echo
printf 'floor  GET /health : %10.0f req/s\n' "$floor"
awk -v r="$put" -v f="$floor" -v s="$syncs_per_s" -v p="$sync_p50_us" -v l="$p50" 'BEGIN {
  printf "PutItem, durable   : %10.0f writes/s, p50 %s  (%.2f of the HTTP floor; %.1f writes per bare fdatasync, p50 %d us = %d/s)\n", r, l, r / f, r / s, p, s }'
grep -q "Non-2xx" "$state/put.txt" && echo "WARNING: non-2xx responses during the put run"
true
