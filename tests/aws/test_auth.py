"""SigV4 request signing with `hearth serve --credentials FILE` (one `ACCESS_KEY_ID SECRET`
pair per line)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from helpers import (
    CLI_SERVICE_ERROR,
    ACCESS_KEY,
    SECRET_KEY,
    AwsCli,
    create_function,
    error_code,
    function_arn,
    http_status,
    make_client,
    unique,
)

OTHER_KEY = "AKIDSECONDKEY0000000"
OTHER_SECRET = "another/secret+with=symbols"


@pytest.fixture(scope="module")
def credentials_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("creds") / "credentials"
    path.write_text(f"{ACCESS_KEY} {SECRET_KEY}\n{OTHER_KEY} {OTHER_SECRET}\n")
    return path


@pytest.fixture
def signed_server(start_hearth, credentials_file):
    return start_hearth(credentials=credentials_file)


def test_signatures_are_checked(signed_server):
    """boto3: the right secret works (ListFunctions); a wrong secret is
    InvalidSignatureException 403; an unknown access key is UnrecognizedClientException 403."""
    endpoint = signed_server.endpoint
    good = make_client(endpoint, ACCESS_KEY, SECRET_KEY)
    assert good.list_functions()["Functions"] == []
    assert make_client(endpoint, OTHER_KEY, OTHER_SECRET).list_functions()["Functions"] == []

    with pytest.raises(ClientError) as e:
        make_client(endpoint, ACCESS_KEY, "not-the-secret").list_functions()
    assert error_code(e.value) == "InvalidSignatureException", e.value.response
    assert http_status(e.value) == 403

    with pytest.raises(ClientError) as e:
        make_client(endpoint, "AKIDUNKNOWN000000000", SECRET_KEY).list_functions()
    assert error_code(e.value) == "UnrecognizedClientException", e.value.response
    assert http_status(e.value) == 403


def test_signed_cli_and_invoke_by_arn(signed_server, tmp_path):
    """AWS CLI and boto3 with the right key: create a function, invoke it addressed by its
    ARN (a percent-encoded path the signature covers) with a payload; the CLI with a wrong
    secret exits with the service-error status (255 in v1, 254 in v2) naming InvalidSignatureException."""
    endpoint = signed_server.endpoint
    client = make_client(endpoint)
    name = unique("signed")
    create_function(client, name, "echo")
    response = client.invoke(
        FunctionName=function_arn(name), Qualifier="$LATEST", Payload=b'{"signed":true}'
    )
    assert response["StatusCode"] == 200
    assert json.loads(response["Payload"].read()) == {"signed": True}

    aws = AwsCli(endpoint)
    out = aws.ok("lambda", "get-function", "--function-name", function_arn(name))
    assert out["Configuration"]["FunctionName"] == name

    bad = AwsCli(endpoint, ACCESS_KEY, "wrong")
    code, _, err = bad("lambda", "list-functions")
    assert code == CLI_SERVICE_ERROR
    assert "InvalidSignatureException" in err

    # Invoke is signed-checked too.
    with pytest.raises(ClientError) as e:
        make_client(endpoint, ACCESS_KEY, "wrong").invoke(FunctionName=name, Payload=b"{}")
    assert error_code(e.value) == "InvalidSignatureException"
