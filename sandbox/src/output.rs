//! Capture of a guest's stdout and stderr.
//!
//! Both streams write synchronously into one shared buffer, so everything a guest printed
//! before it called `respond` is in the buffer when the host sees the response: the log of an
//! invocation is complete without any flushing dance.

use bytes::Bytes;
use std::sync::{Arc, Mutex};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Most output kept between two reads (one invocation); the rest is dropped and counted, so a
/// chatty guest cannot grow the host's memory without bound.
pub const MAX_BUFFERED_OUTPUT: usize = 1024 * 1024;

#[derive(Debug, Default)]
struct Inner {
    bytes: Vec<u8>,
    dropped: usize,
}

/// The shared output buffer of one sandbox. Cloning shares the buffer.
#[derive(Debug, Clone, Default)]
pub struct OutputBuffer(Arc<Mutex<Inner>>);

impl OutputBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes what was written since the last call, noting how much was dropped.
    pub fn take(&self) -> Vec<u8> {
        let mut inner = self.lock();
        let mut out = std::mem::take(&mut inner.bytes);
        if inner.dropped > 0 {
            out.extend_from_slice(
                format!("[hearth: {} bytes of output dropped]\n", inner.dropped).as_bytes(),
            );
            inner.dropped = 0;
        }
        out
    }

    pub(crate) fn append(&self, bytes: &[u8]) {
        let mut inner = self.lock();
        let room = MAX_BUFFERED_OUTPUT.saturating_sub(inner.bytes.len());
        let kept = bytes.len().min(room);
        inner.bytes.extend_from_slice(&bytes[..kept]);
        inner.dropped += bytes.len() - kept;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned buffer only means a panic elsewhere while appending bytes; the bytes are
        // still valid, so keep going.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl IsTerminal for OutputBuffer {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for OutputBuffer {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for OutputBuffer {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for OutputBuffer {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for OutputBuffer {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.append(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_returns_and_clears() {
        let b = OutputBuffer::new();
        b.append(b"hello\n");
        assert_eq!(b.take(), b"hello\n");
        assert!(b.take().is_empty());
    }

    #[test]
    fn output_beyond_the_cap_is_dropped_and_reported() {
        let b = OutputBuffer::new();
        b.append(&vec![b'x'; MAX_BUFFERED_OUTPUT + 10]);
        let out = b.take();
        assert!(out.ends_with(b"[hearth: 10 bytes of output dropped]\n"));
    }
}
