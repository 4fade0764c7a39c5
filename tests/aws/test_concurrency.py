"""Reserved concurrency: put/get/delete, throttling at 0, the 100-unreserved floor."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from helpers import create_function, error_code, http_status, invoke_json, unique


@pytest.fixture
def fn(lambda_client):
    """A fresh echo function; any reservation on it is removed after the test, so a failed
    test cannot eat into the next one's unreserved concurrency."""
    name = unique("conc")
    create_function(lambda_client, name, "echo")
    yield name
    try:
        lambda_client.delete_function_concurrency(FunctionName=name)
    except ClientError:
        pass


def test_put_get_delete_concurrency(aws, lambda_client, fn):
    """AWS CLI: put-function-concurrency / get-function-concurrency /
    delete-function-concurrency; get-function shows the reservation while it is set."""
    name = fn

    assert aws.ok("lambda", "get-function-concurrency", "--function-name", name) in ("", {})

    put = aws.ok(
        "lambda", "put-function-concurrency",
        "--function-name", name,
        "--reserved-concurrent-executions", "5",
    )
    assert put == {"ReservedConcurrentExecutions": 5}
    got = aws.ok("lambda", "get-function-concurrency", "--function-name", name)
    assert got == {"ReservedConcurrentExecutions": 5}
    function = aws.ok("lambda", "get-function", "--function-name", name)
    assert function["Concurrency"] == {"ReservedConcurrentExecutions": 5}

    code, out, err = aws("lambda", "delete-function-concurrency", "--function-name", name)
    assert code == 0, err
    assert aws.ok("lambda", "get-function-concurrency", "--function-name", name) in ("", {})
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(
        FunctionName=name
    )


def test_zero_reserved_concurrency_throttles(aws, lambda_client, tmp_path, fn):
    """boto3 and the AWS CLI: with ReservedConcurrentExecutions=0 every invoke is throttled
    (TooManyRequestsException, 429); deleting the reservation lets invokes through again."""
    name = fn
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)

    with pytest.raises(ClientError) as e:
        lambda_client.invoke(FunctionName=name, Payload=b"{}")
    assert error_code(e.value) == "TooManyRequestsException"
    assert http_status(e.value) == 429
    assert e.value.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"

    code, out, err = aws(
        "lambda", "invoke", "--function-name", name, "--payload", "{}", str(tmp_path / "out.json")
    )
    assert code != 0, out
    assert "TooManyRequestsException" in err

    lambda_client.delete_function_concurrency(FunctionName=name)
    response, body = invoke_json(lambda_client, name, {"ok": True})
    assert response["StatusCode"] == 200
    assert json.loads(body) == {"ok": True}


def test_reservation_must_leave_100_unreserved(lambda_client, fn):
    """boto3: a reservation leaving fewer than 100 of the account's 1,000 unreserved is
    InvalidParameterValueException and changes nothing; exactly 100 left is accepted."""
    name = fn

    for value in (901, 1000, 5000):
        with pytest.raises(ClientError) as e:
            lambda_client.put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=value
            )
        assert error_code(e.value) == "InvalidParameterValueException", value
        assert http_status(e.value) == 400
        assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(
            FunctionName=name
        )

    assert (
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=900)[
            "ReservedConcurrentExecutions"
        ]
        == 900
    )
    got = lambda_client.get_function_concurrency(FunctionName=name)
    assert got["ReservedConcurrentExecutions"] == 900
    lambda_client.delete_function_concurrency(FunctionName=name)


def test_account_settings_count_reservations(lambda_client, fn):
    """boto3: get-account-settings' UnreservedConcurrentExecutions drops by a reservation and
    comes back when it is deleted."""
    name = fn
    before = lambda_client.get_account_settings()["AccountLimit"]
    assert before["ConcurrentExecutions"] == 1000
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=250)
    during = lambda_client.get_account_settings()["AccountLimit"]
    assert during["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 250
    lambda_client.delete_function_concurrency(FunctionName=name)
    after = lambda_client.get_account_settings()["AccountLimit"]
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"]
