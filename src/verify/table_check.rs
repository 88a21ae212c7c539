//! What verification knows about one table: how each column enters the row
//! hash, the SQL PostgreSQL's side runs, and one SQLite row as canonical
//! values or as its hash.

use super::canonical;
use super::checksum::{pg_record_expr, record_text, RowHasher};
use super::fields::{self, fold, Field};
use crate::mapping::format::{Affinity, Format};
use crate::mapping::types::ValueKind;
use crate::plan::TablePlan;
use crate::sink::ddl::quote;
use crate::source::catalog::quote_ident;
use crate::source::chunk::ChunkRange;

/// What verification needs to know about one table.
pub(crate) struct TableCheck<'a> {
    pub(super) plan: &'a TablePlan,
    /// The SQLite affinity of every column, which decides how values read back.
    affinity: Vec<Affinity>,
    /// How each column enters the row hash.
    fields: Vec<Field>,
    /// Indices of the key columns: the primary key, or every column.
    pub(super) key: Vec<usize>,
    pub(super) has_key: bool,
    /// How [`TableCheck::row_hash`] hashes: as the server, unless both
    /// halves are computed here.
    hasher: RowHasher,
}

impl<'a> TableCheck<'a> {
    pub(crate) fn new(plan: &'a TablePlan) -> TableCheck<'a> {
        let names: Vec<&str> = plan.sink.columns.iter().map(|c| c.name.as_str()).collect();
        let affinity = plan
            .sink
            .columns
            .iter()
            .map(|c| Affinity::of(&c.declared))
            .collect();
        let fields = plan
            .conversions
            .iter()
            .map(|c| Field::of(&c.kind, c.format))
            .collect();
        match &plan.sink.primary_key {
            Some(pk) => TableCheck {
                plan,
                affinity,
                fields,
                key: pk
                    .iter()
                    .filter_map(|k| names.iter().position(|n| n == k))
                    .collect(),
                has_key: true,
                hasher: RowHasher::Postgres,
            },
            None => TableCheck {
                plan,
                affinity,
                fields,
                key: (0..names.len()).collect(),
                has_key: false,
                hasher: RowHasher::Postgres,
            },
        }
    }

    /// The same check, hashing rows with `hasher`.
    pub(crate) fn hashed_by(self, hasher: RowHasher) -> TableCheck<'a> {
        TableCheck { hasher, ..self }
    }

    /// The table this check compares.
    pub(crate) fn plan(&self) -> &TablePlan {
        self.plan
    }

    /// Whether rows are matched by a primary key (else as a multiset).
    pub(crate) fn has_key(&self) -> bool {
        self.has_key
    }

    fn kind(&self, i: usize) -> &ValueKind {
        &self.plan.conversions[i].kind
    }

    fn format(&self, i: usize) -> Format {
        self.plan.conversions[i].format
    }

    /// The row hash of one SQLite row whose columns `value(i)` gives, the same
    /// as PostgreSQL computes for its row (with [`RowHasher::Postgres`]; the
    /// same as `verify::wire` computes from the COPY with
    /// [`RowHasher::Local`]). Allocation-free for the common
    /// kinds: this is most of verification's own CPU time.
    pub(crate) fn row_hash<'v>(
        &self,
        value: impl Fn(usize) -> rusqlite::Result<rusqlite::types::ValueRef<'v>>,
        buffers: &mut RecordBuffers,
    ) -> rusqlite::Result<u64> {
        let mut row = 0;
        for (i, field) in self.fields.iter().enumerate() {
            let v = value(i)?;
            let hash = match field.hash_stored(self.hasher, &v) {
                Some(hash) => Some(hash),
                None => self.canonical_hash(i, *field, v, &mut buffers.value),
            };
            row = fold(row, hash);
        }
        Ok(fields::mix_row(self.hasher, row))
    }

    /// A field's hash through its canonical text (`None` for NULL). A value
    /// the mapping could not have written hashes as a text no value of
    /// PostgreSQL's prints.
    fn canonical_hash(
        &self,
        i: usize,
        field: Field,
        v: rusqlite::types::ValueRef<'_>,
        text: &mut String,
    ) -> Option<u64> {
        text.clear();
        match canonical::write_canonical(text, v, self.kind(i), self.format(i), self.affinity[i]) {
            Ok(true) => Some(field.hash_canonical(self.hasher, text)),
            Ok(false) => None,
            Err(e) => Some(self.hasher.bytes(not_as_mapped(&e).as_bytes())),
        }
    }

    /// The first look's hash of this table's rows as the COPY sends them, when
    /// every column's canonical form is known from its binary value.
    pub(crate) fn wire_check(&self) -> Option<super::wire::WireCheck> {
        let copy = &self.plan.copy;
        super::wire::WireCheck::of((0..self.fields.len()).map(|i| super::wire::WireColumn {
            kind: self.kind(i),
            format: self.format(i),
            affinity: self.affinity[i],
            cast: copy.select_list.get(i)
                != copy.column_names.get(i).map(|n| quote_ident(n)).as_ref(),
        }))
        .map_err(|i| {
            tracing::debug!(
                "{}: column {} ({:?}, {:?}, selected as {}) is not hashed from the COPY's \
                 binary values",
                self.plan.source_name,
                copy.column_names.get(i).map_or("?", String::as_str),
                self.kind(i),
                self.format(i),
                copy.select_list.get(i).map_or("?", String::as_str),
            );
        })
        .ok()
    }

    /// The canonical expression of every column.
    pub(crate) fn pg_expressions(&self) -> Vec<String> {
        self.plan
            .sink
            .columns
            .iter()
            .enumerate()
            .map(|(i, _)| {
                canonical::pg_expression(
                    &self.plan.copy.column_names[i],
                    &self.plan.copy.select_list[i],
                    self.kind(i),
                    self.format(i),
                    self.affinity[i],
                )
            })
            .collect()
    }

    pub(super) fn pg_key_text(&self) -> String {
        let all = self.pg_expressions();
        pg_record_expr(&self.key.iter().map(|&i| all[i].clone()).collect::<Vec<_>>())
    }

    /// The SQL `int8` of a row's hash: what [`TableCheck::row_hash`] computes.
    pub(super) fn pg_row_hash(&self) -> String {
        let fields: Vec<String> = self
            .pg_expressions()
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let column = quote_ident(&self.plan.copy.column_names[i]);
                self.fields[i].pg_field(&column, e)
            })
            .collect();
        fields::pg_mix_row(&format!(
            "hash_record_extended(ROW({}), 0)",
            fields.join(", ")
        ))
    }

    pub(super) fn pg_bucket_sql(&self, range: &ChunkRange) -> String {
        format!(
            "SELECT substr(k, 1, 4), count(*)::int8, sum(r)::text
               FROM (SELECT md5({}) AS k, {} AS r FROM {}) h
              GROUP BY 1",
            self.pg_key_text(),
            self.pg_row_hash(),
            self.plan.copy.from_clause(range)
        )
    }

    pub(super) fn pg_rows_sql(&self, range: &ChunkRange) -> String {
        format!(
            "SELECT {} FROM {} {} substr(md5({}), 1, 4) = ANY($1)",
            self.pg_expressions().join(", "),
            self.plan.copy.from_clause(range),
            if range.predicate().is_empty() {
                "WHERE"
            } else {
                "AND"
            },
            self.pg_key_text()
        )
    }

    /// Count and hash sum of a range: the cheap first look, one scan, no grouping.
    /// Each canonical expression appears once, inside `ROW(…)`.
    pub(super) fn pg_totals_sql(&self, range: &ChunkRange) -> String {
        format!(
            "SELECT count(*)::int8, sum({})::text FROM {}",
            self.pg_row_hash(),
            self.plan.copy.from_clause(range)
        )
    }

    /// The SQLite rows of a part: an integer-key range, or the whole table.
    pub(super) fn sqlite_select(&self, range: &ChunkRange) -> String {
        self.select_of(range, "")
    }

    /// [`Self::sqlite_select`] with the rowid after the columns.
    pub(super) fn sqlite_select_and_rowid(&self, range: &ChunkRange) -> String {
        self.select_of(range, ", rowid")
    }

    /// Every row of the table is in exactly one of its key ranges: text and
    /// blobs sort after every number, so into the range open above, and a
    /// NULL key, which no comparison takes (SQLite lets a primary key that is
    /// not the rowid hold NULL), is added to the range open below. PostgreSQL
    /// has no such row, so it shows as one SQLite has more.
    fn select_of(&self, range: &ChunkRange, after: &str) -> String {
        let cols: Vec<String> = self
            .plan
            .sink
            .columns
            .iter()
            .map(|c| quote(&c.name))
            .collect();
        let select = format!(
            "SELECT {}{after} FROM {}",
            cols.join(", "),
            quote(&self.plan.sink.name)
        );
        let ChunkRange::IntKey { column, lo, hi } = range else {
            return select;
        };
        let c = self.sqlite_column(column);
        match (lo, hi) {
            (None, None) => select,
            (Some(lo), None) => format!("{select} WHERE {c} >= {lo}"),
            (Some(lo), Some(hi)) => format!("{select} WHERE {c} >= {lo} AND {c} < {hi}"),
            // A compound rather than `OR … IS NULL`, which would make SQLite
            // scan the whole table instead of searching the key's range.
            (None, Some(hi)) => {
                format!("{select} WHERE {c} < {hi} UNION ALL {select} WHERE {c} IS NULL")
            }
        }
    }

    /// The SQLite column, quoted, of the PostgreSQL column a range names (a map
    /// may have renamed it).
    pub(super) fn sqlite_column(&self, column: &str) -> String {
        match self.plan.copy.column_names.iter().position(|n| n == column) {
            Some(i) => quote(&self.plan.sink.columns[i].name),
            None => quote(column),
        }
    }

    /// The key text of one row of canonical values (its bucket is the md5's).
    pub(super) fn key_text(&self, row: &[Option<String>]) -> String {
        record_text(self.key.iter().map(|&i| row[i].as_deref()))
    }

    /// The names of the columns whose values differ between two rows.
    pub(crate) fn changed_columns(
        &self,
        a: &[Option<String>],
        b: &[Option<String>],
    ) -> Vec<String> {
        a.iter()
            .zip(b)
            .zip(&self.plan.sink.columns)
            .filter(|((x, y), _)| x != y)
            .map(|(_, c)| c.name.clone())
            .collect()
    }

    pub(crate) fn key_display(&self, row: &[Option<String>]) -> String {
        if !self.has_key {
            return String::from("(row without key)");
        }
        self.key
            .iter()
            .map(|&i| {
                format!(
                    "{}={}",
                    self.plan.sink.columns[i].name,
                    row[i].as_deref().unwrap_or("NULL")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A PostgreSQL row of canonical texts, one per column of `width`.
pub(crate) fn pg_canonical_row(
    r: &tokio_postgres::Row,
    width: usize,
) -> std::result::Result<Vec<Option<String>>, tokio_postgres::Error> {
    (0..width)
        .map(|i| r.try_get::<_, Option<String>>(i))
        .collect()
}

/// Starts every canonical value that the mapping could not have written, so it
/// matches nothing PostgreSQL has.
pub(crate) const NOT_AS_MAPPED: &str = "\u{0}not as mapped: ";

fn not_as_mapped(e: &canonical::NotCanonical) -> String {
    format!("{NOT_AS_MAPPED}{}", e.0)
}

/// Reads one SQLite row as canonical values; a value the mapping could not have
/// written becomes a marker that matches nothing on the PostgreSQL side.
pub(super) fn sqlite_row(
    check: &TableCheck<'_>,
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<Vec<Option<String>>> {
    let n = check.plan.sink.columns.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let v = row.get_ref(i)?;
        out.push(
            match canonical::sqlite_canonical(v, check.kind(i), check.format(i), check.affinity[i])
            {
                Ok(c) => c,
                Err(e) => Some(not_as_mapped(&e)),
            },
        );
    }
    Ok(out)
}

/// Reused between rows so that hashing allocates nothing per value.
#[derive(Default)]
pub(crate) struct RecordBuffers {
    value: String,
}

pub(crate) fn preview_row(check: &TableCheck<'_>, row: &[Option<String>]) -> String {
    let mut s: String = check
        .plan
        .sink
        .columns
        .iter()
        .zip(row)
        .map(|(c, v)| format!("{}={}", c.name, v.as_deref().unwrap_or("NULL")))
        .collect::<Vec<_>>()
        .join(", ");
    if s.chars().count() > 120 {
        s = s.chars().take(119).collect::<String>() + "…";
    }
    format!("({s})")
}

/// Whether two plans of one table give its rows the same canonical form, so
/// that totals PostgreSQL computed for one apply to the other.
pub fn same_canonical_form(a: &TablePlan, b: &TablePlan) -> bool {
    TableCheck::new(a).pg_expressions() == TableCheck::new(b).pg_expressions()
}
