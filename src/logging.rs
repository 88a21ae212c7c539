//! `-v/--verbose`: which SQL each stage runs and how long each stage took, as
//! log lines on stderr (with the time since start), printed above the progress
//! bars instead of through them.
//!
//! The SQL sent to PostgreSQL is what tokio-postgres logs at debug level
//! (`preparing query …`, `executing simple query …`), bridged from the `log`
//! crate; the DDL run in SQLite and the stage timings are this crate's own
//! `tracing` events. Without `-v` nothing is installed and nothing is logged.

use std::io::Write;

/// Installs the stderr logger for `-v`.
pub fn init(verbose: bool) {
    if !verbose {
        return;
    }
    let result = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_ansi(crate::progress::colours_wanted())
        .with_writer(|| AboveBars)
        .try_init();
    if let Err(e) = result {
        eprintln!("pg2sqlite: warning: cannot start the verbose log: {e}");
    }
}

/// stderr, with the progress bars hidden while a line is written.
struct AboveBars;

impl Write for AboveBars {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::progress::write_above_bars(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
