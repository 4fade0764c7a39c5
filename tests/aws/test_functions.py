"""Function lifecycle through the control plane: create, wait, get, list (paged), update code
and configuration, delete; account settings."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from helpers import (
    CLI_SERVICE_ERROR,
    HANDLER,
    ROLE,
    RUNTIME,
    create_function,
    error_code,
    function_arn,
    invoke_json,
    list_all_function_names,
    sha256_b64,
    unique,
    zip_bytes,
    zip_of,
)


def cli_create(aws, name: str, example: str, *extra) -> dict:
    return aws.ok(
        "lambda", "create-function",
        "--function-name", name,
        "--runtime", RUNTIME,
        "--handler", HANDLER,
        "--role", ROLE,
        "--zip-file", f"fileb://{zip_of(example)}",
        *extra,
    )


def test_create_wait_get(aws, lambda_client):
    """AWS CLI: create-function with --zip-file fileb://, `wait function-active-v2`,
    get-function and get-function-configuration."""
    name = unique("create")
    created = cli_create(aws, name, "echo")
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == function_arn(name)
    assert created["Runtime"] == RUNTIME
    assert created["Handler"] == HANDLER
    assert created["Role"] == ROLE
    assert created["Version"] == "$LATEST"
    assert created["CodeSha256"] == sha256_b64(zip_bytes("echo"))
    assert created["CodeSize"] == len(zip_bytes("echo"))
    assert created["State"] in ("Pending", "Active")

    code, out, err = aws("lambda", "wait", "function-active-v2", "--function-name", name)
    assert code == 0, err
    assert out == "", "the waiter prints nothing on success"

    got = aws.ok("lambda", "get-function", "--function-name", name)
    config = got["Configuration"]
    assert config["FunctionName"] == name
    assert config["FunctionArn"] == function_arn(name)
    assert config["State"] == "Active"
    assert config["CodeSha256"] == created["CodeSha256"]
    assert config["RevisionId"] == created["RevisionId"] or created["State"] == "Pending"
    assert "Code" in got

    conf = aws.ok("lambda", "get-function-configuration", "--function-name", name)
    assert conf["FunctionName"] == name
    assert conf["CodeSha256"] == created["CodeSha256"]
    assert conf["State"] == "Active"
    assert conf["LastUpdateStatus"] == "Successful"
    for key in ("Timeout", "MemorySize", "Runtime", "Handler", "RevisionId", "LastModified"):
        assert conf[key] == config[key], key
    assert conf["Timeout"] == 3 and conf["MemorySize"] == 128, "Lambda's defaults"


def test_list_functions_paged(aws, lambda_client):
    """boto3 paginator (PageSize=2) and the AWS CLI (--max-items 2, then --starting-token):
    list-functions returns every function once, in the same order as an unpaged listing."""
    prefix = unique("list")
    names = [f"{prefix}-{letter}" for letter in "abcd"]
    for name in names:
        create_function(lambda_client, name, "echo")

    unpaged = [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]]
    ours = [n for n in unpaged if n.startswith(prefix)]
    assert ours == names, "functions created in name order are listed in that order"

    pages = list(
        lambda_client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
    )
    assert len(pages) >= 2, "PageSize=2 over 4+ functions takes several pages"
    for page in pages:
        assert len(page["Functions"]) <= 2
    paged = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert paged == unpaged

    # The raw wire: MaxItems / NextMarker.
    first = lambda_client.list_functions(MaxItems=2)
    assert len(first["Functions"]) == 2 and first.get("NextMarker")
    second = lambda_client.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in first["Functions"] + second["Functions"]] == unpaged[:4]

    cli_names: list[str] = []
    token = None
    for _ in range(100):
        args = ["lambda", "list-functions", "--max-items", "2"]
        if token:
            args += ["--starting-token", token]
        out = aws.ok(*args)
        assert len(out["Functions"]) <= 2
        cli_names += [f["FunctionName"] for f in out["Functions"]]
        token = out.get("NextToken")
        if not token:
            break
    assert cli_names == unpaged


def test_update_function_code(aws, lambda_client):
    """AWS CLI: update-function-code from echo to counter gives a new CodeSha256 and the
    new behaviour; `wait function-updated-v2` succeeds."""
    name = unique("code")
    created = cli_create(aws, name, "echo")
    aws.ok("lambda", "wait", "function-active-v2", "--function-name", name)
    _, body = invoke_json(lambda_client, name, {"a": 1})
    assert json.loads(body) == {"a": 1}

    updated = aws.ok(
        "lambda", "update-function-code",
        "--function-name", name,
        "--zip-file", f"fileb://{zip_of('counter')}",
    )
    assert updated["FunctionName"] == name
    assert updated["CodeSha256"] == sha256_b64(zip_bytes("counter"))
    assert updated["CodeSha256"] != created["CodeSha256"]
    assert updated["RevisionId"] != created["RevisionId"]

    code, _, err = aws("lambda", "wait", "function-updated-v2", "--function-name", name)
    assert code == 0, err

    conf = aws.ok("lambda", "get-function-configuration", "--function-name", name)
    assert conf["CodeSha256"] == updated["CodeSha256"]
    assert conf["LastUpdateStatus"] == "Successful"
    response, body = invoke_json(lambda_client, name, {"a": 1})
    assert "FunctionError" not in response, body
    assert json.loads(body) == {"count": 1}, "the new code runs, in a fresh sandbox"


def test_update_function_configuration(aws, lambda_client):
    """AWS CLI: update-function-configuration (memory 256, timeout 5, environment) is
    returned and reflected by get-function-configuration; LastUpdateStatus Successful."""
    name = unique("conf")
    created = cli_create(aws, name, "echo")
    aws.ok("lambda", "wait", "function-active-v2", "--function-name", name)

    updated = aws.ok(
        "lambda", "update-function-configuration",
        "--function-name", name,
        "--memory-size", "256",
        "--timeout", "5",
        "--environment", "Variables={GREETING=hi}",
    )
    assert updated["MemorySize"] == 256
    assert updated["Timeout"] == 5
    assert updated["Environment"]["Variables"] == {"GREETING": "hi"}
    assert updated["RevisionId"] != created["RevisionId"]
    assert updated["CodeSha256"] == created["CodeSha256"], "code unchanged"

    code, _, err = aws("lambda", "wait", "function-updated-v2", "--function-name", name)
    assert code == 0, err
    conf = aws.ok("lambda", "get-function-configuration", "--function-name", name)
    assert conf["MemorySize"] == 256
    assert conf["Timeout"] == 5
    assert conf["Environment"]["Variables"] == {"GREETING": "hi"}
    assert conf["LastUpdateStatus"] == "Successful"
    assert conf["State"] == "Active"

    # Still invocable with the new settings.
    response, body = invoke_json(lambda_client, name, {"b": 2})
    assert response["StatusCode"] == 200 and "FunctionError" not in response, body
    assert json.loads(body) == {"b": 2}


def test_delete_function(aws, lambda_client):
    """AWS CLI: delete-function, then get-function exits with the service-error status (255 in v1, 254 in v2) naming
    ResourceNotFoundException (boto3 raises it too; the function is gone from the list)."""
    name = unique("delete")
    cli_create(aws, name, "echo")
    aws.ok("lambda", "wait", "function-active-v2", "--function-name", name)

    code, _, err = aws("lambda", "delete-function", "--function-name", name)
    assert code == 0, err

    code, out, err = aws("lambda", "get-function", "--function-name", name)
    assert code == CLI_SERVICE_ERROR, (out, err)
    assert "ResourceNotFoundException" in err
    assert "GetFunction" in err

    with pytest.raises(ClientError) as e:
        lambda_client.get_function(FunctionName=name)
    assert error_code(e.value) == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert name not in list_all_function_names(lambda_client)

    with pytest.raises(ClientError) as e:
        lambda_client.invoke(FunctionName=name, Payload=b"{}")
    assert error_code(e.value) == "ResourceNotFoundException"


def test_account_settings(aws, lambda_client):
    """AWS CLI and boto3: get-account-settings reports the 1,000 concurrency limit and as
    many functions as list-functions shows."""
    create_function(lambda_client, unique("acct"), "echo")
    settings = aws.ok("lambda", "get-account-settings")
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000
    count = len(list_all_function_names(lambda_client))
    assert count >= 1
    assert settings["AccountUsage"]["FunctionCount"] == count

    again = lambda_client.get_account_settings()
    assert again["AccountUsage"]["FunctionCount"] == count
    assert again["AccountLimit"]["ConcurrentExecutions"] == 1000
