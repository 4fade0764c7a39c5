//! Fuzz target: `hearth::fuzzing::invoke_request` (see its doc for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hearth::fuzzing::invoke_request(data));
