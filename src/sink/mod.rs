//! Sink: the SQLite side — schema DDL, the staging file and its atomic
//! publication, the backup, the target's health checks and what this tool
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
pub mod seal;
pub mod staging;
pub mod writer;
