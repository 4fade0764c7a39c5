//! Concurrency and load: hundreds of invokes at once against the account limit, and code,
//! functions and aliases changed while they are being invoked. Every step waits on state
//! the server shows (`hearth_concurrent_executions`), never on a hopeful sleep.

use crate::server::{TestServer, json};
use hyper::Method;
use std::sync::Arc;

/// How long the held invocations sleep: long enough for the rest of the test to run while
/// they hold their slots (the test waits on the gauge; this only has to outlast that).
const HOLD_MS: u64 = 5_000;

/// Starts `n` sync invokes of `function` (the `sleep` guest) that each hold a slot for
/// `hold_ms`, and waits until all `n` are running.
async fn hold(
    s: &Arc<TestServer>,
    function: &str,
    n: usize,
    hold_ms: u64,
) -> Vec<tokio::task::JoinHandle<hearth::client::Reply>> {
    let before = s
        .metric("hearth_concurrent_executions")
        .await
        .unwrap_or(0.0);
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let s = s.clone();
            let function = function.to_owned();
            tokio::spawn(
                async move { s.invoke(&function, &format!(r#"{{"ms":{hold_ms}}}"#)).await },
            )
        })
        .collect();
    let want = before + n as f64;
    s.wait_for(
        &format!("{n} running invocations of {function}"),
        || async { s.metric("hearth_concurrent_executions").await == Some(want) },
    )
    .await;
    handles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_invokes_are_admitted_up_to_the_account_limit() {
    // Lambda's default account limit, as the server starts with it.
    let limit = hearth_scheduler::config::DEFAULT_ACCOUNT_CONCURRENCY;
    let s = Arc::new(
        TestServer::start_with(|c| {
            assert_eq!(c.account_concurrency, limit);
            // Room (in slots and in the MemorySize the pool charges) for every invocation
            // the account admits, so the account limit is what refuses the rest.
            c.pool.max_sandboxes = limit as usize + 100;
            c.pool.memory_budget_mb = 128 * (u64::from(limit) + 100);
        })
        .await,
    );
    s.deployed("sleep", "sleep", None, Some(30)).await;
    // A thousand cold starts take a few seconds in a debug build: hold longer.
    let held = hold(&s, "sleep", limit as usize, 3 * HOLD_MS).await;
    // The account is full: 200 more at once are each throttled, with Lambda's reason.
    let extra: Vec<_> = (0..200)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.invoke("sleep", r#"{"ms":1}"#).await })
        })
        .collect();
    for reply in extra {
        let reply = reply.await.expect("task");
        assert_eq!(reply.status, 429, "{}", reply.error_text());
        assert_eq!(
            reply.header("x-amzn-ErrorType"),
            Some("TooManyRequestsException")
        );
        assert_eq!(json(&reply)["Reason"], "ConcurrentInvocationLimitExceeded");
    }
    for reply in held {
        let reply = reply.await.expect("task");
        assert_eq!(reply.status, 200, "{}", reply.error_text());
        assert_eq!(json(&reply)["slept_ms"], 3 * HOLD_MS);
    }
    // Slots come back: the account admits again.
    assert_eq!(s.invoke("sleep", r#"{"ms":1}"#).await.status, 200);
    Arc::into_inner(s).expect("one owner").stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_code_serves_new_invokes_while_running_ones_finish_on_the_old() {
    let s = Arc::new(TestServer::start().await);
    s.deployed("f", "sleep", None, Some(30)).await;
    let held = hold(&s, "f", 20, HOLD_MS).await;
    // Swap in echo while 20 invocations of sleep run.
    let wasm = crate::guests::guest("echo");
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("f.wasm"), &wasm).expect("write");
    let zip = hearth::client::package(&dir.path().join("f.wasm"), "function.wasm").expect("zip");
    use base64::Engine as _;
    let update = s
        .client
        .send_json(
            Method::PUT,
            "/2015-03-31/functions/f/code",
            &serde_json::json!({
                "ZipFile": base64::engine::general_purpose::STANDARD.encode(&zip)
            }),
        )
        .await
        .expect("update");
    assert_eq!(update.status, 200, "{}", update.error_text());
    // New invokes run the new code at once (echo returns its payload)...
    let new = s.invoke("f", r#"{"ms":1,"new":true}"#).await;
    assert_eq!(json(&new)["new"], true, "{}", new.error_text());
    // ...and every running one finished on the old code (sleep answers slept_ms).
    for reply in held {
        let reply = reply.await.expect("task");
        assert_eq!(reply.status, 200, "{}", reply.error_text());
        assert_eq!(json(&reply)["slept_ms"], HOLD_MS);
    }
    Arc::into_inner(s).expect("one owner").stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_function_or_alias_while_it_is_invoked_lets_running_invocations_finish() {
    let s = Arc::new(TestServer::start().await);
    s.deployed("f", "sleep", None, Some(30)).await;
    s.publish_versions("f", 1).await;
    let alias = s
        .client
        .send_json(
            Method::POST,
            "/2015-03-31/functions/f/aliases",
            &serde_json::json!({"Name": "live", "FunctionVersion": "1"}),
        )
        .await
        .expect("alias");
    assert_eq!(alias.status, 201, "{}", alias.error_text());
    let through_alias = hold(&s, "f:live", 10, HOLD_MS).await;
    let delete = |path: &'static str| {
        let s = s.clone();
        async move {
            s.client
                .send(Method::DELETE, path, &[], Vec::new())
                .await
                .expect("delete")
                .status
        }
    };
    assert_eq!(delete("/2015-03-31/functions/f/aliases/live").await, 204);
    let gone = s.invoke("f:live", r#"{"ms":1}"#).await;
    assert_eq!(gone.status, 404, "{}", gone.error_text());
    let direct = hold(&s, "f", 10, HOLD_MS).await;
    assert_eq!(delete("/2015-03-31/functions/f").await, 204);
    let gone = s.invoke("f", r#"{"ms":1}"#).await;
    assert_eq!(gone.status, 404, "{}", gone.error_text());
    for reply in through_alias.into_iter().chain(direct) {
        let reply = reply.await.expect("task");
        assert_eq!(reply.status, 200, "{}", reply.error_text());
        assert_eq!(json(&reply)["slept_ms"], HOLD_MS);
    }
    s.wait_for("every slot released", || async {
        s.metric("hearth_concurrent_executions").await == Some(0.0)
    })
    .await;
    Arc::into_inner(s).expect("one owner").stop().await;
}
