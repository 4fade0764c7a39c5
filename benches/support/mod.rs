//! What the in-process benchmarks share: the echo function's settings and one invocation.

// Not every bench reports latencies (density counts memory).
#[allow(dead_code)]
pub mod report;

use hearth_runtime_api::Invocation;
use hearth_sandbox::FunctionSettings;
use std::time::Duration;

/// Echo as `hearth deploy` would configure it, with its `/tmp` under `dir`.
pub fn settings(dir: &std::path::Path) -> FunctionSettings {
    FunctionSettings {
        function_name: "echo".into(),
        version: "$LATEST".into(),
        memory_mb: 128,
        timeout: Duration::from_secs(3),
        handler: "function.wasm".into(),
        region: "us-east-1".into(),
        initialization_type: "on-demand".into(),
        environment: vec![],
        tmp_root: dir.join("tmp"),
        tmp_limit_mb: 512,
        execution_env: None,
    }
}

/// An invocation of echo with a small JSON payload.
pub fn invocation() -> Invocation {
    Invocation {
        request_id: "bench".into(),
        deadline_ms: 0,
        invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:echo".into(),
        trace_id: "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0"
            .into(),
        client_context: None,
        cognito_identity: None,
        payload: br#"{"hello":"world"}"#.to_vec(),
    }
}
