//! The merge stage of a delta sync: the last-write-wins rules ([`decide`]), the
//! cursor column and its values ([`cursor`]), the writer that applies a delta
//! inside one SQLite transaction ([`writer`]), and the state a sync leaves in
//! the file ([`state`]).

pub mod cursor;
pub mod decide;
pub mod state;
pub mod writer;
