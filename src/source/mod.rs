//! Source: everything that talks to PostgreSQL — connections, the catalog,
//! the shared snapshot, chunk planning and the binary COPY readers.

pub mod catalog;
pub mod chunk;
pub mod connect;
pub mod copy;
pub mod snapshot;
