//! Records the versions of the PostgreSQL protocol and TLS libraries this
//! binary was built with, from Cargo.lock, for `pg2sqlite --version`.

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for (krate, var) in [
        ("tokio-postgres", "PG2SQLITE_TOKIO_POSTGRES_VERSION"),
        ("rustls", "PG2SQLITE_RUSTLS_VERSION"),
    ] {
        let version = locked_version(&lock, krate).unwrap_or_else(|| "unknown".to_owned());
        println!("cargo:rustc-env={var}={version}");
    }
}

/// The `version = "…"` line after `name = "<krate>"` in Cargo.lock.
fn locked_version(lock: &str, krate: &str) -> Option<String> {
    let name_line = format!("name = \"{krate}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == name_line {
            let version = lines.next()?.trim();
            return version
                .strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_owned);
        }
    }
    None
}
