//! SigV4 authentication at the front door.

use crate::server::{TestServer, signing_key};
use hearth::client::HearthClient;
use hyper::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_correctly_signed_requests_get_through() {
    let creds = hearth::auth::Credentials::parse("AKIDEXAMPLE secret\n").expect("credentials");
    let s = TestServer::start_signed(creds).await;
    s.deployed("echo", "echo", None, None).await;
    assert_eq!(
        s.invoke("echo", r#"{"a":1}"#).await.body,
        r#"{"a":1}"#.as_bytes()
    );

    let list = "/2015-03-31/functions";
    let cases = [
        (None, 403, "MissingAuthenticationTokenException"),
        (
            signing_key("AKIDEXAMPLE", "wrong"),
            403,
            "InvalidSignatureException",
        ),
        (
            signing_key("AKIDUNKNOWN", "secret"),
            403,
            "UnrecognizedClientException",
        ),
    ];
    for (key, status, code) in cases {
        let client = HearthClient::signed(&s.endpoint, key);
        let reply = client
            .send(Method::GET, list, &[], Vec::new())
            .await
            .expect("send");
        assert_eq!(reply.status, status, "{code}");
        assert_eq!(reply.header("x-amzn-ErrorType"), Some(code));
        let invoke = client
            .invoke("echo", b"{}".to_vec(), "RequestResponse", false)
            .await
            .expect("send");
        assert_eq!(invoke.status, status, "invoke: {code}");
    }
    let unsigned = HearthClient::new(&s.endpoint);
    assert_eq!(
        unsigned
            .send(Method::GET, "/health", &[], Vec::new())
            .await
            .expect("health")
            .status,
        200
    );
    s.stop().await;
}
