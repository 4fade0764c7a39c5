//! DynamoDB on hearth's port: `X-Amz-Target: DynamoDB_20120810.<Op>`, JSON 1.0, errors as
//! `{"__type": "com.amazonaws.dynamodb.v20120810#<Name>", "message"}` (botocore keeps what
//! follows the `#`). Expressions only: the legacy parameters (`Expected`, `AttributesToGet`,
//! `AttributeUpdates`, `KeyConditions`, `ScanFilter`, `QueryFilter`) are refused by name.

use super::{Body, ReqBody, full};
use hearth_streams::dynamodb::expr::{self, Comparator, Condition, Operand, Placeholders};
use hearth_streams::dynamodb::table::{Change, KeyAttribute, TableMeta, Tables};
use hearth_streams::dynamodb::value::{Item, Value, item_from_json, item_to_json};
use hearth_streams::{ErrorKind, StreamError};
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const STREAMS_PREFIX: &str = "DynamoDBStreams_20120810.";

/// Whether a request is a DynamoDB or DynamoDB Streams request.
pub fn is_dynamodb<B>(req: &Request<B>) -> bool {
    req.headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with(TARGET_PREFIX) || t.starts_with(STREAMS_PREFIX))
}

/// The most a DynamoDB request may carry: a BatchWriteItem of 25 items of 400 KB, in JSON.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// Most items a BatchWriteItem takes, and keys a BatchGetItem.
const MAX_BATCH_WRITE: usize = 25;
const MAX_BATCH_GET: usize = 100;

/// Answers one DynamoDB request.
pub async fn handle(tables: &Tables, req: Request<ReqBody>, request_id: &str) -> Response<Body> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (streams_api, op) = match target.strip_prefix(STREAMS_PREFIX) {
        Some(op) => (true, op.to_owned()),
        None => (
            false,
            target
                .strip_prefix(TARGET_PREFIX)
                .unwrap_or_default()
                .to_owned(),
        ),
    };
    let body = super::body_bytes(req.into_body());
    let input = if body.is_empty() {
        Ok(Json::Object(Map::new()))
    } else {
        serde_json::from_slice::<Json>(&body)
            .ok()
            .filter(Json::is_object)
            .ok_or_else(|| {
                StreamError::new(
                    ErrorKind::Serialization,
                    "The request body is not a JSON object.",
                )
            })
    };
    let result = match input {
        Ok(input) if streams_api => streams::dispatch(tables, &op, &input),
        Ok(input) => dispatch(tables, &op, &input).await,
        Err(e) => Err(e),
    };
    let (status, body) = match result {
        Ok(output) => (StatusCode::OK, output),
        Err(e) => {
            if e.kind == ErrorKind::Internal {
                tracing::error!(operation = op, error = %e.message, "DynamoDB request failed");
            }
            let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let name = match e.kind {
                // DynamoDB's own namespace for the modelled errors; ValidationException is
                // the coral one.
                ErrorKind::Validation => format!("com.amazon.coral.validate#{}", e.kind.name()),
                ErrorKind::Serialization | ErrorKind::UnknownOperation => {
                    format!("com.amazon.coral.service#{}", e.kind.name())
                }
                kind => format!("com.amazonaws.dynamodb.v20120810#{}", kind.name()),
            };
            (status, json!({"__type": name, "message": e.message}))
        }
    };
    Response::builder()
        .status(status)
        .header("Content-Type", "application/x-amz-json-1.0")
        .header("x-amzn-RequestId", request_id)
        .body(full(body.to_string()))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn invalid(message: impl Into<String>) -> StreamError {
    StreamError::validation(message)
}

fn string<'a>(input: &'a Json, field: &str) -> Result<Option<&'a str>, StreamError> {
    match input.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(_) => Err(StreamError::new(
            ErrorKind::Serialization,
            format!("{field} must be a string"),
        )),
    }
}

fn required<'a>(input: &'a Json, field: &str) -> Result<&'a str, StreamError> {
    string(input, field)?.ok_or_else(|| {
        invalid(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn item_field(input: &Json, field: &str) -> Result<Item, StreamError> {
    let value = input.get(field).ok_or_else(|| {
        invalid(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })?;
    item_from_json(value)
}

fn refuse_legacy(input: &Json) -> Result<(), StreamError> {
    for legacy in [
        "Expected",
        "AttributesToGet",
        "AttributeUpdates",
        "KeyConditions",
        "ScanFilter",
        "QueryFilter",
        "ConditionalOperator",
    ] {
        if input.get(legacy).is_some_and(|v| !v.is_null()) {
            return Err(invalid(format!(
                "hearth takes expressions, not the legacy parameter {legacy}: use the expression parameters instead"
            )));
        }
    }
    Ok(())
}

/// The request's `ExpressionAttributeNames` and `ExpressionAttributeValues`.
fn placeholders(input: &Json) -> Result<Placeholders, StreamError> {
    let mut names = BTreeMap::new();
    if let Some(map) = input
        .get("ExpressionAttributeNames")
        .and_then(Json::as_object)
    {
        for (k, v) in map {
            let v = v
                .as_str()
                .ok_or_else(|| invalid("ExpressionAttributeNames values must be strings"))?;
            names.insert(k.clone(), v.to_owned());
        }
    }
    let mut values = BTreeMap::new();
    if let Some(map) = input
        .get("ExpressionAttributeValues")
        .and_then(Json::as_object)
    {
        for (k, v) in map {
            values.insert(k.clone(), Value::from_json(v)?);
        }
    }
    Ok(Placeholders::new(names, values))
}

fn condition(
    input: &Json,
    field: &str,
    p: &mut Placeholders,
) -> Result<Option<Condition>, StreamError> {
    string(input, field)?
        .map(|text| expr::parse_condition(field, text, p))
        .transpose()
}

fn description(tables: &Tables, meta: &TableMeta, status: &str) -> Json {
    let (count, bytes) = tables
        .table(&meta.name)
        .map(|t| t.counts())
        .unwrap_or((0, 0));
    let mut keys = vec![json!({"AttributeName": meta.hash.name, "KeyType": "HASH"})];
    let mut definitions =
        vec![json!({"AttributeName": meta.hash.name, "AttributeType": meta.hash.kind})];
    if let Some(range) = &meta.range {
        keys.push(json!({"AttributeName": range.name, "KeyType": "RANGE"}));
        definitions.push(json!({"AttributeName": range.name, "AttributeType": range.kind}));
    }
    let arn = tables.arn(&meta.name);
    let mut out = json!({
        "AttributeDefinitions": definitions,
        "TableName": meta.name,
        "KeySchema": keys,
        "TableStatus": status,
        "CreationDateTime": meta.created_ms as f64 / 1000.0,
        "ProvisionedThroughput": {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": meta.read_capacity,
            "WriteCapacityUnits": meta.write_capacity,
        },
        "TableSizeBytes": bytes,
        "ItemCount": count,
        "TableArn": arn,
        "TableId": format!("{:08x}-0000-4000-8000-{:012x}", meta.created_ms as u32, meta.created_ms),
        "DeletionProtectionEnabled": false,
    });
    if meta.billing_mode == "PAY_PER_REQUEST" {
        out["BillingModeSummary"] = json!({"BillingMode": "PAY_PER_REQUEST"});
    }
    if let (Some(view), Some(label)) = (&meta.stream_view_type, &meta.stream_label) {
        out["StreamSpecification"] = json!({"StreamEnabled": true, "StreamViewType": view});
        out["LatestStreamLabel"] = json!(label);
        out["LatestStreamArn"] = json!(format!("{arn}/stream/{label}"));
    }
    out
}

/// `CreateTable`'s key schema, definitions, billing and stream, checked as DynamoDB checks them.
fn table_meta(input: &Json) -> Result<TableMeta, StreamError> {
    for unsupported in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        if input.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(invalid(format!(
                "hearth's tables do not have secondary indexes yet ({unsupported})"
            )));
        }
    }
    let name = required(input, "TableName")?.to_owned();
    let definitions: BTreeMap<String, String> = input
        .get("AttributeDefinitions")
        .and_then(Json::as_array)
        .ok_or_else(|| invalid("AttributeDefinitions is required"))?
        .iter()
        .map(|d| {
            let name = d.get("AttributeName").and_then(Json::as_str);
            let kind = d.get("AttributeType").and_then(Json::as_str);
            match (name, kind) {
                (Some(n), Some(k @ ("S" | "N" | "B"))) => Ok((n.to_owned(), k.to_owned())),
                _ => Err(invalid(
                    "Invalid AttributeDefinition: an AttributeName and an AttributeType of S, N or B",
                )),
            }
        })
        .collect::<Result<_, _>>()?;
    let schema = input
        .get("KeySchema")
        .and_then(Json::as_array)
        .ok_or_else(|| invalid("KeySchema is required"))?;
    let key = |entry: &Json, kind: &str| -> Result<KeyAttribute, StreamError> {
        let attr = entry
            .get("AttributeName")
            .and_then(Json::as_str)
            .unwrap_or_default();
        if entry.get("KeyType").and_then(Json::as_str) != Some(kind) {
            return Err(invalid(
                "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
            ));
        }
        let found = definitions.get(attr).ok_or_else(|| {
            invalid("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions.")
        })?;
        Ok(KeyAttribute {
            name: attr.to_owned(),
            kind: found.clone(),
        })
    };
    let (hash, range) = match schema.as_slice() {
        [h] => (key(h, "HASH")?, None),
        [h, r] => (key(h, "HASH")?, Some(key(r, "RANGE")?)),
        _ => {
            return Err(invalid(
                "KeySchema takes a HASH key and at most one RANGE key",
            ));
        }
    };
    if definitions.len() != schema.len() {
        return Err(invalid(
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    let billing = string(input, "BillingMode")?
        .unwrap_or("PROVISIONED")
        .to_owned();
    let throughput = input.get("ProvisionedThroughput").filter(|v| !v.is_null());
    let (read, write) = match (billing.as_str(), throughput) {
        ("PROVISIONED", Some(t)) => (
            t.get("ReadCapacityUnits")
                .and_then(Json::as_u64)
                .unwrap_or(0),
            t.get("WriteCapacityUnits")
                .and_then(Json::as_u64)
                .unwrap_or(0),
        ),
        ("PROVISIONED", None) => {
            return Err(invalid(
                "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ));
        }
        ("PAY_PER_REQUEST", None) => (0, 0),
        ("PAY_PER_REQUEST", Some(_)) => {
            return Err(invalid(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        (other, _) => return Err(invalid(format!("Invalid BillingMode {other}"))),
    };
    Ok(TableMeta {
        name,
        created_ms: 0,
        hash,
        range,
        billing_mode: billing,
        read_capacity: read,
        write_capacity: write,
        stream_view_type: stream_view_type(input)?,
        stream_label: None,
    })
}

/// A `StreamSpecification`: the view type when enabled.
fn stream_view_type(input: &Json) -> Result<Option<String>, StreamError> {
    let Some(spec) = input.get("StreamSpecification").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    if spec.get("StreamEnabled").and_then(Json::as_bool) != Some(true) {
        return Ok(None);
    }
    match spec.get("StreamViewType").and_then(Json::as_str) {
        Some(view @ ("KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES")) => {
            Ok(Some(view.to_owned()))
        }
        _ => Err(invalid(
            "One or more parameter values were invalid: StreamViewType must be KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES when the stream is enabled",
        )),
    }
}

/// The attributes a write's `ReturnValues` asks for.
fn returned(change: &Change, asked: &str, updated: &BTreeSet<String>) -> Option<Item> {
    let pick = |item: &Option<Item>| {
        item.as_ref().map(|i| {
            i.iter()
                .filter(|(k, _)| updated.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Item>()
        })
    };
    match asked {
        "ALL_OLD" => change.old.clone(),
        "ALL_NEW" => change.new.clone(),
        "UPDATED_OLD" => pick(&change.old),
        "UPDATED_NEW" => pick(&change.new),
        _ => None,
    }
    .filter(|i| !i.is_empty())
}

fn return_values<'a>(input: &'a Json, allowed: &[&str]) -> Result<&'a str, StreamError> {
    let asked = string(input, "ReturnValues")?.unwrap_or("NONE");
    if asked == "NONE" || allowed.contains(&asked) {
        Ok(asked)
    } else {
        Err(invalid(format!(
            "ReturnValues {asked} is not valid for this operation"
        )))
    }
}

fn with_attributes(item: Option<Item>) -> Json {
    match item {
        Some(item) => json!({"Attributes": item_to_json(&item)}),
        None => json!({}),
    }
}

/// The partition key value and the sort-key condition of a `KeyConditionExpression`.
fn key_condition(
    meta: &TableMeta,
    condition: Condition,
) -> Result<(Value, Option<Condition>), StreamError> {
    let unsupported = || invalid("Query key condition not supported");
    let hash_of = |c: &Condition| -> Option<Value> {
        match c {
            Condition::Compare(Operand::Path(p), Comparator::Eq, Operand::Value(v))
            | Condition::Compare(Operand::Value(v), Comparator::Eq, Operand::Path(p))
                if p.0.len() == 1 && p.root() == meta.hash.name =>
            {
                Some(v.clone())
            }
            _ => None,
        }
    };
    let on_range = |c: &Condition| -> bool {
        let Some(range) = &meta.range else {
            return false;
        };
        let is_range =
            |o: &Operand| matches!(o, Operand::Path(p) if p.0.len() == 1 && p.root() == range.name);
        match c {
            Condition::Compare(a, op, b) => *op != Comparator::Ne && (is_range(a) || is_range(b)),
            Condition::Between(x, _, _) | Condition::BeginsWith(x, _) => is_range(x),
            _ => false,
        }
    };
    match condition {
        c @ Condition::Compare(..) => hash_of(&c).map(|v| (v, None)).ok_or_else(unsupported),
        Condition::And(a, b) => {
            if let Some(v) = hash_of(&a).filter(|_| on_range(&b)) {
                Ok((v, Some(*b)))
            } else if let Some(v) = hash_of(&b).filter(|_| on_range(&a)) {
                Ok((v, Some(*a)))
            } else {
                Err(unsupported())
            }
        }
        _ => Err(unsupported()),
    }
}

/// Filters, projects and counts a page of items as Query and Scan answer it.
fn page_output(
    items: Vec<Item>,
    last: Option<Item>,
    filter: &Option<Condition>,
    projection: &Option<Vec<expr::Path>>,
    select: &str,
) -> Result<Json, StreamError> {
    let scanned = items.len();
    let mut kept = Vec::new();
    for item in items {
        if filter
            .as_ref()
            .map_or(Ok(true), |f| expr::holds(f, &item))?
        {
            kept.push(match projection {
                Some(paths) => expr::project(&item, paths),
                None => item,
            });
        }
    }
    let mut out = json!({"Count": kept.len(), "ScannedCount": scanned});
    if select != "COUNT" {
        out["Items"] = kept.iter().map(item_to_json).collect();
    }
    if let Some(last) = last {
        out["LastEvaluatedKey"] = item_to_json(&last);
    }
    Ok(out)
}

fn limit(input: &Json) -> Result<Option<usize>, StreamError> {
    match input.get("Limit").filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Ok(Some(n as usize)),
            _ => Err(invalid(
                "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
            )),
        },
    }
}

async fn dispatch(tables: &Tables, op: &str, input: &Json) -> Result<Json, StreamError> {
    refuse_legacy(input)?;
    match op {
        "CreateTable" => {
            let meta = tables.create_table(table_meta(input)?).await?;
            Ok(json!({"TableDescription": description(tables, &meta, "ACTIVE")}))
        }
        "DescribeTable" => {
            let meta = tables.table(required(input, "TableName")?)?.meta();
            Ok(json!({"Table": description(tables, &meta, "ACTIVE")}))
        }
        "ListTables" => {
            let names = tables.list();
            let start = string(input, "ExclusiveStartTableName")?;
            let max = limit(input)?.unwrap_or(100).min(100);
            let rest: Vec<&String> = names
                .iter()
                .filter(|n| start.is_none_or(|s| n.as_str() > s))
                .collect();
            let page: Vec<&String> = rest.iter().take(max).copied().collect();
            let mut out = json!({"TableNames": page});
            if rest.len() > max
                && let Some(last) = page.last()
            {
                out["LastEvaluatedTableName"] = json!(last);
            }
            Ok(out)
        }
        "UpdateTable" => {
            let name = required(input, "TableName")?;
            if input.get("StreamSpecification").is_some() {
                let view = stream_view_type(input)?;
                let meta = tables.set_stream(name, view).await?;
                return Ok(json!({"TableDescription": description(tables, &meta, "ACTIVE")}));
            }
            let meta = tables.table(name)?.meta();
            Ok(json!({"TableDescription": description(tables, &meta, "ACTIVE")}))
        }
        "DeleteTable" => {
            let meta = tables.delete_table(required(input, "TableName")?).await?;
            Ok(json!({"TableDescription": description(tables, &meta, "DELETING")}))
        }
        "PutItem" => {
            let table = required(input, "TableName")?;
            let mut p = placeholders(input)?;
            let guard = condition(input, "ConditionExpression", &mut p)?;
            p.check_all_used()?;
            let asked = return_values(input, &["ALL_OLD"])?;
            let change = tables
                .put(table, item_field(input, "Item")?, &guard)
                .await?;
            Ok(with_attributes(returned(&change, asked, &BTreeSet::new())))
        }
        "GetItem" => {
            let table = required(input, "TableName")?;
            let mut p = placeholders(input)?;
            let projection = string(input, "ProjectionExpression")?
                .map(|t| expr::parse_projection(t, &mut p))
                .transpose()?;
            p.check_all_used()?;
            let found = tables.get(table, &item_field(input, "Key")?)?;
            Ok(match found {
                Some(item) => {
                    let item = match &projection {
                        Some(paths) => expr::project(&item, paths),
                        None => item,
                    };
                    json!({"Item": item_to_json(&item)})
                }
                None => json!({}),
            })
        }
        "UpdateItem" => {
            let table = required(input, "TableName")?;
            let mut p = placeholders(input)?;
            let update = expr::parse_update(required(input, "UpdateExpression")?, &mut p)?;
            let guard = condition(input, "ConditionExpression", &mut p)?;
            p.check_all_used()?;
            let asked =
                return_values(input, &["ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"])?;
            let updated: BTreeSet<String> = update.paths().map(|p| p.root().to_owned()).collect();
            let change = tables
                .update(table, &item_field(input, "Key")?, &update, &guard)
                .await?;
            Ok(with_attributes(returned(&change, asked, &updated)))
        }
        "DeleteItem" => {
            let table = required(input, "TableName")?;
            let mut p = placeholders(input)?;
            let guard = condition(input, "ConditionExpression", &mut p)?;
            p.check_all_used()?;
            let asked = return_values(input, &["ALL_OLD"])?;
            let change = tables
                .delete(table, &item_field(input, "Key")?, &guard)
                .await?;
            Ok(with_attributes(returned(&change, asked, &BTreeSet::new())))
        }
        "Query" | "Scan" => {
            if input.get("IndexName").is_some_and(|v| !v.is_null()) {
                return Err(invalid(
                    "hearth's tables do not have secondary indexes yet (IndexName)",
                ));
            }
            let table = required(input, "TableName")?;
            let meta = tables.table(table)?.meta();
            let mut p = placeholders(input)?;
            let filter = condition(input, "FilterExpression", &mut p)?;
            let projection = string(input, "ProjectionExpression")?
                .map(|t| expr::parse_projection(t, &mut p))
                .transpose()?;
            let start = input
                .get("ExclusiveStartKey")
                .filter(|v| !v.is_null())
                .map(item_from_json)
                .transpose()?;
            let select = string(input, "Select")?.unwrap_or("ALL_ATTRIBUTES");
            let (items, last) = if op == "Query" {
                let key = expr::parse_condition(
                    "KeyConditionExpression",
                    required(input, "KeyConditionExpression")?,
                    &mut p,
                )?;
                p.check_all_used()?;
                let (hash, range) = key_condition(&meta, key)?;
                let forward = input
                    .get("ScanIndexForward")
                    .and_then(Json::as_bool)
                    .unwrap_or(true);
                tables.query(table, &hash, &range, forward, start.as_ref(), limit(input)?)?
            } else {
                p.check_all_used()?;
                if input
                    .get("TotalSegments")
                    .is_some_and(|v| v.as_u64() > Some(1))
                {
                    return Err(invalid(
                        "hearth's Scan reads one segment: leave TotalSegments out or 1",
                    ));
                }
                tables.scan(table, start.as_ref(), limit(input)?)?
            };
            page_output(items, last, &filter, &projection, select)
        }
        "BatchWriteItem" => {
            let requests = input
                .get("RequestItems")
                .and_then(Json::as_object)
                .ok_or_else(|| invalid("RequestItems is required"))?;
            let total: usize = requests
                .values()
                .filter_map(Json::as_array)
                .map(Vec::len)
                .sum();
            if total == 0 || total > MAX_BATCH_WRITE {
                return Err(invalid(format!(
                    "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length less than or equal to {MAX_BATCH_WRITE}"
                )));
            }
            // Checked whole before anything is written.
            let mut writes = Vec::new();
            for (table, list) in requests {
                let meta = tables.table(table)?.meta();
                let mut keys = BTreeSet::new();
                for request in list.as_array().into_iter().flatten() {
                    let (item, delete) =
                        match (request.get("PutRequest"), request.get("DeleteRequest")) {
                            (Some(put), None) => (item_field(put, "Item")?, false),
                            (None, Some(del)) => (item_field(del, "Key")?, true),
                            _ => {
                                return Err(invalid(
                                    "Each write request holds one PutRequest or one DeleteRequest",
                                ));
                            }
                        };
                    let key = item_to_json(&meta.key_item(&item)).to_string();
                    if !keys.insert(key) {
                        return Err(invalid("Provided list of item keys contains duplicates"));
                    }
                    writes.push((table.clone(), item, delete));
                }
            }
            for (table, item, delete) in writes {
                if delete {
                    tables.delete(&table, &item, &None).await?;
                } else {
                    tables.put(&table, item, &None).await?;
                }
            }
            Ok(json!({"UnprocessedItems": {}}))
        }
        "BatchGetItem" => {
            let requests = input
                .get("RequestItems")
                .and_then(Json::as_object)
                .ok_or_else(|| invalid("RequestItems is required"))?;
            let total: usize = requests
                .values()
                .filter_map(|r| r.get("Keys").and_then(Json::as_array))
                .map(Vec::len)
                .sum();
            if total == 0 || total > MAX_BATCH_GET {
                return Err(invalid(format!(
                    "Too many items requested for the BatchGetItem call: at most {MAX_BATCH_GET}"
                )));
            }
            let mut responses = Map::new();
            for (table, request) in requests {
                let mut p = placeholders(request)?;
                let projection = string(request, "ProjectionExpression")?
                    .map(|t| expr::parse_projection(t, &mut p))
                    .transpose()?;
                p.check_all_used()?;
                let mut found = Vec::new();
                for key in request
                    .get("Keys")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(item) = tables.get(table, &item_from_json(key)?)? {
                        let item = match &projection {
                            Some(paths) => expr::project(&item, paths),
                            None => item,
                        };
                        found.push(item_to_json(&item));
                    }
                }
                responses.insert(table.clone(), Json::Array(found));
            }
            Ok(json!({"Responses": responses, "UnprocessedKeys": {}}))
        }
        "" => Err(StreamError::new(
            ErrorKind::UnknownOperation,
            "The request names no operation.",
        )),
        other => Err(StreamError::new(
            ErrorKind::UnknownOperation,
            format!("hearth's DynamoDB does not have the operation {other}."),
        )),
    }
}

/// The DynamoDB Streams API (`DynamoDBStreams_20120810.*`): one shard per stream label.
mod streams {
    use super::{invalid, required, string};
    use base64::Engine as _;
    use hearth_streams::dynamodb::table::{StreamRecord, Tables};
    use hearth_streams::{ErrorKind, StreamError};
    use serde_json::{Value as Json, json};

    /// A shard iterator is good for 15 minutes.
    const ITERATOR_TTL_MS: u64 = 15 * 60 * 1000;
    const MAX_RECORDS: usize = 1000;

    fn not_found(what: &str) -> StreamError {
        StreamError::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: Stream: {what} not found"),
        )
    }

    fn parse_arn(arn: &str) -> Result<(String, String), StreamError> {
        hearth_streams::dynamodb::parse_stream_arn(arn)
            .map(|(t, l)| (t.to_owned(), l.to_owned()))
            .ok_or_else(|| invalid(format!("Invalid StreamArn: {arn}")))
    }

    fn arn(tables: &Tables, table: &str, label: &str) -> String {
        format!("{}/stream/{label}", tables.arn(table))
    }

    use hearth_streams::dynamodb::{stream_sequence as sequence, stream_shard_id as shard_id};

    fn label_of(tables: &Tables, table: &str, label: &str) -> Result<String, StreamError> {
        let labels = tables.stream_labels(table).map_err(|_| not_found(label))?;
        labels
            .into_iter()
            .find(|(l, _)| l == label)
            .map(|(_, view)| view)
            .ok_or_else(|| not_found(label))
    }

    fn iterator(table: &str, label: &str, from: u64, issued_ms: u64) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("ddb1\n{table}\n{label}\n{from}\n{issued_ms}"))
    }

    fn record_json(tables: &Tables, r: &StreamRecord) -> Json {
        hearth_streams::dynamodb::record_json(tables.region(), r, None)
    }

    pub fn dispatch(tables: &Tables, op: &str, input: &Json) -> Result<Json, StreamError> {
        match op {
            "ListStreams" => {
                let only = string(input, "TableName")?;
                let mut streams = Vec::new();
                for table in tables.list() {
                    if only.is_some_and(|t| t != table) {
                        continue;
                    }
                    for (label, _) in tables.stream_labels(&table)? {
                        streams.push(json!({
                            "StreamArn": arn(tables, &table, &label),
                            "TableName": table,
                            "StreamLabel": label,
                        }));
                    }
                }
                Ok(json!({ "Streams": streams }))
            }
            "DescribeStream" => {
                let (table, label) = parse_arn(required(input, "StreamArn")?)?;
                let view = label_of(tables, &table, &label)?;
                let meta = tables.table(&table)?.meta();
                let enabled = meta.stream_label.as_deref() == Some(label.as_str())
                    && meta.stream_view_type.is_some();
                let mut keys = vec![json!({"AttributeName": meta.hash.name, "KeyType": "HASH"})];
                if let Some(range) = &meta.range {
                    keys.push(json!({"AttributeName": range.name, "KeyType": "RANGE"}));
                }
                let first = tables.read_stream(&table, &label, 0, 1)?.records;
                let start = first
                    .first()
                    .map_or_else(|| tables.stream_end(&table).unwrap_or(0), |r| r.seq);
                Ok(json!({
                    "StreamDescription": {
                        "StreamArn": arn(tables, &table, &label),
                        "StreamLabel": label,
                        "StreamStatus": if enabled { "ENABLED" } else { "DISABLED" },
                        "StreamViewType": view,
                        "CreationRequestDateTime": meta.created_ms as f64 / 1000.0,
                        "TableName": table,
                        "KeySchema": keys,
                        "Shards": [{
                            "ShardId": shard_id(&label),
                            "SequenceNumberRange": {"StartingSequenceNumber": sequence(start)},
                        }],
                    }
                }))
            }
            "GetShardIterator" => {
                let (table, label) = parse_arn(required(input, "StreamArn")?)?;
                label_of(tables, &table, &label)?;
                if required(input, "ShardId")? != shard_id(&label) {
                    return Err(not_found(required(input, "ShardId")?));
                }
                let sequence_number = || -> Result<u64, StreamError> {
                    string(input, "SequenceNumber")?
                        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| invalid("Invalid SequenceNumber"))
                };
                let from = match required(input, "ShardIteratorType")? {
                    "TRIM_HORIZON" => 0,
                    "LATEST" => tables.stream_end(&table)?,
                    "AT_SEQUENCE_NUMBER" => sequence_number()?,
                    "AFTER_SEQUENCE_NUMBER" => sequence_number()? + 1,
                    other => {
                        return Err(invalid(format!(
                            "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST]"
                        )));
                    }
                };
                Ok(
                    json!({"ShardIterator": iterator(&table, &label, from, tables.clock().now_ms())}),
                )
            }
            "GetRecords" => {
                let bad = || invalid("Invalid ShardIterator");
                let text = base64::engine::general_purpose::STANDARD
                    .decode(required(input, "ShardIterator")?)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(bad)?;
                let parts: Vec<&str> = text.split('\n').collect();
                let ["ddb1", table, label, from, issued] = parts.as_slice() else {
                    return Err(bad());
                };
                let (Ok(from), Ok(issued)) = (from.parse::<u64>(), issued.parse::<u64>()) else {
                    return Err(bad());
                };
                if tables.clock().now_ms() > issued + ITERATOR_TTL_MS {
                    return Err(StreamError::new(
                        ErrorKind::ExpiredIterator,
                        "Iterator expired. The iterator was created more than 15 minutes ago.",
                    ));
                }
                let limit = input
                    .get("Limit")
                    .and_then(Json::as_u64)
                    .unwrap_or(MAX_RECORDS as u64);
                if !(1..=MAX_RECORDS as u64).contains(&limit) {
                    return Err(invalid(format!(
                        "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {MAX_RECORDS}"
                    )));
                }
                label_of(tables, table, label)?;
                let read = tables.read_stream(table, label, from, limit as usize)?;
                let records: Vec<Json> = read
                    .records
                    .iter()
                    .map(|r| record_json(tables, r))
                    .collect();
                Ok(json!({
                    "Records": records,
                    "NextShardIterator": iterator(table, label, read.next, tables.clock().now_ms()),
                }))
            }
            other => Err(StreamError::new(
                ErrorKind::UnknownOperation,
                format!("hearth's DynamoDB Streams does not have the operation {other}."),
            )),
        }
    }
}

/// What `hearth tables` shows: every table's key, items, bytes and stream.
pub fn summaries(tables: &Tables) -> Json {
    let list: Vec<Json> = tables
        .list()
        .iter()
        .filter_map(|name| tables.table(name).ok())
        .map(|t| {
            let meta = t.meta();
            let (items, bytes) = t.counts();
            json!({
                "name": meta.name,
                "hash_key": meta.hash.name,
                "range_key": meta.range.as_ref().map(|r| r.name.clone()),
                "items": items,
                "bytes": bytes,
                "stream_view_type": meta.stream_view_type,
                "stream_label": meta.stream_label,
            })
        })
        .collect();
    json!(list)
}
