//! The Invoke API on healthy functions: payloads, warm reuse, invocation types, logs.

use crate::server::{TestServer, json, log_tail};
use hyper::Method;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_returns_its_payload() {
    let s = TestServer::start().await;
    s.deployed("echo", "echo", None, None).await;
    let payload = r#"{"hello":"world","n":[1,2,3]}"#;
    let reply = s.invoke("echo", payload).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, payload.as_bytes());
    assert_eq!(reply.header("X-Amz-Executed-Version"), Some("$LATEST"));
    assert!(reply.header("X-Amz-Function-Error").is_none());
    // By ARN, escaped the way boto3 escapes it.
    let arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aecho";
    let reply = s.invoke(arn, "{}").await;
    assert_eq!(reply.status, 200, "{}", reply.error_text());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_keeps_warm_state_and_restarts_after_a_crash() {
    let s = TestServer::start().await;
    s.deployed("counter", "counter", None, None).await;
    for expected in 1..=3 {
        let reply = s.invoke("counter", "{}").await;
        assert_eq!(json(&reply)["count"], expected, "warm sandbox reused");
    }
    let stats = s.scheduler.pool_stats("counter").expect("stats");
    assert_eq!((stats.live, stats.idle), (1, 1));

    let crash = s.invoke("counter", r#"{"crash":true}"#).await;
    assert_eq!(crash.status, 200);
    assert_eq!(crash.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(json(&crash)["errorType"], "Runtime.ExitError");
    assert_eq!(
        s.scheduler.pool_stats("counter").expect("stats").live,
        0,
        "crashed sandbox discarded"
    );

    let reply = s.invoke("counter", "{}").await;
    assert_eq!(json(&reply)["count"], 1, "fresh sandbox after the crash");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_is_accepted_and_runs_later() {
    let s = TestServer::start().await;
    s.deployed("counter", "counter", None, None).await;
    let reply = s.invoke_as("counter", "{}", "Event", false).await;
    assert_eq!(reply.status, 202);
    assert!(reply.body.is_empty());
    let request_id = reply
        .header("x-amzn-RequestId")
        .expect("request id")
        .to_owned();
    let log = s.scheduler.logs().path("counter");
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        s.scheduler.logs().flush();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains(&format!("REPORT RequestId: {request_id}")) {
            assert!(text.contains("count=1"));
            break;
        }
        assert!(
            Instant::now() < until,
            "the event never ran; log so far:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_is_204_and_runs_nothing() {
    let s = TestServer::start().await;
    s.deployed("counter", "counter", None, None).await;
    let reply = s.invoke_as("counter", "{}", "DryRun", false).await;
    assert_eq!(reply.status, 204);
    assert_eq!(s.scheduler.pool_stats("counter").expect("stats").live, 0);
    let reply = s.invoke_as("missing", "{}", "DryRun", false).await;
    assert_eq!(reply.status, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_returns_this_invocations_log() {
    let s = TestServer::start().await;
    s.deployed("counter", "counter", None, None).await;
    let cold = s.invoke_as("counter", "{}", "RequestResponse", true).await;
    let text = log_tail(&cold);
    let id = cold.header("x-amzn-RequestId").expect("id");
    assert!(
        text.starts_with(&format!("START RequestId: {id} Version: $LATEST\n")),
        "{text}"
    );
    assert!(text.contains("count=1\n"), "{text}");
    assert!(text.contains(&format!("END RequestId: {id}\n")), "{text}");
    assert!(
        text.contains(&format!("REPORT RequestId: {id}\tDuration: ")),
        "{text}"
    );
    assert!(
        text.contains("\tMemory Size: 128 MB\tMax Memory Used: "),
        "{text}"
    );
    assert!(
        text.contains("\tInit Duration: "),
        "cold start reports INIT: {text}"
    );
    let warm = log_tail(&s.invoke_as("counter", "{}", "RequestResponse", true).await);
    assert!(
        warm.contains("count=2") && !warm.contains("Init Duration"),
        "{warm}"
    );
    assert!(
        s.invoke("counter", "{}")
            .await
            .header("X-Amz-Log-Result")
            .is_none()
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handled_errors_keep_the_sandbox_warm() {
    let s = TestServer::start().await;
    s.deployed("error", "error", None, None).await;
    let reply = s.invoke("error", r#""x""#).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    let body = json(&reply);
    assert_eq!(body["errorType"], "ValidationError");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("bad input"))
    );
    assert_eq!(s.scheduler.pool_stats("error").expect("stats").idle, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health() {
    let s = TestServer::start().await;
    s.deployed("echo", "echo", None, None).await;
    s.invoke("echo", "{}").await;
    s.invoke("echo", "{}").await;
    assert_eq!(s.get("/health").await.status, 200);
    let text = String::from_utf8(s.get("/metrics").await.body.to_vec()).expect("utf8");
    for line in [
        "hearth_invocations_total{function=\"echo\"} 2",
        "hearth_cold_starts_total{function=\"echo\"} 1",
        "hearth_sandboxes{function=\"echo\",state=\"idle\"} 1",
        "hearth_duration_seconds_count{function=\"echo\"} 2",
        "hearth_init_duration_seconds_count{function=\"echo\"} 1",
        "hearth_concurrent_executions 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_sees_lambdas_environment_and_a_private_tmp() {
    let s = TestServer::start().await;
    let mut request = crate::server::create_request("envy", "env");
    request["MemorySize"] = 256.into();
    request["Environment"] = serde_json::json!({"Variables": {"GREETING": "hi"}});
    assert_eq!(s.create(&request).await.status, 201);
    let first = json(&s.invoke("envy", r#"{"write":"marker"}"#).await);
    let env = &first["env"];
    for (key, value) in [
        ("AWS_LAMBDA_FUNCTION_NAME", "envy"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/envy"),
        ("AWS_REGION", "us-east-1"),
        ("_HANDLER", "function.wasm"),
        ("TZ", ":UTC"),
        ("GREETING", "hi"),
    ] {
        assert_eq!(env[key], value, "{key}");
    }
    assert!(
        env["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .is_some_and(|s| s.contains("[$LATEST]"))
    );
    assert_eq!(first["tmp"], serde_json::json!(["marker"]));
    // Warm: the same /tmp. After the sandbox is gone, a new one starts with an empty /tmp.
    assert_eq!(
        json(&s.invoke("envy", "{}").await)["tmp"],
        serde_json::json!(["marker"])
    );
    let update = s
        .client
        .send_json(
            Method::PUT,
            "/2015-03-31/functions/envy/configuration",
            &serde_json::json!({"Timeout": 4}),
        )
        .await
        .expect("update");
    assert_eq!(update.status, 200);
    assert_eq!(
        json(&s.invoke("envy", "{}").await)["tmp"],
        serde_json::json!([])
    );
    s.stop().await;
}
