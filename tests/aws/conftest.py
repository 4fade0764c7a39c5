"""Fixtures for the end-to-end suite: a real `hearth serve` process driven by the real AWS CLI
(awscli 1.x from PyPI) and boto3.

Run it with `tests/aws/run`, which builds the virtualenv and sets HEARTH_BIN and
HEARTH_GUESTS_DIR. Every server gets its own state directory and free port on 127.0.0.1; its
output goes to `server.log` beside the state directory, and the tail of that log is attached to
the report of any test that fails while the server is running.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from helpers import LIVE_SERVERS, AwsCli, HearthServer, make_client, remove_zips


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        for server in list(LIVE_SERVERS):
            report.sections.append(
                (
                    f"hearth server log tail ({server.endpoint}, {server.log_path})",
                    server.log_tail(),
                )
            )
    return report


def pytest_sessionfinish(session, exitstatus):
    remove_zips()


def _new_root(kind: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"hearth-aws-{kind}-"))


@pytest.fixture(scope="module")
def hearth():
    """A server shared by the tests of one module (they use distinct function names): has
    `endpoint`, `state_dir`, `port`, `restart()` (kill -9, start again on the same port and
    state dir) and `stop()`. Killed when the module is done."""
    root = _new_root("mod")
    try:
        server = HearthServer(root)
        yield server
        server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def start_hearth():
    """Factory for servers with special options, e.g. `start_hearth(credentials=path)`; each
    is killed after the test."""
    started: list[HearthServer] = []
    roots: list[Path] = []

    def start(**kwargs) -> HearthServer:
        root = _new_root("fn")
        roots.append(root)
        server = HearthServer(root, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def lambda_client(hearth):
    """boto3 Lambda client on the module's server (one attempt, no retries of note)."""
    return make_client(hearth.endpoint)


@pytest.fixture(scope="module")
def raw_client(hearth):
    """boto3 with client-side parameter validation off: out-of-range values reach the server."""
    return make_client(hearth.endpoint, validate=False)


@pytest.fixture(scope="module")
def aws(hearth):
    """The real `aws` CLI on the module's server: `aws("lambda", "get-function", ...)` returns
    (returncode, parsed JSON stdout or its text, stderr); `aws.ok(...)` asserts exit 0."""
    return AwsCli(hearth.endpoint)
