"""The embedded DynamoDB tables, driven by boto3 (client and resource) and the AWS CLI: tables,
items with conditions and ReturnValues, update expressions, Query and Scan with paging, batch
operations, Lambda-shaped errors that change nothing, and kill -9."""

from __future__ import annotations

from decimal import Decimal

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config
from botocore.exceptions import ClientError

from helpers import ACCESS_KEY, REGION, SECRET_KEY, make_dynamodb_client, unique


@pytest.fixture(scope="module")
def ddb(hearth):
    return make_dynamodb_client(hearth.endpoint)


@pytest.fixture(scope="module")
def resource(hearth):
    return boto3.resource(
        "dynamodb", endpoint_url=hearth.endpoint, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}),
    )


def table(ddb, range_key: bool = True) -> str:
    name = unique("tbl")
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    defs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        defs.append({"AttributeName": "sk", "AttributeType": "N"})
    ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=defs, BillingMode="PAY_PER_REQUEST")
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1})
    return name


def test_table_lifecycle(ddb):
    name = table(ddb)
    t = ddb.describe_table(TableName=name)["Table"]
    assert t["TableStatus"] == "ACTIVE" and t["ItemCount"] == 0
    assert t["TableArn"].endswith(f":table/{name}")
    assert t["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert name in ddb.list_tables()["TableNames"]
    with pytest.raises(ddb.exceptions.ResourceInUseException):
        ddb.create_table(
            TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )
    with pytest.raises(ClientError) as e:
        ddb.create_table(
            TableName=unique("bad"), KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        ddb.create_table(
            TableName=unique("prov"), KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
    assert "ProvisionedThroughput" in e.value.response["Error"]["Message"] or "ReadCapacityUnits" in e.value.response["Error"]["Message"]
    ddb.delete_table(TableName=name)
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.describe_table(TableName=name)


def test_items_conditions_and_return_values(ddb):
    name = table(ddb)
    key = {"pk": {"S": "user"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=name, Item={**key, "name": {"S": "Ada"}, "visits": {"N": "1"}, "tags": {"SS": ["a"]}})
    old = ddb.put_item(TableName=name, Item={**key, "name": {"S": "Ada"}, "visits": {"N": "2"}, "tags": {"SS": ["a"]}}, ReturnValues="ALL_OLD")
    assert old["Attributes"]["visits"] == {"N": "1"}
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=name, Item={**key, "name": {"S": "Eve"}}, ConditionExpression="attribute_not_exists(pk)")
    assert ddb.get_item(TableName=name, Key=key)["Item"]["name"] == {"S": "Ada"}, "a failed condition changes nothing"

    updated = ddb.update_item(
        TableName=name, Key=key,
        UpdateExpression="SET visits = visits + :one, #n = :name, hist = list_append(if_not_exists(hist, :empty), :h) ADD tags :t REMOVE gone",
        ConditionExpression="visits >= :one AND begins_with(#n, :a)",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":name": {"S": "Ada L."}, ":empty": {"L": []},
                                   ":h": {"L": [{"S": "v3"}]}, ":t": {"SS": ["b"]}, ":a": {"S": "A"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert updated["visits"] == {"N": "3"} and updated["name"] == {"S": "Ada L."}
    assert updated["hist"] == {"L": [{"S": "v3"}]} and sorted(updated["tags"]["SS"]) == ["a", "b"]
    old = ddb.update_item(
        TableName=name, Key=key, UpdateExpression="SET visits = :ten",
        ExpressionAttributeValues={":ten": {"N": "10"}}, ReturnValues="UPDATED_OLD",
    )["Attributes"]
    assert old == {"visits": {"N": "3"}}
    with pytest.raises(ClientError) as e:
        ddb.update_item(TableName=name, Key=key, UpdateExpression="SET pk = :x", ExpressionAttributeValues={":x": {"S": "y"}})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        ddb.update_item(TableName=name, Key=key, UpdateExpression="SET = broken")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        ddb.update_item(
            TableName=name, Key=key, UpdateExpression="SET a = :x",
            ExpressionAttributeValues={":x": {"S": "1"}, ":unused": {"S": "2"}},
        )
    assert "unused" in e.value.response["Error"]["Message"]
    # A reserved word is an attribute name only through a placeholder, and nothing changes.
    for expression in ("SET status = :x", "SET visits = :x, Name = :x"):
        with pytest.raises(ClientError) as e:
            ddb.update_item(TableName=name, Key=key, UpdateExpression=expression, ExpressionAttributeValues={":x": {"S": "1"}})
        assert e.value.response["Error"]["Code"] == "ValidationException"
        assert e.value.response["Error"]["Message"].startswith("Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: ")
    with pytest.raises(ClientError) as e:
        ddb.get_item(TableName=name, Key=key, ProjectionExpression="name")
    assert e.value.response["Error"]["Message"] == "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    assert ddb.get_item(TableName=name, Key=key)["Item"]["visits"] == {"N": "10"}
    projected = ddb.get_item(TableName=name, Key=key, ProjectionExpression="#n, visits", ExpressionAttributeNames={"#n": "name"})
    assert set(projected["Item"]) == {"name", "visits"}
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.delete_item(TableName=name, Key=key, ConditionExpression="visits = :v", ExpressionAttributeValues={":v": {"N": "0"}})
    gone = ddb.delete_item(TableName=name, Key=key, ReturnValues="ALL_OLD")["Attributes"]
    assert gone["visits"] == {"N": "10"}
    assert "Item" not in ddb.get_item(TableName=name, Key=key)
    with pytest.raises(ClientError) as e:
        ddb.get_item(TableName=name, Key={"pk": {"S": "user"}})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.get_item(TableName=unique("missing"), Key=key)


def test_query_scan_and_paging_through_the_resource_api(resource, ddb):
    name = table(ddb)
    t = resource.Table(name)
    with t.batch_writer() as batch:
        for user in ("a", "b"):
            for n in range(12):
                batch.put_item(Item={"pk": user, "sk": n, "even": n % 2 == 0, "score": Decimal(n) / 4})
    got = t.query(KeyConditionExpression=Key("pk").eq("a") & Key("sk").between(2, 9))["Items"]
    assert [int(i["sk"]) for i in got] == list(range(2, 10))
    assert got[1]["score"] == Decimal("0.75"), "numbers come back exact"
    desc = t.query(KeyConditionExpression=Key("pk").eq("b"), ScanIndexForward=False, Limit=5)
    assert [int(i["sk"]) for i in desc["Items"]] == [11, 10, 9, 8, 7]
    more = t.query(KeyConditionExpression=Key("pk").eq("b"), ScanIndexForward=False, ExclusiveStartKey=desc["LastEvaluatedKey"])
    assert [int(i["sk"]) for i in more["Items"]] == [6, 5, 4, 3, 2, 1, 0] and "LastEvaluatedKey" not in more
    evens = t.query(KeyConditionExpression=Key("pk").eq("a"), FilterExpression=Attr("even").eq(True))
    assert evens["Count"] == 6 and evens["ScannedCount"] == 12
    seen, start = 0, None
    while True:
        page = t.scan(Limit=7, **({"ExclusiveStartKey": start} if start else {}))
        seen += page["Count"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert seen == 24
    with pytest.raises(ClientError) as e:
        ddb.query(TableName=name, KeyConditionExpression="sk = :n", ExpressionAttributeValues={":n": {"N": "1"}})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    got = ddb.batch_get_item(RequestItems={name: {"Keys": [{"pk": {"S": "a"}, "sk": {"N": "3"}}, {"pk": {"S": "z"}, "sk": {"N": "0"}}]}})
    assert [i["sk"] for i in got["Responses"][name]] == [{"N": "3"}] and got["UnprocessedKeys"] == {}
    with pytest.raises(ClientError) as e:
        ddb.batch_write_item(RequestItems={name: [{"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}}}] * 2})
    assert "duplicates" in e.value.response["Error"]["Message"]
    assert ddb.describe_table(TableName=name)["Table"]["ItemCount"] == 24


def stream_records(streams, arn: str) -> list[dict]:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = []
    while True:
        page = streams.get_records(ShardIterator=iterator, Limit=3)
        records += page["Records"]
        if not page["Records"]:
            return records
        iterator = page["NextShardIterator"]


@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_changes_reach_the_stream_with_the_images_of_its_view_type(ddb, hearth, view):
    from helpers import make_client

    streams = make_client(hearth.endpoint, service="dynamodbstreams")
    name = unique("str")
    created = ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )["TableDescription"]
    arn = created["LatestStreamArn"]
    assert arn == f"{created['TableArn']}/stream/{created['LatestStreamLabel']}"
    key = {"pk": {"S": "k"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}})                      # INSERT
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = :two",
                    ExpressionAttributeValues={":two": {"N": "2"}})                   # MODIFY
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "2"}})                      # no change: nothing
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=name, Item={**key, "v": {"N": "3"}}, ConditionExpression="attribute_not_exists(pk)")
    ddb.delete_item(TableName=name, Key=key)                                          # REMOVE
    records = stream_records(streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs)
    for r in records:
        assert r["eventSource"] == "aws:dynamodb" and r["eventVersion"] == "1.1"
        assert r["dynamodb"]["Keys"] == key and r["dynamodb"]["StreamViewType"] == view
    images = [(r["dynamodb"].get("NewImage"), r["dynamodb"].get("OldImage")) for r in records]
    one, two = {**key, "v": {"N": "1"}}, {**key, "v": {"N": "2"}}
    expected = {
        "KEYS_ONLY": [(None, None)] * 3,
        "NEW_IMAGE": [(one, None), (two, None), (None, None)],
        "OLD_IMAGE": [(None, None), (None, one), (None, two)],
        "NEW_AND_OLD_IMAGES": [(one, None), (two, one), (None, two)],
    }[view]
    assert images == expected, "images outside the view type are absent"
    listed = streams.list_streams(TableName=name)["Streams"]
    assert [s["StreamArn"] for s in listed] == [arn]
    described = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert described["StreamStatus"] == "ENABLED" and described["StreamViewType"] == view


def test_stream_records_and_items_survive_kill_9_and_the_stream_can_be_turned_off(ddb, hearth):
    from helpers import make_client

    streams = make_client(hearth.endpoint, service="dynamodbstreams")
    name = table(ddb, range_key=False)
    enabled = ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    arn = enabled["TableDescription"]["LatestStreamArn"]
    for i in range(30):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}, "n": {"N": str(i)}})
    ddb.delete_item(TableName=name, Key={"pk": {"S": "k0"}})
    hearth.restart()
    items = ddb.scan(TableName=name)["Items"]
    assert sorted(int(i["n"]["N"]) for i in items) == list(range(1, 30))
    records = stream_records(streams, arn)
    assert len(records) == 31 and records[-1]["eventName"] == "REMOVE"
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    ddb.put_item(TableName=name, Item={"pk": {"S": "after"}})
    assert len(stream_records(streams, arn)) == 31, "a disabled stream gets nothing new"
    assert streams.describe_stream(StreamArn=arn)["StreamDescription"]["StreamStatus"] == "DISABLED"
    with pytest.raises(ClientError) as e:
        streams.get_records(ShardIterator="bm90IGFuIGl0ZXJhdG9y")
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_the_aws_cli_reads_and_writes_items(aws, ddb):
    name = table(ddb, range_key=False)
    aws.ok("dynamodb", "put-item", "--table-name", name, "--item", '{"pk": {"S": "cli"}, "v": {"N": "7"}}')
    got = aws.ok("dynamodb", "get-item", "--table-name", name, "--key", '{"pk": {"S": "cli"}}')
    assert got["Item"]["v"] == {"N": "7"}
    code, _, err = aws("dynamodb", "describe-table", "--table-name", unique("nope"))
    assert code != 0 and "ResourceNotFoundException" in err


def stream_table(ddb, view: str) -> tuple[str, str]:
    name = unique("esm-ddb")
    created = ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )["TableDescription"]
    return name, created["LatestStreamArn"]


def ddb_deliveries(hearth, function: str) -> list[list[str]]:
    return [line.split(" ", 4)[1:] for line in hearth.function_log(function).splitlines() if line.startswith("ddb ")]


def test_a_mapping_on_a_table_stream_delivers_insert_modify_remove_with_their_images(ddb, lambda_client, hearth):
    import json

    from helpers import create_function, wait_for

    name, arn = stream_table(ddb, "NEW_AND_OLD_IMAGES")
    function = unique("ddb-fn")
    create_function(lambda_client, function, "ddb-stream", Timeout=10)
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON", BatchSize=10,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "keep"}]}}}})}]},
    )
    assert mapping["StateTransitionReason"] == "User action" and mapping["BatchSize"] == 10
    key = {"pk": {"S": "keep-1"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}})
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = :two", ExpressionAttributeValues={":two": {"N": "2"}})
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=name, Item={**key, "v": {"N": "9"}}, ConditionExpression="attribute_not_exists(pk)")
    ddb.put_item(TableName=name, Item={"pk": {"S": "other"}})
    ddb.delete_item(TableName=name, Key=key)
    wait_for(lambda: len(ddb_deliveries(hearth, function)) >= 3, 30, "three changes delivered")
    got = ddb_deliveries(hearth, function)
    assert [g[0] for g in got] == ["INSERT", "MODIFY", "REMOVE"], "filtered and condition-failed writes emit nothing here"
    insert, modify, remove = got
    assert json.loads(insert[1]) == key
    assert " ".join(insert[2:]) == 'new={"pk":{"S":"keep-1"},"v":{"N":"1"}} old=-'
    assert " ".join(modify[2:]) == 'new={"pk":{"S":"keep-1"},"v":{"N":"2"}} old={"pk":{"S":"keep-1"},"v":{"N":"1"}}'
    assert " ".join(remove[2:]) == 'new=- old={"pk":{"S":"keep-1"},"v":{"N":"2"}}'
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=function, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1,
        )


def test_a_failing_table_stream_batch_goes_to_on_failure_with_ddb_batch_info(ddb, lambda_client, hearth):
    import json

    from helpers import create_function, make_sqs_client

    sqs = make_sqs_client(hearth.endpoint)
    name, arn = stream_table(ddb, "NEW_IMAGE")
    function = unique("ddb-bad")
    create_function(lambda_client, function, "ddb-stream", Timeout=10)
    dlq = sqs.create_queue(QueueName=unique("ddb-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "poison": {"BOOL": True}})
    lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    reply = {}
    for _ in range(30):
        reply = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=2)
        if reply.get("Messages"):
            break
    record = json.loads(reply["Messages"][0]["Body"])
    info = record["DDBStreamBatchInfo"]
    assert "KinesisBatchInfo" not in record
    assert info["batchSize"] == 1 and info["streamArn"] == arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z") and "." not in info["approximateArrivalOfFirstRecord"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2


def test_hearth_tables_lists_tables_with_their_items_and_stream(ddb, hearth):
    import subprocess

    from helpers import HEARTH_BIN

    name, _ = stream_table(ddb, "KEYS_ONLY")
    for i in range(3):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}})
    proc = subprocess.run([str(HEARTH_BIN), "tables", "--endpoint", hearth.endpoint], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    line = next(l for l in proc.stdout.splitlines() if l.startswith(name + " ")).split()
    assert line[1] == "pk" and line[2] == "3" and line[4] == "KEYS_ONLY", line
