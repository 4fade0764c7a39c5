//! The query protocol's output: a JSON-protocol answer written as SQS's XML, with the
//! element names of SQS's query model (flattened lists and maps).

use serde_json::Value;
use std::fmt::Write as _;

const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// Escapes text for an element's content (`\r` too, which XML parsers would turn into
/// `\n`).
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn element(name: &str, value: &Value, op: &str, out: &mut String) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            let member = match name {
                "QueueUrls" | "queueUrls" => "QueueUrl".to_owned(),
                "Messages" => "Message".to_owned(),
                "Successful" => format!("{op}ResultEntry"),
                "Failed" => "BatchResultErrorEntry".to_owned(),
                "Results" => format!("{op}ResultEntry"),
                other => other.to_owned(),
            };
            for item in items {
                element(&member, item, op, out);
            }
        }
        Value::Object(map) if matches!(name, "Attributes" | "MessageAttributes" | "Tags") => {
            let (entry, key) = match name {
                "Attributes" => ("Attribute", "Name"),
                "MessageAttributes" => ("MessageAttribute", "Name"),
                _ => ("Tag", "Key"),
            };
            for (k, v) in map {
                let _ = write!(out, "<{entry}><{key}>");
                escape(k, out);
                let _ = write!(out, "</{key}>");
                element("Value", v, op, out);
                let _ = write!(out, "</{entry}>");
            }
        }
        Value::Object(map) => {
            let _ = write!(out, "<{name}>");
            for (k, v) in map {
                element(k, v, op, out);
            }
            let _ = write!(out, "</{name}>");
        }
        Value::String(s) => {
            let _ = write!(out, "<{name}>");
            escape(s, out);
            let _ = write!(out, "</{name}>");
        }
        Value::Bool(_) | Value::Number(_) => {
            let _ = write!(out, "<{name}>{value}</{name}>");
        }
    }
}

/// `<OpResponse><OpResult>…</OpResult><ResponseMetadata>…</ResponseMetadata></OpResponse>`.
pub fn response(op: &str, output: &Value, request_id: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\"?><{op}Response xmlns=\"{NAMESPACE}\">"
    );
    if let Value::Object(map) = output
        && (!map.is_empty() || op == "ReceiveMessage")
    {
        let _ = write!(out, "<{op}Result>");
        for (k, v) in map {
            element(k, v, op, &mut out);
        }
        let _ = write!(out, "</{op}Result>");
    }
    let _ = write!(
        out,
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op}Response>"
    );
    out
}

/// `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
pub fn error(fault: &str, code: &str, message: &str, request_id: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>{fault}</Type><Code>{code}</Code><Message>"
    );
    escape(message, &mut out);
    let _ = write!(
        out,
        "</Message><Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_use_the_query_models_element_names() {
        let output = json!({"Messages": [{
            "MessageId": "m", "Body": "a<b\r",
            "Attributes": {"SentTimestamp": "1"},
            "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
        }]});
        let xml = response("ReceiveMessage", &output, "rid");
        assert!(!xml.contains("<Attributes>"), "maps are flattened: {xml}");
        assert!(xml.contains("<Body>a&lt;b&#xD;</Body>"), "{xml}");
        assert!(
            xml.contains("<Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>"),
            "{xml}"
        );
        assert!(xml.contains("<MessageAttribute><Name>k</Name><Value><DataType>String</DataType><StringValue>v</StringValue></Value></MessageAttribute>"), "{xml}");
        let batch = response(
            "DeleteMessageBatch",
            &json!({"Successful": [{"Id": "a"}], "Failed": []}),
            "r",
        );
        assert!(
            batch.contains(
                "<DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>"
            ),
            "{batch}"
        );
        let empty = response("DeleteMessage", &json!({}), "r");
        assert!(!empty.contains("DeleteMessageResult"));
        assert!(
            response("ReceiveMessage", &json!({}), "r")
                .contains("<ReceiveMessageResult></ReceiveMessageResult>")
        );
    }
}
