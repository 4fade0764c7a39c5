# Shared by the HTTP benchmark scripts (sourced, not run): wrk, the hearth binary, a server
# on a free port with a fresh state dir, and the disk's fdatasync floor.
#
# After `start_hearth`: $bin, $state (a scratch dir, removed on exit; the server's state is
# $state/state), $endpoint, $server.

ensure_wrk() {
  if ! command -v wrk >/dev/null; then
    echo "installing wrk…" >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  fi
}

# HEARTH_BIN=target/debug/hearth runs that binary instead of building the release one (CI's
# smoke run: it proves the benchmark still runs without building wasmtime a second time; its
# figures mean nothing).
start_hearth() {
  bin=${HEARTH_BIN:-}
  if [ -z "$bin" ]; then
    echo "building hearth (release)…" >&2
    cargo build --release -q -p hearth
    bin=target/release/hearth
  fi
  echo "building the example guests…" >&2
  cargo build -q --profile guest --target wasm32-wasip2 -p hearth-examples --target-dir target/guests
  state=$(mktemp -d)
  local port=$((20000 + RANDOM % 20000))
  endpoint="http://127.0.0.1:$port"
  RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$port" --state-dir "$state/state" &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$state"' EXIT
  for _ in $(seq 100); do curl -sf "$endpoint/health" >/dev/null && break; sleep 0.1; done
}

# Prints "syncs-per-second p50-microseconds" of a 200-byte append + fdatasync in $state.
fsync_floor() {
  python3 - "$state" <<'PY'
import os, sys, time
path = os.path.join(sys.argv[1], "fsync-floor")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
times = []
for _ in range(2000):
    t = time.perf_counter()
    os.write(fd, b"x" * 200)
    os.fdatasync(fd)
    times.append(time.perf_counter() - t)
times.sort()
print(f"{1 / times[len(times) // 2]:.0f} {times[len(times) // 2] * 1e6:.0f}")
PY
}
