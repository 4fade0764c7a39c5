//! `heavy-init`: an INIT of tens of milliseconds (it builds a 400,000-entry table), and a
//! handler that uses the table: what snapshot-initialised sandboxes are for.
//!
//! The component exports `wizer-initialize`, the init boundary a snapshot runs: it builds the
//! table into a static. A sandbox started from the snapshot finds the table already there and
//! skips building it; a sandbox started from the plain component builds it in `main`, as any
//! cold start would. The answer says which happened (`built_here`), and the table's checksum.
//!
//! It also shows what a snapshot freezes and what it does not: `init_random` is drawn during
//! INIT (the same in every sandbox restored from one snapshot), `start_random` when the
//! sandbox starts, after the restore (different in each). For the tests of SnapStart's
//! failure paths, `HEAVY_INIT_FAIL` makes INIT fail and `HEAVY_INIT_SLEEP_MS` makes it slow.

use std::sync::OnceLock;

struct Initialised {
    table: Vec<u64>,
    init_random: u64,
}

static STATE: OnceLock<Initialised> = OnceLock::new();

fn random() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("entropy");
    u64::from_le_bytes(bytes)
}

/// About 50 ms of work (guest profile, this kind of machine).
fn build() -> Initialised {
    if let Ok(why) = std::env::var("HEAVY_INIT_FAIL") {
        panic!("INIT failed on purpose: HEAVY_INIT_FAIL={why}");
    }
    if let Some(ms) = std::env::var("HEAVY_INIT_SLEEP_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    let mut table = Vec::with_capacity(400_000);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..400_000 {
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        table.push(x % 1_000_003);
    }
    Initialised {
        table,
        init_random: random(),
    }
}

// The generated export glue uses `unsafe` for the canonical ABI; allow it here only.
#[allow(unsafe_code)]
mod snapshot {
    wit_bindgen::generate!({
        inline: "package hearth:snapshot; world init { export wizer-initialize: func(); }",
        world: "init",
    });

    struct Init;

    impl Guest for Init {
        fn wizer_initialize() {
            super::STATE.get_or_init(super::build);
        }
    }

    export!(Init);
}

fn main() {
    let built_here = STATE.get().is_none();
    let state = STATE.get_or_init(build);
    let start_random = random();
    let initialization_type = std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").unwrap_or_default();
    hearth_sdk::run(move |event: serde_json::Value, _ctx| {
        let table = &state.table;
        let i = event["index"].as_u64().unwrap_or(0) as usize % table.len();
        if let Some(ms) = event["sleep_ms"].as_u64() {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        Ok(serde_json::json!({
            "built_here": built_here,
            "entry": table[i],
            "checksum": table.iter().fold(0u64, |a, v| a.wrapping_add(*v)),
            // As strings: JSON numbers lose u64 precision in most clients.
            "init_random": state.init_random.to_string(),
            "start_random": start_random.to_string(),
            "initialization_type": initialization_type,
        }))
    });
}
