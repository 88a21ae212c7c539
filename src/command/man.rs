//! `pg2sqlite man`: man pages made by clap_mangen from the same definitions as
//! `--help`: pg2sqlite.1, and with `--out-dir` one page per command
//! (pg2sqlite-sync.1, pg2sqlite-map-init.1, …) as git and cargo install theirs.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};

/// Prints pg2sqlite.1, or writes every page into `out_dir`; returns the files written.
pub fn run(out_dir: Option<&Path>, stdout: &mut dyn Write) -> Result<Vec<PathBuf>> {
    let command = Cli::command();
    let Some(dir) = out_dir else {
        let page = render(&command)?;
        stdout
            .write_all(&page)
            .map_err(Error::io(PathBuf::from("<stdout>")))?;
        return Ok(Vec::new());
    };
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let mut written = Vec::new();
    write_pages(&command, "pg2sqlite", dir, &mut written)?;
    Ok(written)
}

/// Writes `command`'s page as NAME.1, then its subcommands' as NAME-SUB.1.
fn write_pages(
    command: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<()> {
    let page = render(&command.clone().name(name.to_owned()))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).map_err(Error::io(&path))?;
    written.push(path);
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let sub_name = format!("{name}-{}", sub.get_name());
        write_pages(sub, &sub_name, dir, written)?;
    }
    Ok(())
}

fn render(command: &clap::Command) -> Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .map_err(Error::io(PathBuf::from("<man page>")))?;
    Ok(page)
}
