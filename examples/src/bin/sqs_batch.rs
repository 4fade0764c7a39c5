//! `sqs-batch`: an SQS consumer that reports partial failures.
//!
//! Prints `got <messageId> <body>` for every message (so tests read what arrived from the
//! function's log). A message whose body contains `fail` is reported in
//! `batchItemFailures`; a body of `throw` fails the whole invocation. In a FIFO batch, as
//! Lambda asks, it stops at the first failure and reports it and every later message.

use hearth_sdk::Error;
use hearth_sdk::events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

fn main() {
    hearth_sdk::run(|event: SqsEvent, _ctx| {
        let mut response = SqsBatchResponse::default();
        let mut failing_groups = std::collections::HashSet::new();
        for record in &event.records {
            println!("got {} {}", record.message_id, record.body);
            if record.body == "throw" {
                return Err(Error::new(
                    "BatchError",
                    "the batch holds a message that throws",
                ));
            }
            let group = record.attributes.get("MessageGroupId");
            let failed_before = group.is_some_and(|g| failing_groups.contains(g));
            if failed_before || record.body.contains("fail") {
                if let Some(g) = group {
                    failing_groups.insert(g.clone());
                }
                response.batch_item_failures.push(BatchItemFailure {
                    item_identifier: record.message_id.clone(),
                });
            }
        }
        Ok(response)
    });
}
