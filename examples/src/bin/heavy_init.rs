//! `heavy-init`: an INIT of tens of milliseconds (it builds a 400,000-entry table), and a
//! handler that uses the table: what snapshot-initialised sandboxes are for.
//!
//! The component exports `wizer-initialize`, the init boundary a snapshot runs: it builds the
//! table into a static. A sandbox started from the snapshot finds the table already there and
//! skips building it; a sandbox started from the plain component builds it in `main`, as any
//! cold start would. The answer says which happened (`built_here`), and the table's checksum.

use std::sync::OnceLock;

static TABLE: OnceLock<Vec<u64>> = OnceLock::new();

/// About 50 ms of work (guest profile, this kind of machine).
fn build() -> Vec<u64> {
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
    table
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
            super::TABLE.get_or_init(super::build);
        }
    }

    export!(Init);
}

fn main() {
    let built_here = TABLE.get().is_none();
    let table = TABLE.get_or_init(build);
    hearth_sdk::run(move |event: serde_json::Value, _ctx| {
        let i = event["index"].as_u64().unwrap_or(0) as usize % table.len();
        Ok(serde_json::json!({
            "built_here": built_here,
            "entry": table[i],
            "checksum": table.iter().fold(0u64, |a, v| a.wrapping_add(*v)),
        }))
    });
}
