"""SQS event source mappings through boto3 and the AWS CLI: the mapping API and its validation,
and batches reaching the `sqs-batch` example with Lambda's delivery rules: partial failures and
the dead-letter queue, FIFO order, filters, reserved concurrency, and kill -9 mid-stream."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest
from botocore.exceptions import ClientError

from helpers import (
    REPO,
    ROLE,
    create_function,
    error_code,
    make_client,
    make_sqs_client,
    native_zip,
    unique,
    wait_active,
    wait_for,
)


@pytest.fixture(scope="module")
def sqs(hearth):
    return make_sqs_client(hearth.endpoint)


def queue(sqs, name: str, **attributes) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def counts(sqs, url: str) -> tuple[int, int, int]:
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(a["ApproximateNumberOfMessages"]),
        int(a["ApproximateNumberOfMessagesNotVisible"]),
        int(a["ApproximateNumberOfMessagesDelayed"]),
    )


def send_all(sqs, url: str, bodies: list[str], **extra):
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": body, **extra.get(body, {})}
            for i, body in enumerate(bodies[start : start + 10])
        ]
        reply = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not reply.get("Failed"), reply


GOT = re.compile(r"got (\S+) (.*)")


def deliveries(hearth, function: str) -> list[tuple[str, str]]:
    """(messageId, body) of every message the function was handed, in order."""
    return [m.groups() for m in map(GOT.search, hearth.function_log(function).splitlines()) if m]


def drained(sqs, url: str) -> bool:
    return counts(sqs, url) == (0, 0, 0)


def test_the_mapping_api_and_its_validation(lambda_client, sqs):
    function = unique("esm-api")
    create_function(lambda_client, function, "sqs-batch", Timeout=10)
    url, arn = queue(sqs, unique("esm-api"), VisibilityTimeout=30)
    created = lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, BatchSize=5)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating" and created["StateTransitionReason"] == "USER_INITIATED"
    assert created["FunctionArn"].endswith(f":function:{function}")
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{created['UUID']}")
    uuid = created["UUID"]
    got = lambda_client.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled" and got["BatchSize"] == 5
    assert [m["UUID"] for m in lambda_client.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]] == [uuid]
    assert [m["UUID"] for m in lambda_client.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]] == [uuid]

    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function)
    with pytest.raises(ClientError) as window:
        lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, BatchSize=100)
    assert error_code(window.value) == "InvalidParameterValueException"
    _, short_arn = queue(sqs, unique("esm-short"), VisibilityTimeout=5)
    with pytest.raises(ClientError) as short:
        lambda_client.create_event_source_mapping(EventSourceArn=short_arn, FunctionName=function)
    assert "Queue visibility timeout: 5 seconds is less than Function timeout: 10 seconds" in str(short.value)
    with pytest.raises(ClientError) as missing:
        lambda_client.create_event_source_mapping(
            EventSourceArn=arn.rsplit(":", 1)[0] + ":nope", FunctionName=function
        )
    assert error_code(missing.value) == "InvalidParameterValueException"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=unique("nofn"))
    with pytest.raises(ClientError):
        lambda_client.create_event_source_mapping(
            EventSourceArn=short_arn, FunctionName=function,
            FilterCriteria={"Filters": [{"Pattern": "{not json"}]},
        )

    updated = lambda_client.update_event_source_mapping(UUID=uuid, BatchSize=7)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202 and updated["State"] == "Updating"
    updated = lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202 and updated["State"] == "Disabling"
    assert lambda_client.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    assert lambda_client.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)
    deleted = lambda_client.delete_event_source_mapping(UUID=uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202 and deleted["State"] == "Deleting"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_event_source_mapping(UUID=uuid)
    assert counts(sqs, url) == (0, 0, 0), "a refused or deleted mapping leaves the queue alone"


def test_ten_thousand_messages_all_reach_the_function(lambda_client, sqs, hearth):
    function = unique("esm-bulk")
    create_function(lambda_client, function, "sqs-batch", Timeout=10)
    url, arn = queue(sqs, unique("esm-bulk"), VisibilityTimeout=30)
    bodies = [f"m{i}" for i in range(10_000)]
    send_all(sqs, url, bodies)
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, BatchSize=10)
    wait_for(lambda: drained(sqs, url), 240, "the queue to drain", interval=0.5)
    got = wait_for(lambda: (d := deliveries(hearth, function)) and len(d) >= 10_000 and d, 30, "the log")
    assert {body for _, body in got} == set(bodies)


def test_partial_failures_send_exactly_the_failed_messages_to_the_dlq(lambda_client, sqs, hearth):
    function = unique("esm-partial")
    create_function(lambda_client, function, "sqs-batch", Timeout=1)
    dlq_url, dlq_arn = queue(sqs, unique("esm-dlq"))
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, arn = queue(sqs, unique("esm-partial"), VisibilityTimeout=1, RedrivePolicy=policy)
    bodies = [f"fail-{i}" if i % 10 == 3 else f"ok-{i}" for i in range(100)]
    send_all(sqs, url, bodies)
    lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    wait_for(lambda: drained(sqs, url) and counts(sqs, dlq_url)[0] == 10, 120, "failures in the DLQ", interval=0.5)
    dead = []
    while len(dead) < 10:
        dead += sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert sorted(m["Body"] for m in dead) == sorted(b for b in bodies if b.startswith("fail"))
    ok = [body for _, body in deliveries(hearth, function) if body.startswith("ok")]
    assert sorted(set(ok)) == sorted(b for b in bodies if b.startswith("ok"))
    assert len(ok) == 90, "successes are deleted: delivered once"


def test_fifo_order_holds_per_group_with_a_failing_message(lambda_client, sqs, hearth):
    function = unique("esm-fifo")
    create_function(lambda_client, function, "sqs-batch", Timeout=1)
    url, arn = queue(
        sqs, unique("esm-fifo") + ".fifo", FifoQueue="true", ContentBasedDeduplication="true", VisibilityTimeout=1
    )
    for g in range(20):
        group = [f"g{g}-{i}" if (g, i) != (7, 5) else "g7-5-fail" for i in range(10)]
        for start in (0, 5):
            entries = [
                {"Id": str(i), "MessageBody": b, "MessageGroupId": f"g{g}"}
                for i, b in enumerate(group[start : start + 5])
            ]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )

    def index(body: str) -> int:
        return int(body.split("-")[1])

    def by_group():
        groups = defaultdict(list)
        for _, body in deliveries(hearth, function):
            groups[body.split("-")[0]].append(index(body))
        return groups

    # Every other group completes; group 7 has come back to its failing message twice.
    wait_for(
        lambda: (g := by_group()) and all(g[f"g{n}"][-1:] == [9] for n in range(20) if n != 7)
        and g["g7"].count(5) >= 3,
        120,
        "19 groups done and g7 retried",
        interval=0.5,
    )
    lambda_client.delete_event_source_mapping(UUID=mapping["UUID"])
    groups = by_group()
    for n in range(20):
        seq = groups[f"g{n}"]
        if n != 7:
            assert seq == list(range(10)), (n, seq)
            continue
        assert seq[:5] == [0, 1, 2, 3, 4], seq
        rest = seq[5:]
        # Each pass starts again at the failing message, in order; 0–4 never come back.
        for prev, cur in zip(rest, rest[1:]):
            assert cur == prev + 1 or cur == 5, seq
        assert rest[0] == 5 and min(rest) == 5, seq


def test_filters_drop_exactly_what_matches_no_pattern(lambda_client, sqs, hearth):
    function = unique("esm-filter")
    create_function(lambda_client, function, "sqs-batch", Timeout=10)
    url, arn = queue(sqs, unique("esm-filter"))
    keep = [json.dumps({"kind": "keep", "n": i}) for i in range(5)]
    drop = [json.dumps({"kind": "drop", "n": i}) for i in range(5)] + ["kind keep", "plain"]
    send_all(sqs, url, keep + drop)
    lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]},
    )
    wait_for(lambda: drained(sqs, url), 60, "filtered messages deleted", interval=0.3)
    got = wait_for(lambda: len(d := deliveries(hearth, function)) >= 5 and d, 30, "the log")
    assert sorted(body for _, body in got) == sorted(keep)


def test_reserved_concurrency_one_still_gets_every_message(lambda_client, sqs, hearth):
    function = unique("esm-rc1")
    create_function(lambda_client, function, "sqs-batch", Timeout=10)
    lambda_client.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=1)
    url, arn = queue(sqs, unique("esm-rc1"))
    bodies = [f"r{i}" for i in range(300)]
    send_all(sqs, url, bodies)
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, BatchSize=10)
    wait_for(lambda: drained(sqs, url), 120, "the queue to drain", interval=0.5)
    got = wait_for(lambda: len(d := deliveries(hearth, function)) >= 300 and d, 30, "the log")
    assert {b for _, b in got} == set(bodies)
    assert len(got) == 300, "a throttled batch is retried, not received again"


def test_kill_9_mid_stream_loses_nothing_and_the_mapping_resumes(lambda_client, sqs, hearth):
    """The function (native-hostile) syncs every body it is handed to a witness file before it
    answers, so the file is a record of delivery that a kill -9 of hearth cannot undo."""
    function = unique("esm-kill")
    witness = REPO / "target" / "aws-witness" / f"{function}.log"
    witness.parent.mkdir(parents=True, exist_ok=True)
    lambda_client.create_function(
        FunctionName=function, Runtime="provided.al2023", Role=ROLE, Handler="bootstrap", Timeout=3,
        Code={"ZipFile": native_zip("native-hostile").read_bytes()},
        Environment={"Variables": {"WITNESS": str(witness)}},
    )
    wait_active(lambda_client, function)
    url, arn = queue(sqs, unique("esm-kill"), VisibilityTimeout=3)
    bodies = [f"k{i}" for i in range(3000)]
    send_all(sqs, url, bodies)

    def seen() -> list[str]:
        try:
            return witness.read_text().split()
        except FileNotFoundError:
            return []

    uuid = lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function)["UUID"]
    wait_for(lambda: len(seen()) >= 300, 60, "delivery to start")
    hearth.restart()
    assert len(seen()) < 3000, "killed mid-stream"
    sqs = make_sqs_client(hearth.endpoint)
    lambda_client = make_client(hearth.endpoint)
    assert lambda_client.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    wait_for(lambda: drained(sqs, url), 240, "the queue to drain after the restart", interval=0.5)
    assert set(seen()) == set(bodies), "every acknowledged message was delivered (duplicates allowed)"
    witness.unlink()


def test_the_cli_manages_mappings(aws, lambda_client, sqs):
    function = unique("esm-cli")
    create_function(lambda_client, function, "sqs-batch", Timeout=5)
    _, arn = queue(sqs, unique("esm-cli"))
    created = aws.ok(
        "lambda", "create-event-source-mapping", "--function-name", function, "--event-source-arn", arn,
        "--batch-size", "5",
    )
    assert created["State"] == "Creating" and created["BatchSize"] == 5
    listed = aws.ok("lambda", "list-event-source-mappings", "--function-name", function)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [created["UUID"]]
    aws.ok("lambda", "update-event-source-mapping", "--uuid", created["UUID"], "--no-enabled")
    assert aws.ok("lambda", "get-event-source-mapping", "--uuid", created["UUID"])["State"] == "Disabled"
    assert aws.ok("lambda", "delete-event-source-mapping", "--uuid", created["UUID"])["State"] == "Deleting"


def test_hearth_queues_mappings_and_metrics(lambda_client, sqs, hearth):
    import subprocess
    import urllib.request

    from helpers import HEARTH_BIN

    function = unique("esm-cli-h")
    create_function(lambda_client, function, "sqs-batch", Timeout=5)
    dlq_url, dlq_arn = queue(sqs, unique("esm-h-dlq"))
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    name = unique("esm-h")
    url, arn = queue(sqs, name, RedrivePolicy=policy)
    send_all(sqs, url, [f"h{i}" for i in range(20)])
    uuid = lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function)["UUID"]
    wait_for(lambda: drained(sqs, url), 60, "the queue to drain", interval=0.3)

    def run(*args) -> str:
        proc = subprocess.run(
            [str(HEARTH_BIN), *args, "--endpoint", hearth.endpoint], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    line = next(l for l in run("queues").splitlines() if l.startswith(name + " "))
    assert line.split()[1:4] == ["0", "0", "0"] and line.split()[-1] == dlq_arn.rsplit(":", 1)[1], line
    mapping = next(l for l in run("mappings").splitlines() if l.startswith(uuid))
    assert function in mapping and "Enabled" in mapping and " 20 " in f" {mapping} ", mapping
    with urllib.request.urlopen(f"{hearth.endpoint}/metrics", timeout=10) as r:
        text = r.read().decode()
    assert f'hearth_queue_messages{{queue="{name}",state="visible"}} 0' in text
    assert re.search(rf'hearth_mapping_messages_deleted_total\{{uuid="{uuid}",[^}}]*\}} 20', text), text[-2000:]


def test_async_destinations_deliver_records_to_queues(lambda_client, sqs):
    ok_fn, bad_fn = unique("dest-ok"), unique("dest-bad")
    create_function(lambda_client, ok_fn, "echo")
    create_function(lambda_client, bad_fn, "error")
    url, arn = queue(sqs, unique("dest"))
    for name in (ok_fn, bad_fn):
        lambda_client.put_function_event_invoke_config(
            FunctionName=name, MaximumRetryAttempts=0,
            DestinationConfig={"OnSuccess": {"Destination": arn}, "OnFailure": {"Destination": arn}},
        )
        lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"from": name}))
    records = []
    for _ in range(30):
        if len(records) >= 2:
            break
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
        records += [json.loads(m["Body"]) for m in got]
    by_payload = {r["requestPayload"]["from"]: r for r in records}
    assert by_payload[ok_fn]["requestContext"]["condition"] == "Success"
    assert by_payload[ok_fn]["responsePayload"] == {"from": ok_fn}
    assert by_payload[bad_fn]["requestContext"]["condition"] == "RetriesExhausted"
    assert by_payload[bad_fn]["responseContext"]["functionError"] == "Unhandled"
    assert by_payload[bad_fn]["requestContext"]["functionArn"].endswith(f"function:{bad_fn}:$LATEST")


def test_dead_letter_config_receives_failed_events(lambda_client, sqs):
    function = unique("dlc")
    url, arn = queue(sqs, unique("dlc"))
    config = create_function(lambda_client, function, "error", DeadLetterConfig={"TargetArn": arn})
    assert config["DeadLetterConfig"] == {"TargetArn": arn}
    assert lambda_client.get_function_configuration(FunctionName=function)["DeadLetterConfig"] == {"TargetArn": arn}
    with pytest.raises(ClientError) as sns:
        lambda_client.update_function_configuration(
            FunctionName=function, DeadLetterConfig={"TargetArn": "arn:aws:sns:us-east-1:000000000000:t"}
        )
    assert error_code(sns.value) == "InvalidParameterValueException"
    lambda_client.put_function_event_invoke_config(FunctionName=function, MaximumRetryAttempts=0)
    reply = lambda_client.invoke(FunctionName=function, InvocationType="Event", Payload=b'{"n": 1}')
    got = []
    for _ in range(30):
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MessageAttributeNames=["All"]).get("Messages", [])
        if got:
            break
    [message] = got
    assert json.loads(message["Body"]) == {"n": 1}
    attributes = message["MessageAttributes"]
    assert attributes["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert attributes["RequestID"]["StringValue"] == reply["ResponseMetadata"]["RequestId"]
    assert "bad input" in attributes["ErrorMessage"]["StringValue"]
    cleared = lambda_client.update_function_configuration(FunctionName=function, DeadLetterConfig={})
    assert "DeadLetterConfig" not in cleared
