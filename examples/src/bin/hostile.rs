//! `hostile`: a function that tries, on request, what a hostile guest would, so tests can
//! check that each is contained. Drives the Runtime API itself ([`hearth_sdk::raw`]).
//!
//! Event: `{"mode": M, "n": N}`; modes:
//! - `spin_after_respond`: answers, then computes forever without asking for the next
//!   invocation;
//! - `error_bytes`: fails with an error message of `N` bytes;
//! - `respond_bytes`: answers a JSON string of exactly `N` bytes;
//! - `hold`: allocates and touches `N` MiB, then sleeps `ms` milliseconds holding it;
//! - `exit`: exits the process with status `N`;
//! - `connect`: tries a TCP connection to 127.0.0.1:`N` and answers what happened;
//! - `fill_tmp_and_spin`: writes `N` MB to `/tmp` and then computes forever;
//! - `fill_tmp`: writes up to `N` MB to `/tmp/fill` and answers how many bytes the host took
//!   and the error that stopped it (`trick` picks how: `plain`; `deleted`, writing through a
//!   file already unlinked; `mtime`, restoring `/tmp`'s mtime after every MB; `deep`, in a
//!   directory nested 300 levels, past the path limit; `many`, one MB per file);
//! - `open_files`: opens `N` files in `/tmp` and keeps them all open, answering how many
//!   opened and the first error;
//! - `empty_files`: creates `N` empty files, answering how many and the first error;
//! - anything else: answers `{"ok":true}`.
//!
//! With the environment variable `HOSTILE_INIT=spin` it computes forever before asking for
//! its first invocation (an INIT phase that never ends).

use hearth_sdk::raw;
use std::io::Write;

fn main() {
    if std::env::var("HOSTILE_INIT").as_deref() == Ok("spin") {
        spin();
    }
    loop {
        let event = raw::next();
        let request: serde_json::Value = serde_json::from_slice(&event.payload).unwrap_or_default();
        let n = request["n"].as_u64().unwrap_or(0);
        let id = event.request_id.as_str();
        match request["mode"].as_str().unwrap_or("") {
            "spin_after_respond" => {
                let _ = raw::respond(id, br#"{"answered":true}"#);
                spin();
            }
            "error_bytes" => {
                let message = "x".repeat(n as usize);
                let answer = raw::fail(id, "Hostile.Big", &message, &[]);
                let text = match answer {
                    Ok(()) => "accepted".to_owned(),
                    Err(e) => e.error_type,
                };
                eprintln!("fail answered: {text}");
            }
            "respond_bytes" => {
                let body = format!("\"{}\"", "r".repeat((n as usize).saturating_sub(2)));
                if let Err(e) = raw::respond(id, body.as_bytes()) {
                    eprintln!("respond answered: {}", e.error_type);
                }
            }
            "hold" => {
                let mut held = vec![0u8; n as usize * 1024 * 1024];
                for page in held.chunks_mut(4096) {
                    page[0] = 1;
                }
                std::thread::sleep(std::time::Duration::from_millis(
                    request["ms"].as_u64().unwrap_or(0),
                ));
                let body = serde_json::json!({ "held_mb": n, "len": held.len() }).to_string();
                let _ = raw::respond(id, body.as_bytes());
            }
            "exit" => std::process::exit(n as i32),
            "connect" => {
                let outcome = match std::net::TcpStream::connect(("127.0.0.1", n as u16)) {
                    Ok(_) => "connected".to_owned(),
                    Err(e) => format!("refused: {e}"),
                };
                let body = serde_json::json!({ "connect": outcome }).to_string();
                let _ = raw::respond(id, body.as_bytes());
            }
            "fill_tmp_and_spin" => {
                if let Ok(mut file) = std::fs::File::create("/tmp/fill") {
                    let chunk = vec![0u8; 1024 * 1024];
                    for _ in 0..n {
                        if file.write_all(&chunk).is_err() {
                            break;
                        }
                    }
                    let _ = file.flush();
                }
                spin();
            }
            "fill_tmp" => {
                let trick = request["trick"].as_str().unwrap_or("plain");
                let (written, error) = fill_tmp(n, trick);
                let body = serde_json::json!({ "written": written, "error": error }).to_string();
                let _ = raw::respond(id, body.as_bytes());
            }
            "open_files" => {
                let mut held = Vec::new();
                let mut error = None;
                for i in 0..n {
                    match std::fs::File::create(format!("/tmp/open-{i}")) {
                        Ok(f) => held.push(f),
                        Err(e) => {
                            error = Some(e.to_string());
                            break;
                        }
                    }
                }
                let body = serde_json::json!({ "opened": held.len(), "error": error }).to_string();
                drop(held);
                let _ = raw::respond(id, body.as_bytes());
            }
            "empty_files" => {
                let mut made = 0u64;
                let mut error = None;
                for i in 0..n {
                    match std::fs::File::create(format!("/tmp/empty-{i}")) {
                        Ok(_) => made += 1,
                        Err(e) => {
                            error = Some(e.to_string());
                            break;
                        }
                    }
                }
                let body = serde_json::json!({ "made": made, "error": error }).to_string();
                let _ = raw::respond(id, body.as_bytes());
            }
            _ => {
                let _ = raw::respond(id, br#"{"ok":true}"#);
            }
        }
    }
}

/// Writes up to `mb` MB into `/tmp` with one of the tricks a guest could use to hide what
/// it holds; returns the bytes the host accepted and the error that stopped the writes.
fn fill_tmp(mb: u64, trick: &str) -> (u64, Option<String>) {
    let chunk = vec![7u8; 1024 * 1024];
    let mut written = 0u64;
    let mut dir = String::from("/tmp");
    if trick == "deep" {
        for i in 0..300 {
            dir.push_str(&format!("/nested-directory-{i:03}"));
            if let Err(e) = std::fs::create_dir(&dir) {
                return (written, Some(format!("mkdir at depth {i}: {e}")));
            }
        }
    }
    let open = |name: &str| std::fs::File::create(format!("{dir}/{name}"));
    let mut file = match open("fill") {
        Ok(f) => f,
        Err(e) => return (0, Some(e.to_string())),
    };
    if trick == "deleted" && std::fs::remove_file(format!("{dir}/fill")).is_err() {
        return (0, Some("unlink failed".into()));
    }
    let tmp_mtime = std::fs::metadata("/tmp").and_then(|m| m.modified()).ok();
    for i in 0..mb {
        if trick == "many" {
            file = match open(&format!("fill-{i}")) {
                Ok(f) => f,
                Err(e) => return (written, Some(e.to_string())),
            };
        }
        let mut at = 0;
        while at < chunk.len() {
            match file.write(&chunk[at..]) {
                Ok(0) => return (written, Some("write accepted nothing".into())),
                Ok(n) => {
                    at += n;
                    written += n as u64;
                }
                Err(e) => return (written, Some(e.to_string())),
            }
        }
        if trick == "mtime"
            && let (Some(t), Ok(d)) = (tmp_mtime, std::fs::File::open("/tmp"))
        {
            let _ = d.set_modified(t);
        }
    }
    (written, None)
}

/// Computes forever (until the host stops the sandbox).
fn spin() -> ! {
    let mut x: u64 = 1;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}
