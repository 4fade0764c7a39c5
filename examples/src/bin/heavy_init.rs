//! `heavy-init`: an INIT of tens of milliseconds (it builds a 520,000-entry table), and a
//! handler that reads one entry of it: what SnapStart is for.
//!
//! The table is a [`hearth_sdk::SnapStart`] state: `hearth_sdk::snap_start!` exports the init
//! boundary a snapshot runs, so a sandbox restored from a published version's snapshot finds
//! the table already built (`built_here: false`), while a sandbox started from the plain
//! component (`$LATEST`) builds it in its own INIT (`built_here: true`).
//!
//! It also shows what a snapshot freezes and what it does not: `init_random` is drawn during
//! INIT (the same in every sandbox restored from one snapshot), `start_random` in
//! `after_restore` or, without a snapshot, at the end of INIT (different in each sandbox).
//! For the tests of SnapStart's failure paths: `HEAVY_INIT_FAIL` makes INIT fail,
//! `HEAVY_INIT_SLEEP_MS` makes it slow, `HEAVY_INIT_RESTORE_FAIL` makes `after_restore` fail
//! and `HEAVY_INIT_RESTORE_SLEEP_MS` makes it slow.

use hearth_sdk::{Config, Context, Error, SnapStart};

struct Initialised {
    table: Vec<u64>,
    /// Summed once in INIT, so an invocation touches one entry, not the whole table.
    checksum: u64,
    init_random: u64,
    start_random: u64,
    built_here: bool,
}

fn random() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("entropy");
    u64::from_le_bytes(bytes)
}

/// About 50 ms of work (guest profile, this kind of machine).
fn build() -> Vec<u64> {
    let mut table = Vec::with_capacity(520_000);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..520_000 {
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        table.push(x % 1_000_003);
    }
    table
}

impl SnapStart for Initialised {
    fn init(_config: &Config) -> Result<Self, Error> {
        if let Ok(why) = std::env::var("HEAVY_INIT_FAIL") {
            return Err(Error::new(
                "InitError",
                format!("INIT failed on purpose: HEAVY_INIT_FAIL={why}"),
            ));
        }
        if let Some(ms) = std::env::var("HEAVY_INIT_SLEEP_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        let init_random = random();
        let table = build();
        Ok(Self {
            checksum: table.iter().fold(0u64, |a, v| a.wrapping_add(*v)),
            table,
            init_random,
            start_random: random(),
            built_here: true,
        })
    }

    fn after_restore(&mut self) -> Result<(), Error> {
        if std::env::var_os("HEAVY_INIT_RESTORE_FAIL").is_some() {
            return Err(Error::new(
                "RestoreError",
                "after_restore failed on purpose",
            ));
        }
        if let Some(ms) = std::env::var("HEAVY_INIT_RESTORE_SLEEP_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        self.built_here = false;
        self.start_random = random();
        Ok(())
    }
}

hearth_sdk::snap_start!(Initialised);

fn main() {
    let initialization_type = std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").unwrap_or_default();
    hearth_sdk::run_snap_start(
        move |state: &mut Initialised, event: serde_json::Value, _ctx: &Context| {
            let table = &state.table;
            let i = event["index"].as_u64().unwrap_or(0) as usize % table.len();
            if let Some(ms) = event["sleep_ms"].as_u64() {
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            Ok(serde_json::json!({
                "built_here": state.built_here,
                "entry": table[i],
                "checksum": state.checksum,
                // As strings: JSON numbers lose u64 precision in most clients.
                "init_random": state.init_random.to_string(),
                "start_random": state.start_random.to_string(),
                "initialization_type": initialization_type,
            }))
        },
    );
}
