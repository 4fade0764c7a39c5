//! Limits of the Invoke API: concurrency, payload sizes, header values.

use crate::server::{TestServer, json};
use hyper::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_concurrency_one_throttles_the_second_concurrent_invoke() {
    let s = TestServer::start().await;
    s.deployed("sleep", "sleep", None, Some(10)).await;
    let put = s
        .client
        .send(
            Method::PUT,
            "/2017-10-31/functions/sleep/concurrency",
            &[],
            r#"{"ReservedConcurrentExecutions":1}"#,
        )
        .await
        .expect("put");
    assert_eq!(put.status, 200, "{}", put.error_text());
    assert_eq!(json(&put)["ReservedConcurrentExecutions"], 1);

    // The first invocation sleeps until the second has been answered: no reliance on two
    // calls happening to overlap.
    let client = s.client.clone();
    let first = tokio::spawn(async move {
        client
            .invoke(
                "sleep",
                br#"{"ms":3000}"#.to_vec(),
                "RequestResponse",
                false,
            )
            .await
            .expect("invoke")
    });
    s.wait_for("the first invocation to run", || async {
        s.metric("hearth_concurrent_executions").await == Some(1.0)
    })
    .await;
    let b = s.invoke("sleep", r#"{"ms":1}"#).await;
    let a = first.await.expect("task");
    let statuses = [a.status.as_u16(), b.status.as_u16()];
    assert_eq!(
        statuses.iter().filter(|&&c| c == 429).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&c| c == 200).count(),
        1,
        "{statuses:?}"
    );
    let throttled = if a.status == 429 { &a } else { &b };
    assert_eq!(
        throttled.header("x-amzn-ErrorType"),
        Some("TooManyRequestsException")
    );
    assert_eq!(
        json(throttled)["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    assert!(throttled.header("Retry-After").is_some());

    // Reserving 0 throttles every invoke; deleting the reservation lifts it.
    s.client
        .send(
            Method::PUT,
            "/2017-10-31/functions/sleep/concurrency",
            &[],
            r#"{"ReservedConcurrentExecutions":0}"#,
        )
        .await
        .expect("put");
    assert_eq!(s.invoke("sleep", r#"{"ms":1}"#).await.status, 429);
    let del = s
        .client
        .send(
            Method::DELETE,
            "/2017-10-31/functions/sleep/concurrency",
            &[],
            Vec::new(),
        )
        .await
        .expect("delete");
    assert_eq!(del.status, 204);
    assert_eq!(s.invoke("sleep", r#"{"ms":1}"#).await.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_keep_100_unreserved() {
    use hearth_scheduler::config::{DEFAULT_ACCOUNT_CONCURRENCY, MIN_UNRESERVED_CONCURRENCY};
    // Lambda's default account limit, 1,000; memory admitted for 900 reserved 128 MB
    // sandboxes (a reservation holds its MemorySize up front).
    let s = TestServer::start_with(|c| c.pool.memory_budget_mb = 16 * 1024).await;
    let most = DEFAULT_ACCOUNT_CONCURRENCY - MIN_UNRESERVED_CONCURRENCY;
    s.deployed("echo", "echo", None, None).await;
    let put = |n: u32| {
        let c = s.client.clone();
        async move {
            c.send(
                Method::PUT,
                "/2017-10-31/functions/echo/concurrency",
                &[],
                format!(r#"{{"ReservedConcurrentExecutions":{n}}}"#),
            )
            .await
            .expect("put")
        }
    };
    assert_eq!(put(most).await.status, 200);
    let refused = put(most + 1).await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.header("x-amzn-ErrorType"),
        Some("InvalidParameterValueException")
    );
    let get = s.get("/2019-09-30/functions/echo/concurrency").await;
    assert_eq!(json(&get)["ReservedConcurrentExecutions"], most);
    s.stop().await;
}

/// A JSON string payload of exactly `len` bytes.
fn json_string_of(len: usize) -> String {
    format!("\"{}\"", "a".repeat(len - 2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_are_accepted_up_to_their_limit_and_refused_one_byte_over() {
    use hearth_runtime_api::limits::{MAX_ASYNC_PAYLOAD_BYTES, MAX_SYNC_PAYLOAD_BYTES};
    let s = TestServer::start().await;
    s.deployed("echo", "echo", None, None).await;
    // Sync: exactly 6,291,456 bytes goes through and comes back whole; one more is a 413.
    let at = json_string_of(MAX_SYNC_PAYLOAD_BYTES);
    let reply = s.invoke("echo", &at).await;
    assert_eq!(reply.status, 200, "{}", reply.error_text());
    assert_eq!(reply.body.len(), MAX_SYNC_PAYLOAD_BYTES);
    let over = s
        .invoke("echo", &json_string_of(MAX_SYNC_PAYLOAD_BYTES + 1))
        .await;
    assert_eq!(over.status, 413);
    assert_eq!(
        over.header("x-amzn-ErrorType"),
        Some("RequestEntityTooLargeException")
    );
    // Async: exactly 1 MB is accepted; one more byte is a 413.
    let at = json_string_of(MAX_ASYNC_PAYLOAD_BYTES);
    assert_eq!(s.invoke_as("echo", &at, "Event", false).await.status, 202);
    let over = json_string_of(MAX_ASYNC_PAYLOAD_BYTES + 1);
    assert_eq!(s.invoke_as("echo", &over, "Event", false).await.status, 413);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_headers_and_bodies_are_lambda_errors() {
    let s = TestServer::start().await;
    s.deployed("echo", "echo", None, None).await;
    let bad_type = s.invoke_as("echo", "{}", "Sometimes", false).await;
    assert_eq!(bad_type.status, 400);
    assert_eq!(
        bad_type.header("x-amzn-ErrorType"),
        Some("InvalidParameterValueException")
    );
    let not_json = s.invoke("echo", "not json").await;
    assert_eq!(not_json.status, 400);
    assert_eq!(
        not_json.header("x-amzn-ErrorType"),
        Some("InvalidRequestContentException")
    );
    let bad_context = s
        .client
        .send(
            Method::POST,
            "/2015-03-31/functions/echo/invocations",
            &[("X-Amz-Client-Context", "%%%".into())],
            "{}",
        )
        .await
        .expect("send");
    assert_eq!(bad_context.status, 400);
    let unknown = s.get("/2015-03-31/nothing-here").await;
    assert_eq!(unknown.status, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmp_past_ephemeral_storage_is_a_full_disk() {
    let s = TestServer::start().await;
    let mut request = crate::server::create_request("disk", "env");
    request["Timeout"] = 30.into();
    request["EphemeralStorage"] = serde_json::json!({"Size": 512});
    assert_eq!(s.create(&request).await.status, 201);
    let fits = s.invoke("disk", r#"{"fill_mb":10}"#).await;
    assert_eq!(
        json(&fits)["tmp"],
        serde_json::json!(["fill"]),
        "{}",
        String::from_utf8_lossy(&fits.body)
    );
    // 600 MB into 512: the write that does not fit fails (the guest's libc reports it as an
    // I/O error), the function reports it, and the sandbox is not harmed.
    let over = s.invoke("disk", r#"{"fill_mb":600}"#).await;
    assert_eq!(over.header("X-Amz-Function-Error"), Some("Unhandled"));
    let error = json(&over);
    assert!(
        error["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("os error")),
        "{error}"
    );
    let after = s.invoke_as("disk", "{}", "RequestResponse", true).await;
    assert_eq!(
        json(&after)["tmp"],
        serde_json::json!(["fill"]),
        "same warm sandbox"
    );
    assert!(!crate::server::log_tail(&after).contains("Init Duration"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_limits_hold_at_their_boundaries() {
    use hearth_scheduler::function::{
        EPHEMERAL_RANGE_MB, MAX_ENVIRONMENT_BYTES, MEMORY_RANGE_MB, TIMEOUT_RANGE_S,
    };
    let s = TestServer::start().await;
    let mut n = 0;
    let mut create = |member: &'static str, value: serde_json::Value| {
        n += 1;
        let mut request = crate::server::create_request(&format!("b{n}"), "echo");
        request[member] = value;
        request
    };
    let cases = [
        ("Timeout", serde_json::json!(*TIMEOUT_RANGE_S.start()), true),
        ("Timeout", serde_json::json!(*TIMEOUT_RANGE_S.end()), true),
        (
            "Timeout",
            serde_json::json!(TIMEOUT_RANGE_S.start() - 1),
            false,
        ),
        (
            "Timeout",
            serde_json::json!(TIMEOUT_RANGE_S.end() + 1),
            false,
        ),
        (
            "MemorySize",
            serde_json::json!(*MEMORY_RANGE_MB.start()),
            true,
        ),
        (
            "MemorySize",
            serde_json::json!(MEMORY_RANGE_MB.start() - 1),
            false,
        ),
        // wasm32 addresses 4 GiB: 4,096 MB is the most a wasm function can have; above it
        // (up to Lambda's 10,240) is refused with that reason, and 10,241 by validation.
        ("MemorySize", serde_json::json!(4096), true),
        ("MemorySize", serde_json::json!(4097), false),
        (
            "MemorySize",
            serde_json::json!(*MEMORY_RANGE_MB.end()),
            false,
        ),
        (
            "MemorySize",
            serde_json::json!(MEMORY_RANGE_MB.end() + 1),
            false,
        ),
        (
            "EphemeralStorage",
            serde_json::json!({"Size": *EPHEMERAL_RANGE_MB.start()}),
            true,
        ),
        (
            "EphemeralStorage",
            serde_json::json!({"Size": *EPHEMERAL_RANGE_MB.end()}),
            true,
        ),
        (
            "EphemeralStorage",
            serde_json::json!({"Size": EPHEMERAL_RANGE_MB.start() - 1}),
            false,
        ),
        (
            "EphemeralStorage",
            serde_json::json!({"Size": EPHEMERAL_RANGE_MB.end() + 1}),
            false,
        ),
        ("Description", serde_json::json!("d".repeat(256)), true),
        ("Description", serde_json::json!("d".repeat(257)), false),
        ("Role", serde_json::json!("not-an-arn"), false),
    ];
    for (member, value, accepted) in cases {
        let request = create(member, value.clone());
        let reply = s.create(&request).await;
        assert_eq!(
            reply.status.is_success(),
            accepted,
            "{member} = {value}: {} {}",
            reply.status,
            reply.error_text()
        );
    }
    // The environment's 4 KB is measured on its JSON form: {"K":"…"}.
    let at = MAX_ENVIRONMENT_BYTES - r#"{"K":""}"#.len();
    for (len, accepted) in [(at, true), (at + 1, false)] {
        let request = create(
            "Environment",
            serde_json::json!({"Variables": {"K": "v".repeat(len)}}),
        );
        let reply = s.create(&request).await;
        assert_eq!(
            reply.status.is_success(),
            accepted,
            "env value of {len}: {}",
            reply.error_text()
        );
    }
    // The client context: 3,583 bytes decoded at most.
    use base64::Engine as _;
    s.deployed("echo", "echo", None, None).await;
    let context = |len: usize| {
        let json = format!(r#"{{"k":"{}"}}"#, "c".repeat(len - 8));
        base64::engine::general_purpose::STANDARD.encode(json)
    };
    for (len, status) in [(3583, 200), (3584, 400)] {
        let reply = s
            .client
            .send(
                Method::POST,
                "/2015-03-31/functions/echo/invocations",
                &[("X-Amz-Client-Context", context(len))],
                "{}",
            )
            .await
            .expect("invoke");
        assert_eq!(
            reply.status,
            status,
            "client context of {len}: {}",
            reply.error_text()
        );
    }
    s.stop().await;
}

/// A zip whose entries declare `total` bytes unzipped: the component, and zeros (deflated,
/// so the zip stays small) making up the rest.
fn zip_declaring(total: u64) -> Vec<u8> {
    use std::io::Write as _;
    let component = crate::guests::guest("echo");
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("function.wasm", deflated).expect("start");
    w.write_all(&component).expect("write");
    w.start_file("assets/zeros", deflated).expect("start");
    let mut left = total - component.len() as u64;
    let chunk = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        w.write_all(&chunk[..n]).expect("write");
        left -= n as u64;
    }
    w.finish().expect("finish");
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_of_exactly_250_mb_unzipped_deploys_and_one_byte_more_is_refused() {
    use base64::Engine as _;
    use hearth_scheduler::code::MAX_UNZIPPED_BYTES;
    let s = TestServer::start().await;
    for (name, total, accepted) in [
        ("at", MAX_UNZIPPED_BYTES, true),
        ("over", MAX_UNZIPPED_BYTES + 1, false),
    ] {
        let zip = zip_declaring(total);
        let mut request = crate::server::create_request(name, "echo");
        request["Code"]["ZipFile"] = base64::engine::general_purpose::STANDARD
            .encode(&zip)
            .into();
        let reply = s.create(&request).await;
        assert_eq!(
            reply.status.is_success(),
            accepted,
            "{total} bytes unzipped: {}",
            reply.error_text()
        );
        if accepted {
            assert_eq!(s.invoke(name, r#"{"big":"package"}"#).await.status, 200);
        } else {
            assert_eq!(
                reply.header("x-amzn-ErrorType"),
                Some("InvalidParameterValueException")
            );
            assert!(reply.error_text().contains("Unzipped size"));
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_of_6_mb_through_the_host_call_arrives_whole_and_one_byte_more_is_an_error() {
    use hearth_runtime_api::limits::MAX_RESPONSE_BYTES;
    let s = TestServer::start().await;
    let mut request = crate::server::create_request("big", "hostile");
    request["Timeout"] = 60.into();
    assert_eq!(s.create(&request).await.status, 201);
    let at = s
        .invoke(
            "big",
            &format!(r#"{{"mode":"respond_bytes","n":{MAX_RESPONSE_BYTES}}}"#),
        )
        .await;
    assert_eq!(at.status, 200, "{}", at.error_text());
    assert_eq!(at.header("X-Amz-Function-Error"), None);
    assert_eq!(at.body.len(), MAX_RESPONSE_BYTES);
    let over = s
        .invoke(
            "big",
            &format!(
                r#"{{"mode":"respond_bytes","n":{}}}"#,
                MAX_RESPONSE_BYTES + 1
            ),
        )
        .await;
    assert_eq!(over.status, 200);
    assert_eq!(over.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(json(&over)["errorType"], "Function.ResponseSizeTooLarge");
    // The sandbox that tried is still usable, or replaced: the next invoke answers.
    assert_eq!(s.invoke("big", "{}").await.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_init_phase_is_stopped_at_10_seconds() {
    use hearth_runtime_api::limits::INIT_TIMEOUT;
    let s = TestServer::start().await;
    let mut request = crate::server::create_request("slow_init", "hostile");
    // Longer than INIT: the bound that stops it must be INIT's own.
    request["Timeout"] = 60.into();
    request["Environment"] = serde_json::json!({"Variables": {"HOSTILE_INIT": "spin"}});
    assert_eq!(s.create(&request).await.status, 201);
    let reply = s
        .invoke_as("slow_init", "{}", "RequestResponse", true)
        .await;
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(json(&reply)["errorType"], "Sandbox.Timedout");
    let tail = crate::server::log_tail(&reply);
    assert!(
        tail.contains(&format!(
            "INIT phase timed out after {:.2} seconds",
            INIT_TIMEOUT.as_secs_f64()
        )),
        "{tail}"
    );
    assert_eq!(s.scheduler.pool_stats("slow_init").expect("stats").live, 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_context_reaches_the_function() {
    use base64::Engine as _;
    let s = TestServer::start().await;
    s.deployed("env", "env", None, None).await;
    let context = r#"{"custom":{"tenant":"blue"},"client":{"app_title":"t"}}"#;
    let reply = s
        .client
        .send(
            Method::POST,
            "/2015-03-31/functions/env/invocations",
            &[(
                "X-Amz-Client-Context",
                base64::engine::general_purpose::STANDARD.encode(context),
            )],
            "{}",
        )
        .await
        .expect("invoke");
    assert_eq!(reply.status, 200, "{}", reply.error_text());
    let seen = json(&reply)["context"]["client_context"].clone();
    let seen: serde_json::Value =
        serde_json::from_str(seen.as_str().expect("a client context")).expect("json");
    assert_eq!(seen["custom"]["tenant"], "blue");
    assert_eq!(
        json(&reply)["context"]["request_id"].as_str(),
        reply.header("x-amzn-RequestId")
    );
    // Without the header, the function sees none.
    let plain = s.invoke("env", "{}").await;
    assert!(json(&plain)["context"]["client_context"].is_null());
    s.stop().await;
}
