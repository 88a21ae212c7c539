//! Parquet bundle files (in progress).
