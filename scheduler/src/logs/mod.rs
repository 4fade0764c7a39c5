//! Function logs: the `START` / `END` / `REPORT` framing of each invocation around the
//! function's own output ([`format_invocation`]), stored per function by [`store::LogStore`]
//! under `<state>/logs/<function>.log`.
//!
//! Layout: this file formats; [`store`] batches, writes and rotates.

pub mod store;

pub use store::LogStore;

use base64::Engine as _;
use std::time::Duration;

/// `X-Amz-Log-Result` carries at most the last 4 KB of the invocation's log.
pub const TAIL_BYTES: usize = 4096;

/// What the REPORT line says about one invocation.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub request_id: &'a str,
    pub version: &'a str,
    pub duration: Duration,
    pub memory_mb: u32,
    pub max_memory_used_mb: u64,
    /// Set on a cold start.
    pub init_duration: Option<Duration>,
    /// The cold start was a SnapStart restore: the line says `Restore Duration` (and its
    /// billed milliseconds) instead of `Init Duration`, as Lambda's does.
    pub restored: bool,
}

/// The log text of one invocation: START, the function's output, END, REPORT.
pub fn format_invocation(report: &Report<'_>, output: &[u8]) -> Vec<u8> {
    let id = report.request_id;
    let mut text = Vec::with_capacity(output.len() + 256);
    if let Some(restore) = report.init_duration.filter(|_| report.restored) {
        text.extend_from_slice(
            format!(
                "RESTORE_REPORT Restore Duration: {:.2} ms\n",
                restore.as_secs_f64() * 1000.0
            )
            .as_bytes(),
        );
    }
    text.extend_from_slice(
        format!("START RequestId: {id} Version: {}\n", report.version).as_bytes(),
    );
    text.extend_from_slice(output);
    if !output.is_empty() && !output.ends_with(b"\n") {
        text.push(b'\n');
    }
    let ms = report.duration.as_secs_f64() * 1000.0;
    let billed = report.duration.as_micros().div_ceil(1000).max(1);
    text.extend_from_slice(
        format!(
            "END RequestId: {id}\nREPORT RequestId: {id}\tDuration: {ms:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
            report.memory_mb, report.max_memory_used_mb
        )
        .as_bytes(),
    );
    match report.init_duration {
        Some(restore) if report.restored => text.extend_from_slice(
            format!(
                "Restore Duration: {:.2} ms\tBilled Restore Duration: {} ms\t",
                restore.as_secs_f64() * 1000.0,
                restore.as_micros().div_ceil(1000).max(1)
            )
            .as_bytes(),
        ),
        Some(init) => text.extend_from_slice(
            format!("Init Duration: {:.2} ms\t", init.as_secs_f64() * 1000.0).as_bytes(),
        ),
        None => {}
    }
    text.push(b'\n');
    text
}

/// `X-Amz-Log-Result`: base64 of the last 4 KB of an invocation's log text.
pub fn tail(text: &[u8]) -> String {
    let start = text.len().saturating_sub(TAIL_BYTES);
    base64::engine::general_purpose::STANDARD.encode(&text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(init: Option<Duration>) -> Report<'static> {
        Report {
            request_id: "id-1",
            version: "$LATEST",
            duration: Duration::from_micros(2_900),
            memory_mb: 128,
            max_memory_used_mb: 36,
            init_duration: init,
            restored: false,
        }
    }

    #[test]
    fn report_line_matches_lambda() {
        let text = String::from_utf8(format_invocation(&report(None), b"hello")).expect("utf8");
        assert_eq!(
            text,
            "START RequestId: id-1 Version: $LATEST\nhello\nEND RequestId: id-1\nREPORT RequestId: id-1\tDuration: 2.90 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 36 MB\t\n"
        );
        let cold = String::from_utf8(format_invocation(
            &report(Some(Duration::from_micros(110_100))),
            b"",
        ))
        .expect("utf8");
        assert!(cold.contains("\tInit Duration: 110.10 ms\t\n"), "{cold}");
        let restored = String::from_utf8(format_invocation(
            &Report {
                restored: true,
                ..report(Some(Duration::from_micros(310)))
            },
            b"",
        ))
        .expect("utf8");
        assert!(
            restored.starts_with("RESTORE_REPORT Restore Duration: 0.31 ms\nSTART RequestId: id-1"),
            "{restored}"
        );
        assert!(
            restored.ends_with("\tRestore Duration: 0.31 ms\tBilled Restore Duration: 1 ms\t\n"),
            "{restored}"
        );
    }

    #[test]
    fn tail_keeps_the_last_4k() {
        let text = vec![b'a'; 10_000];
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(tail(&text))
            .expect("base64");
        assert_eq!(decoded.len(), TAIL_BYTES);
    }
}
