//! `stream-order`: a Kinesis consumer that checks per-key order.
//!
//! Records carry JSON `{"key": K, "n": N}`. Prints `got <shardId> <sequenceNumber> <K> <N>`
//! for every record (tests read what arrived, in order, from the function's log), and
//! fails the invocation if a key's numbers go backwards or skip one within the batch.
//! `"poison": true` in a record throws (a function error, for retries and bisection);
//! `"fail": true` reports the record in `batchItemFailures`.
//!
//! With a tumbling window it also counts the window's records in its state and prints
//! `window <start> <count> final=<bool>` at every invoke.

use hearth_sdk::Error;
use hearth_sdk::events::kinesis::{BatchItemFailure, KinesisEvent, KinesisEventResponse};
use serde_json::json;
use std::collections::HashMap;

fn main() {
    hearth_sdk::run(|event: KinesisEvent, _ctx| {
        let mut response = KinesisEventResponse::default();
        let mut last: HashMap<String, i64> = HashMap::new();
        for record in &event.records {
            let data: serde_json::Value = serde_json::from_slice(&record.kinesis.bytes())
                .map_err(|e| Error::new("BadRecord", format!("not JSON: {e}")))?;
            let key = data["key"].as_str().unwrap_or_default().to_owned();
            let n = data["n"].as_i64().unwrap_or(-1);
            let shard = record.event_id.split(':').next().unwrap_or_default();
            println!("got {shard} {} {key} {n}", record.kinesis.sequence_number);
            if data["poison"] == true {
                return Err(Error::new(
                    "PoisonRecord",
                    format!("record {key} {n} is poison"),
                ));
            }
            if let Some(prev) = last.insert(key.clone(), n)
                && n != prev + 1
            {
                return Err(Error::new(
                    "OrderError",
                    format!("key {key}: {n} came after {prev}"),
                ));
            }
            if data["fail"] == true {
                response.batch_item_failures.push(BatchItemFailure {
                    item_identifier: record.kinesis.sequence_number.clone(),
                });
            }
        }
        let Some(window) = &event.window else {
            return Ok(json!(response));
        };
        let before = event
            .state
            .as_ref()
            .and_then(|s| s["count"].as_u64())
            .unwrap_or(0);
        let count = before + event.records.len() as u64;
        println!(
            "window {} {count} final={}",
            window.start, event.is_final_invoke_for_window
        );
        Ok(json!({
            "state": {"count": count},
            "batchItemFailures": response.batch_item_failures,
        }))
    });
}
