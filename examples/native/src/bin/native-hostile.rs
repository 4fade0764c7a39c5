//! `native-hostile`: a runtime that misbehaves on request, speaking the Runtime API over raw
//! HTTP/1.1 (standard library only), so tests can see what the host does when a process
//! exits, forks, allocates, overfills `/tmp`, answers twice or answers too much.
//!
//! INIT follows `HOSTILE_INIT`: `error` posts `/runtime/init/error`, `exit` exits with 3,
//! `spin` never asks for work. Each invocation's event is `{"mode": …}`:
//! - `echo`: answers the event; `env` (`ms`): answers the environment as a JSON object,
//!   after sleeping that long;
//! - `exit` (`code`): exits during the invocation;
//! - `fork-sleep`: starts `sleep 600` in the background, then never answers (times out);
//! - `alloc` (`mib`): allocates and touches that much memory, then answers;
//! - `tmp` (`mib`): writes that much into `/tmp`, answering what happened;
//! - `twice`: answers, then answers again and with a wrong id, answering nothing more (the
//!   statuses go to stdout);
//! - `big` (`bytes`): answers that many bytes and prints the status it got;
//! - `crash`: aborts (SIGABRT);
//! - `stream` (`chunks`, `gate`, `fail`): streams each string of `chunks` as its own HTTP
//!   chunk (`Lambda-Runtime-Function-Response-Mode: streaming`); after the first, when `gate`
//!   is a port, connects to it and waits for one byte before going on (so a test proves the
//!   first chunk reached the caller before the function ended); with `fail`, ends with the
//!   error trailers instead of succeeding.
//!
//! An SQS event (`{"Records": …}`) with `WITNESS` set to a file path: appends each record's
//! body to that file as a line and syncs it before answering `null`, a record of delivery
//! that survives the host's `kill -9`.

use hearth_native_examples::{Reply, call as raw_call};
use std::io::Write;

fn call(method: &str, path: &str, body: &[u8], extra: &[(&str, &str)]) -> Reply {
    raw_call(method, &format!("/2018-06-01/runtime/{path}"), body, extra)
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply.header(name)
}

fn respond(id: &str, body: &[u8]) -> u16 {
    call("POST", &format!("invocation/{id}/response"), body, &[]).status
}

fn main() {
    match std::env::var("HOSTILE_INIT").as_deref() {
        Ok("error") => {
            call(
                "POST",
                "init/error",
                br#"{"errorType":"Hostile.InitError","errorMessage":"init failed on purpose"}"#,
                &[("Lambda-Runtime-Function-Error-Type", "Hostile.InitError")],
            );
            std::process::exit(1);
        }
        Ok("exit") => std::process::exit(3),
        Ok("spin") => loop {
            std::thread::sleep(std::time::Duration::from_secs(60));
        },
        _ => {}
    }
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        let next = call("GET", "invocation/next", b"", &[]);
        let id = header(&next, "lambda-runtime-aws-request-id").to_owned();
        let event: serde_json::Value = serde_json::from_slice(&next.body).unwrap_or_default();
        let number = |k: &str| event.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        if let (Some(records), Ok(path)) = (event.get("Records"), std::env::var("WITNESS")) {
            witness(&path, records);
            respond(&id, b"null");
            continue;
        }
        match event.get("mode").and_then(|m| m.as_str()).unwrap_or("echo") {
            "env" => {
                std::thread::sleep(std::time::Duration::from_millis(number("ms")));
                let env: serde_json::Map<String, serde_json::Value> = std::env::vars()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                respond(&id, serde_json::Value::Object(env).to_string().as_bytes());
            }
            "exit" => std::process::exit(number("code") as i32),
            "crash" => std::process::abort(),
            "fork-sleep" => {
                let child = std::process::Command::new("sleep").arg("600").spawn();
                println!("forked sleep: {:?}", child.map(|c| c.id()));
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(60));
                }
            }
            "alloc" => {
                let mut block = vec![0u8; (number("mib") as usize) << 20];
                for page in block.chunks_mut(4096) {
                    page[0] = 1;
                }
                held.push(block);
                respond(&id, b"\"allocated\"");
            }
            "tmp" => {
                let chunk = vec![7u8; 1 << 20];
                let result = std::fs::File::create("/tmp/fill").and_then(|mut f| {
                    for _ in 0..number("mib") {
                        f.write_all(&chunk)?;
                    }
                    f.sync_all()
                });
                let answer = match result {
                    Ok(()) => "\"written\"".to_owned(),
                    Err(e) => format!("{:?}", e.to_string()),
                };
                respond(&id, answer.as_bytes());
            }
            "twice" => {
                let first = respond(&id, b"\"first\"");
                let again = respond(&id, b"\"again\"");
                let wrong = respond("not-a-request-id", b"\"wrong\"");
                println!("statuses: first={first} again={again} wrong={wrong}");
            }
            "big" => {
                let body = vec![b'x'; number("bytes") as usize];
                let status = respond(&id, &body);
                println!("big response status: {status}");
            }
            "stream" => stream(&id, &event),
            _ => {
                respond(&id, &next.body);
            }
        }
    }
}

/// The `stream` mode: a chunked response with trailers, written by hand.
fn stream(id: &str, event: &serde_json::Value) {
    use std::io::Read;
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API");
    let mut conn = std::net::TcpStream::connect(&api).expect("connect to the Runtime API");
    let _ = conn.set_nodelay(true);
    let head = format!(
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: {api}\r\n\
         Connection: close\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n\
         Transfer-Encoding: chunked\r\n\
         Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).expect("write");
    let chunks: Vec<String> = event
        .get("chunks")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    for (i, chunk) in chunks.iter().enumerate() {
        let frame = format!("{:x}\r\n{chunk}\r\n", chunk.len());
        conn.write_all(frame.as_bytes()).expect("write chunk");
        if i == 0
            && let Some(port) = event.get("gate").and_then(|g| g.as_u64())
        {
            let mut gate = std::net::TcpStream::connect(("127.0.0.1", port as u16))
                .expect("connect to the gate");
            let mut byte = [0u8; 1];
            let _ = gate.read_exact(&mut byte);
        }
    }
    let mut end = String::from("0\r\n");
    if let Some(message) = event.get("fail").and_then(|f| f.as_str()) {
        let body = serde_json::json!({
            "errorType": "Hostile.StreamError",
            "errorMessage": message,
            "stackTrace": [],
        });
        end.push_str("Lambda-Runtime-Function-Error-Type: Hostile.StreamError\r\n");
        end.push_str(&format!(
            "Lambda-Runtime-Function-Error-Body: {}\r\n",
            base64(body.to_string().as_bytes())
        ));
    }
    end.push_str("\r\n");
    conn.write_all(end.as_bytes()).expect("write end");
    let mut reply = Vec::new();
    let _ = conn.read_to_end(&mut reply);
    let status = String::from_utf8_lossy(&reply)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    println!("stream response status: {status}");
}

/// Standard base64, padded (std only).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Appends each record's body to `path`, durably.
fn witness(path: &str, records: &serde_json::Value) {
    let mut lines = String::new();
    for record in records.as_array().into_iter().flatten() {
        lines.push_str(
            record
                .get("body")
                .and_then(|b| b.as_str())
                .unwrap_or_default(),
        );
        lines.push('\n');
    }
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| {
            f.write_all(lines.as_bytes())?;
            f.sync_data()
        });
    if let Err(e) = written {
        println!("witness {path}: {e}");
    }
}
