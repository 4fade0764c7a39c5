"""The embedded SQS, driven by boto3 (JSON protocol) and the AWS CLI (v2 from Debian speaks the
query protocol, v1 from PyPI the JSON protocol): queues, messages, FIFO, redrive, errors, and
nothing acknowledged lost to kill -9."""

from __future__ import annotations

import hashlib
import json
import struct
import threading
import time
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from helpers import ACCOUNT, CLI_SERVICE_ERROR, REGION, make_sqs_client, unique


@pytest.fixture(scope="module")
def sqs(hearth):
    return make_sqs_client(hearth.endpoint)


@pytest.fixture(scope="module")
def raw_sqs(hearth):
    return make_sqs_client(hearth.endpoint, validate=False)


def attributes_md5(attributes: dict) -> str:
    """SQS's MD5 of message attributes, computed here from its documented algorithm."""
    md5 = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]
        for field in (name, value["DataType"]):
            md5.update(struct.pack("!I", len(field.encode())) + field.encode())
        if "StringValue" in value:
            data = value["StringValue"].encode()
            md5.update(b"\x01" + struct.pack("!I", len(data)) + data)
        else:
            data = value["BinaryValue"]
            md5.update(b"\x02" + struct.pack("!I", len(data)) + data)
    return md5.hexdigest()


def receive_all(sqs, url: str, want: int, **kwargs) -> list[dict]:
    """Receives until `want` messages came (each receive long-polls, so this waits on arrivals,
    not on a clock)."""
    got: list[dict] = []
    for _ in range(want + 20):
        if len(got) >= want:
            break
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2, **kwargs)
        got += reply.get("Messages", [])
    return got


def test_boto3_queue_lifecycle_messages_and_attributes(sqs, hearth):
    name = unique("life")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"}, tags={"team": "a"})["QueueUrl"]
    assert url == f"{hearth.endpoint}/{ACCOUNT}/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    assert url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]

    attrs = {
        "trace": {"DataType": "String", "StringValue": "abc"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes=attrs)
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    assert sent["MD5OfMessageAttributes"] == attributes_md5(attrs)

    reply = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"], WaitTimeSeconds=1
    )
    [message] = reply["Messages"]
    assert message["Body"] == "hello" and message["MessageId"] == sent["MessageId"]
    assert message["MessageAttributes"]["raw"]["BinaryValue"] == b"\x00\xff"
    assert message["MD5OfMessageAttributes"] == attributes_md5(attrs)
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert message["Attributes"]["SenderId"]
    assert int(message["Attributes"]["SentTimestamp"]) > 1_600_000_000_000

    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert counts["VisibilityTimeout"] == "45"
    assert counts["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0", "MessageRetentionPeriod": "120"})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])["Attributes"] == {
        "MessageRetentionPeriod": "120"
    }
    sqs.tag_queue(QueueUrl=url, Tags={"env": "ci"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "ci"}

    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)
    # SQS keeps a deleted queue's name for 60 seconds.
    with pytest.raises(sqs.exceptions.QueueDeletedRecently):
        sqs.create_queue(QueueName=name)


def test_batches_and_their_errors(sqs):
    url = sqs.create_queue(QueueName=unique("batch"))["QueueUrl"]
    reply = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok1", "MessageBody": "a"},
            {"Id": "bad", "MessageBody": "\u0001"},
            {"Id": "ok2", "MessageBody": "b", "DelaySeconds": 0},
        ],
    )
    assert sorted(e["Id"] for e in reply["Successful"]) == ["ok1", "ok2"]
    [failure] = reply["Failed"]
    assert failure["Id"] == "bad" and failure["SenderFault"] and failure["Code"] == "InvalidMessageContents"
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "x", "MessageBody": "1"}, {"Id": "x", "MessageBody": "2"}])
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": "m"} for i in range(11)])
    with pytest.raises(sqs.exceptions.BatchRequestTooLong):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": "x" * 100_000} for i in range(3)]
        )
    got = receive_all(sqs, url, 2)
    assert sorted(m["Body"] for m in got) == ["a", "b"], "refused batches changed nothing"
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "m0", "ReceiptHandle": got[0]["ReceiptHandle"]}, {"Id": "junk", "ReceiptHandle": "junk"}],
    )
    assert [e["Id"] for e in deleted["Successful"]] == ["m0"]
    assert deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    changed = sqs.change_message_visibility_batch(
        QueueUrl=url, Entries=[{"Id": "v", "ReceiptHandle": got[1]["ReceiptHandle"], "VisibilityTimeout": 0}]
    )
    assert [e["Id"] for e in changed["Successful"]] == ["v"]
    assert [m["Body"] for m in receive_all(sqs, url, 1)] == [got[1]["Body"]]


def test_bad_input_gets_sqs_errors_and_changes_nothing(sqs, raw_sqs, hearth):
    url = sqs.create_queue(QueueName=unique("bad"))["QueueUrl"]
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=f"{hearth.endpoint}/{ACCOUNT}/nope", MessageBody="x")
    with pytest.raises(ClientError) as big:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 262_145)
    assert big.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.create_queue(QueueName=unique("bad"), Attributes={"Bogus": "1"})
    with pytest.raises(ClientError) as value:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})
    assert value.value.response["Error"]["Code"] == "InvalidAttributeValue"
    with pytest.raises(ClientError) as many:
        raw_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert many.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as bad_name:
        sqs.create_queue(QueueName="has space")
    assert bad_name.value.response["Error"]["Code"] == "InvalidParameterValue"
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "30" and attrs["ApproximateNumberOfMessages"] == "0"


def test_long_polling_returns_when_a_message_arrives(sqs):
    url = sqs.create_queue(QueueName=unique("poll"))["QueueUrl"]
    result: dict = {}

    def poll():
        started = time.monotonic()
        result["reply"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        result["took"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    sqs.send_message(QueueUrl=url, MessageBody="wake")
    poller.join(timeout=25)
    assert result["reply"]["Messages"][0]["Body"] == "wake"
    # A poll that only looked again at its deadline would take the full 20 s.
    assert result["took"] < 19, result


def test_fifo_keeps_each_group_in_order_and_blocks_it_while_in_flight(sqs):
    url = sqs.create_queue(
        QueueName=unique("order") + ".fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    for group in ("a", "b", "c"):
        entries = [{"Id": f"{group}{i}", "MessageBody": f"{group}-{i}", "MessageGroupId": group} for i in range(5)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    dup = sqs.send_message(QueueUrl=url, MessageBody="a-0", MessageGroupId="a")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in first] == ["a-0", "a-1", "a-2"]
    assert dup["MessageId"] == first[0]["MessageId"], "content-based deduplication"
    rest = receive_all(sqs, url, 10)
    assert [m["Body"] for m in rest] == [f"{g}-{i}" for g in "bc" for i in range(5)], "group a stays blocked"
    for m in first + rest:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [m["Body"] for m in receive_all(sqs, url, 2)] == ["a-3", "a-4"]
    seqs = [int(m["Attributes"]["SequenceNumber"]) for m in first]
    assert seqs == sorted(seqs)


def test_redrive_to_the_dead_letter_queue_and_back(sqs):
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    src = sqs.create_queue(
        QueueName=unique("src"), Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "0"}
    )["QueueUrl"]
    message_id = sqs.send_message(QueueUrl=src, MessageBody="poison")["MessageId"]
    for _ in range(2):
        assert len(sqs.receive_message(QueueUrl=src, WaitTimeSeconds=1)["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    [dead] = receive_all(sqs, dlq, 1, VisibilityTimeout=0)
    assert dead["MessageId"] == message_id
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    task = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert task
    [back] = receive_all(sqs, src, 1)
    assert back["MessageId"] == message_id
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert tasks[0]["Status"] in ("RUNNING", "COMPLETED")


def test_acknowledged_messages_survive_kill_9(hearth):
    sqs = make_sqs_client(hearth.endpoint)
    url = sqs.create_queue(QueueName=unique("durable"))["QueueUrl"]
    bodies = set()
    for batch in range(20):
        entries = [{"Id": str(i), "MessageBody": f"m-{batch}-{i}"} for i in range(10)]
        reply = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert len(reply["Successful"]) == 10
        bodies |= {e["MessageBody"] for e in entries}
    # Some in flight when the server dies: they come back after the restart.
    in_flight = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(in_flight) == 10
    hearth.restart()
    sqs = make_sqs_client(hearth.endpoint)
    got = receive_all(sqs, url, 200)
    assert {m["Body"] for m in got} == bodies


def test_fifo_deduplication_outlives_a_deleted_message_and_kill_9(hearth):
    sqs = make_sqs_client(hearth.endpoint)
    url = sqs.create_queue(QueueName=unique("dedup") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    send = dict(QueueUrl=url, MessageBody="charge card", MessageGroupId="g", MessageDeduplicationId="order-7")
    first = sqs.send_message(**send)
    msg = sqs.receive_message(QueueUrl=url)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    hearth.restart()
    sqs = make_sqs_client(hearth.endpoint)
    # The producer's retry after the crash is still the same message, and nothing is queued.
    again = sqs.send_message(**send)
    assert (again["MessageId"], again["SequenceNumber"]) == (first["MessageId"], first["SequenceNumber"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def test_the_cli_speaks_sqs(aws, hearth):
    """CLI v2 (Debian's 2.9) sends the query protocol, v1 the JSON protocol."""
    name = unique("cli")
    url = aws.ok("sqs", "create-queue", "--queue-name", name, "--attributes", "DelaySeconds=0,VisibilityTimeout=60")[
        "QueueUrl"
    ]
    assert url == f"{hearth.endpoint}/{ACCOUNT}/{name}"
    sent = aws.ok(
        "sqs", "send-message", "--queue-url", url, "--message-body", "from <the> cli & more",
        "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}',
    )
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"from <the> cli & more").hexdigest()
    batch = aws.ok(
        "sqs", "send-message-batch", "--queue-url", url,
        "--entries", json.dumps([{"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two"}]),
    )
    assert sorted(e["Id"] for e in batch["Successful"]) == ["a", "b"]
    attrs = aws.ok("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "3" and attrs["VisibilityTimeout"] == "60"
    got = aws.ok(
        "sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "10",
        "--message-attribute-names", "All", "--attribute-names", "All", "--wait-time-seconds", "1",
    )["Messages"]
    first = next(m for m in got if m["MessageId"] == sent["MessageId"])
    assert first["Body"] == "from <the> cli & more"
    assert first["MessageAttributes"]["k"]["StringValue"] == "v"
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    aws.ok("sqs", "delete-message", "--queue-url", url, "--receipt-handle", first["ReceiptHandle"])
    queues = aws.ok("sqs", "list-queues", "--queue-name-prefix", name)["QueueUrls"]
    assert queues == [url]

    code, _, err = aws("sqs", "get-queue-url", "--queue-name", name + "-missing")
    assert code == CLI_SERVICE_ERROR
    # Both protocols report the query code: botocore's JSON parser takes it from
    # x-amzn-query-error.
    assert "AWS.SimpleQueueService.NonExistentQueue" in err, err
    code, _, err = aws("sqs", "create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=61")
    assert code == CLI_SERVICE_ERROR and ("QueueAlreadyExists" in err or "QueueNameExists" in err), err
    aws.ok("sqs", "purge-queue", "--queue-url", url)
    aws.ok("sqs", "delete-queue", "--queue-url", url)
    code, _, err = aws("sqs", "create-queue", "--queue-name", name)
    assert code == CLI_SERVICE_ERROR and "QueueDeletedRecently" in err, err


def _raw(hearth, body: bytes, headers: dict) -> tuple[int, dict, str]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{hearth.endpoint}/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def test_malformed_and_unknown_requests_in_both_protocols(sqs, hearth):
    url = sqs.create_queue(QueueName=unique("raw"))["QueueUrl"]
    json_headers = {"Content-Type": "application/x-amz-json-1.0"}
    status, headers, body = _raw(hearth, b"{not json", {**json_headers, "X-Amz-Target": "AmazonSQS.SendMessage"})
    assert status == 400 and "SerializationException" in body, body
    status, headers, body = _raw(hearth, b"{}", {**json_headers, "X-Amz-Target": "AmazonSQS.Frobnicate"})
    assert status == 400 and json.loads(body)["__type"].endswith("#InvalidAction"), body
    status, headers, body = _raw(hearth, b"{}", {**json_headers, "X-Amz-Target": "AmazonSQS.SendMessage"})
    assert status == 400 and headers.get("x-amzn-query-error") == "MissingParameter;Sender", (headers, body)

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = _raw(hearth, b"Action=Frobnicate&Version=2012-11-05", form)
    assert status == 400 and "<Code>InvalidAction</Code>" in body and "<Type>Sender</Type>" in body, body
    big = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": url, "MessageBody": "x" * 262_145})
    status, _, body = _raw(hearth, big.encode(), form)
    assert status == 400 and "<Code>InvalidParameterValue</Code>" in body, body
    status, _, body = _raw(hearth, b"Action=SendMessage&QueueUrl=%FF&MessageBody=x", form)
    assert status == 400 and "MalformedQueryString" in body, body
    missing = urllib.parse.urlencode({"Action": "GetQueueUrl", "QueueName": "nope-" + unique("x")})
    status, _, body = _raw(hearth, missing.encode(), form)
    assert status == 400 and "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in body, body
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
        "ApproximateNumberOfMessages": "0"
    }, "nothing was sent"
