//! Deploying: what gets registered, and what is refused without a trace.

use crate::server::{TestServer, json};
use base64::Engine as _;
use hyper::Method;

async fn create(s: &TestServer, body: serde_json::Value) -> hearth::client::Reply {
    s.client.create_function(&body).await.expect("create")
}

fn request(name: &str, package: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "FunctionName": name,
        "Runtime": "wasm32-wasip2",
        "Handler": "function.wasm",
        "Role": "arn:aws:iam::000000000000:role/r",
        "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(package) },
    })
}

async fn assert_not_registered(s: &TestServer, name: &str) {
    let get = s.get(&format!("/2015-03-31/functions/{name}")).await;
    assert_eq!(get.status, 404, "{name} must not be registered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_returns_the_configuration() {
    let s = TestServer::start().await;
    let reply = s.deploy("echo", "echo", Some(256), Some(7)).await;
    assert_eq!(reply.status, 201);
    let config = json(&reply);
    assert_eq!(
        config["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:echo"
    );
    assert_eq!(
        (config["MemorySize"].as_u64(), config["Timeout"].as_u64()),
        (Some(256), Some(7))
    );
    assert_eq!(config["State"], "Active");
    assert_eq!(config["LastUpdateStatus"], "Successful");
    assert_eq!(config["CodeSha256"].as_str().map(str::len), Some(44));
    let get = json(&s.get("/2015-03-31/functions/echo").await);
    assert_eq!(get["Configuration"], config);
    let again = s.deploy("echo", "echo", None, None).await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.header("x-amzn-ErrorType"),
        Some("ResourceConflictException")
    );
    let del = s
        .client
        .send(
            Method::DELETE,
            "/2015-03-31/functions/echo",
            &[],
            Vec::new(),
        )
        .await
        .expect("delete");
    assert_eq!(del.status, 204);
    assert_not_registered(&s, "echo").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_function_is_404_in_lambdas_shape() {
    let s = TestServer::start().await;
    let reply = s.invoke("nope", "{}").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.header("x-amzn-ErrorType"),
        Some("ResourceNotFoundException")
    );
    assert!(reply.header("x-amzn-RequestId").is_some());
    let body = json(&reply);
    assert_eq!(body["Type"], "User");
    assert_eq!(
        body["Message"],
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packages_are_400_and_register_nothing() {
    let s = TestServer::start().await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"this is not a zip".to_vec()),
        ("badzip", b"PK\x03\x04 truncated".to_vec()),
        ("badwasm", b"\0asm\x0d\x00\x01\x00garbage".to_vec()),
        ("corewasm", b"\0asm\x01\x00\x00\x00".to_vec()),
    ];
    for (name, package) in cases {
        let reply = create(&s, request(name, &package)).await;
        assert_eq!(reply.status, 400, "{name}: {}", reply.error_text());
        assert_eq!(
            reply.header("x-amzn-ErrorType"),
            Some("InvalidParameterValueException"),
            "{name}"
        );
        assert!(!json(&reply)["Message"].as_str().unwrap_or("").is_empty());
        assert_not_registered(&s, name).await;
    }
    let mut bad_b64 = request("badb64", b"");
    bad_b64["Code"]["ZipFile"] = "!!!".into();
    assert_eq!(create(&s, bad_b64).await.status, 400);
    assert_not_registered(&s, "badb64").await;
    let list = json(&s.get("/2015-03-31/functions").await);
    assert_eq!(list["Functions"].as_array().map(Vec::len), Some(0));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_settings_name_the_field() {
    let s = TestServer::start().await;
    let wasm = crate::guests::guest("echo");
    let cases = [
        ("MemorySize", serde_json::json!(64), "ValidationException"),
        (
            "MemorySize",
            serde_json::json!(8192),
            "InvalidParameterValueException",
        ),
        ("Timeout", serde_json::json!(901), "ValidationException"),
        (
            "Runtime",
            serde_json::json!("python3.12"),
            "InvalidParameterValueException",
        ),
        (
            "Environment",
            serde_json::json!({"Variables": {"AWS_REGION": "x"}}),
            "InvalidParameterValueException",
        ),
    ];
    for (field, value, code) in cases {
        let mut body = request("f", &wasm);
        body[field] = value;
        let reply = create(&s, body).await;
        assert_eq!(reply.status, 400, "{field}");
        assert_eq!(
            reply.header("x-amzn-ErrorType"),
            Some(code),
            "{field}: {}",
            reply.error_text()
        );
        assert_not_registered(&s, "f").await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_functions_pages() {
    let s = TestServer::start().await;
    for name in ["a", "b", "c"] {
        s.deployed(name, "echo", None, None).await;
    }
    let first = json(&s.get("/2015-03-31/functions?MaxItems=2").await);
    let names: Vec<_> = first["Functions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|f| f["FunctionName"].clone())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(first["NextMarker"], "b");
    let second = json(&s.get("/2015-03-31/functions?MaxItems=2&Marker=b").await);
    assert_eq!(second["Functions"][0]["FunctionName"], "c");
    assert!(second.get("NextMarker").is_none());
    s.stop().await;
}
