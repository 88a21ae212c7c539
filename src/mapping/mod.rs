//! Mapping: the type tables — PostgreSQL → SQLite (`types`) and PostgreSQL →
//! bundle files (`file_types`) — and the conversion of raw COPY rows into
//! Arrow batches of SQLite-ready values.

pub mod convert;
pub mod decode;
pub mod file_types;
pub mod format;
pub mod ledger;
pub mod time;
pub mod types;
