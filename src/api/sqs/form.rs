//! The query protocol's input: form-encoded, flattened parameters (`Attribute.1.Name`,
//! `SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue`) turned into the
//! JSON protocol's shapes, by the names SQS's query model gives them.

use hearth_queue::{ErrorKind, SqsError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Decodes `a=b&c=d` (with `+` as space).
pub fn decode(text: &str) -> Result<Vec<(String, String)>, SqsError> {
    let mut out = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((unescape(k)?, unescape(v)?));
    }
    Ok(out)
}

fn unescape(text: &str) -> Result<String, SqsError> {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            SqsError::new(
                ErrorKind::MalformedInput,
                "The query string is not valid UTF-8.",
            )
        })
}

/// Flattened maps: the query name, the JSON name, and the key and value fields.
const MAPS: &[(&str, &str, &str)] = &[
    ("Attribute", "Attributes", "Name"),
    ("MessageAttribute", "MessageAttributes", "Name"),
    ("MessageSystemAttribute", "MessageSystemAttributes", "Name"),
    ("Tag", "tags", "Key"),
    ("Tags", "Tags", "Key"),
];

/// Flattened lists: the query member name and the JSON list name.
const LISTS: &[(&str, &str)] = &[
    ("AttributeName", "AttributeNames"),
    ("MessageAttributeName", "MessageAttributeNames"),
    ("MessageSystemAttributeName", "MessageSystemAttributeNames"),
    ("TagKey", "TagKeys"),
    ("SendMessageBatchRequestEntry", "Entries"),
    ("DeleteMessageBatchRequestEntry", "Entries"),
    ("ChangeMessageVisibilityBatchRequestEntry", "Entries"),
    ("AWSAccountId", "AWSAccountIds"),
    ("ActionName", "Actions"),
];

/// A parameter tree: `a.1.b=x` is `a → 1 → b → x`.
#[derive(Debug, Default)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert(&mut self, path: &[&str], value: String) {
        match path.split_first() {
            None => self.value = Some(value),
            Some((head, rest)) => self
                .children
                .entry((*head).to_owned())
                .or_default()
                .insert(rest, value),
        }
    }

    /// The children under numeric keys, in numeric order.
    fn numbered(&self) -> Vec<&Node> {
        let mut items: Vec<(u32, &Node)> = self
            .children
            .iter()
            .filter_map(|(k, v)| k.parse::<u32>().ok().map(|n| (n, v)))
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    fn to_json(&self) -> Value {
        if self.children.is_empty() {
            return Value::String(self.value.clone().unwrap_or_default());
        }
        let mut out = Map::new();
        for (key, child) in &self.children {
            if let Some((_, json_name, key_field)) = MAPS.iter().find(|(q, _, _)| q == key) {
                let mut map = Map::new();
                for item in child.numbered() {
                    let Some(name) = item.children.get(*key_field).and_then(|n| n.value.clone())
                    else {
                        continue;
                    };
                    let value = item
                        .children
                        .get("Value")
                        .map_or(Value::Null, Node::to_json);
                    map.insert(name, value);
                }
                out.insert((*json_name).to_owned(), Value::Object(map));
            } else if let Some((_, json_name)) = LISTS.iter().find(|(q, _)| q == key) {
                let items: Vec<Value> = child.numbered().into_iter().map(Node::to_json).collect();
                out.insert((*json_name).to_owned(), Value::Array(items));
            } else {
                out.insert(key.clone(), child.to_json());
            }
        }
        Value::Object(out)
    }
}

/// The JSON protocol's input for a query request's parameters.
pub fn to_json(params: &[(String, String)]) -> Value {
    let mut root = Node::default();
    for (k, v) in params {
        if k == "Action" || k == "Version" {
            continue;
        }
        let path: Vec<&str> = k.split('.').collect();
        root.insert(&path, v.clone());
    }
    match root.to_json() {
        Value::Object(map) => Value::Object(map),
        _ => Value::Object(Map::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattened_parameters_become_json_shapes() {
        let params = decode(
            "Action=SendMessageBatch&QueueUrl=http%3A%2F%2Fh%2F1%2Fq\
             &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=hi+there\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=k\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v\
             &SendMessageBatchRequestEntry.10.Id=j&SendMessageBatchRequestEntry.10.MessageBody=x\
             &SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=y",
        )
        .expect("decode");
        let input = to_json(&params);
        assert_eq!(input["QueueUrl"], "http://h/1/q");
        let entries = input["Entries"].as_array().expect("entries");
        let ids: Vec<&str> = entries
            .iter()
            .map(|e| e["Id"].as_str().expect("id"))
            .collect();
        assert_eq!(ids, ["a", "b", "j"], "numeric order, not text order");
        assert_eq!(entries[0]["MessageBody"], "hi there");
        assert_eq!(
            entries[0]["MessageAttributes"],
            json!({"k": {"DataType": "String", "StringValue": "v"}})
        );

        let create = to_json(&decode("QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=5&Tag.1.Key=t&Tag.1.Value=u&AttributeName.1=All").expect("d"));
        assert_eq!(create["Attributes"], json!({"DelaySeconds": "5"}));
        assert_eq!(create["tags"], json!({"t": "u"}));
        assert_eq!(create["AttributeNames"], json!(["All"]));
    }

    #[test]
    fn bad_escapes_are_refused() {
        assert!(decode("a=%FF").is_err());
        assert_eq!(
            decode("a").expect("bare key"),
            [("a".to_owned(), String::new())]
        );
    }
}
