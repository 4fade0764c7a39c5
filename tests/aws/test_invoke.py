"""Synchronous Invoke with the log tail."""

from __future__ import annotations

import base64
import json
import re

from helpers import binary_format_args, create_function, function_arn, unique


def test_invoke_with_log_tail(aws, lambda_client, tmp_path):
    """AWS CLI: `aws lambda invoke --payload '{"a":1}' --log-type Tail out.json` answers
    StatusCode 200 with the payload in out.json and a LogResult whose decoded text holds the
    REPORT line."""
    name = unique("echo")
    create_function(lambda_client, name, "echo")
    outfile = tmp_path / "out.json"

    result = aws.ok(
        "lambda", "invoke",
        "--function-name", name,
        "--payload", '{"a":1}',
        *binary_format_args(),
        "--log-type", "Tail",
        str(outfile),
    )
    assert result["StatusCode"] == 200
    assert "FunctionError" not in result
    assert result["ExecutedVersion"] == "$LATEST"
    assert json.loads(outfile.read_bytes()) == {"a": 1}
    assert outfile.read_bytes() == b'{"a":1}', "echo returns the payload bytes unchanged"

    log = base64.b64decode(result["LogResult"]).decode("utf-8", "replace")
    assert "REPORT RequestId:" in log, log
    assert re.search(r"START RequestId: \S+ Version: \$LATEST", log), log
    assert re.search(r"REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms", log), log


def test_invoke_by_arn_with_log_tail(lambda_client):
    """boto3: Invoke addressed by the function's full ARN with LogType Tail; the tail names the
    same request id the response carries."""
    name = unique("echo-arn")
    create_function(lambda_client, name, "echo")
    response = lambda_client.invoke(
        FunctionName=function_arn(name), Payload=b'{"b":[1,2]}', LogType="Tail"
    )
    assert response["StatusCode"] == 200
    assert response["Payload"].read() == b'{"b":[1,2]}'
    request_id = response["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(response["LogResult"]).decode()
    assert f"REPORT RequestId: {request_id}" in log, log
