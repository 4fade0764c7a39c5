"""Kinesis event source mappings through boto3: boto3 producers, the `stream-order` example as
the consumer, and AWS's rules — per-key order over 4 shards (also with ParallelizationFactor
4), bisection isolating a poison record into the OnFailure queue, ReportBatchItemFailures
resuming from the reported record, starting positions, filters, resharding, and kill -9
mid-stream resuming from the checkpoint."""

from __future__ import annotations

import json
import re
import urllib.request
from collections import defaultdict

import pytest
from botocore.exceptions import ClientError

from helpers import create_function, make_kinesis_client, make_sqs_client, unique, wait_for

GOT = re.compile(r"got (\S+) (\d+) (\S+) (-?\d+)")


@pytest.fixture(scope="module")
def kinesis(hearth):
    return make_kinesis_client(hearth.endpoint)


@pytest.fixture(scope="module")
def sqs(hearth):
    return make_sqs_client(hearth.endpoint)


def stream(kinesis, shards: int) -> tuple[str, str]:
    name = unique("esm")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    return name, arn


def put(kinesis, name: str, items: list[dict]):
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        reply = kinesis.put_records(
            StreamName=name,
            Records=[{"Data": json.dumps(i).encode(), "PartitionKey": i["key"]} for i in chunk],
        )
        assert reply["FailedRecordCount"] == 0


def deliveries(hearth, function: str) -> list[tuple[str, int, str, int]]:
    """(shard, sequence number, key, n) of every record the function was handed, in order."""
    return [
        (m[1], int(m[2]), m[3], int(m[4]))
        for m in map(GOT.search, hearth.function_log(function).splitlines())
        if m
    ]


def status(hearth, uuid: str) -> dict:
    with urllib.request.urlopen(f"{hearth.endpoint}/hearth/v1/mappings") as r:
        return next(m for m in json.load(r) if m["uuid"] == uuid)


def consumer(lambda_client, **kwargs) -> str:
    function = unique("order")
    create_function(lambda_client, function, "stream-order", Timeout=10, **kwargs)
    return function


def assert_per_key_order(got, keys, per_key):
    """Every key's numbers arrive in order, each at least once (a retried batch repeats)."""
    seen = defaultdict(list)
    for _, _, key, n in got:
        if not seen[key] or seen[key][-1] != n:
            seen[key].append(n)
    for key in keys:
        firsts = sorted(set(seen[key]))
        assert firsts == list(range(per_key)), key
        assert seen[key] == sorted(seen[key]), f"{key} out of order: {seen[key]}"


@pytest.mark.parametrize("factor", [1, 4])
def test_fifty_keys_over_four_shards_arrive_in_per_key_order(lambda_client, kinesis, hearth, factor):
    name, arn = stream(kinesis, 4)
    function = consumer(lambda_client)
    keys = [f"key-{i}" for i in range(50)]
    per_key = 20
    # Interleaved, several puts: each key's records spread over many batches.
    for n in range(per_key):
        put(kinesis, name, [{"key": k, "n": n} for k in keys])
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON",
        BatchSize=25, ParallelizationFactor=factor,
    )
    assert mapping["StateTransitionReason"] == "User action"
    assert mapping["LastProcessingResult"] == "No records processed"
    assert mapping["ParallelizationFactor"] == factor
    assert mapping["MaximumRetryAttempts"] == -1 and mapping["MaximumRecordAgeInSeconds"] == -1
    total = len(keys) * per_key
    wait_for(lambda: len(deliveries(hearth, function)) >= total, 120, f"{total} records delivered")
    got = deliveries(hearth, function)
    assert len(got) == total, "no function error, so nothing is delivered twice"
    assert_per_key_order(got, keys, per_key)
    assert len({shard for shard, *_ in got}) == 4
    assert "OrderError" not in hearth.function_log(function)
    after = lambda_client.get_event_source_mapping(UUID=mapping["UUID"])
    assert after["LastProcessingResult"] == "OK"
    wait_for(lambda: status(hearth, mapping["UUID"])["lag"] == 0, 30, "lag back to 0")


def test_bisection_isolates_a_poison_record_into_the_on_failure_queue(lambda_client, kinesis, sqs, hearth):
    name, arn = stream(kinesis, 1)
    function = consumer(lambda_client)
    dlq = sqs.create_queue(QueueName=unique("stream-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    items = [{"key": "k", "n": n, **({"poison": True} if n == 5 else {})} for n in range(10)]
    put(kinesis, name, items)
    poison_seq = None
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON", BatchSize=10,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": dlq_arn}}
    reply = None
    for _ in range(30):
        reply = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=2)
        if reply.get("Messages"):
            break
    record = json.loads(reply["Messages"][0]["Body"])
    info = record["KinesisBatchInfo"]
    poison = [g for g in deliveries(hearth, function) if g[3] == 5]
    poison_seq = str(poison[0][1])
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison_seq
    assert info["shardId"] == "shardId-000000000000" and info["streamArn"] == arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3, "the first try and 2 retries"
    assert record["responseContext"]["functionError"] == "Unhandled"
    # The rest of the shard went on: every other record got through, and later ones too.
    put(kinesis, name, [{"key": "later", "n": 0}])
    wait_for(lambda: any(g[2] == "later" for g in deliveries(hearth, function)), 30, "later record")
    done = {g[3] for g in deliveries(hearth, function) if g[2] == "k"}
    assert done == set(range(10))
    s = status(hearth, mapping["UUID"])
    assert s["bisections"] >= 3 and s["retries"] >= 2 and s["on_failure"] == 1
    assert lambda_client.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"] in (
        "OK", "PROBLEM: Function call failed",
    )


def test_report_batch_item_failures_resumes_from_the_reported_record(lambda_client, kinesis, hearth):
    name, arn = stream(kinesis, 1)
    function = consumer(lambda_client)
    put(kinesis, name, [{"key": "k", "n": n, **({"fail": True} if n == 3 else {})} for n in range(10)])
    lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON", BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=1,
    )
    wait_for(lambda: len(deliveries(hearth, function)) >= 17, 30, "the batch and its retry")
    got = [n for *_, n in deliveries(hearth, function)]
    assert got[:10] == list(range(10))
    assert got[10:17] == list(range(3, 10)), "the retry starts at the reported record"
    put(kinesis, name, [{"key": "after", "n": 0}])
    wait_for(lambda: any(g[2] == "after" for g in deliveries(hearth, function)), 30, "the shard goes on")
    assert len([n for *_, n in deliveries(hearth, function)]) == 18, "given up after 1 retry"


def test_latest_and_at_timestamp_start_where_they_should(lambda_client, kinesis, hearth):
    name, arn = stream(kinesis, 1)
    put(kinesis, name, [{"key": "old", "n": 0}])
    latest = consumer(lambda_client)
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=latest, StartingPosition="LATEST",
    )
    # The mapping has taken its place in the shard once it reports the shard's position.
    wait_for(lambda: status(hearth, mapping["UUID"])["iterator_age_ms"], 30, "LATEST position taken")
    put(kinesis, name, [{"key": "new", "n": 0}])
    wait_for(lambda: deliveries(hearth, latest), 30, "the new record")
    assert [g[2] for g in deliveries(hearth, latest)] == ["new"]

    shard = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=shard["ShardIterator"])["Records"]
    at = records[1]["ApproximateArrivalTimestamp"]
    stamped = consumer(lambda_client)
    lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=stamped, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=at,
    )
    wait_for(lambda: deliveries(hearth, stamped), 30, "records from the timestamp")
    assert [g[2] for g in deliveries(hearth, stamped)] == ["new"], "from the second record's arrival"


def test_filters_drop_exactly_what_they_should(lambda_client, kinesis, hearth):
    name, arn = stream(kinesis, 2)
    function = consumer(lambda_client)
    put(kinesis, name, [{"key": k, "n": n} for n in range(5) for k in ("keep", "drop")])
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"key": ["keep"]}})}]},
    )
    # The function's log is written by a writer thread: wait for what it shows.
    wait_for(
        lambda: len(deliveries(hearth, function)) >= 5 and status(hearth, mapping["UUID"])["filtered"] == 5,
        30, "all read",
    )
    wait_for(lambda: status(hearth, mapping["UUID"])["lag"] == 0, 30, "lag back to 0")
    got = deliveries(hearth, function)
    assert [(k, n) for _, _, k, n in got] == [("keep", n) for n in range(5)]


def test_resharding_keeps_order_across_parent_and_children(lambda_client, kinesis, hearth):
    name, arn = stream(kinesis, 1)
    function = consumer(lambda_client)
    put(kinesis, name, [{"key": "k", "n": n} for n in range(5)])
    kinesis.split_shard(StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    put(kinesis, name, [{"key": "k", "n": n} for n in range(5, 10)])
    lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON", BatchSize=3,
    )
    wait_for(lambda: len(deliveries(hearth, function)) >= 10, 30, "parent and child read")
    got = deliveries(hearth, function)
    assert [n for *_, n in got] == list(range(10))
    assert got[0][0] == "shardId-000000000000" and got[-1][0] != "shardId-000000000000"
    # A shard added later is picked up too.
    put(kinesis, name, [{"key": "k", "n": 10}])
    wait_for(lambda: len(deliveries(hearth, function)) >= 11, 30, "the child goes on")


def test_kill_9_mid_stream_loses_nothing_and_resumes_from_the_checkpoint(lambda_client, kinesis, hearth):
    name, arn = stream(kinesis, 1)
    function = consumer(lambda_client)
    total = 400
    put(kinesis, name, [{"key": "k", "n": n} for n in range(total)])
    lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON", BatchSize=10,
    )
    wait_for(lambda: len(deliveries(hearth, function)) >= 50, 60, "some batches delivered")
    hearth.restart()
    wait_for(lambda: {g[3] for g in deliveries(hearth, function)} >= set(range(total)), 120, "every record")
    got = [n for *_, n in deliveries(hearth, function)]
    assert len(got) < total + 40, f"resumed near the checkpoint, not from the start ({len(got)} deliveries)"
    assert_per_key_order(deliveries(hearth, function), ["k"], total)


def test_bad_mappings_are_refused(lambda_client, kinesis):
    name, arn = stream(kinesis, 1)
    function = consumer(lambda_client)
    missing = arn.replace(name, unique("missing"))
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.create_event_source_mapping(EventSourceArn=missing, FunctionName=function, StartingPosition="LATEST")
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function)
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=function, StartingPosition="AT_TIMESTAMP",
            StartingPositionTimestamp=4_000_000_000,
        )
    with pytest.raises(ClientError):
        lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST", ParallelizationFactor=11,
        )
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
            DestinationConfig={"OnFailure": {"Destination": "arn:aws:sns:us-east-1:000000000000:topic"}},
        )
    assert lambda_client.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"] == []


def test_hearth_streams_mappings_and_metrics_show_stream_work(lambda_client, kinesis, hearth):
    import subprocess

    from helpers import HEARTH_BIN

    name, arn = stream(kinesis, 2)
    function = consumer(lambda_client)
    put(kinesis, name, [{"key": f"k{i}", "n": 0} for i in range(30)])
    uuid = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON"
    )["UUID"]
    wait_for(lambda: len(deliveries(hearth, function)) >= 30, 30, "records delivered")
    wait_for(lambda: status(hearth, uuid)["lag"] == 0, 30, "lag back to 0")

    def run(*args) -> str:
        proc = subprocess.run(
            [str(HEARTH_BIN), *args, "--endpoint", hearth.endpoint], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    shards = [l.split() for l in run("streams").splitlines() if l.startswith(name + " ")]
    assert [s[1] for s in shards] == ["shardId-000000000000", "shardId-000000000001"]
    assert sum(int(s[3]) for s in shards) == 30 and all(s[2] == "open" for s in shards)
    assert f"mapping {uuid} -> {function}: lag 0 records" in run("streams")
    mapping = next(l for l in run("mappings").splitlines() if l.startswith(uuid))
    assert " 30 " in f" {mapping} " and "Enabled" in mapping, mapping
    with urllib.request.urlopen(f"{hearth.endpoint}/metrics", timeout=10) as r:
        text = r.read().decode()
    assert re.search(rf'hearth_mapping_messages_received_total\{{uuid="{uuid}",[^}}]*\}} 30', text)
    assert f'hearth_mapping_iterator_age_milliseconds{{uuid="{uuid}",shard="shardId-000000000000"}} 0' in text
    held = re.findall(rf'hearth_stream_records\{{stream="{name}",shard="[^"]+"\}} (\d+)', text)
    assert sum(map(int, held)) == 30


WINDOW = re.compile(r"window (\S+) (\d+) final=(true|false)")


def test_a_tumbling_window_carries_state_to_its_final_invoke(lambda_client, kinesis, hearth):
    name, arn = stream(kinesis, 1)
    function = consumer(lambda_client)
    put(kinesis, name, [{"key": "k", "n": n} for n in range(5)])
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON",
        BatchSize=2, TumblingWindowInSeconds=1,
    )
    assert mapping["TumblingWindowInSeconds"] == 1

    def windows():
        return [(m[1], int(m[2]), m[3] == "true") for m in map(WINDOW.search, hearth.function_log(function).splitlines()) if m]

    wait_for(lambda: any(final for *_, final in windows()), 30, "the window's final invoke")
    first = windows()
    start = first[0][0]
    assert start.endswith("Z") and len(start) == 20, start
    ours = [w for w in first if w[0] == start]
    # Batches of 2 carry the count on (2, 4, 5), then the final invoke sees all 5.
    assert [c for _, c, final in ours if not final] == [2, 4, 5]
    assert ours[-1] == (start, 5, True)
    # The next window starts from nothing.
    put(kinesis, name, [{"key": "j", "n": n} for n in range(3)])
    wait_for(lambda: sum(final for *_, final in windows()) >= 2, 30, "the second window's end")
    last = [w for w in windows() if w[0] != start]
    assert last[-1][1:] == (3, True), last


def test_records_older_than_the_maximum_age_go_to_on_failure_unread(lambda_client, kinesis, sqs, hearth):
    """The one test here that waits on the clock: 60 s is the least MaximumRecordAgeInSeconds
    Lambda takes. The function is throttled (reserved concurrency 0), so the records only age;
    throttled attempts are neither invokes nor retries."""
    name, arn = stream(kinesis, 1)
    function = consumer(lambda_client)
    lambda_client.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    dlq = sqs.create_queue(QueueName=unique("age-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    put(kinesis, name, [{"key": "k", "n": n} for n in range(3)])
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON",
        MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    reply = {}
    for _ in range(60):
        reply = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=2)
        if reply.get("Messages"):
            break
    record = json.loads(reply["Messages"][0]["Body"])
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["KinesisBatchInfo"]["batchSize"] == 3
    assert deliveries(hearth, function) == []
    assert status(hearth, mapping["UUID"])["throttled"] > 0
    lambda_client.delete_function_concurrency(FunctionName=function)
    put(kinesis, name, [{"key": "fresh", "n": 0}])
    wait_for(lambda: deliveries(hearth, function), 30, "a fresh record once the throttle lifts")
    assert [g[2] for g in deliveries(hearth, function)] == ["fresh"]
