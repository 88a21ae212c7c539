//! The merge stage of a delta sync: the base of the three-way merge
//! ([`base`]), the rules ([`decide`]), the
//! cursor column and its values ([`cursor`]), the writer that applies a delta
//! inside one SQLite transaction ([`writer`]), and the state a sync leaves in
//! the file ([`state`]).

pub mod base;
pub mod base_pairs;
pub mod cursor;
pub mod decide;
pub mod deletes;
pub mod foreign_keys;
pub mod key;
pub mod state;
pub mod unique;
pub mod writer;
