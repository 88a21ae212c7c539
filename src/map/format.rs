//! The schema map file: TOML read into a typed model that remembers the line
//! of every setting, so later checks can say `maps/app.toml:12`.
//!
//! Unknown keys are refused (a misspelt `formt` must not pass for "no format").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};
use crate::mapping::format::{FractionStyle, ZoneSuffix};

pub use crate::merge::decide::DeletePolicy;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    include: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    tables: BTreeMap<String, Spanned<RawTable>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    rename: Option<Spanned<String>>,
    cursor: Option<Spanned<String>>,
    deletes: Option<Spanned<DeletePolicy>>,
    key: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    columns: BTreeMap<String, Spanned<RawColumn>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    rename: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    fraction: Option<Spanned<FractionStyle>>,
    zone: Option<Spanned<ZoneSuffix>>,
    #[serde(rename = "type")]
    declared: Option<Spanned<String>>,
    #[serde(default)]
    allow_lossy: bool,
    #[serde(default)]
    skip: bool,
}

/// A value and the line of the map it was written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
}

/// One column's settings.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// The PostgreSQL column name, as written in the map.
    pub name: String,
    pub line: usize,
    pub rename: Option<Located<String>>,
    pub format: Option<Located<String>>,
    pub fraction: Option<Located<FractionStyle>>,
    pub zone: Option<Located<ZoneSuffix>>,
    /// The declared SQLite type of a column pg2sqlite creates.
    pub declared: Option<Located<String>>,
    pub allow_lossy: bool,
    pub skip: bool,
}

/// One table's settings.
#[derive(Debug, Clone)]
pub struct TableMap {
    /// The PostgreSQL table as written in the map: `name`, `schema.name` or `schema__name`.
    pub name: String,
    pub line: usize,
    pub rename: Option<Located<String>>,
    pub cursor: Option<Located<String>>,
    pub deletes: Option<Located<DeletePolicy>>,
    pub key: Option<Located<Vec<String>>>,
    pub columns: Vec<ColumnMap>,
}

impl TableMap {
    /// The cursor column a delta sync compares (PostgreSQL name).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_ref().map(|c| c.value.as_str())
    }
    /// The delete policy a delta sync applies to this table.
    pub fn deletes(&self) -> Option<DeletePolicy> {
        self.deletes.as_ref().map(|d| d.value)
    }
    /// The unique key that stands in for a missing primary key (PostgreSQL names).
    pub fn key(&self) -> Option<&[String]> {
        self.key.as_ref().map(|k| k.value.as_slice())
    }
    pub fn column(&self, pg_name: &str) -> Option<&ColumnMap> {
        self.columns.iter().find(|c| c.name == pg_name)
    }
}

/// A parsed schema map.
#[derive(Debug, Clone)]
pub struct SchemaMap {
    pub path: PathBuf,
    pub include: Option<Vec<Located<String>>>,
    pub exclude: Vec<Located<String>>,
    pub tables: Vec<TableMap>,
}

impl SchemaMap {
    /// Reads and parses a map file.
    pub fn load(path: &Path) -> Result<SchemaMap> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Usage(format!(
                "cannot read the schema map {}: {e}",
                path.display()
            ))
        })?;
        SchemaMap::parse(path, &text)
    }

    /// Parses map text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<SchemaMap> {
        let raw: RawMap = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map_or(String::new(), |s| format!(":{}", line_of(text, s.start)));
            Error::Usage(format!(
                "schema map {}{line}: {}\n  (the map format is described in schema-maps/README.md)",
                path.display(),
                e.message()
            ))
        })?;
        let located = |s: Spanned<String>| Located {
            line: line_of(text, s.span().start),
            value: s.into_inner(),
        };
        let tables = raw
            .tables
            .into_iter()
            .map(|(name, t)| {
                let line = line_of(text, t.span().start);
                let t = t.into_inner();
                TableMap {
                    name,
                    line,
                    rename: t.rename.map(located),
                    cursor: t.cursor.map(located),
                    deletes: t.deletes.map(|d| Located {
                        line: line_of(text, d.span().start),
                        value: d.into_inner(),
                    }),
                    key: t.key.map(|k| Located {
                        line: line_of(text, k.span().start),
                        value: k.into_inner(),
                    }),
                    columns: t
                        .columns
                        .into_iter()
                        .map(|(name, c)| {
                            let line = line_of(text, c.span().start);
                            let c = c.into_inner();
                            ColumnMap {
                                name,
                                line,
                                rename: c.rename.map(located),
                                format: c.format.map(located),
                                fraction: c.fraction.map(|f| Located {
                                    line: line_of(text, f.span().start),
                                    value: f.into_inner(),
                                }),
                                zone: c.zone.map(|z| Located {
                                    line: line_of(text, z.span().start),
                                    value: z.into_inner(),
                                }),
                                declared: c.declared.map(located),
                                allow_lossy: c.allow_lossy,
                                skip: c.skip,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(SchemaMap {
            path: path.to_path_buf(),
            include: raw.include.map(|v| v.into_iter().map(located).collect()),
            exclude: raw.exclude.into_iter().map(located).collect(),
            tables,
        })
    }

    /// The settings of a table named as the map's keys name it (`name` for a
    /// table of `public`, `schema.name`, `schema__name`), if the map has any.
    pub fn table(&self, name: &str) -> Option<&TableMap> {
        self.tables.iter().find(|t| {
            t.name == name
                || name
                    .split_once('.')
                    .is_some_and(|(s, n)| crate::plan::names_table(&t.name, s, n))
                || crate::plan::names_table(&t.name, "public", name)
        })
    }

    /// The settings of the PostgreSQL table `schema.name`, if the map has any.
    pub fn table_for(&self, schema: &str, name: &str) -> Option<&TableMap> {
        self.tables
            .iter()
            .find(|t| crate::plan::names_table(&t.name, schema, name))
    }

    /// `file:line`, for messages.
    pub fn at(&self, line: usize) -> String {
        format!("{}:{line}", self.path.display())
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |s| s.bytes().filter(|&b| b == b'\n').count())
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = r#"
exclude = ["django_session"]

[tables.accounts_user]
rename = "auth_user"
cursor = "updated_at"
deletes = "report"

[tables.accounts_user.columns.id]
format = "hex32"

[tables.accounts_user.columns.joined]
format = "iso-space"
fraction = "always"
"#;

    #[test]
    fn parses_with_lines() {
        let m = SchemaMap::parse(Path::new("m.toml"), MAP).unwrap();
        assert_eq!(m.exclude[0].value, "django_session");
        assert_eq!(m.exclude[0].line, 2);
        let t = m.table_for("public", "accounts_user").unwrap();
        assert_eq!(m.table("public.accounts_user").unwrap().name, t.name);
        assert_eq!(m.table("accounts_user").unwrap().name, t.name);
        // A bare key names the table in whatever schema holds it, as --tables does.
        assert!(m.table("billing.accounts_user").is_some());
        assert!(m.table("billing.invoices").is_none());
        assert_eq!(t.cursor(), Some("updated_at"));
        assert_eq!(t.deletes(), Some(DeletePolicy::Report));
        assert_eq!(t.rename.as_ref().unwrap().line, 5);
        let id = t.column("id").unwrap();
        assert_eq!(id.format.as_ref().unwrap().line, 10);
        assert_eq!(
            t.column("joined").unwrap().fraction.as_ref().unwrap().value,
            FractionStyle::MicrosAlways
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let bad = "[tables.users.columns.id]\nformt = \"hex32\"\n";
        let e = SchemaMap::parse(Path::new("m.toml"), bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.toml:2") && e.contains("formt"), "{e}");
        let bad = "[tables.users]\ndeletes = \"sometimes\"\n";
        let e = SchemaMap::parse(Path::new("m.toml"), bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.toml:2") && e.contains("propagate"), "{e}");
    }
}

#[cfg(test)]
mod documented_maps {
    use super::*;

    /// The complete example in schema-maps/README.md and the example maps must
    /// parse: documentation that does not is worse than none.
    #[test]
    fn readme_example_and_example_maps_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema-maps");
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + readme[start..].find("```").unwrap();
        let m = SchemaMap::parse(Path::new("README.md"), &readme[start..end]).unwrap();
        let t = m.table_for("public", "accounts_user").unwrap();
        assert_eq!(t.key(), Some(&["email".to_owned()][..]));
        assert!(t.column("balance").unwrap().allow_lossy);
        for name in ["django.toml", "prisma.toml", "sqlalchemy.toml"] {
            SchemaMap::load(&dir.join(name)).unwrap();
        }
    }
}
