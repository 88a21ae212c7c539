//! One module per subcommand, each reading top to bottom like a recipe over
//! the reusable stages beneath (`source`, `plan`, `verify`, `report`, ...).
//! `sync`, `delta` and `verify` still live in `pipeline.rs` and `delta.rs`.

pub mod report;
