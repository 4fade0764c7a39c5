//! Entry points for the fuzz targets in `fuzz/` (run with `cargo fuzz`), one per parser of
//! untrusted bytes. They live here, in the library, so the saved corpora can be replayed as
//! an ordinary test on stable Rust (`tests/fuzz_corpus.rs`): a crash found once stays fixed.
//!
//! Each takes arbitrary bytes and must never panic; what each checks besides is in its doc.

use crate::api::query::Query;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// Splits fuzz input into newline-separated fields (the last one takes the rest).
fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    for _ in 1..n {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out.push(rest);
    out
}

/// Zip intake: any bytes as a deployment package (zip or bare component), with a handler
/// name from the input, for both kinds of code. The unpacked component never exceeds
/// Lambda's unzipped limit; a process runtime's package that passes the checks unpacks into
/// a directory without error or escape, within the same limit.
pub fn zip_intake(data: &[u8]) {
    use hearth_scheduler::code::{CodeKind, MAX_UNZIPPED_BYTES, extract_tree, unpack};
    let [handler, package] = fields(data, 2)[..] else {
        return;
    };
    let handler = String::from_utf8_lossy(handler);
    if let Ok(package) = unpack(package, CodeKind::Component, &handler) {
        assert!(package.code.len() as u64 <= MAX_UNZIPPED_BYTES);
    }
    if unpack(package, CodeKind::Tree, &handler).is_ok()
        && let Ok(root) = tempfile::tempdir()
    {
        let dest = root.path().join("tree");
        if extract_tree(package, &dest).is_ok() {
            assert!(dest.join("bootstrap").is_file());
        }
    }
}

/// SigV4: an `Authorization` header, `X-Amz-Date`, a path and a query from the input, checked
/// against a fixed key; a forged signature never verifies.
pub fn sigv4(data: &[u8]) {
    let [authorization, date, path, query, body] = fields(data, 5)[..] else {
        return;
    };
    let Ok(creds) = crate::auth::Credentials::parse("AKIDEXAMPLE secret\n") else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::HOST,
        HeaderValue::from_static("127.0.0.1:9001"),
    );
    for (name, value) in [("authorization", authorization), ("x-amz-date", date)] {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    let path = String::from_utf8_lossy(path);
    let query = String::from_utf8_lossy(query);
    let Ok(query) = Query::parse(Some(&query)) else {
        return;
    };
    let result = crate::auth::verify(
        &creds,
        &Method::POST,
        &path,
        &query,
        &headers,
        body,
        std::time::SystemTime::now(),
    );
    assert!(result.is_err(), "a fuzzed signature verified");
}

/// The query string and path segments: parsing never panics, and a parsed query's canonical
/// form parses back to the same pairs.
pub fn query_and_path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(query) = Query::parse(Some(&text)) {
        let canonical = query.canonical();
        let again = Query::parse(Some(&canonical)).expect("a canonical query parses");
        assert_eq!(again.canonical(), canonical);
    }
    for segment in text.split('/') {
        let _ = crate::api::function_ref(segment);
    }
}

/// The Invoke request's headers and body: the invocation type, log type and client context
/// as the front door reads them, and the payload's JSON check.
pub fn invoke_request(data: &[u8]) {
    let [kind, log, context, body] = fields(data, 4)[..] else {
        return;
    };
    let _ = crate::api::invoke::parse_headers(kind, log, context);
    let _ = serde_json::from_slice::<serde::de::IgnoredAny>(body);
}

/// Guest output through the Runtime API: a sequence of calls (next, respond with a length,
/// fail, init-fail, with request ids from the input) never panics the session, and it never
/// accepts an answer for an id it did not deliver.
pub fn runtime_api(data: &[u8]) {
    let mut session = hearth_runtime_api::Session::new();
    let mut delivered: Option<String> = None;
    for chunk in data.chunks(3) {
        let op = chunk.first().copied().unwrap_or(0);
        let id = format!("id-{}", chunk.get(1).copied().unwrap_or(0) % 4);
        let len = usize::from(chunk.get(2).copied().unwrap_or(0)) << 16;
        match op % 5 {
            0 => {
                let _ = session.request_next();
            }
            1 => {
                if session.begin(&id).is_ok() {
                    delivered = Some(id);
                }
            }
            2 => {
                if session.respond(&id, len).is_ok() {
                    assert_eq!(delivered.as_deref(), Some(id.as_str()));
                }
            }
            3 => {
                if session.fail(&id).is_ok() {
                    assert_eq!(delivered.as_deref(), Some(id.as_str()));
                }
            }
            _ => {
                let _ = session.init_fail();
            }
        }
    }
}

/// An SQS request, JSON protocol (first field `AmazonSQS.<Op>` as the target) or query
/// protocol (first field empty: the body is a form), through parsing, the operation against a
/// real queue engine, and the answer in the protocol's shape. Long polls are cut to nothing
/// (`WaitTimeSeconds` removed) so an input cannot stall the fuzzer.
pub fn sqs_request(data: &[u8]) {
    use std::sync::OnceLock;
    static ENGINE: OnceLock<
        Option<(
            tokio::runtime::Runtime,
            hearth_queue::Engine,
            tempfile::TempDir,
        )>,
    > = OnceLock::new();
    let [target, body] = fields(data, 2)[..] else {
        return;
    };
    let Some((runtime, engine, _dir)) = ENGINE
        .get_or_init(|| {
            let dir = tempfile::tempdir().ok()?;
            let engine = hearth_queue::Engine::open(dir.path(), Default::default()).ok()?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            Some((runtime, engine, dir))
        })
        .as_ref()
    else {
        return;
    };
    let body = String::from_utf8_lossy(body)
        .replace("WaitTimeSeconds", "Ignored")
        .into_bytes();
    let mut request = http::Request::builder().method(Method::POST).uri("/");
    let protocol = if target.is_empty() {
        request = request.header("content-type", "application/x-www-form-urlencoded");
        crate::api::sqs::Protocol::Query
    } else {
        request = request.header("x-amz-target", target);
        crate::api::sqs::Protocol::Json
    };
    let Ok(request) = request.body(http_body_util::Full::new(bytes::Bytes::from(body))) else {
        return;
    };
    let response = runtime.block_on(crate::api::sqs::handle(engine, request, protocol, "fuzz"));
    assert!(response.status().as_u16() < 600);
}

/// An engine a JSON-target fuzz input runs against, opened once in a scratch directory and
/// kept (so later inputs meet what earlier ones created), with a runtime to drive it.
type Fixture<E> = Option<(tokio::runtime::Runtime, E, tempfile::TempDir)>;

fn fixture<E>(open: impl FnOnce(&std::path::Path) -> Option<E>) -> Fixture<E> {
    let dir = tempfile::tempdir().ok()?;
    let engine = open(dir.path())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    Some((runtime, engine, dir))
}

/// The input's first line as the operation after `prefix` in `X-Amz-Target`, the rest as
/// the body.
fn target_request(prefix: &str, data: &[u8]) -> Option<http::Request<crate::api::ReqBody>> {
    let [op, body] = fields(data, 2)[..] else {
        return None;
    };
    let target = format!("{prefix}{}", String::from_utf8_lossy(op));
    http::Request::builder()
        .method(Method::POST)
        .uri("/")
        .header("x-amz-target", target)
        .body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(
            body,
        )))
        .ok()
}

/// Kinesis requests: the first line is the operation (`X-Amz-Target` after
/// `Kinesis_20131202.`), the rest the JSON body, against a real stream engine that keeps
/// what earlier inputs created (so puts, iterators and reshards meet real streams).
pub fn kinesis_request(data: &[u8]) {
    static STREAMS: std::sync::OnceLock<Fixture<hearth_streams::Streams>> =
        std::sync::OnceLock::new();
    let fixture = STREAMS.get_or_init(|| {
        fixture(|dir| {
            let config = hearth_streams::StreamsConfig {
                max_bytes: 64 << 20,
                max_streams: 16,
                max_shards: 64,
                ..Default::default()
            };
            hearth_streams::Streams::open(dir, config).ok()
        })
    });
    let (Some((runtime, streams, _)), Some(request)) =
        (fixture, target_request("Kinesis_20131202.", data))
    else {
        return;
    };
    let response = runtime.block_on(crate::api::kinesis::handle(streams, request, "fuzz"));
    assert!(response.status().as_u16() < 600);
}

/// DynamoDB requests: the first line is the operation (after `DynamoDB_20120810.`), the
/// rest the JSON body, against a real table engine that keeps what earlier inputs created.
pub fn dynamodb_request(data: &[u8]) {
    use hearth_streams::dynamodb::table::{Tables, TablesConfig};
    static TABLES: std::sync::OnceLock<Fixture<Tables>> = std::sync::OnceLock::new();
    let fixture = TABLES.get_or_init(|| {
        fixture(|dir| {
            let config = TablesConfig {
                max_bytes: 64 << 20,
                max_tables: 16,
                ..Default::default()
            };
            Tables::open(dir, config).ok()
        })
    });
    let (Some((runtime, tables, _)), Some(request)) =
        (fixture, target_request("DynamoDB_20120810.", data))
    else {
        return;
    };
    let response = runtime.block_on(crate::api::dynamodb::handle(tables, request, "fuzz"));
    assert!(response.status().as_u16() < 600);
}

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// Every target, by name (for the corpus replay).
pub const TARGETS: &[(&str, Target)] = &[
    ("zip_intake", zip_intake),
    ("sigv4", sigv4),
    ("query_and_path", query_and_path),
    ("invoke_request", invoke_request),
    ("runtime_api", runtime_api),
    ("sqs_request", sqs_request),
    ("kinesis_request", kinesis_request),
    ("dynamodb_request", dynamodb_request),
];
