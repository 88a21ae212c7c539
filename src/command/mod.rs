//! One module per subcommand, each reading top to bottom like a recipe over
//! the reusable stages beneath (`source`, `plan`, `verify`, `report`, `bundle`, ...).
//! `sync`, `delta` and `verify` still live in `pipeline/` and `delta/`; `undo`
//! wires `sink::undo`.

pub mod completions;
pub mod export;
pub mod import;
pub mod man;
pub mod report;
pub mod undo;
