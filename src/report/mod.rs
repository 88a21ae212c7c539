//! The data-loss report: what a rollback to the SQLite file as it is would
//! lose. Differing rows are found as `verify` finds them (range checksums,
//! then key buckets, then rows), classified by [`classify`], counted and
//! sampled by [`tally`], and rendered by [`render`]. The command that wires
//! it is `command::report`.

pub mod classify;
pub mod ledger;
pub mod model;
pub mod orphans;
pub mod render;
pub mod schema;
pub mod tally;
