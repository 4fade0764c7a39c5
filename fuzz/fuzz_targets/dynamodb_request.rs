//! Fuzz target: `hearth::fuzzing::dynamodb_request` (see its doc for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hearth::fuzzing::dynamodb_request(data));
