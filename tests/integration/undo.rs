//! A delta merge keeps its own rollback journal as its undo, and `pg2sqlite
//! undo` plays it back: the file byte for byte as it was before each merge,
//! newest first. A file written since, or a damaged journal, is refused with
//! nothing changed.

use std::path::{Path, PathBuf};

use crate::common::*;

const SINCE: &str = "2020-01-01T00:00:00Z";

fn undos(dir: &Path) -> Vec<String> {
    dir_entries(dir)
        .into_iter()
        .filter(|n| n.contains(".pg2sqlite-undo-"))
        .collect()
}

fn delta(db: &TestDb, target: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["--tables", "users,sessions", "--since", SINCE, "--quiet"];
    args.extend_from_slice(extra);
    sync(&db.url(), target, &args)
}

fn undo(target: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["undo", "--target", target.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    run(&args)
}

fn change(db: &TestDb, round: usize) {
    db.execute(&format!(
        "UPDATE users SET name = name || ' r{round}', updated_at = now() WHERE id % 5 = {round};
         DELETE FROM sessions WHERE token = (SELECT min(token::text)::uuid FROM sessions)"
    ));
}

/// A demo database and the file a full sync of users and sessions wrote.
fn synced() -> (TestDb, tempfile::TempDir, PathBuf) {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(
        &db.url(),
        &target,
        &["--tables", "users,sessions", "--quiet"],
    )
    .assert_success();
    (db, dir, target)
}

#[test]
fn undo_puts_the_file_back_byte_for_byte_merge_by_merge() {
    let (db, dir, target) = synced();
    let synced = read_bytes(&target);

    change(&db, 1);
    let first = delta(&db, &target, &["--json"]);
    first.assert_success();
    let s = summary_json(&first);
    assert_eq!(s["backup_kind"], "undo", "{s}");
    let merged_once = read_bytes(&target);
    assert_ne!(merged_once, synced);
    // The undo is the pages the merge changed, not a copy of the file.
    let undo_dir = PathBuf::from(s["backup"].as_str().expect("the undo's path"));
    let journal = std::fs::metadata(undo_dir.join("journal")).expect("the journal kept");
    assert!(
        journal.len() < synced.len() as u64,
        "{} of {}",
        journal.len(),
        synced.len()
    );
    assert!(!dir_entries(dir.path()).iter().any(|n| n.contains("backup")));

    change(&db, 2);
    delta(&db, &target, &[]).assert_success();
    assert_eq!(undos(dir.path()).len(), 2);

    undo(&target, &["--dry-run"]).assert_success();
    assert_eq!(undos(dir.path()).len(), 2, "a dry run changes nothing");

    let r = undo(&target, &[]);
    r.assert_success();
    assert!(r.stdout.contains("applies now"), "{}", r.stdout);
    assert!(
        read_bytes(&target) == merged_once,
        "the first undo is not the file after the first merge"
    );
    assert_eq!(undos(dir.path()).len(), 1);

    undo(&target, &[]).assert_success();
    assert!(
        read_bytes(&target) == synced,
        "the second undo is not the file as the full sync left it"
    );
    assert!(undos(dir.path()).is_empty());
    undo(&target, &[])
        .assert_code(2)
        .assert_stderr_has(&["no undo of it is kept"]);

    // The sync state went back with the rows: the next delta merges both
    // changes again, and the file matches PostgreSQL.
    delta(&db, &target, &[]).assert_success();
    verify(&db.url(), &target, &["--tables", "users,sessions"]).assert_success();
}

#[test]
fn undo_refuses_a_file_written_since_and_a_damaged_journal() {
    let (db, dir, target) = synced();

    // The app writes after the merge: the undo would mix pages of both.
    change(&db, 1);
    delta(&db, &target, &[]).assert_success();
    rusqlite::Connection::open(&target)
        .expect("the app opens the file")
        .execute(
            "UPDATE users SET name = 'the app wrote this' WHERE id = 3",
            [],
        )
        .expect("the app writes");
    let before = read_bytes(&target);
    undo(&target, &[])
        .assert_code(2)
        .assert_stderr_has(&["written since the merge", "Nothing was changed"]);
    assert!(
        read_bytes(&target) == before,
        "the refused undo changed the file"
    );

    // A byte of the newest undo's journal flipped where its checksum reads.
    change(&db, 2);
    delta(&db, &target, &[]).assert_success();
    let newest = undos(dir.path()).pop().expect("an undo");
    let journal = dir.path().join(newest).join("journal");
    let mut bytes = read_bytes(&journal);
    let be32 = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let (sector, page) = (be32(20) as usize, be32(24) as usize);
    let sampled = sector + 4 + page - 200;
    bytes[sampled] ^= 0x5a;
    std::fs::write(&journal, &bytes).expect("damage the journal");
    let before = read_bytes(&target);
    undo(&target, &[])
        .assert_code(2)
        .assert_stderr_has(&["fails its checksum", "nothing was changed"]);
    assert!(
        read_bytes(&target) == before,
        "the refused undo changed the file"
    );
    assert!(!dir.path().join("app.db-journal").exists());
}

/// `--backup copy` takes the whole file instead, and `--no-backup` neither.
#[test]
fn the_backup_kind_is_chosen_and_said() {
    let (db, dir, target) = synced();

    change(&db, 1);
    let r = delta(&db, &target, &["--backup", "copy", "--json"]);
    r.assert_success();
    let s = summary_json(&r);
    assert_eq!(s["backup_kind"], "copy", "{s}");
    assert!(s["backup"]
        .as_str()
        .is_some_and(|p| p.contains(".pg2sqlite-backup-")));
    assert!(undos(dir.path()).is_empty());

    change(&db, 2);
    let r = delta(&db, &target, &[]);
    r.assert_success();
    assert!(
        r.stdout.contains("undo of this merge") && r.stdout.contains("pg2sqlite undo"),
        "{}",
        r.stdout
    );

    delta(&db, &target, &["--no-backup", "--backup", "copy"])
        .assert_code(2)
        .assert_stderr_has(&["--no-backup", "--backup"]);
}

/// A target reached through a symbolic link: SQLite keeps the journal beside
/// the file itself, and so the undo lives there; `undo` through the link
/// finds it.
#[test]
fn a_symlinked_target_is_undone_through_its_link() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("data").join("app.db");
    std::fs::create_dir(real.parent().expect("a parent")).expect("mkdir");
    sync(&db.url(), &real, &["--tables", "users,sessions", "--quiet"]).assert_success();
    let link = dir.path().join("app.db");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let before = read_bytes(&real);
    change(&db, 1);
    delta(&db, &link, &[]).assert_success();
    assert_eq!(undos(&dir.path().join("data")).len(), 1);
    undo(&link, &[]).assert_success();
    assert!(read_bytes(&real) == before, "not undone");
    assert!(std::fs::symlink_metadata(&link)
        .expect("the link")
        .file_type()
        .is_symlink());
}
