//! `hostile`: a function that tries, on request, what a hostile guest would, so tests can
//! check that each is contained. Drives the Runtime API itself ([`hearth_sdk::raw`]).
//!
//! Event: `{"mode": M, "n": N}`; modes:
//! - `spin_after_respond`: answers, then computes forever without asking for the next
//!   invocation;
//! - `error_bytes`: fails with an error message of `N` bytes;
//! - `exit`: exits the process with status `N`;
//! - `connect`: tries a TCP connection to 127.0.0.1:`N` and answers what happened;
//! - `fill_tmp_and_spin`: writes `N` MB to `/tmp` and then computes forever;
//! - anything else: answers `{"ok":true}`.

use hearth_sdk::raw;
use std::io::Write;

fn main() {
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
            _ => {
                let _ = raw::respond(id, br#"{"ok":true}"#);
            }
        }
    }
}

/// Computes forever (until the host stops the sandbox).
fn spin() -> ! {
    let mut x: u64 = 1;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}
