//! `native-rust`: a function built with AWS's official `lambda_runtime` crate, deployed to
//! hearth unchanged as a `provided.al2023` zip's `bootstrap`.
//!
//! It answers its event back, and fails with a handled error when the event is
//! `{"fail": "message"}`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    if let Some(message) = event.payload.get("fail").and_then(Value::as_str) {
        return Err(message.into());
    }
    println!("native-rust handled {}", event.context.request_id);
    Ok(event.payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
