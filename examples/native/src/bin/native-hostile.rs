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
//! - `crash`: aborts (SIGABRT).

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
            _ => {
                respond(&id, &next.body);
            }
        }
    }
}
