//! End-to-end tests: a real server on port 0 with a temp state dir, real compiled guests,
//! requests over HTTP. One binary, one module per feature, shared helpers in [`server`].

#[path = "../support/guests.rs"]
mod guests;
#[path = "../support/native.rs"]
mod native_examples;
#[path = "../support/python.rs"]
mod python;
mod server;

mod async_policy;
mod auth;
mod claims;
mod code_storage;
mod control;
mod deploy;
mod durability;
mod failures;
mod hostile;
mod invoke;
mod limits;
mod load;
mod memory;
mod native;
