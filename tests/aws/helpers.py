"""Helpers of the end-to-end suite (the fixtures that use them are in conftest.py): the
`hearth serve` process, the real AWS CLI, boto3 clients, deployment zips and polling.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
HEARTH_BIN = Path(os.environ.get("HEARTH_BIN", REPO / "target/debug/hearth"))
GUESTS_DIR = Path(
    os.environ.get("HEARTH_GUESTS_DIR", REPO / "target/guests/wasm32-wasip2/guest")
)
# The CLI installed beside the interpreter running pytest (the venv's).
# The CLI under test: HEARTH_AWS_CLI (tests/aws/run sets it to Debian's AWS CLI v2, then to
# the venv's v1), else the venv's.
AWS_CLI = Path(os.environ.get("HEARTH_AWS_CLI") or Path(sys.executable).parent / "aws")


def _cli_major() -> int:
    try:
        out = subprocess.run([str(AWS_CLI), "--version"], capture_output=True, text=True).stdout
        return int(out.split("/", 1)[1].split(".", 1)[0])
    except (OSError, IndexError, ValueError):
        return 1


#: 1 or 2: the CLI major version under test.
CLI_MAJOR = _cli_major()

#: The exit status the CLI gives for an error answered by the service: v1 255, v2 254.
CLI_SERVICE_ERROR = 254 if CLI_MAJOR >= 2 else 255

REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/x"
RUNTIME = "wasm32-wasip2"
HANDLER = "function.wasm"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "secret"

HEALTH_TIMEOUT_S = 30.0
LOG_TAIL_BYTES = 8000

# Servers currently running, so a failing test's report can carry their logs.
LIVE_SERVERS: list["HearthServer"] = []


def function_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def unique(prefix: str) -> str:
    """A function name no other test uses (names are 1-64 of [A-Za-z0-9_-])."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    """Polls `predicate` until it returns something truthy, which is returned; fails the test
    after `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HearthServer:
    """One `hearth serve` process with its own state directory and port."""

    def __init__(self, root: Path, credentials: Path | None = None, extra_args=()):
        if not HEARTH_BIN.is_file():
            pytest.fail(f"no hearth binary at {HEARTH_BIN} (set HEARTH_BIN or cargo build)")
        self.root = root
        self.state_dir = root / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = root / "server.log"
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.credentials = credentials
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen | None = None
        self._start()

    # -- lifecycle ----------------------------------------------------------------------------

    def _command(self) -> list[str]:
        cmd = [
            str(HEARTH_BIN),
            "serve",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--state-dir",
            str(self.state_dir),
        ]
        if self.credentials is not None:
            cmd += ["--credentials", str(self.credentials)]
        return cmd + self.extra_args

    def _spawn(self):
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== {' '.join(self._command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info")},
            )

    def _start(self):
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        self._spawn()
        if self not in LIVE_SERVERS:
            LIVE_SERVERS.append(self)
        while True:
            if self._healthy():
                return
            code = self.proc.poll()
            if code is not None:
                # The port may still be held for a moment after a kill -9: try again.
                if "Address already in use" in self.log_tail() and time.monotonic() < deadline:
                    time.sleep(0.2)
                    self._spawn()
                    continue
                self._forget()
                pytest.fail(
                    f"hearth exited with status {code} before answering /health\n"
                    f"command: {' '.join(self._command())}\n--- server log tail ---\n"
                    f"{self.log_tail()}"
                )
            if time.monotonic() >= deadline:
                self._kill()
                self._forget()
                pytest.fail(
                    f"hearth did not answer GET /health with 200 within {HEALTH_TIMEOUT_S:.0f} s"
                    f"\n--- server log tail ---\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/health", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def _forget(self):
        if self in LIVE_SERVERS:
            LIVE_SERVERS.remove(self)

    def restart(self):
        """kill -9 the server, then start it again on the same port and state directory and
        wait until it is healthy."""
        self._kill()
        self._start()

    def stop(self):
        """Kills the server (SIGKILL: nothing a test checks depends on a graceful stop)."""
        self._kill()
        self._forget()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- what tests look at ---------------------------------------------------------------------

    def log_tail(self, limit: int = LOG_TAIL_BYTES) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no server log)"
        return data[-limit:].decode("utf-8", "replace")

    def function_log_path(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def function_log(self, name: str) -> str:
        try:
            return self.function_log_path(name).read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


def make_client(
    endpoint: str,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    validate: bool = True,
    service: str = "lambda",
):
    """A boto3 client of `service` on hearth's port: one attempt, so an error surfaces."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            retries={"max_attempts": 1},
            parameter_validation=validate,
            connect_timeout=5,
            read_timeout=30,
        ),
    )


def make_sqs_client(endpoint: str, validate: bool = True):
    """boto3 SQS on hearth's port (botocore sends SQS's JSON protocol)."""
    return make_client(endpoint, validate=validate, service="sqs")


def make_kinesis_client(endpoint: str, validate: bool = True):
    """boto3 Kinesis on hearth's port (JSON 1.1)."""
    return make_client(endpoint, validate=validate, service="kinesis")


def make_dynamodb_client(endpoint: str, validate: bool = True):
    """boto3 DynamoDB on hearth's port (JSON 1.0)."""
    return make_client(endpoint, validate=validate, service="dynamodb")


def _cli_version() -> str:
    out = subprocess.run(
        [str(AWS_CLI), "--version"], capture_output=True, text=True, timeout=60, env=_cli_env()
    )
    return (out.stdout + out.stderr).strip()


def _cli_env(access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") or k in ("AWS_CA_BUNDLE",)
    }
    env.update(
        AWS_ACCESS_KEY_ID=access_key,
        AWS_SECRET_ACCESS_KEY=secret_key,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_DEFAULT_REGION=REGION,
        # One attempt: a throttle or error must surface, not be retried with backoff.
        AWS_MAX_ATTEMPTS="1",
        AWS_PAGER="",
    )
    return env


_BINARY_FORMAT_ARGS: list[str] | None = None


def binary_format_args() -> list[str]:
    """`--cli-binary-format raw-in-base64-out` for CLI v2; v1 (the PyPI awscli) has no such
    option and already sends --payload verbatim."""
    global _BINARY_FORMAT_ARGS
    if _BINARY_FORMAT_ARGS is None:
        v2 = _cli_version().startswith("aws-cli/2")
        _BINARY_FORMAT_ARGS = ["--cli-binary-format", "raw-in-base64-out"] if v2 else []
    return _BINARY_FORMAT_ARGS


class AwsCli:
    """Runs the real `aws` CLI against one endpoint: `aws("lambda", "get-function", ...)`
    returns (returncode, parsed JSON stdout (or its text when not JSON), stderr)."""

    def __init__(self, endpoint: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
        self.endpoint = endpoint
        self.env = _cli_env(access_key, secret_key)

    def __call__(self, *args, timeout: float = 120):
        if not AWS_CLI.exists():
            pytest.fail(f"no aws CLI at {AWS_CLI}: run the suite with tests/aws/run")
        cmd = [
            str(AWS_CLI),
            *map(str, args),
            "--endpoint-url",
            self.endpoint,
            "--region",
            REGION,
            "--output",
            "json",
            "--cli-read-timeout",
            "30",
            "--cli-connect-timeout",
            "10",
            # v2 reads blob arguments (`--payload`) as base64 unless told otherwise.
            *(["--cli-binary-format", "raw-in-base64-out"] if CLI_MAJOR >= 2 else []),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env)
        out = proc.stdout
        try:
            parsed = json.loads(out) if out.strip() else out
        except json.JSONDecodeError:
            parsed = out
        return proc.returncode, parsed, proc.stderr

    def ok(self, *args, **kwargs):
        """Like calling it, but fails the test unless the CLI exits 0; returns stdout."""
        code, out, err = self(*args, **kwargs)
        assert code == 0, f"aws {' '.join(map(str, args))} exited {code}\nstdout: {out}\nstderr: {err}"
        return out


# --------------------------------------------------------------------------------------------
# Deployment packages
# --------------------------------------------------------------------------------------------

_ZIP_DIR = Path(tempfile.mkdtemp(prefix="hearth-aws-zips-"))
_ZIPS: dict[tuple[str, str], Path] = {}


def guest_path(example: str) -> Path:
    path = GUESTS_DIR / f"{example}.wasm"
    if not path.is_file():
        pytest.fail(
            f"example guest {path} is missing: cargo build --profile guest --target "
            "wasm32-wasip2 -p hearth-examples --target-dir target/guests"
        )
    return path


def zip_of(example: str, handler: str = HANDLER) -> Path:
    """A zip holding example guest `example`'s component at `handler` (byte-for-byte the same
    zip every time, so its CodeSha256 is stable). Returns its path, for `fileb://`."""
    key = (example, handler)
    if key not in _ZIPS:
        path = _ZIP_DIR / f"{example}-{hashlib.sha1(handler.encode()).hexdigest()[:8]}.zip"
        info = zipfile.ZipInfo(handler, date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(info, guest_path(example).read_bytes())
        _ZIPS[key] = path
    return _ZIPS[key]


NATIVE_DIR = Path(os.environ.get("HEARTH_NATIVE_DIR", REPO / "target/native/debug"))


def native_zip(example: str) -> Path:
    """A provided.al2023 package: native example `example` (examples/native) as an
    executable `bootstrap` at the zip's root. Returns its path, for `fileb://`."""
    key = (example, "bootstrap")
    if key not in _ZIPS:
        binary = NATIVE_DIR / example
        if not binary.is_file():
            pytest.fail(
                f"native example {binary} is missing: cargo build -p hearth-native-examples "
                "--target-dir target/native"
            )
        path = _ZIP_DIR / f"native-{example}.zip"
        info = zipfile.ZipInfo("bootstrap", date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o755 << 16
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(info, binary.read_bytes())
        _ZIPS[key] = path
    return _ZIPS[key]


def remove_zips():
    shutil.rmtree(_ZIP_DIR, ignore_errors=True)


def zip_bytes(example: str, handler: str = HANDLER) -> bytes:
    return zip_of(example, handler).read_bytes()


# --------------------------------------------------------------------------------------------
# Small helpers shared by the test modules
# --------------------------------------------------------------------------------------------


def create_function(client, name: str, example: str, **kwargs) -> dict:
    """CreateFunction through boto3 with the example's zip, then waits for State Active."""
    params = dict(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=ROLE,
        Handler=HANDLER,
        Code={"ZipFile": zip_bytes(example)},
    )
    params.update(kwargs)
    config = client.create_function(**params)
    wait_active(client, name)
    return config


def wait_active(client, name: str):
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


def wait_updated(client, name: str):
    client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


def invoke_json(client, name: str, payload, **kwargs):
    """Synchronous Invoke; returns (response without Payload, decoded payload bytes)."""
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    response = client.invoke(FunctionName=name, Payload=body, **kwargs)
    data = response.pop("Payload").read()
    return response, data


def error_code(exc) -> str:
    return exc.response["Error"]["Code"]


def http_status(exc) -> int:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]


def list_all_function_names(client) -> list[str]:
    names = []
    for page in client.get_paginator("list_functions").paginate():
        names += [f["FunctionName"] for f in page["Functions"]]
    return names
