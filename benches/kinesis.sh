#!/usr/bin/env bash
# Kinesis over HTTP beside the floors, in one run:
#
# 1. floor: GET /health under wrk (the HTTP floor) and a bare fdatasync of the state disk;
# 2. PutRecords (500 records of 100 bytes, 50 partition keys, a 4-shard stream) under wrk
#    with keep-alive: records/s acknowledged durably;
# 3. the records read back with GetRecords (TRIM_HORIZON, 10,000 per call) from every shard:
#    records/s read;
# 4. end to end: the stream those puts filled is drained by an event source mapping (batch
#    100, TRIM_HORIZON) into the `noop` function; records/s from the mapping's creation until
#    its lag is 0, and the poller's own time per batch beside the function's invoke time.
#
#   benches/kinesis.sh [seconds] [connections]
#
# HEARTH_BIN=target/debug/hearth runs that binary instead of building the release one (see
# benches/common.sh). Installs wrk from Debian's packages if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}

source benches/common.sh
ensure_wrk
start_hearth
"$bin" deploy noop target/guests/wasm32-wasip2/guest/noop.wasm --timeout 10 --endpoint "$endpoint" >/dev/null

kinesis() { # kinesis OPERATION JSON
  curl -sf "$endpoint/" -H "X-Amz-Target: Kinesis_20131202.$1" -H "Content-Type: application/x-amz-json-1.1" -d "$2"
}
kinesis CreateStream '{"StreamName":"bench","ShardCount":4}' >/dev/null

python3 >"$state/put.lua" <<'PY'
import base64, json
data = base64.b64encode(b"x" * 100).decode()
records = [{"Data": data, "PartitionKey": f"key-{i % 50}"} for i in range(500)]
body = json.dumps({"StreamName": "bench", "Records": records})
print('wrk.method = "POST"')
print(f"wrk.body = {json.dumps(body)}")
print('wrk.headers["Content-Type"] = "application/x-amz-json-1.1"')
print('wrk.headers["X-Amz-Target"] = "Kinesis_20131202.PutRecords"')
PY

echo "== floor: GET /health ($secs s, $conns connections)"
wrk -t1 -c"$conns" -d"${secs}s" --latency "$endpoint/health" | tee "$state/floor.txt"
echo "== PutRecords of 500 ($secs s, $conns connections)"
wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$state/put.lua" "$endpoint/" | tee "$state/put.txt"
echo "== floor: fdatasync of a 200-byte append on the state disk"
fsync_floor=$(fsync_floor)

echo "== GetRecords of every shard from TRIM_HORIZON"
python3 - "$endpoint" <<'PY' | tee "$state/read.txt"
import json, sys, time, urllib.request
endpoint = sys.argv[1]
def call(op, body):
    req = urllib.request.Request(endpoint + "/", data=json.dumps(body).encode(), headers={
        "X-Amz-Target": f"Kinesis_20131202.{op}", "Content-Type": "application/x-amz-json-1.1"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
start, n = time.perf_counter(), 0
for shard in range(4):
    it = call("GetShardIterator", {"StreamName": "bench", "ShardId": f"shardId-{shard:012d}",
                                   "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    while True:
        page = call("GetRecords", {"ShardIterator": it, "Limit": 10000})
        n += len(page["Records"])
        if not page["Records"]:
            break
        it = page["NextShardIterator"]
took = time.perf_counter() - start
print(f"read {n} {took:.3f}")
PY

echo "== end to end: the stream drained by a mapping (batch 100) into noop"
start=$(date +%s.%N)
uuid=$(curl -sf "$endpoint/2015-03-31/event-source-mappings/" -H "Content-Type: application/json" \
  -d '{"FunctionName":"noop","EventSourceArn":"arn:aws:kinesis:us-east-1:000000000000:stream/bench","BatchSize":100,"StartingPosition":"TRIM_HORIZON"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["UUID"])')
mapping() {
  curl -sf "$endpoint/hearth/v1/mappings" | python3 -c "
import json, sys
m = next(m for m in json.load(sys.stdin) if m['uuid'] == '$uuid')
print(m['lag'], m['received'], m['batches'])"
}
last=-1
while true; do
  read -r lag received batches <<<"$(mapping)"
  [ "$lag" = 0 ] && [ "$received" -gt 0 ] && break
  if [ "$lag" != "$last" ]; then printf '\r  %10d left' "$lag" >&2; last=$lag; fi
  sleep 0.05
done
end=$(date +%s.%N)
echo >&2
curl -sf "$endpoint/hearth/v1/mappings" >"$state/mappings.json"

floor=$(awk '/Requests\/sec/ {print $2}' "$state/floor.txt")
put=$(awk '/Requests\/sec/ {print $2}' "$state/put.txt")
read -r syncs_per_s sync_p50_us <<<"$fsync_floor"
read -r _ nread took <<<"$(tail -1 "$state/read.txt")"
echo
printf 'floor  GET /health  : %10.0f req/s\n' "$floor"
awk -v r="$put" -v f="$floor" -v s="$syncs_per_s" -v p="$sync_p50_us" 'BEGIN {
  printf "PutRecords of 500   : %10.1f req/s = %.0f records/s durable  (%.3f of the HTTP floor in requests; %.2f requests per bare fdatasync, p50 %d us = %d/s)\n", r, r * 500, r / f, r / s, p, s }'
awk -v n="$nread" -v t="$took" 'BEGIN { printf "GetRecords          : %10.0f records/s  (%d records in %.2f s, one client)\n", n / t, n, t }'
python3 - "$state/mappings.json" "$uuid" "$start" "$end" <<'PY'
import json, sys
m = next(m for m in json.load(open(sys.argv[1])) if m["uuid"] == sys.argv[2])
start, end = float(sys.argv[3]), float(sys.argv[4])
took = end - start
n = m["received"]
print(f"end to end          : {n / took:10.0f} records/s  ({n} records in {took:.2f} s, {m['batches']} batches over 4 shards)")
print(f"per batch           : {m['batch_micros_per_batch']:.0f} us in all, {m['invoke_micros_per_batch']:.0f} us of it the function's invoke, "
      f"{m['batch_micros_per_batch'] - m['invoke_micros_per_batch']:.0f} us the poller's own (building the event)")
PY
grep -q "Non-2xx" "$state/put.txt" && echo "WARNING: non-2xx responses during the put run"
true
