//! CSV bundle files (in progress).
