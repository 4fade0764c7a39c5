"""`hearth bench` against a server on port 0 and in process: the files it writes, their sample
counts and phases, and that cold samples really came from new environments (the server's own
cold-start counter moves by exactly the sample count). Structure, never timings."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import urllib.request

from helpers import HEARTH_BIN, create_function, guest_path, native_zip, unique

PHASES = {"total", "Init Duration", "Duration", "overhead"}


def bench(*args, cwd=None) -> str:
    proc = subprocess.run([str(HEARTH_BIN), "bench", *args], capture_output=True, text=True, timeout=300, cwd=cwd)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


def cold_starts(hearth, function: str) -> int:
    with urllib.request.urlopen(f"{hearth.endpoint}/metrics", timeout=10) as r:
        text = r.read().decode()
    found = re.search(rf'hearth_cold_starts_total\{{function="{function}"\}} (\d+)', text)
    return int(found.group(1)) if found else 0


def test_cold_samples_over_http_each_start_a_new_environment(hearth, lambda_client, tmp_path):
    name = unique("bench-cold")
    create_function(lambda_client, name, "echo")
    before = cold_starts(hearth, name)
    out = bench(
        "cold", name, "--endpoint", hearth.endpoint, "--samples", "20",
        "--json", str(tmp_path / "run.json"), "--csv", str(tmp_path / "run.csv"),
        "--report", str(tmp_path / "run.html"),
    )
    # The uncounted first invoke starts one environment, then each of the 20 samples one.
    assert cold_starts(hearth, name) - before == 21
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["scenario"] == "cold" and run["targets"] == [name]
    assert len(run["samples"]) == 20
    assert all(s["cold"] and s["init_us"] > 0 for s in run["samples"])
    assert set(run["summary"][name]) == PHASES
    assert run["summary"][name]["total"]["n"] == 20
    assert [f["name"] for f in run["floors"]] == ["GET /health"]
    rows = list(csv.DictReader((tmp_path / "run.csv").open()))
    assert len(rows) == 20 and set(rows[0]) == {"target", "cold", "total_us", "init_us", "restore_us", "duration_us", "overhead_us"}
    html = (tmp_path / "run.html").read_text()
    assert html.count("<svg") == 3 and "GET /health" in html
    assert "Init Duration" in out and "× GET /health" in out


def test_warm_mixed_and_throughput_over_http(hearth, lambda_client, tmp_path):
    name = unique("bench-warm")
    create_function(lambda_client, name, "echo")
    bench("warm", name, "--endpoint", hearth.endpoint, "--samples", "30", "--json", str(tmp_path / "warm.json"))
    warm = json.loads((tmp_path / "warm.json").read_text())
    assert len(warm["samples"]) == 30 and not any(s["cold"] for s in warm["samples"])
    assert "Init Duration" not in warm["summary"][name]

    before = cold_starts(hearth, name)
    bench(
        "mixed", name, "--endpoint", hearth.endpoint, "--samples", "20", "--cold-ratio", "0.25",
        "--json", str(tmp_path / "mixed.json"),
    )
    mixed = json.loads((tmp_path / "mixed.json").read_text())
    assert sum(s["cold"] for s in mixed["samples"]) == 5
    assert cold_starts(hearth, name) - before == 5

    bench(
        "throughput", name, "--endpoint", hearth.endpoint, "--samples", "200", "--concurrency", "4",
        "--json", str(tmp_path / "tp.json"),
    )
    tp = json.loads((tmp_path / "tp.json").read_text())
    assert len(tp["samples"]) == 200 and tp["throughput_per_s"][0] > 0


def test_a_memory_sweep_runs_once_per_size_on_the_server(hearth, lambda_client, tmp_path):
    name = unique("bench-mem")
    create_function(lambda_client, name, "echo")
    bench(
        "warm", name, "--endpoint", hearth.endpoint, "--memory", "128,256", "--samples", "10",
        "--json", str(tmp_path / "sweep.json"),
    )
    run = json.loads((tmp_path / "sweep.json").read_text())
    assert run["targets"] == [f"{name} @ 128 MB", f"{name} @ 256 MB"]
    assert [sum(s["target"] == k for s in run["samples"]) for k in (0, 1)] == [10, 10]
    assert set(run["summary"]) == set(run["targets"])
    assert lambda_client.get_function_configuration(FunctionName=name)["MemorySize"] == 256


def test_a_local_component_in_process_compared_with_itself_and_a_saved_baseline(tmp_path):
    echo = str(guest_path("echo"))
    runs = tmp_path / "runs"
    bench("cold", echo, "--samples", "20", "--save", "before", "--runs-dir", str(runs))
    assert (runs / "before.json").is_file()
    out = bench(
        "warm", echo, "--samples", "40", "--compare", echo, "--baseline", "before",
        "--runs-dir", str(runs), "--json", str(tmp_path / "cmp.json"),
    )
    run = json.loads((tmp_path / "cmp.json").read_text())
    assert len(run["targets"]) == 2
    assert sum(s["target"] == 1 for s in run["samples"]) == 40
    # Interleaved A B A B.
    assert [s["target"] for s in run["samples"][:4]] == [0, 1, 0, 1]
    c = run["comparison"]
    assert 0 < c["low"] <= c["ratio"] <= c["high"]
    assert [f["name"] for f in run["floors"]] == ["wasmtime instantiate"]
    assert "compare: median total of" in out and "baseline before:" in out


def test_density_provisions_warm_sandboxes_and_measures_the_process(tmp_path):
    bench("density", str(guest_path("echo")), "--samples", "20", "--json", str(tmp_path / "d.json"))
    run = json.loads((tmp_path / "d.json").read_text())
    d = run["density"]
    assert d["requested"] == d["admitted"] == d["sandboxes"] == 20
    assert d["rss_after_bytes"] > 0 and d["rss_per_sandbox_bytes"] >= 0
    assert len(run["samples"]) == 20 and not any(s["cold"] for s in run["samples"])


def test_bad_targets_and_names_are_refused():
    proc = subprocess.run(
        [str(HEARTH_BIN), "bench", "cold", "/nonexistent.wasm", "--samples", "1"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0 and "nonexistent" in proc.stderr
    proc = subprocess.run(
        [str(HEARTH_BIN), "bench", "warm", str(guest_path("echo")), "--samples", "1", "--save", "../escape"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0 and "a run's name" in proc.stderr
    proc = subprocess.run(
        [str(HEARTH_BIN), "bench", "density", "echo", "--endpoint", "http://127.0.0.1:9", "--samples", "1"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0 and "density runs in process" in proc.stderr


def test_snap_start_compared_with_a_plain_cold_start_in_process(tmp_path):
    heavy = str(guest_path("heavy-init"))
    out = bench(
        "cold", f"{heavy}:snap-start", "--compare", heavy, "--samples", "6",
        "--json", str(tmp_path / "snap.json"), "--csv", str(tmp_path / "snap.csv"),
    )
    run = json.loads((tmp_path / "snap.json").read_text())
    snap, plain = run["targets"]
    assert snap.endswith(":snap-start (in process)") and not plain.endswith(":snap-start (in process)")
    # Every sample of the snapshot target is a restore, every one of the plain target an INIT.
    restored = [s for s in run["samples"] if s["target"] == 0]
    started = [s for s in run["samples"] if s["target"] == 1]
    assert len(restored) == len(started) == 6
    assert all(s["cold"] and s["restore_us"] > 0 and "init_us" not in s for s in restored)
    assert all(s["cold"] and s["init_us"] > 0 and "restore_us" not in s for s in started)
    assert "Restore Duration" in run["summary"][snap] and "Init Duration" not in run["summary"][snap]
    assert "Init Duration" in run["summary"][plain]
    c = run["comparison"]
    assert 0 < c["low"] <= c["ratio"] <= c["high"]
    assert "Restore Duration" in out


def test_a_native_package_in_process_is_measured_beside_fork_exec_and_process_per_invoke(tmp_path):
    out = bench(
        "warm", str(native_zip("native-rust")), "--samples", "10",
        "--payload", '{"name": "bench"}', "--json", str(tmp_path / "native.json"),
    )
    run = json.loads((tmp_path / "native.json").read_text())
    assert [f["name"] for f in run["floors"]] == ["fork+exec /bin/true", "process per invoke"]
    assert all(f["summary"]["n"] == 10 for f in run["floors"])
    assert "× process per invoke" in out
