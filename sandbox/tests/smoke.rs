//! Drives real guests through the wasm backend directly (no scheduler, no HTTP).

#[path = "../../tests/support/guests.rs"]
mod guests;
use guests::guest;

use hearth_runtime_api::{Invocation, SandboxFailure};
use hearth_sandbox::{
    EngineConfig, Environment, FunctionSettings, InvokeOutcome, WasmEngine, WasmFunction,
};
use std::time::{Duration, Instant};

fn function(
    dir: &tempfile::TempDir,
    name: &str,
    memory_mb: u64,
    timeout: Duration,
) -> WasmFunction {
    let engine = WasmEngine::new(EngineConfig {
        cache_dir: dir.path().join("cache"),
        max_instances: 16,
        host_memory: std::sync::Arc::new(hearth_sandbox::HostMemory::unlimited()),
    })
    .expect("engine");
    let wasm = guest(name);
    let settings = FunctionSettings {
        function_name: name.into(),
        version: "$LATEST".into(),
        memory_mb,
        timeout,
        handler: "function.wasm".into(),
        region: "us-east-1".into(),
        initialization_type: "on-demand".into(),
        environment: vec![],
        tmp_root: dir.path().join("tmp"),
        tmp_limit_mb: 512,
        execution_env: None,
    };
    WasmFunction::prepare(&engine, name, &wasm, settings).expect("prepare")
}

fn invocation(payload: &[u8]) -> Invocation {
    Invocation {
        request_id: hearth_runtime_api::new_request_id(),
        deadline_ms: 0,
        invoked_function_arn: "arn".into(),
        trace_id: hearth_runtime_api::new_trace_id(),
        client_context: None,
        cognito_identity: None,
        payload: payload.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_round_trip_and_warm_reuse() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = function(&dir, "echo", 128, Duration::from_secs(3));
    let mut s = f.start().await.expect("start");
    for i in 0..3 {
        let body = format!("{{\"i\":{i}}}");
        match s
            .invoke(
                invocation(body.as_bytes()),
                Instant::now() + Duration::from_secs(3),
            )
            .await
        {
            InvokeOutcome::Response(p) => assert_eq!(p, body.as_bytes()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(s.max_memory_used_mb() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_past_timeout_is_timedout() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = function(&dir, "sleep", 128, Duration::from_secs(1));
    let mut s = f.start().await.expect("start");
    match s
        .invoke(
            invocation(br#"{"ms":5000}"#),
            Instant::now() + Duration::from_secs(1),
        )
        .await
    {
        InvokeOutcome::Failed(SandboxFailure::Timeout { .. }) => {}
        other => panic!("unexpected {other:?}"),
    }
    assert!(!s.is_alive(), "a timed-out sandbox is stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alloc_past_memory_is_oom() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = function(&dir, "alloc", 128, Duration::from_secs(10));
    let mut s = f.start().await.expect("start");
    match s
        .invoke(
            invocation(br#"{"mb":200}"#),
            Instant::now() + Duration::from_secs(10),
        )
        .await
    {
        InvokeOutcome::Failed(SandboxFailure::OutOfMemory { .. }) => {}
        other => panic!("unexpected {other:?}"),
    }
}

/// A snapshot runs `heavy-init`'s `wizer-initialize` once: a sandbox started from it finds
/// the table built (and the same table as a plain cold start builds), while one started from
/// the plain component builds it itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_starts_sandboxes_with_init_already_done() {
    let dir = tempfile::tempdir().expect("tmp");
    let engine = WasmEngine::new(EngineConfig {
        cache_dir: dir.path().join("cache"),
        max_instances: 16,
        host_memory: std::sync::Arc::new(hearth_sandbox::HostMemory::unlimited()),
    })
    .expect("engine");
    let settings = FunctionSettings {
        function_name: "heavy-init".into(),
        version: "1".into(),
        memory_mb: 128,
        timeout: Duration::from_secs(3),
        handler: "function.wasm".into(),
        region: "us-east-1".into(),
        initialization_type: "snap-start".into(),
        environment: vec![],
        tmp_root: dir.path().join("tmp"),
        tmp_limit_mb: 512,
        execution_env: None,
    };
    let wasm = guest("heavy-init");
    let snap = hearth_sandbox::snapshot::snapshot(&engine, &wasm, &settings)
        .await
        .expect("snapshot");
    let answer = |f: WasmFunction| async move {
        let mut s = f.start().await.expect("start");
        match s
            .invoke(
                invocation(br#"{"index":7}"#),
                Instant::now() + Duration::from_secs(3),
            )
            .await
        {
            InvokeOutcome::Response(p) => {
                serde_json::from_slice::<serde_json::Value>(&p).expect("json")
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    let restored = answer(
        WasmFunction::prepare(
            &engine,
            "heavy-init-snap",
            &snap.component,
            settings.clone(),
        )
        .expect("prepare snapshot"),
    )
    .await;
    let plain =
        answer(WasmFunction::prepare(&engine, "heavy-init", &wasm, settings).expect("prepare"))
            .await;
    assert_eq!(restored["built_here"], false, "{restored}");
    assert_eq!(plain["built_here"], true, "{plain}");
    assert_eq!(restored["checksum"], plain["checksum"]);
    assert_eq!(restored["entry"], plain["entry"]);
}
