"""Versions and aliases: publish, list, alias CRUD, invoking through qualifiers and alias ARNs."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from helpers import (
    CLI_SERVICE_ERROR,
    create_function,
    error_code,
    function_arn,
    invoke_json,
    sha256_b64,
    unique,
    wait_updated,
    zip_bytes,
    zip_of,
)


def test_versions_and_aliases(aws, lambda_client, tmp_path):
    """AWS CLI for publish-version, list-versions-by-function, create/get/update/list/delete
    alias and `invoke --qualifier live`; boto3 for invoking through the alias ARN."""
    name = unique("ver")
    create_function(lambda_client, name, "echo")

    # Version 1: echo.
    v1 = aws.ok("lambda", "publish-version", "--function-name", name)
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == function_arn(name, "1")
    assert v1["CodeSha256"] == sha256_b64(zip_bytes("echo"))

    versions = aws.ok("lambda", "list-versions-by-function", "--function-name", name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    assert versions[0]["FunctionArn"] == function_arn(name, "$LATEST")
    assert versions[1]["FunctionArn"] == function_arn(name, "1")

    alias = aws.ok(
        "lambda", "create-alias",
        "--function-name", name,
        "--name", "live",
        "--function-version", "1",
    )
    assert alias["Name"] == "live"
    assert alias["FunctionVersion"] == "1"
    assert alias["AliasArn"] == function_arn(name, "live")

    # Invoke through the alias, by qualifier (CLI) and by alias ARN (boto3).
    out = tmp_path / "out.json"
    result = aws.ok(
        "lambda", "invoke", "--function-name", name, "--qualifier", "live",
        "--payload", '{"v":1}', str(out),
    )
    assert result["StatusCode"] == 200 and "FunctionError" not in result
    assert result["ExecutedVersion"] == "1"
    assert json.loads(out.read_bytes()) == {"v": 1}

    response, body = invoke_json(lambda_client, function_arn(name, "live"), {"v": 1})
    assert response["ExecutedVersion"] == "1"
    assert json.loads(body) == {"v": 1}

    # $LATEST moves on to counter; version 1 and the alias stay on echo.
    aws.ok(
        "lambda", "update-function-code", "--function-name", name,
        "--zip-file", f"fileb://{zip_of('counter')}",
    )
    wait_updated(lambda_client, name)
    response, body = invoke_json(lambda_client, function_arn(name, "live"), {"v": 1})
    assert json.loads(body) == {"v": 1}, "the alias still points at version 1"
    response, body = invoke_json(lambda_client, name, {"v": 1}, Qualifier="1")
    assert json.loads(body) == {"v": 1}, "version 1 is immutable"

    v2 = aws.ok("lambda", "publish-version", "--function-name", name)
    assert v2["Version"] == "2"
    assert v2["CodeSha256"] == sha256_b64(zip_bytes("counter"))
    versions = aws.ok("lambda", "list-versions-by-function", "--function-name", name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]

    updated = aws.ok(
        "lambda", "update-alias", "--function-name", name, "--name", "live",
        "--function-version", "2",
    )
    assert updated["FunctionVersion"] == "2"
    assert updated["RevisionId"] != alias["RevisionId"]

    result = aws.ok(
        "lambda", "invoke", "--function-name", name, "--qualifier", "live",
        "--payload", '{"v":2}', str(out),
    )
    assert result["ExecutedVersion"] == "2"
    assert "count" in json.loads(out.read_bytes()), "the alias now runs counter"
    response, body = invoke_json(lambda_client, function_arn(name, "live"), {"v": 2})
    assert response["ExecutedVersion"] == "2"
    assert "count" in json.loads(body)

    got = aws.ok("lambda", "get-alias", "--function-name", name, "--name", "live")
    assert got["Name"] == "live"
    assert got["FunctionVersion"] == "2"
    assert got["AliasArn"] == function_arn(name, "live")

    aliases = aws.ok("lambda", "list-aliases", "--function-name", name)["Aliases"]
    assert [(a["Name"], a["FunctionVersion"]) for a in aliases] == [("live", "2")]

    code, _, err = aws("lambda", "delete-alias", "--function-name", name, "--name", "live")
    assert code == 0, err
    code, _, err = aws("lambda", "get-alias", "--function-name", name, "--name", "live")
    assert code == CLI_SERVICE_ERROR and "ResourceNotFoundException" in err, err
    assert aws.ok("lambda", "list-aliases", "--function-name", name)["Aliases"] == []
    with pytest.raises(ClientError) as e:
        lambda_client.invoke(FunctionName=function_arn(name, "live"), Payload=b"{}")
    assert error_code(e.value) == "ResourceNotFoundException"


def test_unknown_qualifier_is_not_found(aws, lambda_client, tmp_path):
    """boto3 and the AWS CLI: invoking a version or alias that does not exist is
    ResourceNotFoundException (404), by Qualifier and by qualified ARN."""
    name = unique("noqual")
    create_function(lambda_client, name, "echo")
    for qualifier in ("nope", "7"):
        with pytest.raises(ClientError) as e:
            lambda_client.invoke(FunctionName=name, Qualifier=qualifier, Payload=b"{}")
        assert error_code(e.value) == "ResourceNotFoundException", qualifier
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        with pytest.raises(ClientError) as e:
            lambda_client.invoke(FunctionName=function_arn(name, qualifier), Payload=b"{}")
        assert error_code(e.value) == "ResourceNotFoundException", qualifier

    code, _, err = aws(
        "lambda", "invoke", "--function-name", name, "--qualifier", "nope", str(tmp_path / "o")
    )
    assert code == CLI_SERVICE_ERROR and "ResourceNotFoundException" in err, err

    # $LATEST is always there.
    response, body = invoke_json(lambda_client, name, {"x": 1}, Qualifier="$LATEST")
    assert response["ExecutedVersion"] == "$LATEST"
    assert json.loads(body) == {"x": 1}
