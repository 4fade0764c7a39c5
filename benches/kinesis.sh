#!/usr/bin/env bash
# Kinesis over HTTP beside the floors, in one run:
#
# 1. floor: GET /health under wrk (the HTTP floor) and a bare fdatasync of the state disk;
# 2. PutRecords (500 records of 100 bytes, 50 partition keys, a 4-shard stream) under wrk
#    with keep-alive: records/s acknowledged durably;
# 3. the records read back with GetRecords (TRIM_HORIZON, 10,000 per call) from every shard:
#    records/s read.
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

floor=$(awk '/Requests\/sec/ {print $2}' "$state/floor.txt")
put=$(awk '/Requests\/sec/ {print $2}' "$state/put.txt")
read -r syncs_per_s sync_p50_us <<<"$fsync_floor"
read -r _ nread took <<<"$(tail -1 "$state/read.txt")"
echo
printf 'floor  GET /health  : %10.0f req/s\n' "$floor"
awk -v r="$put" -v f="$floor" -v s="$syncs_per_s" -v p="$sync_p50_us" 'BEGIN {
  printf "PutRecords of 500   : %10.1f req/s = %.0f records/s durable  (%.3f of the HTTP floor in requests; %.2f requests per bare fdatasync, p50 %d us = %d/s)\n", r, r * 500, r / f, r / s, p, s }'
awk -v n="$nread" -v t="$took" 'BEGIN { printf "GetRecords          : %10.0f records/s  (%d records in %.2f s, one client)\n", n / t, n, t }'
grep -q "Non-2xx" "$state/put.txt" && echo "WARNING: non-2xx responses during the put run"
true
