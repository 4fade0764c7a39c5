//! Hostile clients and hostile guests: each is contained, and a neighbour keeps answering.

use crate::server::{TestServer, json, signing_key};
use hyper::Method;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends raw bytes on a new connection and returns what comes back until the server closes
/// it (bounded at 30 s so a failing test ends).
async fn raw(addr: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    read_until_closed(&mut stream).await
}

async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_large_body_is_refused_before_it_is_read() {
    let creds = hearth::auth::Credentials::parse("AKIDEXAMPLE secret\n").expect("credentials");
    let s = TestServer::start_signed(creds).await;
    // Declares 59 MB and sends none of it: the 403 must come without waiting for the body.
    let head = format!(
        "POST /2015-03-31/functions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 59000000\r\n\r\n",
        s.addr()
    );
    let answer = raw(s.addr(), head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        answer.contains("MissingAuthenticationTokenException"),
        "{answer}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_dropped_and_an_idle_one_closed() {
    let s = TestServer::start_front(|f| {
        f.header_read_timeout = Duration::from_millis(300);
        f.idle_timeout = Duration::from_millis(300);
        f.body_read_timeout = Duration::from_millis(300);
    })
    .await;
    // Slowloris: half a request line, then nothing.
    let mut slow = TcpStream::connect(s.addr()).await.expect("connect");
    slow.write_all(b"GET /health HT").await.expect("write");
    let answer = read_until_closed(&mut slow).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // A body that never arrives: 408, then closed.
    let head = format!(
        "POST /2015-03-31/functions HTTP/1.1\r\nHost: {}\r\nContent-Length: 100\r\n\r\n{{",
        s.addr()
    );
    let answer = raw(s.addr(), head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // A keep-alive connection that goes quiet is closed after its request.
    let ok = format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr());
    let answer = raw(s.addr(), ok.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_and_web_origins_are_refused() {
    let s =
        TestServer::start_front(|f| f.allowed_origins = vec!["http://localhost:3000".into()]).await;
    s.deployed("echo", "echo", None, None).await;
    // DNS rebinding: the page's own name in Host, a no-preflight text/plain POST.
    let rebound = format!(
        "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: attacker.example:{}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
        s.addr().rsplit(':').next().unwrap_or("0")
    );
    let answer = raw(s.addr(), rebound.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("AccessDeniedException"), "{answer}");
    let page = format!(
        "GET /2015-03-31/functions HTTP/1.1\r\nHost: {}\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n",
        s.addr()
    );
    let answer = raw(s.addr(), page.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("access-control-allow"),
        "{answer}"
    );
    let allowed = page.replace("https://evil.example", "http://localhost:3000");
    let answer = raw(s.addr(), allowed.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_that_is_verified_is_the_query_that_is_routed() {
    let creds = hearth::auth::Credentials::parse("AKIDEXAMPLE secret\n").expect("credentials");
    let s = TestServer::start_signed(creds).await;
    s.deployed("f", "echo", None, None).await;
    s.publish_versions("f", 2).await;
    // An escaped parameter name is the same parameter: it deletes version 2 only, never the
    // whole function.
    let reply = s
        .client
        .send(
            Method::DELETE,
            "/2015-03-31/functions/f?Qual%69fier=2",
            &[],
            Vec::new(),
        )
        .await
        .expect("delete");
    assert_eq!(reply.status, 204, "{}", reply.error_text());
    let versions = json(&s.get("/2015-03-31/functions/f/versions").await);
    let listed: Vec<_> = versions["Versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["Version"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(listed, ["$LATEST", "1"]);
    // A repeated single-valued parameter is refused, signed or not.
    let reply = s
        .client
        .send(
            Method::DELETE,
            "/2015-03-31/functions/f?Qualifier=1&Qualifier=%24LATEST",
            &[],
            Vec::new(),
        )
        .await
        .expect("delete");
    assert_eq!(reply.status, 400, "{}", reply.error_text());
    assert_eq!(s.get("/2015-03-31/functions/f").await.status, 200);
    // Signed for one query, replayed with another: refused, and nothing deleted.
    let key = signing_key("AKIDEXAMPLE", "secret").expect("key");
    let mut request = http::Request::builder()
        .method(Method::DELETE)
        .uri(format!("{}/2015-03-31/functions/f?Qualifier=1", s.endpoint))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    hearth::client::sign_for_tests(&key, &mut request, b"").expect("sign");
    let mut replay =
        String::from("DELETE /2015-03-31/functions/f?Qualifier=%24LATEST HTTP/1.1\r\n");
    for (name, value) in request.headers() {
        replay.push_str(&format!("{name}: {}\r\n", value.to_str().expect("ascii")));
    }
    replay.push_str("Connection: close\r\n\r\n");
    let answer = raw(s.addr(), replay.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("InvalidSignatureException"), "{answer}");
    assert_eq!(s.get("/2015-03-31/functions/f").await.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_beyond_the_server_budget_get_a_429_to_retry() {
    let s = TestServer::start_front(|f| f.body_budget_bytes = 64 * 1024).await;
    let big = serde_json::json!({ "FunctionName": "x", "Padding": "p".repeat(100 * 1024) });
    let reply = s
        .client
        .send_json(Method::POST, "/2015-03-31/functions", &big)
        .await
        .expect("create");
    assert_eq!(reply.status, 429, "{}", reply.error_text());
    assert_eq!(
        reply.header("x-amzn-ErrorType"),
        Some("TooManyRequestsException")
    );
    assert!(reply.header("Retry-After").is_some());
    // Within the budget everything works as before.
    s.deployed("echo", "echo", None, None).await;
    assert_eq!(s.invoke("echo", "{}").await.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_keeps_running_after_answering_holds_its_slot_until_stopped() {
    let s = TestServer::start().await;
    s.deployed("hostile", "hostile", None, Some(2)).await;
    s.deployed("echo", "echo", None, None).await;
    let client = s.client.clone();
    let spinning = tokio::spawn(async move {
        client
            .invoke(
                "hostile",
                br#"{"mode":"spin_after_respond"}"#.to_vec(),
                "RequestResponse",
                false,
            )
            .await
            .expect("invoke")
    });
    // While it spins the invocation is running: it counts against concurrency.
    s.wait_for("the spinning invocation to count", || async {
        s.metric("hearth_concurrent_executions").await == Some(1.0)
    })
    .await;
    assert_eq!(
        s.invoke("echo", r#"{"n":1}"#).await.status,
        200,
        "neighbours answer"
    );
    let reply = spinning.await.expect("task");
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(json(&reply)["errorType"], "Sandbox.Timedout");
    s.wait_for("the slot to be freed", || async {
        s.metric("hearth_concurrent_executions").await == Some(0.0)
    })
    .await;
    // The sandbox was stopped: the next invoke is a cold start that works.
    let next = s
        .invoke_as("hostile", r#"{"mode":"ok"}"#, "RequestResponse", true)
        .await;
    assert_eq!(json(&next)["ok"], true);
    assert!(crate::server::log_tail(&next).contains("Init Duration"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_errors_are_bounded_like_responses() {
    let s = TestServer::start().await;
    s.deployed("hostile", "hostile", Some(512), Some(30)).await;
    s.deployed("echo", "echo", None, None).await;
    // Just over the response limit: Function.ResponseSizeTooLarge, the sandbox lives on.
    let reply = s
        .invoke("hostile", r#"{"mode":"error_bytes","n":6291557}"#)
        .await;
    assert_eq!(json(&reply)["errorType"], "Function.ResponseSizeTooLarge");
    // 100 MB in one host call: the guest is stopped before the host allocates it.
    let reply = s
        .invoke("hostile", r#"{"mode":"error_bytes","n":104857600}"#)
        .await;
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(json(&reply)["errorType"], "Runtime.ExitError");
    assert!(reply.body.len() < 64 * 1024, "{} bytes", reply.body.len());
    assert_eq!(
        s.invoke("echo", "{}").await.status,
        200,
        "neighbours answer"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_queue_is_bounded() {
    let s = TestServer::start_with(|c| c.max_queued_events = 2).await;
    s.deployed("echo", "echo", None, None).await;
    // Reserved concurrency 0 keeps every accepted event queued.
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
    for _ in 0..2 {
        assert_eq!(s.invoke_as("echo", "{}", "Event", false).await.status, 202);
    }
    let full = s.invoke_as("echo", "{}", "Event", false).await;
    assert_eq!(full.status, 429, "{}", full.error_text());
    assert_eq!(
        full.header("x-amzn-ErrorType"),
        Some("TooManyRequestsException")
    );
    assert_eq!(s.metric("hearth_async_queue_events").await, Some(2.0));
    s.stop().await;
}

/// Deploys `hostile` as `name` with the smallest `/tmp` Lambda allows (512 MB).
async fn hostile_with_small_tmp(s: &TestServer, name: &str) {
    let mut request = crate::server::create_request(name, "hostile");
    request["EphemeralStorage"] = serde_json::json!({ "Size": 512 });
    request["Timeout"] = 60.into();
    let reply = s.create(&request).await;
    assert_eq!(reply.status, 201, "{}", reply.error_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmp_never_holds_more_than_its_size_whatever_the_guest_tries() {
    let s = TestServer::start().await;
    s.deployed("echo", "echo", None, None).await;
    let limit = 512u64 * 1024 * 1024;
    for trick in ["plain", "deleted", "mtime", "deep", "many"] {
        let name = format!("tmp-{trick}");
        hostile_with_small_tmp(&s, &name).await;
        let payload = format!(r#"{{"mode":"fill_tmp","n":530,"trick":"{trick}"}}"#);
        let reply = s.invoke(&name, &payload).await;
        assert_eq!(reply.status, 200, "{trick}: {}", reply.error_text());
        let body = json(&reply);
        let written = body["written"].as_u64().expect("written");
        assert!(written <= limit, "{trick}: the host took {written} bytes");
        assert!(
            body["error"].is_string(),
            "{trick}: the writes must have been stopped: {body}"
        );
        assert_eq!(
            s.invoke("echo", "{}").await.status,
            200,
            "neighbours answer"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_gets_at_most_1024_open_files_and_a_bounded_number_of_entries() {
    let s = TestServer::start().await;
    s.deployed("echo", "echo", None, None).await;
    hostile_with_small_tmp(&s, "files").await;
    let reply = s
        .invoke("files", r#"{"mode":"open_files","n":10000}"#)
        .await;
    let body = json(&reply);
    let opened = body["opened"].as_u64().expect("opened");
    assert!((1000..=1024).contains(&opened), "{body}");
    assert!(body["error"].is_string(), "{body}");
    // The descriptors are back once the guest closed them: it can open more again.
    let again = json(&s.invoke("files", r#"{"mode":"open_files","n":100}"#).await);
    assert_eq!(again["opened"], 100, "{again}");
    // Empty files cost inodes, not bytes: bounded too (one entry per 64 KB of /tmp).
    hostile_with_small_tmp(&s, "inodes").await;
    let body = json(
        &s.invoke("inodes", r#"{"mode":"empty_files","n":100000}"#)
            .await,
    );
    let made = body["made"].as_u64().expect("made");
    assert!(made <= 8192, "{body}");
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(
        s.invoke("echo", "{}").await.status,
        200,
        "neighbours answer"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_concurrency_stays_within_reservations_concurrency_and_memory() {
    // 200 account concurrency (the test server's), 8 GB of sandbox memory.
    let s = TestServer::start().await;
    s.deployed("echo", "echo", Some(128), None).await;
    let published = s
        .client
        .send(
            Method::POST,
            "/2015-03-31/functions/echo/versions",
            &[],
            "{}",
        )
        .await
        .expect("publish");
    assert_eq!(published.status, 201);
    let put = |n: u32| {
        let client = s.client.clone();
        async move {
            client
                .send(
                    Method::PUT,
                    "/2019-09-30/functions/echo/provisioned-concurrency?Qualifier=1",
                    &[],
                    format!(r#"{{"ProvisionedConcurrentExecutions":{n}}}"#),
                )
                .await
                .expect("put")
        }
    };
    let reserve = |body: &'static str, method: Method| {
        let client = s.client.clone();
        async move {
            client
                .send(method, "/2017-10-31/functions/echo/concurrency", &[], body)
                .await
                .expect("concurrency")
        }
    };
    assert_eq!(
        reserve(r#"{"ReservedConcurrentExecutions":2}"#, Method::PUT)
            .await
            .status,
        200
    );
    let over_reserved = put(3).await;
    assert_eq!(over_reserved.status, 400, "{}", over_reserved.error_text());
    assert!(
        over_reserved
            .error_text()
            .contains("reservedConcurrentExecution")
    );
    assert_eq!(reserve("", Method::DELETE).await.status, 204);
    // Unreserved: at most 200 - 100 = 100.
    let over_unreserved = put(101).await;
    assert_eq!(
        over_unreserved.status,
        400,
        "{}",
        over_unreserved.error_text()
    );
    // Memory: 60 x 128 MB fits 8 GB; two more sandboxes of 4 GB would not.
    assert!(put(60).await.status.is_success());
    let mut big = crate::server::create_request("big", "echo");
    big["MemorySize"] = 4096.into();
    assert_eq!(s.create(&big).await.status, 201);
    let published = s
        .client
        .send(
            Method::POST,
            "/2015-03-31/functions/big/versions",
            &[],
            "{}",
        )
        .await
        .expect("publish");
    assert_eq!(published.status, 201);
    let too_much = s
        .client
        .send(
            Method::PUT,
            "/2019-09-30/functions/big/provisioned-concurrency?Qualifier=1",
            &[],
            r#"{"ProvisionedConcurrentExecutions":2}"#,
        )
        .await
        .expect("put");
    assert_eq!(too_much.status, 400, "{}", too_much.error_text());
    assert!(
        too_much.error_text().contains("memory budget"),
        "{}",
        too_much.error_text()
    );
    s.stop().await;
}
