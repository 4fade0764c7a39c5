//! Lambda's asynchronous-invocation policy, end to end, with the retry delays configured
//! short (Lambda's are about 1 and 2 minutes; the policy is the same).

use crate::server::{TestServer, json};
use hyper::Method;
use std::time::Duration;

const SINK_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:sink";

async fn put_config(s: &TestServer, function: &str, config: serde_json::Value) {
    let reply = s
        .client
        .send_json(
            Method::PUT,
            &format!("/2019-09-25/functions/{function}/event-invoke-config"),
            &config,
        )
        .await
        .expect("put");
    assert_eq!(reply.status, 200, "{}", reply.error_text());
}

/// Deploys example `example` as `function` and the `logger` sink, and gives `function` the
/// event-invoke config `config` (its destinations point at the sink).
async fn with_sink(s: &TestServer, function: &str, example: &str, config: serde_json::Value) {
    s.deployed(function, example, None, None).await;
    s.deployed("sink", "logger", None, None).await;
    put_config(s, function, config).await;
}

/// The destination records the `logger` sink has received so far.
async fn records(s: &TestServer) -> Vec<serde_json::Value> {
    let logs = s.scheduler.logs().clone();
    let text = tokio::task::spawn_blocking(move || {
        logs.flush();
        std::fs::read_to_string(logs.path("sink")).unwrap_or_default()
    })
    .await
    .expect("read");
    text.lines()
        .filter(|l| l.starts_with("event "))
        .filter_map(|l| l.split_once(": "))
        .filter_map(|(_, r)| serde_json::from_str(r).ok())
        .collect()
}

/// Waits (bounded) for the first destination record.
async fn one_record(s: &TestServer) -> serde_json::Value {
    crate::server::poll_for(Duration::from_secs(30), || async {
        records(s).await.into_iter().next()
    })
    .await
    .expect("no destination record arrived")
}

/// REPORT lines of `function` in its log: one per attempt that ran.
async fn attempts(s: &TestServer, function: &str) -> usize {
    let logs = s.scheduler.logs().clone();
    let function = function.to_owned();
    tokio::task::spawn_blocking(move || {
        logs.flush();
        std::fs::read_to_string(logs.path(&function))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("REPORT "))
            .count()
    })
    .await
    .expect("read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_event_is_retried_twice_by_default_then_reaches_on_failure() {
    let s = TestServer::start_with(|c| {
        c.async_retry_delays = vec![Duration::from_millis(20), Duration::from_millis(40)];
    })
    .await;
    with_sink(
        &s,
        "failing",
        "error",
        serde_json::json!({"DestinationConfig": {"OnFailure": {"Destination": SINK_ARN}}}),
    )
    .await;
    let accepted = s.invoke_as("failing", r#"{"n":1}"#, "Event", false).await;
    assert_eq!(accepted.status, 202);
    let record = one_record(&s).await;
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(attempts(&s, "failing").await, 3, "one try and two retries");
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_event_reaches_on_success_with_its_response() {
    let s = TestServer::start().await;
    with_sink(
        &s,
        "echo",
        "echo",
        serde_json::json!({"DestinationConfig": {"OnSuccess": {"Destination": SINK_ARN}}}),
    )
    .await;
    let accepted = s.invoke_as("echo", r#"{"order":7}"#, "Event", false).await;
    let request_id = accepted.header("x-amzn-RequestId").expect("id").to_owned();
    let record = one_record(&s).await;
    assert_eq!(record["version"], "1.0");
    assert_eq!(record["requestContext"]["condition"], "Success");
    assert_eq!(record["requestContext"]["requestId"], request_id.as_str());
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(record["requestPayload"]["order"], 7);
    assert_eq!(record["responsePayload"]["order"], 7);
    assert_eq!(record["responseContext"]["statusCode"], 200);
    assert_eq!(record["responseContext"]["executedVersion"], "$LATEST");
    assert!(record["responseContext"].get("functionError").is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_event_is_retried_until_too_old_then_event_age_exceeded() {
    let s = TestServer::start_with(|c| c.async_max_event_age = Duration::from_millis(300)).await;
    with_sink(
        &s,
        "echo",
        "echo",
        serde_json::json!({"DestinationConfig": {"OnFailure": {"Destination": SINK_ARN}}}),
    )
    .await;
    let put = s
        .client
        .send(
            Method::PUT,
            "/2017-10-31/functions/echo/concurrency",
            &[],
            r#"{"ReservedConcurrentExecutions":0}"#,
        )
        .await
        .expect("put");
    assert_eq!(put.status, 200);
    s.invoke_as("echo", "{}", "Event", false).await;
    let record = one_record(&s).await;
    assert_eq!(record["requestContext"]["condition"], "EventAgeExceeded");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 0);
    assert!(record.get("responsePayload").is_none(), "{record}");
    assert_eq!(attempts(&s, "echo").await, 0, "every attempt was throttled");
    let throttles = s.metric("hearth_throttles_total{function=\"echo\"}").await;
    assert!(throttles.is_some_and(|n| n >= 1.0), "{throttles:?}");
    assert_eq!(
        json(&s.get("/2019-09-30/functions/echo/concurrency").await)["ReservedConcurrentExecutions"],
        0
    );
    s.stop().await;
}

/// Lambda's own timings (retries 1 and 2 minutes apart, throttle backoff from 1 s to 5 min,
/// the event's maximum age), on a manual clock: the test sees each wait the policy starts,
/// checks its length, and moves time past it.
mod lambda_timings {
    use super::{SINK_ARN, attempts, records, with_sink};
    use crate::server::TestServer;
    use hearth_scheduler::clock::ManualClock;
    use hyper::Method;
    use std::sync::Arc;
    use std::time::Duration;

    async fn start(clock: &Arc<ManualClock>) -> TestServer {
        let clock = clock.clone();
        TestServer::start_with(move |c| c.clock = clock).await
    }

    /// The next wait the policy starts, which must come (real time) within 30 s.
    async fn next_wait(clock: &ManualClock) -> Duration {
        clock
            .next_wait(Duration::from_secs(30))
            .await
            .expect("the policy started no wait")
    }

    /// Ends every wait the policy starts, in order, until `total` has passed on the clock;
    /// returns the waits.
    async fn sit_out(clock: &ManualClock, total: Duration) -> Vec<Duration> {
        let mut waits = Vec::new();
        while waits.iter().sum::<Duration>() < total {
            let wait = next_wait(clock).await;
            waits.push(wait);
            clock.advance(wait);
        }
        waits
    }

    async fn reserve(s: &TestServer, function: &str, reserved: Option<u32>) {
        let path = format!("/2017-10-31/functions/{function}/concurrency");
        let reply = match reserved {
            Some(n) => {
                s.client
                    .send_json(
                        Method::PUT,
                        &path,
                        &serde_json::json!({ "ReservedConcurrentExecutions": n }),
                    )
                    .await
            }
            None => s.client.send(Method::DELETE, &path, &[], Vec::new()).await,
        }
        .expect("concurrency");
        assert!(reply.status.is_success(), "{}", reply.error_text());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_retries_one_then_two_minutes_apart() {
        let clock = Arc::new(ManualClock::default());
        let s = start(&clock).await;
        with_sink(
            &s,
            "failing",
            "error",
            serde_json::json!({"DestinationConfig": {"OnFailure": {"Destination": SINK_ARN}}}),
        )
        .await;
        s.invoke_as("failing", "{}", "Event", false).await;
        assert_eq!(next_wait(&clock).await, Duration::from_secs(60));
        assert_eq!(attempts(&s, "failing").await, 1);
        clock.advance(Duration::from_secs(60));
        assert_eq!(next_wait(&clock).await, Duration::from_secs(120));
        assert_eq!(attempts(&s, "failing").await, 2);
        clock.advance(Duration::from_secs(120));
        let record = super::one_record(&s).await;
        assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(record["responseContext"]["functionError"], "Unhandled");
        assert_eq!(attempts(&s, "failing").await, 3);
        assert!(clock.pending().is_empty(), "{:?}", clock.pending());
        s.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_throttled_event_backs_off_until_its_maximum_age() {
        let clock = Arc::new(ManualClock::default());
        let s = start(&clock).await;
        with_sink(
            &s,
            "echo",
            "echo",
            serde_json::json!({
                "MaximumEventAgeInSeconds": 60,
                "DestinationConfig": {"OnFailure": {"Destination": SINK_ARN}},
            }),
        )
        .await;
        reserve(&s, "echo", Some(0)).await;
        s.invoke_as("echo", "{}", "Event", false).await;
        let waits = sit_out(&clock, Duration::from_secs(59)).await;
        // 1, 2, 4, 8, 16 s, then only what is left of the 60 s (not the next 32 s step):
        // 29 s less the few real milliseconds between acceptance and the first attempt.
        assert_eq!(
            waits[..5].iter().map(Duration::as_secs).collect::<Vec<_>>(),
            [1, 2, 4, 8, 16]
        );
        assert_eq!(waits.len(), 6, "{waits:?}");
        assert!(
            waits[5] > Duration::from_secs(28) && waits[5] <= Duration::from_millis(29_001),
            "{waits:?}"
        );
        let record = super::one_record(&s).await;
        assert_eq!(record["requestContext"]["condition"], "EventAgeExceeded");
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 0);
        assert_eq!(attempts(&s, "echo").await, 0);
        let throttles = s.metric("hearth_throttles_total{function=\"echo\"}").await;
        assert_eq!(throttles, Some(6.0), "one throttle before each wait");
        s.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_throttled_event_runs_once_the_throttle_lifts() {
        let clock = Arc::new(ManualClock::default());
        let s = start(&clock).await;
        with_sink(
            &s,
            "echo",
            "echo",
            serde_json::json!({"DestinationConfig": {"OnSuccess": {"Destination": SINK_ARN}}}),
        )
        .await;
        reserve(&s, "echo", Some(0)).await;
        s.invoke_as("echo", r#"{"n":1}"#, "Event", false).await;
        // Throttled for half an hour: the backoff doubles up to 5 min and stays there.
        let waits = sit_out(&clock, Duration::from_secs(1800)).await;
        assert_eq!(
            waits.iter().map(Duration::as_secs).collect::<Vec<_>>(),
            [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300, 300]
        );
        assert!(records(&s).await.is_empty());
        reserve(&s, "echo", None).await;
        let wait = next_wait(&clock).await;
        clock.advance(wait);
        let record = super::one_record(&s).await;
        assert_eq!(record["requestContext"]["condition"], "Success");
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 1);
        assert_eq!(record["responsePayload"]["n"], 1);
        s.stop().await;
    }
}
