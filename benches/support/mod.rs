//! What the in-process benchmarks share: the echo function's settings and one invocation.

// Not every bench reports latencies (density counts memory).
#[allow(dead_code)]
pub mod report;

use base64::Engine as _;
use hearth_runtime_api::Invocation;
use hearth_sandbox::FunctionSettings;
use hearth_scheduler::{CreateFunction, InvokeRequest, Scheduler};

/// Runs `bench` on a worker of a two-worker runtime, as the server's connection tasks run:
/// from `block_on`'s thread every wake-up would be a cross-thread futex hand-off that the
/// server never pays.
#[allow(dead_code)] // density measures from its own loop
pub fn on_a_worker<F>(bench: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(async { tokio::spawn(bench).await })
        .expect("bench task")
}

/// CreateFunction of `package` (a component or a zip) as `name` on `runtime`, with Lambda's
/// defaults otherwise.
#[allow(dead_code)] // density deploys nothing through the scheduler
pub async fn deploy(scheduler: &Scheduler, name: &str, runtime: &str, package: &[u8]) {
    let request: CreateFunction = serde_json::from_value(serde_json::json!({
        "FunctionName": name,
        "Runtime": runtime,
        "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(package) },
    }))
    .expect("request");
    scheduler.create_function(request).await.expect("deploy");
}

/// A synchronous invocation of `name` with a small JSON payload.
#[allow(dead_code)] // density invokes sandboxes directly
pub fn request(name: &str) -> InvokeRequest {
    InvokeRequest {
        function: name.into(),
        payload: br#"{"hello":"world"}"#.to_vec(),
        ..Default::default()
    }
}

/// Echo as `hearth deploy` would configure it, with its `/tmp` under `dir`.
pub fn settings(dir: &std::path::Path) -> FunctionSettings {
    hearth::bench::target::default_settings("echo", dir.join("tmp"))
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

/// `scheduler cold start`: the full in-process path with no idle sandbox, functions `a` and
/// `b` alternating on a scheduler with room for one.
#[allow(dead_code)] // density measures from its own loop
pub async fn scheduler_cold_start(cold: &Scheduler, floor: &'static str, n: usize) -> report::Case {
    let mut flip = false;
    report::measure("scheduler cold start", Some(floor), n, || {
        flip = !flip;
        let name = if flip { "a" } else { "b" };
        async move {
            let r = cold.invoke(request(name)).await.expect("invoke");
            assert!(r.function_error.is_none());
        }
    })
    .await
}

/// `scheduler warm invoke`: the full in-process path with a warm sandbox of `echo`.
#[allow(dead_code)] // density measures from its own loop
pub async fn scheduler_warm_invoke(
    warm: &Scheduler,
    floor: &'static str,
    n: usize,
) -> report::Case {
    report::measure("scheduler warm invoke", Some(floor), n, || async {
        let r = warm.invoke(request("echo")).await.expect("invoke");
        assert!(r.function_error.is_none());
    })
    .await
}
