//! DynamoDB-like tables: attribute values and items ([`value`]), and the expression
//! language of conditions, updates and projections ([`expr`]). The table store, its stream
//! and the DynamoDB and DynamoDB Streams APIs build on these.

pub mod expr;
pub mod value;
