//! `noop`: answers `null` to any event, doing nothing else: the function a benchmark puts
//! behind an event source, so what is measured is the path to it.

fn main() {
    hearth_sdk::run_raw(|_payload, _ctx| Ok(b"null".to_vec()));
}
