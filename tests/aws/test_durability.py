"""Everything survives a kill -9: functions, versions, aliases, concurrency, tags and accepted
`Event` invocations."""

from __future__ import annotations

import json
import re

from helpers import create_function, function_arn, invoke_json, unique, wait_for

CONFIG_FIELDS = (
    "FunctionName",
    "FunctionArn",
    "CodeSha256",
    "CodeSize",
    "MemorySize",
    "Timeout",
    "Environment",
    "Handler",
    "Runtime",
    "Version",
    "RevisionId",
    "LastModified",
)


def snapshot(aws, client, name: str) -> dict:
    """What a client can see of a function, through the CLI (configuration, versions, aliases,
    tags) and boto3 (concurrency, version 1's configuration)."""
    conf = aws.ok("lambda", "get-function-configuration", "--function-name", name)
    v1 = client.get_function_configuration(FunctionName=name, Qualifier="1")
    versions = aws.ok("lambda", "list-versions-by-function", "--function-name", name)
    aliases = aws.ok("lambda", "list-aliases", "--function-name", name)
    tags = aws.ok("lambda", "list-tags", "--resource", function_arn(name))
    concurrency = client.get_function_concurrency(FunctionName=name)
    return {
        "config": {k: conf.get(k) for k in CONFIG_FIELDS},
        "v1": {k: v1.get(k) for k in CONFIG_FIELDS},
        "versions": [(v["Version"], v["CodeSha256"], v["RevisionId"]) for v in versions["Versions"]],
        "aliases": [
            (a["Name"], a["FunctionVersion"], a["AliasArn"], a["RevisionId"])
            for a in aliases["Aliases"]
        ],
        "tags": tags["Tags"],
        "concurrency": concurrency.get("ReservedConcurrentExecutions"),
    }


def test_restart_keeps_everything(hearth, aws, lambda_client):
    """AWS CLI and boto3: create a function with settings, publish version 1, alias `live`,
    reserve concurrency, tag it, accept an `Event` invocation of a slow function — then kill -9
    the server and start it again. All of it reads back the same, and the accepted event
    still runs (its REPORT line appears in logs/sleep.log)."""
    name = unique("durable")
    create_function(
        lambda_client,
        name,
        "echo",
        MemorySize=256,
        Timeout=5,
        Environment={"Variables": {"GREETING": "hi"}},
    )
    version = aws.ok("lambda", "publish-version", "--function-name", name)
    assert version["Version"] == "1"
    aws.ok(
        "lambda", "create-alias", "--function-name", name, "--name", "live",
        "--function-version", "1",
    )
    aws.ok(
        "lambda", "put-function-concurrency", "--function-name", name,
        "--reserved-concurrent-executions", "7",
    )
    code, _, err = aws(
        "lambda", "tag-resource", "--resource", function_arn(name),
        "--tags", "team=hearth,stage=test",
    )
    assert code == 0, err

    before = snapshot(aws, lambda_client, name)
    assert before["tags"] == {"team": "hearth", "stage": "test"}
    assert before["concurrency"] == 7
    assert [v[0] for v in before["versions"]] == ["$LATEST", "1"]
    assert [a[:2] for a in before["aliases"]] == [("live", "1")]
    assert before["config"]["Environment"] == {"Variables": {"GREETING": "hi"}}

    # Reserved concurrency 0 throttles every attempt: the accepted event cannot run (or end)
    # before the kill, so it runs after the restart only if it was durably queued.
    create_function(lambda_client, "sleep", "sleep", Timeout=10)
    lambda_client.put_function_concurrency(FunctionName="sleep", ReservedConcurrentExecutions=0)
    accepted = lambda_client.invoke(
        FunctionName="sleep", InvocationType="Event", Payload=json.dumps({"ms": 1})
    )
    assert accepted["StatusCode"] == 202
    request_id = accepted["ResponseMetadata"]["RequestId"]
    assert request_id
    journal = b"".join(p.read_bytes() for p in (hearth.state_dir / "async-events").glob("seg-*.log"))
    assert request_id.encode() in journal, "the 202 came before the event was in the journal"
    assert request_id not in hearth.function_log("sleep")

    hearth.restart()
    lambda_client.delete_function_concurrency(FunctionName="sleep")

    after = snapshot(aws, lambda_client, name)
    assert after == before

    state = aws.ok("lambda", "get-function", "--function-name", name)["Configuration"]["State"]
    assert state == "Active"
    response, body = invoke_json(lambda_client, function_arn(name, "live"), {"after": "restart"})
    assert response["ExecutedVersion"] == "1"
    assert json.loads(body) == {"after": "restart"}

    pattern = re.compile(rf"^REPORT RequestId: {re.escape(request_id)}\t", re.M)
    wait_for(
        lambda: pattern.search(hearth.function_log("sleep")),
        30,
        f"the Event invocation {request_id} accepted before the kill -9 to run (logs/sleep.log)",
    )
