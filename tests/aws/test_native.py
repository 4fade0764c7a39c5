"""Process runtimes (provided.al2023) driven by the real clients: a bootstrap built with AWS's
official `lambda_runtime` crate, and one that misbehaves on request."""

from __future__ import annotations

import base64
import json

import botocore.exceptions
import pytest

from helpers import ROLE, binary_format_args, error_code, invoke_json, native_zip, unique, wait_active


def test_cli_deploys_and_invokes_an_unmodified_bootstrap(aws, lambda_client, tmp_path):
    """AWS CLI: create-function --runtime provided.al2023 with a zip holding `bootstrap`, then
    invoke it with the log tail, with a handled error, and as an Event."""
    name = unique("native")
    config = aws.ok(
        "lambda", "create-function",
        "--function-name", name,
        "--runtime", "provided.al2023",
        "--handler", "bootstrap",
        "--role", ROLE,
        "--memory-size", "6144",
        "--zip-file", f"fileb://{native_zip('native-rust')}",
    )
    assert config["Runtime"] == "provided.al2023"
    assert config["MemorySize"] == 6144
    wait_active(lambda_client, name)

    out = tmp_path / "out.json"
    result = aws.ok(
        "lambda", "invoke", "--function-name", name,
        "--payload", '{"from":"cli"}', *binary_format_args(),
        "--log-type", "Tail", str(out),
    )
    assert result["StatusCode"] == 200
    assert "FunctionError" not in result
    assert json.loads(out.read_bytes()) == {"from": "cli"}
    log = base64.b64decode(result["LogResult"]).decode()
    assert "native-rust handled" in log, log
    assert "Init Duration" in log, log

    result = aws.ok(
        "lambda", "invoke", "--function-name", name,
        "--payload", '{"fail":"on purpose"}', *binary_format_args(), str(out),
    )
    assert result["FunctionError"] == "Unhandled"
    assert json.loads(out.read_bytes())["errorMessage"] == "on purpose"

    result = aws.ok(
        "lambda", "invoke", "--function-name", name, "--invocation-type", "Event",
        "--payload", '{"async":1}', *binary_format_args(), str(out),
    )
    assert result["StatusCode"] == 202


def deploy_hostile(lambda_client, prefix):
    """A new provided.al2023 function running native-hostile; its name."""
    name = unique(prefix)
    lambda_client.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="bootstrap",
        Code={"ZipFile": native_zip("native-hostile").read_bytes()},
    )
    wait_active(lambda_client, name)
    return name


def test_boto3_sees_exit_codes_as_runtime_exit_errors(lambda_client):
    name = deploy_hostile(lambda_client, "hostile")
    response, body = invoke_json(lambda_client, name, {"mode": "exit", "code": 9})
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Runtime exited with error: exit status 9"), error
    response, body = invoke_json(lambda_client, name, {"mode": "echo"})
    assert "FunctionError" not in response
    assert json.loads(body) == {"mode": "echo"}


def test_a_zip_without_bootstrap_is_refused(lambda_client, tmp_path):
    import zipfile

    package = tmp_path / "nobootstrap.zip"
    with zipfile.ZipFile(package, "w") as z:
        z.writestr("main.py", "print('hi')\n")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        lambda_client.create_function(
            FunctionName=unique("nobootstrap"),
            Runtime="provided.al2023",
            Role=ROLE,
            Handler="bootstrap",
            Code={"ZipFile": package.read_bytes()},
        )
    assert error_code(caught.value) == "InvalidParameterValueException"
    assert "bootstrap" in caught.value.response["Error"]["Message"]


def test_boto3_reads_a_streamed_response_as_an_event_stream(lambda_client):
    """InvokeWithResponseStream: botocore's own event-stream decoder (checksums included)
    reads each streamed chunk, then InvokeComplete; a mid-stream error arrives in it."""
    name = deploy_hostile(lambda_client, "streamer")

    def events(payload, **kwargs):
        response = lambda_client.invoke_with_response_stream(
            FunctionName=name, Payload=json.dumps(payload).encode(), **kwargs
        )
        assert response["StatusCode"] == 200
        assert response["ExecutedVersion"] == "$LATEST"
        return response, list(response["EventStream"])

    _, got = events({"mode": "stream", "chunks": ["one", "two", "three"]})
    assert got == [
        {"PayloadChunk": {"Payload": b"one"}},
        {"PayloadChunk": {"Payload": b"two"}},
        {"PayloadChunk": {"Payload": b"three"}},
        {"InvokeComplete": {}},
    ]

    _, got = events({"mode": "stream", "chunks": ["so far"], "fail": "broke"}, LogType="Tail")
    assert got[0] == {"PayloadChunk": {"Payload": b"so far"}}
    complete = got[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Hostile.StreamError"
    assert complete["ErrorDetails"] == "broke"
    assert "stream response status: 202" in base64.b64decode(complete["LogResult"]).decode()

    # A function that does not stream answers in one chunk.
    _, got = events({"mode": "echo"})
    assert got == [{"PayloadChunk": {"Payload": b'{"mode": "echo"}'}}, {"InvokeComplete": {}}]

    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke_with_response_stream(FunctionName=unique("missing"), Payload=b"{}")
