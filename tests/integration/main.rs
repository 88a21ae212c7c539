//! Integration tests: the real `pg2sqlite` binary against a real PostgreSQL
//! (127.0.0.1:5432, trust authentication for `root`) and real SQLite files.
//!
//! Everything compiles into this one test binary (as ripgrep does), so the crate
//! and the harness are built once. Each test creates its own database and its
//! own temporary directory, so the tests run in parallel.

#[path = "../common/mod.rs"]
mod common;

mod backups;
mod bad_input;
mod bundle;
mod cli;
mod connection;
#[cfg(feature = "failpoints")]
mod crash;
mod damaged_target;
mod delta;
mod disk;
mod failures;
mod full_sync;
mod interrupt;
mod json;
mod maps;
mod orm;
mod pg_compare;
mod report;
mod schema_rules;
mod snapshot;
mod stalls;
mod target_files;
mod three_way;
mod three_way_model;
mod undo;
mod values;
mod verify;
mod written_since;
