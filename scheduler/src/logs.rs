//! Function logs: the `START` / `END` / `REPORT` framing of each invocation around the
//! function's own output, stored per function under `<state>/logs/<function>.log`.
//!
//! Writes go to a dedicated thread over a channel, so the invoke path never waits on the
//! disk; the text of one invocation is written with one `write_all`, so concurrent
//! invocations never interleave inside each other's lines.

use base64::Engine as _;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// `X-Amz-Log-Result` carries at most the last 4 KB of the invocation's log.
pub const TAIL_BYTES: usize = 4096;

enum Message {
    Append { function: String, text: Vec<u8> },
    Flush(mpsc::Sender<()>),
}

/// The log store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LogStore {
    dir: PathBuf,
    tx: mpsc::Sender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl LogStore {
    /// Opens (creates) the log directory and starts the writer thread, which ends when the
    /// last clone is dropped.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let (tx, rx) = mpsc::channel();
        let writer_dir = dir.clone();
        std::thread::Builder::new()
            .name("hearth-logs".into())
            .spawn(move || write_loop(&writer_dir, rx))?;
        Ok(Self { dir, tx })
    }

    /// Appends one invocation's log text to the function's log.
    pub fn append(&self, function: &str, text: Vec<u8>) {
        let _ = self.tx.send(Message::Append {
            function: function.to_owned(),
            text,
        });
    }

    /// Waits until everything appended so far is written.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Message::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(10));
        }
    }

    /// Up to `max` bytes of a function's log from byte `offset`, after flushing what was
    /// appended so far; `None` when there is no log. The returned offset is where the next
    /// read continues.
    pub fn read(
        &self,
        function: &str,
        offset: u64,
        max: usize,
    ) -> std::io::Result<Option<(Vec<u8>, u64)>> {
        use std::io::{Read, Seek, SeekFrom};
        self.flush();
        let mut file = match std::fs::File::open(self.path(function)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let start = offset.min(len);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        file.take(max as u64).read_to_end(&mut buf)?;
        let next = start + buf.len() as u64;
        Ok(Some((buf, next)))
    }

    /// Where a function's log lives.
    pub fn path(&self, function: &str) -> PathBuf {
        self.dir.join(format!("{function}.log"))
    }
}

fn write_loop(dir: &Path, rx: mpsc::Receiver<Message>) {
    let mut files: HashMap<String, std::fs::File> = HashMap::new();
    for message in rx {
        match message {
            Message::Append { function, text } => {
                let file = match files.entry(function) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let path = dir.join(format!("{}.log", e.key()));
                        match std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&path)
                        {
                            Ok(f) => e.insert(f),
                            Err(err) => {
                                tracing::warn!(path = %path.display(), %err, "cannot open function log");
                                continue;
                            }
                        }
                    }
                };
                if let Err(err) = file.write_all(&text) {
                    tracing::warn!(%err, "cannot write function log");
                }
            }
            Message::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

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
}

/// The log text of one invocation: START, the function's output, END, REPORT.
pub fn format_invocation(report: &Report<'_>, output: &[u8]) -> Vec<u8> {
    let id = report.request_id;
    let mut text = Vec::with_capacity(output.len() + 256);
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
    if let Some(init) = report.init_duration {
        text.extend_from_slice(
            format!("Init Duration: {:.2} ms\t", init.as_secs_f64() * 1000.0).as_bytes(),
        );
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
    }

    #[test]
    fn tail_keeps_the_last_4k() {
        let text = vec![b'a'; 10_000];
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(tail(&text))
            .expect("base64");
        assert_eq!(decoded.len(), TAIL_BYTES);
    }

    #[test]
    fn appended_text_reaches_the_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let logs = LogStore::open(dir.path()).expect("open");
        logs.append("f", b"one\n".to_vec());
        logs.append("f", b"two\n".to_vec());
        logs.flush();
        assert_eq!(std::fs::read(logs.path("f")).expect("read"), b"one\ntwo\n");
    }
}
