//! `pg2sqlite completions SHELL`: a completion script made by clap_complete from
//! the same definitions as `--help`, so it cannot fall behind the flags.

use std::io::Write;
use std::path::PathBuf;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};

/// Writes the completion script for `shell` to `out`.
pub fn run(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "pg2sqlite", &mut script);
    out.write_all(&script)
        .map_err(Error::io(PathBuf::from("<stdout>")))
}
