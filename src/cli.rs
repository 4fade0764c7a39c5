//! What the `hearth` subcommands do, on top of [`crate::client`]. `main` parses flags and
//! calls these.

use crate::client::{self, HearthClient};
use anyhow::{Context as _, bail};
use hyper::{Method, StatusCode};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// What `hearth deploy` was asked to do.
#[derive(Debug)]
pub struct Deploy<'a> {
    pub name: &'a str,
    pub file: &'a Path,
    pub handler: &'a str,
    /// `wasm32-wasip2`, or a process runtime (`provided.al2023`) whose zip holds `bootstrap`.
    pub runtime: &'a str,
    pub memory_mb: Option<u32>,
    pub timeout_s: Option<u32>,
    pub env: &'a [(String, String)],
}

/// Creates the function, or — when it exists — updates its code (and, if any setting was
/// given, its configuration), as `aws lambda create-function` / `update-function-code` /
/// `update-function-configuration` would. Returns the resulting configuration JSON.
pub async fn deploy(client: &HearthClient, d: &Deploy<'_>) -> anyhow::Result<String> {
    let zip = client::package(d.file, d.handler)?;
    let mut request =
        client::create_function_request(d.name, &zip, d.handler, d.memory_mb, d.timeout_s, d.env);
    request["Runtime"] = d.runtime.into();
    let reply = client.create_function(&request).await?;
    if reply.status == StatusCode::CREATED {
        return Ok(String::from_utf8_lossy(&reply.body).into_owned());
    }
    if reply.header("x-amzn-ErrorType") != Some("ResourceConflictException") {
        bail!("deploy failed: {}", reply.error_text());
    }
    let code = serde_json::json!({ "ZipFile": request["Code"]["ZipFile"] });
    let reply = client
        .send_json(
            Method::PUT,
            &format!("/2015-03-31/functions/{}/code", d.name),
            &code,
        )
        .await?;
    if reply.status != StatusCode::OK {
        bail!("updating the code failed: {}", reply.error_text());
    }
    let mut config = serde_json::Map::new();
    for key in ["MemorySize", "Timeout", "Environment"] {
        if let Some(v) = request.get(key) {
            config.insert(key.to_owned(), v.clone());
        }
    }
    if config.is_empty() {
        return Ok(String::from_utf8_lossy(&reply.body).into_owned());
    }
    let reply = client
        .send_json(
            Method::PUT,
            &format!("/2015-03-31/functions/{}/configuration", d.name),
            &serde_json::Value::Object(config),
        )
        .await?;
    if reply.status != StatusCode::OK {
        bail!("updating the configuration failed: {}", reply.error_text());
    }
    Ok(String::from_utf8_lossy(&reply.body).into_owned())
}

/// `hearth functions`: every function, one line each, following ListFunctions' pages.
pub async fn functions(client: &HearthClient, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:<40} {:<14} {:>7} {:>8}  LAST MODIFIED",
        "NAME", "RUNTIME", "MEMORY", "TIMEOUT"
    )?;
    let mut marker: Option<String> = None;
    loop {
        let path = match &marker {
            Some(m) => format!("/2015-03-31/functions?Marker={m}"),
            None => "/2015-03-31/functions".to_owned(),
        };
        let reply = client.send(Method::GET, &path, &[], Vec::new()).await?;
        if reply.status != StatusCode::OK {
            bail!("listing functions failed: {}", reply.error_text());
        }
        let page: serde_json::Value =
            serde_json::from_slice(&reply.body).context("ListFunctions answered with bad JSON")?;
        for f in page["Functions"].as_array().into_iter().flatten() {
            writeln!(
                out,
                "{:<40} {:<14} {:>4} MB {:>6} s  {}",
                f["FunctionName"].as_str().unwrap_or("?"),
                f["Runtime"].as_str().unwrap_or("?"),
                f["MemorySize"],
                f["Timeout"],
                f["LastModified"].as_str().unwrap_or("?"),
            )?;
        }
        match page["NextMarker"].as_str() {
            Some(next) => marker = Some(next.to_owned()),
            None => return Ok(()),
        }
    }
}

async fn get_json(client: &HearthClient, path: &str) -> anyhow::Result<serde_json::Value> {
    let reply = client.send(Method::GET, path, &[], Vec::new()).await?;
    if reply.status != StatusCode::OK {
        bail!("GET {path} failed: {}", reply.error_text());
    }
    serde_json::from_slice(&reply.body)
        .with_context(|| format!("GET {path} answered with bad JSON"))
}

/// `hearth queues`: every SQS queue with its messages by state and its dead-letter queue.
pub async fn queues(client: &HearthClient, out: &mut impl Write) -> anyhow::Result<()> {
    let queues = get_json(client, "/hearth/v1/queues").await?;
    writeln!(
        out,
        "{:<40} {:>9} {:>9} {:>9} {:>10}  DLQ",
        "QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED", "OLDEST"
    )?;
    for q in queues.as_array().into_iter().flatten() {
        writeln!(
            out,
            "{:<40} {:>9} {:>9} {:>9} {:>9.0}s  {}",
            q["name"].as_str().unwrap_or("?"),
            q["visible"],
            q["in_flight"],
            q["delayed"],
            q["oldest_age_seconds"].as_f64().unwrap_or(0.0),
            q["dead_letter_queue"].as_str().unwrap_or("-"),
        )?;
    }
    Ok(())
}

/// `hearth mappings`: every event source mapping: function, source, state, what its poller
/// did, and the messages waiting (lag).
pub async fn mappings(client: &HearthClient, out: &mut impl Write) -> anyhow::Result<()> {
    let mappings = get_json(client, "/hearth/v1/mappings").await?;
    writeln!(
        out,
        "{:<36} {:<24} {:<24} {:<8} {:>9} {:>8} {:>7} {:>7}",
        "UUID", "FUNCTION", "SOURCE", "STATE", "DELIVERED", "ERRORS", "WORKERS", "LAG"
    )?;
    let last = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| s.rsplit(':').next())
            .unwrap_or("?")
            .to_owned()
    };
    for m in mappings.as_array().into_iter().flatten() {
        writeln!(
            out,
            "{:<36} {:<24} {:<24} {:<8} {:>9} {:>8} {:>7} {:>7}",
            m["uuid"].as_str().unwrap_or("?"),
            last(&m["function"]),
            last(&m["source"]),
            m["state"].as_str().unwrap_or("?"),
            // A queue's deliveries end in deletes; a stream's are the records it read.
            if m["source"]
                .as_str()
                .unwrap_or("")
                .starts_with("arn:aws:kinesis:")
            {
                &m["received"]
            } else {
                &m["deleted"]
            },
            m["function_errors"],
            m["workers"],
            m["lag"],
        )?;
    }
    Ok(())
}

/// `hearth streams`: every Kinesis stream's shards (records held, oldest record, open or
/// closed) and the mappings that read it, with their lag in records.
pub async fn streams(client: &HearthClient, out: &mut impl Write) -> anyhow::Result<()> {
    let streams = get_json(client, "/hearth/v1/streams").await?;
    writeln!(
        out,
        "{:<32} {:<22} {:<6} {:>10} {:>10} {:>9}",
        "STREAM", "SHARD", "STATE", "RECORDS", "OLDEST", "RETENTION"
    )?;
    for s in streams.as_array().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or("?");
        for shard in s["shards"].as_array().into_iter().flatten() {
            writeln!(
                out,
                "{:<32} {:<22} {:<6} {:>10} {:>9.0}s {:>8}h",
                name,
                shard["id"].as_str().unwrap_or("?"),
                if shard["open"] == true {
                    "open"
                } else {
                    "closed"
                },
                shard["records"],
                shard["oldest_age_seconds"].as_f64().unwrap_or(0.0),
                s["retention_hours"],
            )?;
        }
        for m in s["mappings"].as_array().into_iter().flatten() {
            writeln!(
                out,
                "  mapping {} -> {}: lag {} records",
                m["uuid"].as_str().unwrap_or("?"),
                m["function"]
                    .as_str()
                    .and_then(|f| f.rsplit(':').next())
                    .unwrap_or("?"),
                m["lag"],
            )?;
        }
    }
    Ok(())
}

/// `hearth tables`: every DynamoDB table: key, items, bytes, and its stream (view type, label).
pub async fn tables(client: &HearthClient, out: &mut impl Write) -> anyhow::Result<()> {
    let tables = get_json(client, "/hearth/v1/tables").await?;
    writeln!(
        out,
        "{:<32} {:<24} {:>10} {:>12}  STREAM",
        "TABLE", "KEY", "ITEMS", "BYTES"
    )?;
    for t in tables.as_array().into_iter().flatten() {
        let key = match t["range_key"].as_str() {
            Some(range) => format!("{}, {range}", t["hash_key"].as_str().unwrap_or("?")),
            None => t["hash_key"].as_str().unwrap_or("?").to_owned(),
        };
        let stream = match (t["stream_view_type"].as_str(), t["stream_label"].as_str()) {
            (Some(view), Some(label)) => format!("{view} {label}"),
            _ => "-".to_owned(),
        };
        writeln!(
            out,
            "{:<32} {:<24} {:>10} {:>12}  {stream}",
            t["name"].as_str().unwrap_or("?"),
            key,
            t["items"],
            t["bytes"],
        )?;
    }
    Ok(())
}

/// `hearth logs NAME [--follow]`: the function's log; with `follow`, keeps printing what
/// is appended (polling every 200 ms) until interrupted.
pub async fn logs(
    client: &HearthClient,
    name: &str,
    follow: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut offset: u64 = 0;
    loop {
        let reply = client
            .send(
                Method::GET,
                &format!("/hearth/v1/logs/{name}?offset={offset}"),
                &[],
                Vec::new(),
            )
            .await?;
        if reply.status != StatusCode::OK {
            bail!("reading the log failed: {}", reply.error_text());
        }
        out.write_all(&reply.body)?;
        out.flush()?;
        offset = reply
            .header("X-Hearth-Log-Offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(offset + reply.body.len() as u64);
        if !follow {
            return Ok(());
        }
        if reply.body.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
