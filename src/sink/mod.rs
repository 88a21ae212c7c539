//! Sink: the SQLite side — schema DDL, the staging file and its atomic
//! publication, the backup (a copy, or the merge's journal kept as its undo), the target's health checks and what this tool
//! knows of the file it left (`seal`), and the single writer
//! that owns the connection.

pub mod access;
pub mod backup;
pub mod ddl;
mod direct_copy;
pub mod existing;
pub mod health;
pub mod holders;
pub mod insert;
pub mod rollback_journal;
pub mod seal;
pub mod staging;
pub mod undo;
pub mod writer;
