//! hearth's data streams over the durable journal.
//!
//! - [`kinesis`]: Kinesis-like streams — shards over the 128-bit hash-key space, per-shard
//!   sequence numbers that survive restarts, shard iterators, retention, resharding.
//! - [`dynamodb`]: the foundations of DynamoDB-like tables — attribute values with exact
//!   numbers, and the condition / update / projection expression language.
//!
//! Every acknowledged write is in the journal ([`hearth_journal`]) and covered by its group
//! commit; a reader sees a record only once it is durable, so a crash can never take back
//! a record a consumer has already processed and checkpointed.

pub mod dynamodb;
pub mod error;
pub mod kinesis;

pub use error::{ErrorKind, StreamError};
pub use hearth_journal::Clock;
pub use kinesis::{Streams, StreamsConfig};
