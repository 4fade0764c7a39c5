//! Concurrency and load: hundreds of invokes at once against the account limit, and code,
//! functions and aliases changed while they are being invoked. Every step waits on state
//! the server shows (`hearth_concurrent_executions`), never on a hopeful sleep.

use crate::server::{TestServer, json};
use hyper::Method;
use std::sync::Arc;
use std::time::Duration;

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
    let update = s.update_code("f", "echo").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_sandboxes_serve_under_load_and_are_replenished() {
    let s = Arc::new(TestServer::start().await);
    s.deployed("f", "sleep", None, Some(30)).await;
    s.publish_versions("f", 1).await;
    let path = "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=1";
    let put = s
        .client
        .send_json(
            Method::PUT,
            path,
            &serde_json::json!({"ProvisionedConcurrentExecutions": 5}),
        )
        .await
        .expect("put");
    assert_eq!(put.status, 202, "{}", put.error_text());
    s.wait_for("5 provisioned sandboxes READY", || async {
        json(&s.get(path).await)["Status"] == "READY"
    })
    .await;
    let cold_before = s
        .metric("hearth_cold_starts_total{function=\"f\"}")
        .await
        .unwrap_or(0.0);
    // 30 at once on version 1: the 5 provisioned ones and 25 on-demand cold starts.
    let held = hold(&s, "f:1", 30, HOLD_MS).await;
    for reply in held {
        let reply = reply.await.expect("task");
        assert_eq!(reply.status, 200, "{}", reply.error_text());
        assert_eq!(json(&reply)["slept_ms"], HOLD_MS);
    }
    let cold = s
        .metric("hearth_cold_starts_total{function=\"f\"}")
        .await
        .unwrap_or(0.0)
        - cold_before;
    assert_eq!(cold, 25.0, "the provisioned sandboxes served 5 of the 30");
    // After the load the config is still whole.
    s.wait_for("the provisioned sandboxes to be back", || async {
        let status = json(&s.get(path).await);
        status["Status"] == "READY" && status["AvailableProvisionedConcurrentExecutions"] == 5
    })
    .await;
    Arc::into_inner(s).expect("one owner").stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_scales_up_by_its_rate_and_warm_sandboxes_cost_nothing() {
    let clock = Arc::new(hearth_scheduler::clock::ManualClock::default());
    let rate = 3;
    let s = Arc::new(
        TestServer::start_with({
            let clock = clock.clone();
            move |c| {
                c.clock = clock;
                c.scale_up_per_10s = rate;
            }
        })
        .await,
    );
    s.deployed("f", "sleep", None, Some(30)).await;
    s.deployed("g", "echo", None, None).await;
    // Three new environments in the window...
    let held = hold(&s, "f", rate as usize, HOLD_MS).await;
    // ...and no fourth: the rate, not the account, refuses it.
    let refused = s.invoke("f", r#"{"ms":1}"#).await;
    assert_eq!(refused.status, 429, "{}", refused.error_text());
    assert_eq!(
        json(&refused)["Reason"],
        "ConcurrentInvocationLimitExceeded"
    );
    // Another function has a rate of its own.
    assert_eq!(s.invoke("g", "{}").await.status, 200);
    // 4 s later 1.2 units are back: one more environment, not two.
    clock.advance(Duration::from_secs(4));
    let more = hold(&s, "f", 1, HOLD_MS).await;
    assert_eq!(s.invoke("f", r#"{"ms":1}"#).await.status, 429);
    for reply in held.into_iter().chain(more) {
        let reply = reply.await.expect("task");
        assert_eq!(reply.status, 200, "{}", reply.error_text());
    }
    // The four are warm now: reusing them takes no unit, though none is left.
    let again = hold(&s, "f", 4, HOLD_MS).await;
    for reply in again {
        assert_eq!(reply.await.expect("task").status, 200);
    }
    Arc::into_inner(s).expect("one owner").stop().await;
}
