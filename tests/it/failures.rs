//! Sandbox failures: each discards only the failed sandbox and leaves the server serving.

use crate::server::{TestServer, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_past_the_timeout_is_sandbox_timedout() {
    let s = TestServer::start().await;
    s.deployed("sleep", "sleep", None, Some(1)).await;
    s.deployed("echo", "echo", None, None).await;
    let reply = s.invoke("sleep", r#"{"ms":10000}"#).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    let body = json(&reply);
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    let id = reply.header("x-amzn-RequestId").expect("id");
    assert_eq!(
        body["errorMessage"],
        format!("RequestId: {id} Error: Task timed out after 1.00 seconds")
    );
    // The timed-out sandbox was stopped, not returned to the pool (how late the timeout is
    // reported is a benchmark's business, not a test's).
    assert_eq!(s.scheduler.pool_stats("sleep").expect("stats").live, 0);
    // The server and other functions are unaffected; the timed-out function cold-starts.
    assert_eq!(s.invoke("echo", "{}").await.body, "{}".as_bytes());
    assert_eq!(json(&s.invoke("sleep", r#"{"ms":1}"#).await)["slept_ms"], 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocating_past_memory_size_is_out_of_memory() {
    let s = TestServer::start().await;
    s.deployed("alloc", "alloc", Some(128), Some(30)).await;
    let ok = s.invoke("alloc", r#"{"mb":32}"#).await;
    assert_eq!(
        json(&ok)["allocated_mb"],
        32,
        "{}",
        String::from_utf8_lossy(&ok.body)
    );
    let reply = s
        .invoke_as("alloc", r#"{"mb":200}"#, "RequestResponse", true)
        .await;
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(json(&reply)["errorType"], "Runtime.OutOfMemory");
    let log = crate::server::log_tail(&reply);
    let used: u64 = log
        .split("Max Memory Used: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("Max Memory Used in the REPORT line");
    assert!(
        (33..=128).contains(&used),
        "measured peak {used} MB:\n{log}"
    );
    assert_eq!(s.scheduler.pool_stats("alloc").expect("stats").live, 0);
    assert_eq!(
        json(&s.invoke("alloc", r#"{"mb":1}"#).await)["allocated_mb"],
        1
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_runtime_exit_error() {
    let s = TestServer::start().await;
    s.deployed("crash", "crash", None, None).await;
    assert_eq!(json(&s.invoke("crash", "{}").await)["ok"], true);
    let reply = s
        .invoke_as("crash", r#"{"crash":true}"#, "RequestResponse", true)
        .await;
    let body = json(&reply);
    assert_eq!(body["errorType"], "Runtime.ExitError");
    let message = body["errorMessage"].as_str().expect("message");
    assert!(message.contains("Runtime exited with error"), "{message}");
    assert!(
        crate::server::log_tail(&reply).contains("boom"),
        "the panic message is logged"
    );
    assert_eq!(json(&s.invoke("crash", "{}").await)["ok"], true);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_init_failure_is_returned_to_the_invocation() {
    let s = TestServer::start().await;
    s.deployed("init_fail", "init_fail", None, None).await;
    for _ in 0..2 {
        let reply = s
            .invoke_as("init_fail", "{}", "RequestResponse", true)
            .await;
        assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
        let body = json(&reply);
        assert_eq!(body["errorType"], "InitError");
        assert_eq!(body["errorMessage"], "init failed on purpose");
        assert!(crate::server::log_tail(&reply).contains("INIT_REPORT Status: error"));
        assert_eq!(s.scheduler.pool_stats("init_fail").expect("stats").live, 0);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_invocations_finish() {
    let s = TestServer::start().await;
    s.deployed("sleep", "sleep", None, Some(5)).await;
    let client = s.client.clone();
    let slow = tokio::spawn(async move {
        client
            .invoke("sleep", br#"{"ms":400}"#.to_vec(), "RequestResponse", false)
            .await
            .expect("invoke")
    });
    // Stop only once the invocation is running (observable on /metrics).
    s.wait_for("the invocation to start", || async {
        s.metric("hearth_concurrent_executions").await == Some(1.0)
    })
    .await;
    s.stop().await;
    let reply = slow.await.expect("task");
    assert_eq!(reply.status, 200);
    assert_eq!(json(&reply)["slept_ms"], 400);
}
