//! DynamoDB-like tables: attribute values and items ([`value`]), and the expression
//! language of conditions, updates and projections ([`expr`]), and the table store
//! ([`table`]). The table's stream and the DynamoDB and DynamoDB Streams APIs build on these.

pub mod expr;
pub mod table;
pub mod value;

/// A stream label as DynamoDB writes them: the enabling time, `2026-12-03T14:30:00.123`.
pub fn stream_label(ms: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}
