use super::*;
use crate::dynamodb::expr::{parse_condition, parse_update};
use serde_json::json;

fn item(j: serde_json::Value) -> Item {
    item_from_json(&j).expect("item")
}

fn meta(name: &str) -> TableMeta {
    TableMeta {
        name: name.into(),
        created_ms: 0,
        hash: KeyAttribute {
            name: "pk".into(),
            kind: "S".into(),
        },
        range: Some(KeyAttribute {
            name: "sk".into(),
            kind: "N".into(),
        }),
        billing_mode: "PAY_PER_REQUEST".into(),
        read_capacity: 0,
        write_capacity: 0,
        stream_view_type: None,
        stream_label: None,
    }
}

fn guard(text: &str, values: serde_json::Value) -> Guard {
    let values = values
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), Value::from_json(v).expect("v")))
                .collect()
        })
        .unwrap_or_default();
    let mut p = Placeholders::new(BTreeMap::new(), values);
    Some(parse_condition("ConditionExpression", text, &mut p).expect("condition"))
}

#[tokio::test]
async fn items_are_keyed_ordered_conditional_and_durable() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let tables = Tables::open(dir.path(), TablesConfig::default()).expect("open");
        tables.create_table(meta("tab")).await.expect("create");
        assert!(tables.create_table(meta("tab")).await.is_err(), "exists");
        for n in [10, 2, 33] {
            tables
                .put(
                    "tab",
                    item(json!({"pk": {"S": "a"}, "sk": {"N": n.to_string()}, "v": {"S": "x"}})),
                    &None,
                )
                .await
                .expect("put");
        }
        tables
            .put(
                "tab",
                item(json!({"pk": {"S": "b"}, "sk": {"N": "1"}})),
                &None,
            )
            .await
            .expect("put");
        // A condition that fails changes nothing.
        let refused = tables
            .put(
                "tab",
                item(json!({"pk": {"S": "a"}, "sk": {"N": "2"}, "v": {"S": "y"}})),
                &guard("attribute_not_exists(pk)", json!({})),
            )
            .await;
        assert_eq!(
            refused.err().map(|e| e.kind),
            Some(ErrorKind::ConditionalCheckFailed)
        );
        let mut p = Placeholders::new(
            BTreeMap::new(),
            [(
                ":one".to_owned(),
                Value::from_json(&json!({"N": "1"})).expect("v"),
            )]
            .into(),
        );
        let update = parse_update("ADD hits :one", &mut p).expect("update");
        let key = item(json!({"pk": {"S": "a"}, "sk": {"N": "10"}}));
        let change = tables
            .update("tab", &key, &update, &None)
            .await
            .expect("update");
        assert_eq!(
            change.new.as_ref().and_then(|i| i.get("hits")),
            Some(&Value::from_json(&json!({"N": "1"})).expect("v"))
        );
        let bad = parse_update("SET pk = :one", &mut p).expect("update");
        assert!(
            tables.update("tab", &key, &bad, &None).await.is_err(),
            "key attributes cannot change"
        );
        let gone = item(json!({"pk": {"S": "b"}, "sk": {"N": "1"}}));
        assert!(
            tables
                .delete("tab", &gone, &None)
                .await
                .expect("delete")
                .old
                .is_some()
        );
    }
    let tables = Tables::open(dir.path(), TablesConfig::default()).expect("reopen");
    let (items, last) = tables
        .query("tab", &Value::S("a".into()), &None, true, None, None)
        .expect("query");
    let order: Vec<String> = items
        .iter()
        .map(|i| {
            item_to_json(i)["sk"]["N"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        order,
        ["2", "10", "33"],
        "numeric sort-key order, after a restart"
    );
    assert!(last.is_none());
    assert_eq!(
        items[0]["v"],
        Value::S("x".into()),
        "the refused put changed nothing"
    );
    assert!(items[1].contains_key("hits"));
    let (page, last) = tables
        .query("tab", &Value::S("a".into()), &None, false, None, Some(2))
        .expect("query");
    assert_eq!(page.len(), 2);
    let (rest, end) = tables
        .query(
            "tab",
            &Value::S("a".into()),
            &None,
            false,
            last.as_ref(),
            Some(2),
        )
        .expect("query");
    assert_eq!(item_to_json(&rest[0])["sk"]["N"], "2");
    assert!(end.is_none());
    let between = guard(
        "sk BETWEEN :a AND :b",
        json!({":a": {"N": "3"}, ":b": {"N": "40"}}),
    );
    let (some, _) = tables
        .query("tab", &Value::S("a".into()), &between, true, None, None)
        .expect("query");
    assert_eq!(some.len(), 2);
    assert_eq!(
        tables.scan("tab", None, None).expect("scan").0.len(),
        3,
        "b was deleted"
    );
    assert!(
        tables.get("tab", &item(json!({"pk": {"S": "a"}}))).is_err(),
        "a partial key"
    );
    assert!(
        tables
            .get("tab", &item(json!({"pk": {"N": "1"}, "sk": {"N": "1"}})))
            .is_err(),
        "wrong type"
    );
}

#[tokio::test]
async fn item_size_and_engine_bounds_are_enforced() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = TablesConfig {
        max_bytes: 1000,
        ..Default::default()
    };
    let tables = Tables::open(dir.path(), config).expect("open");
    tables.create_table(meta("tab")).await.expect("create");
    let big = "x".repeat(MAX_ITEM_BYTES);
    let too_big = tables
        .put(
            "tab",
            item(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": big}})),
            &None,
        )
        .await;
    assert_eq!(too_big.err().map(|e| e.kind), Some(ErrorKind::Validation));
    let fill = "y".repeat(900);
    tables
        .put(
            "tab",
            item(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": fill}})),
            &None,
        )
        .await
        .expect("fits");
    let over = tables
        .put(
            "tab",
            item(json!({"pk": {"S": "a"}, "sk": {"N": "2"}, "v": {"S": fill}})),
            &None,
        )
        .await;
    assert_eq!(
        over.err().map(|e| e.kind),
        Some(ErrorKind::ProvisionedThroughputExceeded)
    );
    // Replacing an item counts only the difference.
    tables
        .put(
            "tab",
            item(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "small"}})),
            &None,
        )
        .await
        .expect("replace");
    tables.delete_table("tab").await.expect("delete");
    assert!(tables.table("tab").is_err());
}
