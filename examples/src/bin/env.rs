//! `env`: returns the sandbox's environment variables as a JSON object, lists `/tmp`, and
//! returns the invocation's context (request id, ARN, deadline, client context, identity).
//! Shows what a function sees: the Lambda runtime variables, its own `Environment`, and
//! its private `/tmp`. Event: `{"write": "name"}` also creates `/tmp/name`; `{"fill_mb": N}`
//! writes N MiB to `/tmp/fill` (to run into the `EphemeralStorage` limit).

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Default)]
struct Event {
    #[serde(default)]
    write: Option<String>,
    #[serde(default)]
    fill_mb: usize,
}

fn main() {
    hearth_sdk::run(|event: Event, ctx: &hearth_sdk::Context| {
        if let Some(name) = event.write {
            std::fs::write(format!("/tmp/{name}"), b"x")?;
        }
        if event.fill_mb > 0 {
            use std::io::Write;
            let mut file = std::fs::File::create("/tmp/fill")?;
            let chunk = vec![7u8; 1024 * 1024];
            for _ in 0..event.fill_mb {
                file.write_all(&chunk)?;
            }
        }
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        let tmp: Vec<String> = std::fs::read_dir("/tmp")?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let context = serde_json::json!({
            "request_id": ctx.request_id,
            "invoked_function_arn": ctx.invoked_function_arn,
            "deadline_ms": ctx.deadline_ms,
            "client_context": ctx.client_context,
            "identity": ctx.identity,
        });
        Ok(serde_json::json!({ "env": vars, "tmp": tmp, "context": context }))
    });
}
