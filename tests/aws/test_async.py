"""Asynchronous invocation: event-invoke config and the OnFailure destination."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from helpers import CLI_MAJOR, CLI_SERVICE_ERROR, create_function, error_code, function_arn, http_status, unique, wait_for


def report_ids(log: str) -> list[str]:
    return re.findall(r"^REPORT RequestId: (\S+)\t", log, flags=re.M)


def test_failed_event_goes_to_on_failure_destination(hearth, aws, lambda_client, tmp_path):
    """AWS CLI: put-function-event-invoke-config (MaximumRetryAttempts 0, OnFailure → an echo
    function), get-function-event-invoke-config round trip, `invoke --invocation-type Event`
    → 202; the failing function runs once and the destination function runs exactly once."""
    failing = unique("fail")
    sink = unique("sink")
    create_function(lambda_client, failing, "error")
    create_function(lambda_client, sink, "echo")
    destination = {"OnFailure": {"Destination": function_arn(sink)}}

    put = aws.ok(
        "lambda", "put-function-event-invoke-config",
        "--function-name", failing,
        "--maximum-retry-attempts", "0",
        "--destination-config", json.dumps(destination),
    )
    assert put["MaximumRetryAttempts"] == 0
    assert put["DestinationConfig"]["OnFailure"] == destination["OnFailure"]
    assert put["FunctionArn"].startswith(function_arn(failing))

    got = aws.ok("lambda", "get-function-event-invoke-config", "--function-name", failing)
    assert got["MaximumRetryAttempts"] == 0
    assert got["DestinationConfig"]["OnFailure"] == destination["OnFailure"]
    assert got["FunctionArn"] == put["FunctionArn"]
    # On the wire LastModified is epoch seconds; CLI v1 prints the number, v2 formats it.
    if CLI_MAJOR >= 2:
        assert str(got["LastModified"]).startswith("20"), got["LastModified"]
    else:
        assert isinstance(got["LastModified"], (int, float)), "LastModified is epoch seconds"

    result = aws.ok(
        "lambda", "invoke",
        "--function-name", failing,
        "--invocation-type", "Event",
        "--payload", '{"order":42}',
        str(tmp_path / "out.json"),
    )
    assert result["StatusCode"] == 202
    assert (tmp_path / "out.json").read_bytes() == b""

    wait_for(
        lambda: "START RequestId:" in hearth.function_log(sink)
        and report_ids(hearth.function_log(sink)),
        30,
        f"the OnFailure destination {sink} to be invoked (logs/{sink}.log)",
    )
    assert len(report_ids(hearth.function_log(sink))) == 1, hearth.function_log(sink)
    # With MaximumRetryAttempts 0 the failing function ran exactly once before the record
    # was sent on.
    failing_log = wait_for(
        lambda: report_ids(hearth.function_log(failing)) and hearth.function_log(failing),
        10,
        f"the failed invocation's REPORT in logs/{failing}.log",
    )
    assert len(report_ids(failing_log)) == 1, failing_log


def test_event_invoke_config_crud(aws, lambda_client):
    """AWS CLI: put, update (merges), get and delete of the event-invoke config; get after
    delete is ResourceNotFoundException."""
    name = unique("eic")
    create_function(lambda_client, name, "echo")

    code, _, err = aws("lambda", "get-function-event-invoke-config", "--function-name", name)
    assert code == CLI_SERVICE_ERROR and "ResourceNotFoundException" in err, err

    aws.ok(
        "lambda", "put-function-event-invoke-config",
        "--function-name", name,
        "--maximum-retry-attempts", "1",
    )
    updated = aws.ok(
        "lambda", "update-function-event-invoke-config",
        "--function-name", name,
        "--maximum-event-age-in-seconds", "120",
    )
    assert updated["MaximumRetryAttempts"] == 1, "update keeps what it does not set"
    assert updated["MaximumEventAgeInSeconds"] == 120

    got = aws.ok("lambda", "get-function-event-invoke-config", "--function-name", name)
    assert got["MaximumRetryAttempts"] == 1
    assert got["MaximumEventAgeInSeconds"] == 120

    # put replaces the whole config.
    replaced = aws.ok(
        "lambda", "put-function-event-invoke-config",
        "--function-name", name,
        "--maximum-retry-attempts", "2",
    )
    assert replaced["MaximumRetryAttempts"] == 2
    assert replaced.get("MaximumEventAgeInSeconds") in (None, 21600)

    code, _, err = aws("lambda", "delete-function-event-invoke-config", "--function-name", name)
    assert code == 0, err
    code, _, err = aws("lambda", "get-function-event-invoke-config", "--function-name", name)
    assert code == CLI_SERVICE_ERROR and "ResourceNotFoundException" in err, err


@pytest.mark.parametrize(
    "params",
    [
        {"MaximumRetryAttempts": 3},
        {"MaximumRetryAttempts": -1},
        {"MaximumEventAgeInSeconds": 59},
        {"MaximumEventAgeInSeconds": 21601},
    ],
    ids=["retries-3", "retries-neg", "age-59", "age-21601"],
)
def test_event_invoke_config_out_of_range(raw_client, params):
    """boto3 (client-side validation off): MaximumRetryAttempts outside 0-2 and
    MaximumEventAgeInSeconds outside 60-21600 are refused with 400 ValidationException, and
    no config is stored."""
    name = unique("eicbad")
    create_function(raw_client, name, "echo")
    with pytest.raises(ClientError) as e:
        raw_client.put_function_event_invoke_config(FunctionName=name, **params)
    assert error_code(e.value) == "ValidationException", e.value.response
    assert http_status(e.value) == 400
    with pytest.raises(ClientError) as e:
        raw_client.get_function_event_invoke_config(FunctionName=name)
    assert error_code(e.value) == "ResourceNotFoundException"
