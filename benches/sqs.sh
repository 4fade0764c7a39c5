#!/usr/bin/env bash
# SQS over HTTP and through an event source mapping, beside the floors, in one run:
#
# 1. floor: GET /health under wrk (the HTTP floor) and a bare fdatasync of the state disk;
# 2. SendMessageBatch (JSON protocol, 10 messages of 100 bytes) under wrk with keep-alive:
#    messages/s acknowledged durably;
# 3. end to end: the queue those sends filled is drained by an event source mapping (batch
#    10) into the `noop` function; messages/s from the mapping's creation until the queue
#    is empty, and the poller's own time per batch beside the function's invoke time.
#
#   benches/sqs.sh [seconds] [connections]
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
"$bin" deploy noop target/guests/wasm32-wasip2/guest/noop.wasm --timeout 10 --endpoint "$endpoint" >/dev/null

sqs() { # sqs OPERATION JSON
  curl -sf "$endpoint/" -H "X-Amz-Target: AmazonSQS.$1" -H "Content-Type: application/x-amz-json-1.0" -d "$2"
}
sqs CreateQueue '{"QueueName":"bench"}' >/dev/null
url="$endpoint/000000000000/bench"

python3 - "$url" >"$state/send.lua" <<'PY'
import json, sys
entries = [{"Id": str(i), "MessageBody": "x" * 100} for i in range(10)]
body = json.dumps({"QueueUrl": sys.argv[1], "Entries": entries})
print('wrk.method = "POST"')
print(f"wrk.body = {json.dumps(body)}")
print('wrk.headers["Content-Type"] = "application/x-amz-json-1.0"')
print('wrk.headers["X-Amz-Target"] = "AmazonSQS.SendMessageBatch"')
PY

echo "== floor: GET /health ($secs s, $conns connections)"
wrk -t1 -c"$conns" -d"${secs}s" --latency "$endpoint/health" | tee "$state/floor.txt"
echo "== SendMessageBatch of 10 ($secs s, $conns connections)"
wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$state/send.lua" "$endpoint/" | tee "$state/send.txt"

echo "== floor: fdatasync of a 200-byte append on the state disk"
fsync_floor=$(fsync_floor)

queued() {
  sqs GetQueueAttributes "{\"QueueUrl\":\"$url\",\"AttributeNames\":[\"All\"]}" | python3 -c '
import json, sys
a = json.load(sys.stdin)["Attributes"]
print(int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]))'
}
backlog=$(queued)
echo "== end to end: $backlog messages drained by a mapping (batch 10) into noop"
start=$(date +%s.%N)
curl -sf "$endpoint/2015-03-31/event-source-mappings/" -H "Content-Type: application/json" \
  -d "{\"FunctionName\":\"noop\",\"EventSourceArn\":\"arn:aws:sqs:us-east-1:000000000000:bench\",\"BatchSize\":10}" >/dev/null
last=-1
while true; do
  left=$(queued)
  [ "$left" = 0 ] && break
  if [ "$left" != "$last" ]; then printf '\r  %10d left' "$left" >&2; last=$left; fi
  sleep 0.05
done
end=$(date +%s.%N)
echo >&2
curl -sf "$endpoint/hearth/v1/mappings" >"$state/mappings.json"

floor=$(awk '/Requests\/sec/ {print $2}' "$state/floor.txt")
send=$(awk '/Requests\/sec/ {print $2}' "$state/send.txt")
read -r syncs_per_s sync_p50_us <<<"$fsync_floor"
echo
printf 'floor  GET /health     : %10.0f req/s\n' "$floor"
awk -v r="$send" -v f="$floor" -v s="$syncs_per_s" -v p="$sync_p50_us" 'BEGIN {
  printf "SendMessageBatch of 10 : %10.0f req/s = %.0f messages/s durable  (%.2f of the HTTP floor; %.1f batches per bare fdatasync, p50 %d us = %d/s)\n", r, r * 10, r / f, r / s, p, s }'
python3 - "$state/mappings.json" "$backlog" "$start" "$end" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))[0]
n, start, end = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
took = end - start
print(f"end to end             : {n / took:10.0f} messages/s  ({n} messages in {took:.2f} s, {m['batches']} batches, {m['workers']} workers at the end)")
print(f"per batch              : {m['batch_micros_per_batch']:.0f} us in all, {m['invoke_micros_per_batch']:.0f} us of it the function's invoke, "
      f"{m['batch_micros_per_batch'] - m['invoke_micros_per_batch']:.0f} us the poller's own (filter, event, delete)")
PY
grep -q "Non-2xx" "$state/send.txt" && echo "WARNING: non-2xx responses during the send run"
true
