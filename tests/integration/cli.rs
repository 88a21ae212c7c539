//! The command line as it installs: completions that a real shell uses, a man
//! page that `man` renders, `--version`, `-v` logging and `NO_COLOR`.

use crate::common::*;

#[test]
fn bash_completes_commands_and_flags_from_the_generated_script() {
    let script = run(&["completions", "bash"]);
    script.assert_success();
    let complete = |words: &str| -> String {
        let program = format!(
            "{}\nCOMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
             _pg2sqlite pg2sqlite \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.stdout
        );
        let out = std::process::Command::new("bash")
            .args(["--norc", "-c", &program])
            .output()
            .expect("run bash");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let commands = complete("pg2sqlite sy");
    assert_eq!(commands.trim(), "sync", "{commands}");
    let flags = complete("pg2sqlite sync --no-");
    assert!(flags.contains("--no-verify"), "{flags}");
    let shells = complete("pg2sqlite completions ''");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(shells.lines().any(|l| l == shell), "{shells}");
    }
    for shell in ["zsh", "fish", "powershell"] {
        let out = run(&["completions", shell]);
        out.assert_success();
        assert!(
            out.stdout.contains("sync") && out.stdout.contains("--source"),
            "{shell}"
        );
    }
    run(&["completions", "tcsh"]).assert_code(2);
}

#[test]
fn man_pages_render_with_every_command_and_flag() {
    let page = run(&["man"]);
    page.assert_success();
    assert!(page.stdout.contains(".TH pg2sqlite 1"), "{}", page.stdout);
    let dir = tempfile::tempdir().expect("tempdir");
    let listed = run(&["man", "--out-dir", dir.path().to_str().expect("utf-8")]);
    listed.assert_success();
    for name in [
        "pg2sqlite.1",
        "pg2sqlite-sync.1",
        "pg2sqlite-map-init.1",
        "pg2sqlite-export.1",
    ] {
        assert!(
            dir.path().join(name).is_file(),
            "{name} missing: {}",
            listed.stdout
        );
    }
    // groff renders the page as man would show it.
    let out = std::process::Command::new("groff")
        // Plain text: no bold or underline by overstriking or escape codes.
        .args(["-man", "-Tutf8", "-P-cbou"])
        .arg(dir.path().join("pg2sqlite-sync.1"))
        .output()
        .expect("run groff (Debian: apt-get install groff-base)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for expected in ["--source", "--no-verify", "--since", "DATABASE_URL"] {
        assert!(
            text.contains(expected),
            "{expected} not in the page:\n{text}"
        );
    }
}

#[test]
fn version_names_the_database_libraries() {
    let out = run(&["--version"]);
    out.assert_success();
    assert!(out
        .stdout
        .starts_with(&format!("pg2sqlite {}", env!("CARGO_PKG_VERSION"))));
    let conn = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
    let sqlite_version: String = conn
        .query_row("SELECT sqlite_version()", [], |r| r.get(0))
        .expect("sqlite_version");
    for expected in [
        format!("SQLite {sqlite_version}"),
        "tokio-postgres 0.7".into(),
        "rustls".into(),
    ] {
        assert!(
            out.stdout.contains(&expected),
            "{expected} not in:\n{}",
            out.stdout
        );
    }
}

#[test]
fn verbose_logs_the_sql_and_stage_times_on_stderr_only() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let out = sync(&db.url(), &target, &["-v", "--tables", "users", "--json"]);
    out.assert_success();
    out.assert_stderr_has(&[
        "pg_export_snapshot()",
        "COPY",
        "sqlite: CREATE TABLE \"users\"",
        "stage done: verifying (",
        "copied users: 2000 rows",
    ]);
    let summary: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("stdout is the JSON summary alone");
    assert!(summary.is_object());

    let quiet = sync(
        &db.url(),
        &dir.path().join("again.db"),
        &["--tables", "users", "--quiet"],
    );
    quiet.assert_success();
    assert!(!quiet.stderr.contains("DEBUG"), "{}", quiet.stderr);
}

#[test]
fn colour_on_a_terminal_unless_no_color_is_set() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    // `script` gives the binary a terminal, as a user's shell would.
    let on_terminal = |name: &str, no_color: bool| -> String {
        let target = dir.path().join(name);
        let command = format!(
            "{BIN} -v sync --source '{}' --target '{}' --tables users",
            db.url(),
            target.display()
        );
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", &command, "/dev/null"]);
        for v in ["DATABASE_URL", "PGHOST", "PGSERVICE", "NO_COLOR"] {
            cmd.env_remove(v);
        }
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().expect("run script");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let has_colour = |s: &str| {
        s.as_bytes().windows(2).enumerate().any(|(i, w)| {
            w == b"\x1b[" && {
                let rest = &s.as_bytes()[i + 2..];
                let digits = rest
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || **b == b';')
                    .count();
                digits > 0 && rest.get(digits) == Some(&b'm')
            }
        })
    };
    let coloured = on_terminal("colour.db", false);
    assert!(
        has_colour(&coloured),
        "expected colour codes:\n{coloured:?}"
    );
    let plain = on_terminal("plain.db", true);
    assert!(plain.contains("DEBUG"), "{plain}");
    assert!(
        !has_colour(&plain),
        "NO_COLOR output has colour codes:\n{plain:?}"
    );
}
