//! `native-extension`: an external Lambda extension (what a layer puts in
//! `/opt/extensions`; in a hearth package, `extensions/native-extension`). It registers for
//! INVOKE and SHUTDOWN, prints every INVOKE it sees (into the function's log, as on Lambda),
//! and at SHUTDOWN writes the file `EXTENSION_SHUTDOWN_FILE` names, if any, then exits.

use hearth_native_examples::call;

fn main() {
    let name = std::env::args()
        .next()
        .and_then(|p| p.rsplit('/').next().map(str::to_owned))
        .unwrap_or_else(|| "native-extension".into());
    let registered = call(
        "POST",
        "/2020-01-01/extension/register",
        br#"{"events":["INVOKE","SHUTDOWN"]}"#,
        &[("Lambda-Extension-Name", &name)],
    );
    assert_eq!(registered.status, 200, "register");
    let id = registered.header("lambda-extension-identifier").to_owned();
    let function: serde_json::Value = serde_json::from_slice(&registered.body).unwrap_or_default();
    println!(
        "extension {name} registered for {}",
        function["functionName"]
    );
    loop {
        let next = call(
            "GET",
            "/2020-01-01/extension/event/next",
            b"",
            &[("Lambda-Extension-Identifier", &id)],
        );
        let event: serde_json::Value = serde_json::from_slice(&next.body).unwrap_or_default();
        match event["eventType"].as_str() {
            Some("INVOKE") => println!("extension saw INVOKE {}", event["requestId"]),
            Some("SHUTDOWN") => {
                if let Ok(path) = std::env::var("EXTENSION_SHUTDOWN_FILE") {
                    let _ = std::fs::write(path, event.to_string());
                }
                return;
            }
            _ => return,
        }
    }
}
