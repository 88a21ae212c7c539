//! Schema maps: the TOML file that renames, filters and pins representations
//! (`format`), its checks against both databases, and `map init`, which writes
//! one from the live databases.

pub mod check;
pub mod format;
pub mod framework;
pub mod infer;
pub mod init;

pub use format::{ColumnMap, DeletePolicy, Located, SchemaMap, TableMap};
