"""SnapStart for wasm: `SnapStart` / `SnapStartResponse` as boto3 reads them from Lambda, a
published version snapshotted at PublishVersion (`Pending`, then `Active` or `Failed`), every
sandbox of it restored from the snapshot, and the snapshot kept across restarts."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from botocore.exceptions import ClientError

from helpers import (
    create_function,
    error_code,
    http_status,
    invoke_json,
    make_client,
    unique,
    wait_for,
    wait_updated,
)

SNAP = {"ApplyOn": "PublishedVersions"}


def version_config(client, name: str, version: str) -> dict:
    return client.get_function_configuration(FunctionName=name, Qualifier=version)


def wait_published(client, name: str, version: str) -> dict:
    """boto3's own waiter for a published version, as users wait for SnapStart."""
    client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    return version_config(client, name, version)


def create_snap_function(client, prefix: str, example: str = "heavy-init", **env) -> str:
    """A SnapStart function of `example` with `env` as its variables; returns its name."""
    name = unique(prefix)
    extra = {"Environment": {"Variables": env}} if env else {}
    create_function(client, name, example, SnapStart=SNAP, Timeout=30, **extra)
    return name


def invoke_tail(client, name: str, qualifier: str, payload=None):
    response, data = invoke_json(
        client, name, payload or {"index": 7}, Qualifier=qualifier, LogType="Tail"
    )
    assert "FunctionError" not in response, data
    return json.loads(data), base64.b64decode(response["LogResult"]).decode()


def test_snap_start_configuration_and_restored_sandboxes(lambda_client, hearth):
    name = unique("snap")
    created = create_function(
        lambda_client, name, "heavy-init", SnapStart=SNAP, Timeout=30, MemorySize=256
    )
    assert created["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    latest = lambda_client.get_function_configuration(FunctionName=name)
    assert latest["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}

    published = lambda_client.publish_version(FunctionName=name)
    assert published["Version"] == "1"
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert published["State"] in ("Pending", "Active")
    active = wait_published(lambda_client, name, "1")
    assert active["State"] == "Active"
    assert "StateReasonCode" not in active or active["StateReasonCode"] != "Creating"
    assert active["SnapStart"]["OptimizationStatus"] == "On"
    versions = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["SnapStart"]["OptimizationStatus"] for v in versions] == ["Off", "On"]

    # The published version starts from the snapshot: INIT's table is already there, and
    # REPORT says Restore Duration. $LATEST never has a snapshot.
    restored, log = invoke_tail(lambda_client, name, "1")
    assert restored["built_here"] is False, restored
    assert restored["initialization_type"] == "snap-start"
    assert "\tRestore Duration: " in log and "\tBilled Restore Duration: " in log, log
    assert "Init Duration" not in log, log
    plain, log = invoke_tail(lambda_client, name, "$LATEST")
    assert plain["built_here"] is True and plain["initialization_type"] == "on-demand"
    assert "\tInit Duration: " in log, log
    assert plain["checksum"] == restored["checksum"]

    # INIT ran once, at publish, and said so in the function's log.
    wait_for(
        lambda: "INIT_REPORT Init Duration: " in hearth.function_log(name), 30, "INIT_REPORT"
    )

    # Two sandboxes restored from one snapshot at once: what INIT drew is shared, what each
    # drew after its restore is not.
    results = []

    def call():
        results.append(invoke_tail(lambda_client, name, "1", {"sleep_ms": 1500}))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    (a, _), (b, _) = results
    assert a["init_random"] == b["init_random"] == restored["init_random"]
    assert a["start_random"] != b["start_random"], results

    # The snapshot is stored with the version: after kill -9 and a restart the version is
    # still Active and still restores.
    hearth.restart()
    client = make_client(hearth.endpoint)
    assert version_config(client, name, "1")["State"] == "Active"
    again, log = invoke_tail(client, name, "1")
    assert again["built_here"] is False and again["init_random"] == restored["init_random"]
    assert "\tRestore Duration: " in log, log


def test_a_failing_init_marks_the_version_failed_with_the_reason(lambda_client):
    name = create_snap_function(lambda_client, "snapfail", HEAVY_INIT_FAIL="yes")
    lambda_client.publish_version(FunctionName=name)
    config = wait_for(
        lambda: (c := version_config(lambda_client, name, "1"))["State"] != "Pending" and c,
        60,
        "the snapshot to end",
    )
    assert config["State"] == "Failed", config
    assert config["StateReasonCode"] == "FunctionError"
    assert "HEAVY_INIT_FAIL" in config["StateReason"], config["StateReason"]
    with pytest.raises(ClientError) as e:
        invoke_json(lambda_client, name, {}, Qualifier="1")
    assert error_code(e.value) == "ResourceConflictException"
    assert http_status(e.value) == 409


def test_a_pending_version_is_not_ready_and_a_crash_while_snapshotting_is_retried(start_hearth):
    server = start_hearth()
    client = make_client(server.endpoint)
    name = create_snap_function(client, "snapslow", HEAVY_INIT_SLEEP_MS="4000")
    published = client.publish_version(FunctionName=name)
    assert published["State"] == "Pending"
    assert published["StateReasonCode"] == "Creating"
    with pytest.raises(ClientError) as e:
        invoke_json(client, name, {}, Qualifier="1")
    assert error_code(e.value) == "SnapStartNotReadyException"
    assert http_status(e.value) == 409

    # kill -9 while INIT runs: the version is still Pending after the restart, and is
    # snapshotted again rather than left half-made.
    server.restart()
    client = make_client(server.endpoint)
    assert version_config(client, name, "1")["State"] == "Pending"
    active = wait_published(client, name, "1")
    assert active["State"] == "Active"
    result, _ = invoke_tail(client, name, "1")
    assert result["built_here"] is False


def test_snap_start_refusals(lambda_client):
    name = unique("snapno")
    with pytest.raises(ClientError) as e:
        create_function(lambda_client, name, "echo", SnapStart={"ApplyOn": "Sometimes"})
    assert error_code(e.value) == "ValidationException"
    with pytest.raises(ClientError) as e:
        create_function(
            lambda_client, name, "echo", SnapStart=SNAP, EphemeralStorage={"Size": 1024}
        )
    assert error_code(e.value) == "InvalidParameterValueException"

    # A component without the init boundary cannot be snapshotted: the version fails, and
    # says why.
    create_function(lambda_client, name, "echo", SnapStart=SNAP)
    lambda_client.publish_version(FunctionName=name)
    config = wait_for(
        lambda: (c := version_config(lambda_client, name, "1"))["State"] != "Pending" and c,
        60,
        "the snapshot to end",
    )
    assert config["State"] == "Failed" and "wizer-initialize" in config["StateReason"], config

    name = unique("snapno")
    create_function(lambda_client, name, "heavy-init")
    config = lambda_client.update_function_configuration(FunctionName=name, SnapStart=SNAP)
    assert config["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    wait_updated(lambda_client, name)
    lambda_client.publish_version(FunctionName=name)
    wait_published(lambda_client, name, "1")
    with pytest.raises(ClientError) as e:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
        )
    assert error_code(e.value) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(
            FunctionName=name, EphemeralStorage={"Size": 2048}
        )
    assert error_code(e.value) == "InvalidParameterValueException"


def test_a_failing_after_restore_hook_is_a_snap_start_exception(lambda_client, hearth):
    name = create_snap_function(lambda_client, "snaprestore", HEAVY_INIT_RESTORE_FAIL="yes")
    lambda_client.publish_version(FunctionName=name)
    assert wait_published(lambda_client, name, "1")["State"] == "Active"
    with pytest.raises(ClientError) as e:
        invoke_json(lambda_client, name, {}, Qualifier="1")
    assert error_code(e.value) == "SnapStartException"
    assert http_status(e.value) == 400
    wait_for(
        lambda: "after_restore failed on purpose" in hearth.function_log(name),
        30,
        "the hook's error in the function's log",
    )
    # Without a snapshot there is no restore, and no hook to fail.
    result, _ = invoke_tail(lambda_client, name, "$LATEST")
    assert result["built_here"] is True


def test_a_restore_past_the_init_limit_is_a_snap_start_timeout(lambda_client):
    name = create_snap_function(lambda_client, "snaptimeout", HEAVY_INIT_RESTORE_SLEEP_MS="11000")
    lambda_client.publish_version(FunctionName=name)
    assert wait_published(lambda_client, name, "1")["State"] == "Active"
    with pytest.raises(ClientError) as e:
        invoke_json(lambda_client, name, {}, Qualifier="1")
    assert error_code(e.value) == "SnapStartTimeoutException"
    assert http_status(e.value) == 408
