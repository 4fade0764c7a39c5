//! `ddb-stream`: reacts to a DynamoDB table's stream.
//!
//! Prints `ddb <eventName> <Keys> new=<NewImage or -> old=<OldImage or ->` for every record
//! (tests read what arrived from the function's log), and fails the invocation when a new
//! image has a `poison` attribute.

use hearth_sdk::Error;
use serde_json::Value;

fn main() {
    hearth_sdk::run(|event: Value, _ctx| {
        for record in event["Records"].as_array().into_iter().flatten() {
            let ddb = &record["dynamodb"];
            let image = |name: &str| {
                ddb.get(name)
                    .map_or_else(|| "-".to_owned(), |v| v.to_string())
            };
            println!(
                "ddb {} {} new={} old={}",
                record["eventName"].as_str().unwrap_or("?"),
                ddb["Keys"],
                image("NewImage"),
                image("OldImage")
            );
            if ddb["NewImage"].get("poison").is_some() {
                return Err(Error::new("PoisonRecord", "a new image is poison"));
            }
        }
        Ok(Value::Null)
    });
}
