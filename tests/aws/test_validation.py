"""CreateFunction validation: each bad request gets Lambda's error code and leaves no trace."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from helpers import (
    CLI_SERVICE_ERROR,
    HANDLER,
    ROLE,
    RUNTIME,
    create_function,
    error_code,
    http_status,
    invoke_json,
    list_all_function_names,
    unique,
    zip_bytes,
    zip_of,
)


def _truncated_zip() -> bytes:
    data = zip_bytes("echo")
    return data[: len(data) // 2]


# (id, CreateFunction overrides, expected error code). A callable override is evaluated when
# the test runs (so collecting the suite does not need the guests).
CASES = [
    ("name-too-long", {"FunctionName": "n" * 65}, "ValidationException"),
    ("name-invalid-chars", {"FunctionName": "bad name!"}, "ValidationException"),
    ("name-with-dot", {"FunctionName": "bad.name"}, "ValidationException"),
    ("timeout-901", {"Timeout": 901}, "ValidationException"),
    ("timeout-0", {"Timeout": 0}, "ValidationException"),
    ("memory-64", {"MemorySize": 64}, "ValidationException"),
    ("runtime-python3.99", {"Runtime": "python3.99"}, "InvalidParameterValueException"),
    ("corrupt-zip", {"Code": {"ZipFile": b"PK\x03\x04 this is not a zip"}}, "InvalidParameterValueException"),
    ("truncated-zip", {"Code": lambda: {"ZipFile": _truncated_zip()}}, "InvalidParameterValueException"),
    (
        "environment-over-4kb",
        {"Environment": {"Variables": {"BIG": "x" * 4200}}},
        "InvalidParameterValueException",
    ),
    (
        "environment-many-vars-over-4kb",
        {"Environment": {"Variables": {f"VAR_{i}": "v" * 100 for i in range(40)}}},
        "InvalidParameterValueException",
    ),
]


@pytest.mark.parametrize("overrides, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_create_is_refused_and_leaves_nothing(raw_client, overrides, expected):
    """boto3 with client-side validation off (botocore would refuse MemorySize 64 itself):
    the server answers 400 with the expected code, and list-functions shows no trace."""
    name = unique("bad")
    params = dict(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=ROLE,
        Handler=HANDLER,
        Code={"ZipFile": zip_bytes("echo")},
    )
    params.update({k: v() if callable(v) else v for k, v in overrides.items()})
    before = list_all_function_names(raw_client)

    with pytest.raises(ClientError) as e:
        raw_client.create_function(**params)
    assert error_code(e.value) == expected, e.value.response["Error"]
    assert http_status(e.value) == 400
    assert e.value.response["Error"]["Message"], "the error says what is wrong"

    after = list_all_function_names(raw_client)
    assert after == before
    for attempted in {name, params["FunctionName"]}:
        assert attempted not in after
    if "FunctionName" not in overrides:
        with pytest.raises(ClientError) as e:
            raw_client.get_function(FunctionName=name)
        assert error_code(e.value) == "ResourceNotFoundException"


def test_duplicate_create_is_a_conflict_and_keeps_the_original(aws, lambda_client, raw_client):
    """AWS CLI and boto3: creating a name that exists is ResourceConflictException (409, CLI
    exit with the service-error status); the existing function keeps its code and configuration."""
    name = unique("dup")
    original = create_function(lambda_client, name, "echo", MemorySize=256)
    original = lambda_client.get_function_configuration(FunctionName=name)
    before = list_all_function_names(lambda_client)

    with pytest.raises(ClientError) as e:
        raw_client.create_function(
            FunctionName=name,
            Runtime=RUNTIME,
            Role=ROLE,
            Handler=HANDLER,
            Code={"ZipFile": zip_bytes("counter")},
            MemorySize=512,
        )
    assert error_code(e.value) == "ResourceConflictException"
    assert http_status(e.value) == 409

    code, _, err = aws(
        "lambda", "create-function", "--function-name", name, "--runtime", RUNTIME,
        "--handler", HANDLER, "--role", ROLE, "--zip-file", f"fileb://{zip_of('counter')}",
    )
    assert code == CLI_SERVICE_ERROR and "ResourceConflictException" in err, err

    assert list_all_function_names(lambda_client) == before
    now = lambda_client.get_function_configuration(FunctionName=name)
    for key in ("CodeSha256", "MemorySize", "RevisionId", "LastModified"):
        assert now[key] == original[key], key
    _, body = invoke_json(lambda_client, name, {"still": "echo"})
    assert body == b'{"still": "echo"}'
