//! The disk's durability floor, shared by the storage-engine benches.

use std::io::Write;
use std::time::{Duration, Instant};

/// The median of one 200-byte append and `fdatasync` in `dir`, over 2,000 tries.
pub fn fsync_floor(dir: &std::path::Path) -> Duration {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("floor"))
        .expect("floor file");
    let mut times: Vec<Duration> = (0..2000)
        .map(|_| {
            let t = Instant::now();
            file.write_all(&[b'x'; 200]).expect("write");
            file.sync_data().expect("fdatasync");
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}
