//! Admission by the memory sandboxes really hold: MemorySizes may overcommit the budget,
//! what sandboxes hold may not. Growth past the budget stops the growing sandbox, never the
//! server; idle sandboxes are evicted before a cold start is refused; a cold start is
//! refused only when busy sandboxes hold the budget.

use crate::server::{TestServer, json};
use std::sync::Arc;

/// A server whose sandboxes may hold 256 MB together, with MemorySizes overcommitted 64×.
async fn small_host() -> TestServer {
    TestServer::start_with(|c| {
        c.pool.memory_budget_mb = 256;
        c.pool.overcommit = 64;
    })
    .await
}

async fn hostile(s: &TestServer, name: &str, memory_mb: u32) {
    let mut request = crate::server::create_request(name, "hostile");
    request["MemorySize"] = memory_mb.into();
    request["Timeout"] = 60.into();
    let reply = s.create(&request).await;
    assert_eq!(reply.status, 201, "{}", reply.error_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growth_past_the_hosts_budget_is_out_of_memory_for_the_grower_alone() {
    let s = small_host().await;
    s.deployed("echo", "echo", None, None).await;
    // Its MemorySize (1 GB) allows 300 MiB; the host's 256 MB do not.
    s.deployed("alloc", "alloc", Some(1024), Some(30)).await;
    let reply = s.invoke("alloc", r#"{"mb":300}"#).await;
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(json(&reply)["errorType"], "Runtime.OutOfMemory");
    assert_eq!(s.invoke("echo", r#"{"n":1}"#).await.status, 200);
    // Its memory came back: the same function fits again when it asks for less.
    s.wait_for("the crashed sandbox's memory to be given back", || async {
        s.metric("hearth_memory_held_bytes").await < Some(64.0 * 1024.0 * 1024.0)
    })
    .await;
    assert_eq!(
        json(&s.invoke("alloc", r#"{"mb":64}"#).await)["allocated_mb"],
        64
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_sandbox_holding_memory_is_evicted_for_a_cold_start() {
    let s = small_host().await;
    s.deployed("echo", "echo", None, None).await;
    s.deployed("alloc", "alloc", Some(1024), Some(30)).await;
    // 240 MiB stay held by alloc's idle sandbox (linear memory never shrinks): over the
    // admission limit (256 MB less the 10 % margin).
    assert_eq!(
        json(&s.invoke("alloc", r#"{"mb":240}"#).await)["allocated_mb"],
        240
    );
    assert_eq!(s.scheduler.pool_stats("alloc").expect("stats").idle, 1);
    // What the sandbox held when its invocation ended is on /metrics, per function.
    let held = s
        .metric("hearth_sandbox_memory_bytes_sum{function=\"alloc\"}")
        .await
        .expect("sandbox memory metric");
    assert!(held >= 240.0 * 1024.0 * 1024.0, "{held}");
    let reply = s.invoke("echo", r#"{"n":1}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.error_text());
    assert_eq!(s.scheduler.pool_stats("alloc").expect("stats").live, 0);
    assert_eq!(
        s.metric("hearth_sandboxes_evicted_for_memory_total").await,
        Some(1.0)
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_is_refused_only_when_busy_sandboxes_hold_the_budget() {
    let s = Arc::new(small_host().await);
    s.deployed("echo", "echo", None, None).await;
    hostile(&s, "holder", 1024).await;
    let holding = {
        let s = s.clone();
        tokio::spawn(async move {
            s.invoke("holder", r#"{"mode":"hold","n":240,"ms":5000}"#)
                .await
        })
    };
    s.wait_for("the holder to hold its 240 MiB", || async {
        s.metric("hearth_memory_held_bytes").await > Some(240.0 * 1024.0 * 1024.0)
    })
    .await;
    let refused = s.invoke("echo", "{}").await;
    assert_eq!(refused.status, 429, "{}", refused.error_text());
    assert_eq!(
        json(&refused)["Reason"],
        "ConcurrentInvocationLimitExceeded"
    );
    // Once the holder has answered, its sandbox is idle (still holding): evicted for echo.
    let held = holding.await.expect("task");
    assert_eq!(json(&held)["held_mb"], 240, "{}", held.error_text());
    assert_eq!(s.invoke("echo", "{}").await.status, 200);
    assert_eq!(s.scheduler.pool_stats("holder").expect("stats").live, 0);
    Arc::into_inner(s).expect("one owner").stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_functions_at_150_concurrent_invokes_each_are_all_served() {
    // The machine's own budget (80 % of its memory) and overcommit, as `hearth serve` has.
    let s = Arc::new(
        TestServer::start_with(|c| {
            c.pool = hearth_pool::PoolConfig {
                max_sandboxes: 1024,
                ..hearth_pool::PoolConfig::default()
            };
        })
        .await,
    );
    let names: Vec<String> = (0..6).map(|i| format!("sleep{i}")).collect();
    for name in &names {
        s.deployed(name, "sleep", None, Some(30)).await;
    }
    let calls: Vec<_> = names
        .iter()
        .flat_map(|name| std::iter::repeat_n(name.clone(), 150))
        .map(|name| {
            let s = s.clone();
            tokio::spawn(async move { s.invoke(&name, r#"{"ms":2000}"#).await })
        })
        .collect();
    let mut throttled = 0;
    for call in calls {
        let reply = call.await.expect("task");
        if reply.status == 429 {
            throttled += 1;
        } else {
            assert_eq!(reply.status, 200, "{}", reply.error_text());
        }
    }
    assert_eq!(
        throttled, 0,
        "900 concurrent invokes under the account limit of 1,000"
    );
    Arc::into_inner(s).expect("one owner").stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_holds_its_memory_for_its_function() {
    use hyper::Method;
    // Room for 8 sandboxes of 128 MB by MemorySize (no overcommit).
    let s = Arc::new(
        TestServer::start_with(|c| {
            c.pool.memory_budget_mb = 1024;
            c.pool.overcommit = 1;
        })
        .await,
    );
    s.deployed("reserved", "sleep", None, Some(30)).await;
    s.deployed("other", "sleep", None, Some(30)).await;
    let put = |name: &'static str, n: u32| {
        let s = s.clone();
        async move {
            s.client
                .send_json(
                    Method::PUT,
                    &format!("/2017-10-31/functions/{name}/concurrency"),
                    &serde_json::json!({ "ReservedConcurrentExecutions": n }),
                )
                .await
                .expect("put")
        }
    };
    // More than the host can hold for it is refused at Put.
    let refused = put("reserved", 9).await;
    assert_eq!(refused.status, 400, "{}", refused.error_text());
    assert!(
        refused.error_text().contains("MemorySize"),
        "{}",
        refused.error_text()
    );
    assert_eq!(put("reserved", 3).await.status, 200);
    // Another function gets only what the reservation leaves: 5 of the 8.
    let other: Vec<_> = (0..5)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.invoke("other", r#"{"ms":5000}"#).await })
        })
        .collect();
    s.wait_for("the other function's 5 running", || async {
        s.metric("hearth_concurrent_executions").await == Some(5.0)
    })
    .await;
    let sixth = s.invoke("other", r#"{"ms":1}"#).await;
    assert_eq!(sixth.status, 429, "{}", sixth.error_text());
    // The reserved function still gets its 3 while the other holds its 5.
    let mine: Vec<_> = (0..3)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.invoke("reserved", r#"{"ms":1}"#).await })
        })
        .collect();
    for call in mine.into_iter().chain(other) {
        let reply = call.await.expect("task");
        assert_eq!(reply.status, 200, "{}", reply.error_text());
    }
    Arc::into_inner(s).expect("one owner").stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grower_among_many_busy_sandboxes_is_stopped_and_the_busy_ones_finish() {
    let s = Arc::new(small_host().await);
    hostile(&s, "holder", 128).await;
    s.deployed("alloc", "alloc", Some(1024), Some(30)).await;
    // Ten busy sandboxes holding 16 MiB each.
    let holders: Vec<_> = (0..10)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.invoke("holder", r#"{"mode":"hold","n":16,"ms":5000}"#)
                    .await
            })
        })
        .collect();
    s.wait_for("ten holders holding", || async {
        s.metric("hearth_concurrent_executions").await == Some(10.0)
            && s.metric("hearth_memory_held_bytes").await > Some(160.0 * 1024.0 * 1024.0)
    })
    .await;
    // Admitted (under budget less margin), then its growth passes the budget: it alone stops.
    let grower = s.invoke("alloc", r#"{"mb":200}"#).await;
    assert_eq!(
        json(&grower)["errorType"],
        "Runtime.OutOfMemory",
        "{}",
        grower.error_text()
    );
    for holder in holders {
        let reply = holder.await.expect("task");
        assert_eq!(reply.status, 200, "{}", reply.error_text());
        assert_eq!(json(&reply)["held_mb"], 16);
    }
    Arc::into_inner(s).expect("one owner").stop().await;
}
