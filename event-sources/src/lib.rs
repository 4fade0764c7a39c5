//! Embedded event sources and their pollers (SQS-like queues, Kinesis-like streams,
//! DynamoDB-like table streams) and event source mappings.
//!
//! Empty until the event-source issue lands. It will own the durable queues, streams and
//! tables, the mappings and their pollers, and filter criteria; it must invoke functions only
//! through the scheduler.
