"""The embedded Kinesis, driven by boto3 (JSON 1.1) and the AWS CLI: streams, shards by the
MD5 of the partition key, per-key order, every iterator type, resharding, errors, and nothing
acknowledged lost to kill -9."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from helpers import ACCOUNT, REGION, binary_format_args, make_kinesis_client, unique


@pytest.fixture(scope="module")
def kinesis(hearth):
    return make_kinesis_client(hearth.endpoint)


@pytest.fixture(scope="module")
def raw_kinesis(hearth):
    return make_kinesis_client(hearth.endpoint, validate=False)


def hash_key(partition_key: str) -> int:
    """Kinesis' hash key of a partition key: its MD5 as a big-endian 128-bit integer."""
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


def read_shard(kinesis, stream: str, shard: str, kind: str = "TRIM_HORIZON", **start) -> list[dict]:
    """Every record of a shard from an iterator of `kind`, following NextShardIterator until
    a read comes back empty (or the closed shard ends)."""
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard, ShardIteratorType=kind, **start
    )["ShardIterator"]
    records: list[dict] = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator, Limit=7)
        records += page["Records"]
        if not page["Records"]:
            break
        iterator = page.get("NextShardIterator")
    return records


def create(kinesis, name: str, shards: int = 4):
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})


def test_boto3_stream_lifecycle(kinesis):
    name = unique("life")
    create(kinesis, name)
    description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert description["StreamStatus"] == "ACTIVE"
    assert description["StreamARN"] == f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"
    assert description["RetentionPeriodHours"] == 24
    assert isinstance(description["StreamCreationTimestamp"], datetime.datetime)
    shards = description["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-{i:012d}" for i in range(4)]
    assert shards[0]["HashKeyRange"]["StartingHashKey"] == "0"
    assert shards[1]["HashKeyRange"]["StartingHashKey"] == str(2**126)
    assert shards[3]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4
    assert name in kinesis.list_streams()["StreamNames"]
    by_arn = kinesis.list_shards(StreamARN=description["StreamARN"], MaxResults=3)
    assert len(by_arn["Shards"]) == 3
    rest = kinesis.list_shards(NextToken=by_arn["NextToken"])
    assert [s["ShardId"] for s in rest["Shards"]] == ["shardId-000000000003"]

    kinesis.add_tags_to_stream(StreamName=name, Tags={"team": "core", "env": "ci"})
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env"])
    assert kinesis.list_tags_for_stream(StreamName=name)["Tags"] == [{"Key": "team", "Value": "core"}]

    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)

    with pytest.raises(kinesis.exceptions.ResourceInUseException):
        kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.delete_stream(StreamName=name)
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.describe_stream(StreamName=name)

    on_demand = unique("od")
    kinesis.create_stream(StreamName=on_demand, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = kinesis.describe_stream_summary(StreamName=on_demand)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["OpenShardCount"] == 4


def test_fifty_keys_over_four_shards_arrive_in_per_key_order_on_their_hash_shard(kinesis):
    name = unique("order")
    create(kinesis, name)
    shards = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"]
    ranges = {
        s["ShardId"]: (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in shards
    }
    keys = [f"user-{i}" for i in range(50)]
    sent = 0
    for batch in range(4):
        records = [
            {"Data": json.dumps({"key": k, "n": batch}).encode(), "PartitionKey": k} for k in keys
        ]
        reply = kinesis.put_records(StreamName=name, Records=records)
        assert reply["FailedRecordCount"] == 0
        for k, placed in zip(keys, reply["Records"]):
            low, high = ranges[placed["ShardId"]]
            assert low <= hash_key(k) <= high
        sent += len(records)
    single = kinesis.put_record(StreamName=name, Data=b'{"key":"user-0","n":4}', PartitionKey="user-0")
    assert single["EncryptionType"] == "NONE"

    seen = 0
    used = set()
    for shard in ranges:
        records = read_shard(kinesis, name, shard)
        if records:
            used.add(shard)
        seen += len(records)
        sequence = [int(r["SequenceNumber"]) for r in records]
        assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
        last: dict[str, int] = {}
        for r in records:
            assert isinstance(r["ApproximateArrivalTimestamp"], datetime.datetime)
            body = json.loads(r["Data"])
            assert body["key"] == r["PartitionKey"]
            assert last.get(body["key"], -1) < body["n"], "per-key order"
            last[body["key"]] = body["n"]
    assert seen == sent + 1
    assert len(used) == 4, "50 keys reach every shard"


def test_iterator_types_and_explicit_hash_keys(kinesis):
    name = unique("iter")
    create(kinesis, name, shards=2)
    latest = kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000001", ShardIteratorType="LATEST"
    )["ShardIterator"]
    # An explicit hash key past the middle goes to the second shard whatever the key.
    placed = [
        kinesis.put_record(StreamName=name, Data=str(i).encode(), PartitionKey="same", ExplicitHashKey=str(2**127 + i))
        for i in range(3)
    ]
    assert {p["ShardId"] for p in placed} == {"shardId-000000000001"}
    shard = "shardId-000000000001"
    data = lambda records: [r["Data"].decode() for r in records]  # noqa: E731
    assert data(read_shard(kinesis, name, shard)) == ["0", "1", "2"]
    second = placed[1]["SequenceNumber"]
    assert data(read_shard(kinesis, name, shard, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=second)) == ["1", "2"]
    assert data(read_shard(kinesis, name, shard, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=second)) == ["2"]
    assert read_shard(kinesis, name, shard, "LATEST") == []
    page = kinesis.get_records(ShardIterator=latest)
    assert data(page["Records"]) == ["0", "1", "2"], "LATEST taken before the puts sees them"
    assert page["MillisBehindLatest"] == 0
    first = kinesis.get_records(ShardIterator=latest, Limit=1)
    assert first["MillisBehindLatest"] >= 0 and len(first["Records"]) == 1

    # AT_TIMESTAMP: the arrival time of the second record starts at it (or the third, when
    # both arrived in the same millisecond as the first: never before the first's time).
    records = read_shard(kinesis, name, shard)
    at = records[1]["ApproximateArrivalTimestamp"]
    from_time = data(read_shard(kinesis, name, shard, "AT_TIMESTAMP", Timestamp=at))
    assert from_time[-1] == "2" and len(from_time) >= 2
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    assert read_shard(kinesis, name, shard, "AT_TIMESTAMP", Timestamp=future) == []


def test_resharding_keeps_order_across_parent_and_children(kinesis):
    name = unique("reshard")
    create(kinesis, name, shards=1)
    for i in range(3):
        kinesis.put_record(StreamName=name, Data=f"before-{i}".encode(), PartitionKey="k")
    kinesis.split_shard(StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    for i in range(3):
        kinesis.put_record(StreamName=name, Data=f"after-{i}".encode(), PartitionKey="k")
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    parent = shards[0]
    assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    children = [s for s in shards if s.get("ParentShardId") == parent["ShardId"]]
    assert len(children) == 2
    open_now = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert {s["ShardId"] for s in open_now} == {c["ShardId"] for c in children}

    # The parent reads to its end, then names its children.
    iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId=parent["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    page = kinesis.get_records(ShardIterator=iterator)
    assert [r["Data"] for r in page["Records"]] == [b"before-0", b"before-1", b"before-2"]
    assert "NextShardIterator" not in page or page["NextShardIterator"] is None
    assert {c["ShardId"] for c in page["ChildShards"]} == {c["ShardId"] for c in children}
    child = next(c for c in children if int(c["HashKeyRange"]["StartingHashKey"]) <= hash_key("k") <= int(c["HashKeyRange"]["EndingHashKey"]))
    after = read_shard(kinesis, name, child["ShardId"])
    assert [r["Data"] for r in after] == [b"after-0", b"after-1", b"after-2"]
    assert int(after[0]["SequenceNumber"]) > int(page["Records"][-1]["SequenceNumber"])

    low, high = sorted(children, key=lambda c: int(c["HashKeyRange"]["StartingHashKey"]))
    kinesis.merge_shards(StreamName=name, ShardToMerge=low["ShardId"], AdjacentShardToMerge=high["ShardId"])
    merged = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert len(merged) == 1
    assert (merged[0]["ParentShardId"], merged[0]["AdjacentParentShardId"]) == (low["ShardId"], high["ShardId"])
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.merge_shards(StreamName=name, ShardToMerge=low["ShardId"], AdjacentShardToMerge=high["ShardId"])


def test_update_shard_count_scales_uniformly_and_keeps_every_key_in_order(kinesis, raw_kinesis, aws):
    name = unique("scale")
    create(kinesis, name, shards=2)
    keys = [f"key-{k}" for k in range(20)]

    def put_round(label):
        kinesis.put_records(StreamName=name, Records=[{"Data": f"{k}:{label}".encode(), "PartitionKey": k} for k in keys])

    put_round("a")
    scaled = kinesis.update_shard_count(StreamName=name, TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    assert (scaled["CurrentShardCount"], scaled["TargetShardCount"]) == (2, 3)
    put_round("b")
    # The AWS CLI halves it back (3 -> 2 is within half and double).
    assert aws.ok("kinesis", "update-shard-count", "--stream-name", name, "--target-shard-count", "2", "--scaling-type", "UNIFORM_SCALING")["TargetShardCount"] == 2
    put_round("c")
    open_now = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    ranges = sorted((int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])) for s in open_now)
    assert ranges == [(0, 2**127 - 1), (2**127, 2**128 - 1)]
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["OpenShardCount"] == 2

    # Read every shard after its parents, as a consumer must: each key's records in order.
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    done, seen = set(), {}
    while len(done) < len(shards):
        for s in shards:
            parents = {s.get("ParentShardId"), s.get("AdjacentParentShardId")} - {None}
            if s["ShardId"] not in done and parents <= done:
                for r in read_shard(kinesis, name, s["ShardId"]):
                    key, label = r["Data"].decode().split(":")
                    seen.setdefault(key, []).append(label)
                done.add(s["ShardId"])
    assert seen == {k: ["a", "b", "c"] for k in keys}

    with pytest.raises(kinesis.exceptions.LimitExceededException):
        kinesis.update_shard_count(StreamName=name, TargetShardCount=5, ScalingType="UNIFORM_SCALING")
    with pytest.raises(ClientError) as e:
        raw_kinesis.update_shard_count(StreamName=name, TargetShardCount=0, ScalingType="UNIFORM_SCALING")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["OpenShardCount"] == 2


def test_bad_input_gets_kinesis_errors_and_changes_nothing(kinesis, raw_kinesis):
    name = unique("bad")
    create(kinesis, name, shards=1)
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as e:
        kinesis.put_record(StreamName=unique("nope"), Data=b"x", PartitionKey="k")
    assert "not found" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_record(StreamName=name, Data=b"x" * (1024 * 1024), PartitionKey="k")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": "k"}] * 501)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.get_records(ShardIterator=base64.b64encode(b"1:forged").decode())
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.get_shard_iterator(
            StreamName=name, ShardId="shardId-000000000000",
            ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber="12345",
        )
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000007", ShardIteratorType="LATEST")
    reply = kinesis.put_records(
        StreamName=name,
        Records=[
            {"Data": b"good", "PartitionKey": "k"},
            {"Data": b"bad", "PartitionKey": "k", "ExplicitHashKey": str(2**128)},
        ],
    )
    assert reply["FailedRecordCount"] == 1
    assert reply["Records"][1]["ErrorCode"] == "InvalidArgumentException"
    assert [r["Data"] for r in read_shard(kinesis, name, "shardId-000000000000")] == [b"good"]


def test_acknowledged_records_survive_kill_9_with_their_sequence_numbers(kinesis, hearth):
    name = unique("durable")
    create(kinesis, name, shards=2)
    placed = kinesis.put_records(
        StreamName=name, Records=[{"Data": f"{i}".encode(), "PartitionKey": f"k{i}"} for i in range(20)]
    )["Records"]
    hearth.restart()
    after = {}
    for shard in ("shardId-000000000000", "shardId-000000000001"):
        for r in read_shard(kinesis, name, shard):
            after[r["SequenceNumber"]] = (shard, r["Data"])
    assert after == {p["SequenceNumber"]: (p["ShardId"], f"{i}".encode()) for i, p in enumerate(placed)}
    newer = kinesis.put_record(StreamName=name, Data=b"new", PartitionKey="k0")
    assert int(newer["SequenceNumber"]) > max(int(s) for s in after)


def test_the_aws_cli_puts_and_reads_records(aws, kinesis):
    name = unique("cli")
    aws.ok("kinesis", "create-stream", "--stream-name", name, "--shard-count", "1")
    summary = aws.ok("kinesis", "describe-stream-summary", "--stream-name", name)
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 1
    # Raw --data: v1 always sends blob arguments as given, v2 with raw-in-base64-out.
    placed = aws.ok(
        "kinesis", "put-record", "--stream-name", name, "--partition-key", "k",
        "--data", "from the cli", *binary_format_args(),
    )
    assert placed["ShardId"] == "shardId-000000000000"
    iterator = aws.ok(
        "kinesis", "get-shard-iterator", "--stream-name", name,
        "--shard-id", "shardId-000000000000", "--shard-iterator-type", "TRIM_HORIZON",
    )["ShardIterator"]
    records = aws.ok("kinesis", "get-records", "--shard-iterator", iterator)["Records"]
    assert [base64.b64decode(r["Data"]) for r in records] == [b"from the cli"]
    assert records[0]["SequenceNumber"] == placed["SequenceNumber"]
    code, _, err = aws("kinesis", "describe-stream", "--stream-name", unique("missing"))
    assert code != 0 and "ResourceNotFoundException" in err
