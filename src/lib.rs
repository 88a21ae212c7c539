//! pg2sqlite moves data back from PostgreSQL into SQLite.
//!
//! The crate reads as the pipeline it implements:
//!
//! ```text
//!  PostgreSQL                                                         SQLite
//!  ──────────                                                         ──────
//!  catalog ──► plan ──► chunk queue ──► N readers (binary COPY, one     staging file
//!  (source)   (plan)    (source)        exported snapshot)              (sink)
//!                                          │ raw rows                     ▲
//!                                          ▼                              │
//!                                   rayon converters ──► bounded ──► one writer thread
//!                                   (mapping: rows →     channel     (sink: INSERT, then
//!                                    Arrow RecordBatch)               indexes, fsync, rename)
//! ```
//!
//! A delta merge ([`delta`]) uses the same readers and converters on the rows
//! that changed: those whose update cursor is later than the since-time, or,
//! for tables without one, those content comparison found
//! ([`verify::narrow`]). Its writer is [`merge::writer`], which decides row by
//! row, three ways against the base the last sync left ([`merge::base`],
//! [`merge::decide`]), inside one transaction on the target, after a backup
//! ([`sink::backup`]); [`verify::keys`] finds deleted rows, and
//! [`merge::foreign_keys`] checks what the merge could have broken before it
//! commits. `pg2sqlite report` ([`command::report`], [`report`]) walks the
//! differences as `verify` does and classifies them without writing anything.
//!
//! `plan` also reads the schema map (`map`, `--map`) and the existing target's
//! schema with a few stored values per column (`sink::existing`): tables the
//! target already holds are written into as they are, in the representation
//! (`mapping::format`) the map pins or the stored values show.
//!
//! SQL issued against PostgreSQL, in order:
//!
//! 1. `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot()`
//!    on a coordinator connection, which stays open until the copy ends;
//! 2. catalog queries on `pg_catalog` inside that snapshot;
//! 3. `min`/`max` of integer primary keys and `pg_relation_size` to plan chunks;
//! 4. on each reader connection `SET TRANSACTION SNAPSHOT '…'`, then for each chunk
//!    `COPY (SELECT … FROM ONLY t WHERE <key or ctid range>) TO STDOUT (FORMAT binary)`;
//!    a delta's chunks are `WHERE cursor > since OR cursor IS NULL`, or the keys
//!    content comparison found (`WHERE k IN (…)`, or key-hash buckets);
//! 5. for verification and content comparison, `count(*)` and sums of
//!    `hashtextextended(ROW(<canonical expressions>)::text, 0)` per key range, per key bucket,
//!    or one hash per row in key order.
//!
//! Before step 1, `clock_timestamp()` and the oldest open transaction's start
//! (`pg_stat_activity`) give the watermark stored for the next delta.

pub mod bundle;
pub mod cli;
pub mod command;
pub mod delta;
pub mod error;
pub mod failpoint;
pub mod fixtures;
pub mod logging;
pub mod map;
pub mod mapping;
pub mod merge;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod report;
pub mod sink;
pub mod source;
pub mod summary;
pub mod verify;
