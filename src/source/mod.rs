//! Source: everything that talks to PostgreSQL — connections (settings, service
//! files, password files, TLS), the catalog, the shared snapshot, chunk planning
//! and the binary COPY readers.

pub mod catalog;
pub mod chunk;
pub mod connect;
pub mod conninfo;
pub mod copy;
pub mod horizon;
pub mod hosts;
pub mod pgpass;
pub mod service;
pub mod snapshot;
pub mod tls;
