//! Mapping: the PostgreSQL → SQLite type table and the conversion of raw COPY
//! rows into Arrow batches of SQLite-ready values.

pub mod convert;
pub mod decode;
pub mod format;
pub mod ledger;
pub mod time;
pub mod types;
