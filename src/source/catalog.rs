//! The PostgreSQL catalog: tables, columns, types, constraints and indexes of
//! the chosen schemas, read from `pg_catalog` inside the copy's snapshot.

use std::collections::HashMap;

use tokio_postgres::Client;

use crate::error::{Error, Result};

/// A type as the mapping table needs it, domains and arrays resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PgType {
    pub oid: u32,
    pub schema: String,
    /// `pg_type.typname`, e.g. `int4`, `_text`, `vector`.
    pub name: String,
    /// `format_type()`, e.g. `integer`, `text[]`, `numeric(10,2)`.
    pub display: String,
    /// The output function (`pg_type.typoutput`), e.g. `inet_out`: PostgreSQL's
    /// own text form, which a `::text` cast does not always give (inet, xml).
    pub output: String,
    pub class: TypeClass,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TypeClass {
    Base,
    Enum,
    Domain(Box<PgType>),
    Array(Box<PgType>),
    Range,
    Multirange,
    Composite,
    Pseudo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RelationKind {
    Table,
    /// A partitioned table: read once through the parent, never per partition.
    Partitioned,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PgColumn {
    pub attnum: i16,
    pub name: String,
    pub pg_type: PgType,
    pub typmod: i32,
    pub not_null: bool,
    /// `pg_get_expr` of the default, if any (for a generated column: its expression).
    pub default: Option<String>,
    /// `GENERATED ALWAYS AS (…) STORED` (or `VIRTUAL`, PostgreSQL 18).
    pub generated: bool,
    /// A `VIRTUAL` generated column (PostgreSQL 18): computed when read.
    #[serde(default)]
    pub generated_virtual: bool,
    /// CHECK constraints of the column's domain and the domains beneath it;
    /// their expressions name the value `VALUE`.
    #[serde(default)]
    pub domain_constraints: Vec<PgCheck>,
    /// The labels of the column's enum type (or of the enum beneath its
    /// domain), in their order.
    #[serde(default)]
    pub enum_labels: Vec<String>,
    /// `GENERATED … AS IDENTITY`: numbered by a sequence.
    #[serde(default)]
    pub identity: bool,
    /// The collation PostgreSQL orders the column's text by (the database's
    /// when the column has the default one); `None` for other types.
    #[serde(default)]
    pub collation: Option<String>,
}

impl PgColumn {
    /// Whether PostgreSQL orders this column's text by bytes, as SQLite does.
    pub fn orders_by_bytes(&self) -> bool {
        self.collation.as_deref().is_some_and(|c| {
            matches!(
                c.to_ascii_lowercase().as_str(),
                "c" | "posix" | "c.utf8" | "c.utf-8" | "ucs_basic"
            )
        })
    }
}

/// A CHECK constraint: `expr` as `pg_get_expr` prints it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PgCheck {
    pub name: String,
    pub expr: String,
    /// False for a constraint added `NOT VALID`: rows before it may break it.
    pub validated: bool,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub ref_schema: String,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `a`, `r`, `c`, `n`, `d` as in `pg_constraint.confupdtype`.
    pub on_update: char,
    pub on_delete: char,
    pub deferrable: bool,
    pub initially_deferred: bool,
}

/// A constraint SQLite gets no equivalent of (check, exclusion, trigger).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OtherConstraint {
    pub name: String,
    /// `check constraint`, `exclusion constraint`, `constraint trigger`, ...
    pub kind: String,
    pub definition: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PgIndex {
    pub name: String,
    pub unique: bool,
    pub method: String,
    /// Key columns with their direction; `None` when a key is an expression.
    pub columns: Option<Vec<(String, bool)>>,
    pub partial: bool,
    pub definition: String,
    /// Every key, as `pg_get_indexdef(index, k)` prints it: a column name or
    /// an expression.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Whether each key is DESC.
    #[serde(default)]
    pub descending: Vec<bool>,
    /// The `WHERE` of a partial index, as `pg_get_expr` prints it.
    #[serde(default)]
    pub predicate: Option<String>,
    /// `UNIQUE NULLS NOT DISTINCT` (PostgreSQL 15): SQLite cannot.
    #[serde(default)]
    pub nulls_not_distinct: bool,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PgTable {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub kind: RelationKind,
    pub columns: Vec<PgColumn>,
    pub primary_key: Option<Vec<String>>,
    pub unique_constraints: Vec<(String, Vec<String>)>,
    /// The unique constraints declared `NULLS NOT DISTINCT` (PostgreSQL 15).
    #[serde(default)]
    pub nulls_not_distinct: Vec<String>,
    pub foreign_keys: Vec<ForeignKey>,
    /// CHECK constraints of the table (and of its columns).
    #[serde(default)]
    pub checks: Vec<PgCheck>,
    pub other_constraints: Vec<OtherConstraint>,
    pub indexes: Vec<PgIndex>,
    /// Planner estimate; negative when the table was never analyzed.
    pub estimated_rows: f64,
    /// Heap pages (of every leaf partition, for a partitioned table).
    pub pages: i64,
    /// Leaf partitions (schema, name), for a partitioned table.
    pub partitions: Vec<(String, String)>,
    /// Parents by (non-partition) inheritance, `schema.name`.
    pub inherits: Vec<String>,
    /// Whether the role may SELECT from it.
    pub readable: bool,
}

impl PgTable {
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// Quotes a PostgreSQL identifier: always, so case and reserved words survive.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn oid(v: i64) -> u32 {
    u32::try_from(v).unwrap_or_default()
}

/// Reads the tables of `schemas` (ordinary and partitioned; partitions are
/// folded into their parent).
pub async fn read_catalog(client: &Client, schemas: &[String]) -> Result<Vec<PgTable>> {
    let rows = client
        .query(
            "SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text,
                    CASE WHEN c.relkind = 'p' THEN
                      (SELECT coalesce(sum(greatest(l.reltuples, 0)), 0)::float8
                         FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid
                        WHERE t.isleaf)
                    ELSE c.reltuples::float8 END,
                    CASE WHEN c.relkind = 'p' THEN
                      (SELECT coalesce(sum(pg_relation_size(t.relid)), 0)::int8
                         FROM pg_partition_tree(c.oid) t WHERE t.isleaf)
                    ELSE pg_relation_size(c.oid)::int8 END,
                    current_setting('block_size')::int8,
                    has_table_privilege(c.oid, 'SELECT')
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                AND n.nspname = ANY($1)
              ORDER BY n.nspname, c.relname",
            &[&schemas],
        )
        .await
        .map_err(Error::pg("reading the list of tables"))?;
    let mut tables = Vec::with_capacity(rows.len());
    for r in &rows {
        let bytes: i64 = r.get(5);
        let block: i64 = r.get(6);
        tables.push(PgTable {
            oid: oid(r.get(0)),
            schema: r.get(1),
            name: r.get(2),
            kind: if r.get::<_, String>(3) == "p" {
                RelationKind::Partitioned
            } else {
                RelationKind::Table
            },
            columns: Vec::new(),
            primary_key: None,
            unique_constraints: Vec::new(),
            nulls_not_distinct: Vec::new(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
            other_constraints: Vec::new(),
            indexes: Vec::new(),
            estimated_rows: r.get(4),
            pages: bytes / block.max(1),
            partitions: Vec::new(),
            inherits: Vec::new(),
            readable: r.get(7),
        });
    }
    let oids: Vec<i64> = tables.iter().map(|t| i64::from(t.oid)).collect();
    let by_oid: HashMap<u32, usize> = tables.iter().enumerate().map(|(i, t)| (t.oid, i)).collect();

    read_columns(client, &oids, &by_oid, &mut tables).await?;
    read_constraints(client, &oids, &by_oid, &mut tables).await?;
    read_indexes(client, &oids, &by_oid, &mut tables).await?;
    read_partitions(client, &mut tables).await?;
    let rows = client
        .query(
            "SELECT i.inhrelid::int8, n.nspname::text || '.' || p.relname::text
               FROM pg_inherits i
               JOIN pg_class p ON p.oid = i.inhparent
               JOIN pg_namespace n ON n.oid = p.relnamespace
              WHERE i.inhrelid::int8 = ANY($1) AND p.relkind = 'r'
              ORDER BY i.inhseqno",
            &[&oids],
        )
        .await
        .map_err(Error::pg("reading inheritance"))?;
    for r in &rows {
        if let Some(&ti) = by_oid.get(&oid(r.get(0))) {
            tables[ti].inherits.push(r.get(1));
        }
    }
    Ok(tables)
}

/// A view or materialized view.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PgView {
    pub schema: String,
    pub name: String,
    pub materialized: bool,
    /// `pg_get_viewdef`: its SELECT, names as PostgreSQL spells them.
    pub definition: String,
    /// Its output columns, in order.
    pub columns: Vec<String>,
}

impl PgView {
    /// `view s.v` / `materialized view s.v`, as the summary lists it.
    pub fn describe(&self) -> String {
        format!(
            "{}view {}.{}",
            if self.materialized {
                "materialized "
            } else {
                ""
            },
            self.schema,
            self.name
        )
    }
}

/// Views and materialized views of `schemas`, in the order of their names.
pub async fn read_views(client: &Client, schemas: &[String]) -> Result<Vec<PgView>> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, c.relkind = 'm',
                    pg_get_viewdef(c.oid, false),
                    ARRAY(SELECT a.attname::text FROM pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                           ORDER BY a.attnum)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY($1)
              ORDER BY n.nspname, c.relname",
            &[&schemas],
        )
        .await
        .map_err(Error::pg("reading views"))?;
    Ok(rows
        .iter()
        .map(|r| PgView {
            schema: r.get(0),
            name: r.get(1),
            materialized: r.get(2),
            definition: r.get(3),
            columns: r.get(4),
        })
        .collect())
}

async fn read_columns(
    client: &Client,
    oids: &[i64],
    by_oid: &HashMap<u32, usize>,
    tables: &mut [PgTable],
) -> Result<()> {
    let rows = client
        .query(
            "SELECT a.attrelid::int8, a.attnum, a.attname::text, a.atttypid::int8, a.atttypmod,
                    a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attgenerated::text,
                    a.attidentity::text,
                    CASE WHEN co.collname = 'default'
                         THEN (SELECT datcollate::text FROM pg_database
                                WHERE datname = current_database())
                         ELSE co.collname::text END AS collation
               FROM pg_attribute a
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               LEFT JOIN pg_collation co ON co.oid = a.attcollation
              WHERE a.attrelid::int8 = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attrelid, a.attnum",
            &[&oids],
        )
        .await
        .map_err(Error::pg("reading columns"))?;
    let type_oids: Vec<i64> = rows.iter().map(|r| r.get::<_, i64>(3)).collect();
    let types = read_types(client, &type_oids).await?;
    for r in &rows {
        let Some(&ti) = by_oid.get(&oid(r.get(0))) else {
            continue;
        };
        let type_oid = oid(r.get(3));
        let typmod: i32 = r.get(4);
        let pg_type = types.resolve(type_oid).ok_or_else(|| {
            Error::Plan(vec![format!(
                "table {}: column {} has type oid {type_oid} that is not in pg_type",
                tables[ti].name,
                r.get::<_, String>(2)
            )])
        })?;
        tables[ti].columns.push(PgColumn {
            attnum: r.get(1),
            name: r.get(2),
            pg_type,
            typmod,
            not_null: r.get(5),
            default: r.get(6),
            generated: matches!(r.get::<_, String>(7).as_str(), "s" | "v"),
            generated_virtual: r.get::<_, String>(7) == "v",
            domain_constraints: Vec::new(),
            enum_labels: Vec::new(),
            collation: r.get(9),
            identity: !r.get::<_, String>(8).is_empty(),
        });
    }
    read_domains_and_enums(client, tables).await
}

/// The CHECKs of the columns' domains (with the domains beneath them) and the
/// labels of their enums.
async fn read_domains_and_enums(client: &Client, tables: &mut [PgTable]) -> Result<()> {
    let domains: Vec<i64> = tables
        .iter()
        .flat_map(|t| &t.columns)
        .filter(|c| matches!(c.pg_type.class, TypeClass::Domain(_)))
        .map(|c| i64::from(c.pg_type.oid))
        .collect();
    if !domains.is_empty() {
        // A domain's own CHECKs and those of the domains it is built on.
        let rows = client
            .query(
                "WITH RECURSIVE chain(top, dom) AS (
                     SELECT t.oid, t.oid FROM pg_type t WHERE t.oid::int8 = ANY($1)
                   UNION
                     SELECT chain.top, t.typbasetype FROM chain
                       JOIN pg_type t ON t.oid = chain.dom
                      WHERE t.typtype = 'd')
                 SELECT chain.top::int8, con.conname::text, pg_get_expr(con.conbin, 0),
                        con.convalidated
                   FROM chain JOIN pg_constraint con ON con.contypid = chain.dom
                  WHERE con.contype = 'c'
                  ORDER BY con.conname",
                &[&domains],
            )
            .await
            .map_err(Error::pg("reading domain constraints"))?;
        for r in &rows {
            let domain = oid(r.get(0));
            let check = PgCheck {
                name: r.get(1),
                expr: r.get(2),
                validated: r.get(3),
            };
            for c in tables
                .iter_mut()
                .flat_map(|t| t.columns.iter_mut())
                .filter(|c| c.pg_type.oid == domain)
            {
                c.domain_constraints.push(check.clone());
            }
        }
        // A domain's NOT NULL binds its columns; its default (the nearest
        // domain's) fills a column that has none of its own.
        let rows = client
            .query(
                "WITH RECURSIVE chain(top, dom, depth) AS (
                     SELECT t.oid, t.oid, 0 FROM pg_type t WHERE t.oid::int8 = ANY($1)
                   UNION ALL
                     SELECT chain.top, t.typbasetype, chain.depth + 1 FROM chain
                       JOIN pg_type t ON t.oid = chain.dom
                      WHERE t.typtype = 'd')
                 SELECT chain.top::int8, bool_or(t.typnotnull),
                        (array_agg(pg_get_expr(t.typdefaultbin, 0) ORDER BY chain.depth)
                           FILTER (WHERE t.typdefaultbin IS NOT NULL))[1]
                   FROM chain JOIN pg_type t ON t.oid = chain.dom
                  WHERE t.typtype = 'd'
                  GROUP BY chain.top",
                &[&domains],
            )
            .await
            .map_err(Error::pg("reading domain defaults"))?;
        for r in &rows {
            let domain = oid(r.get(0));
            let not_null: bool = r.get(1);
            let default: Option<String> = r.get(2);
            for c in tables
                .iter_mut()
                .flat_map(|t| t.columns.iter_mut())
                .filter(|c| c.pg_type.oid == domain)
            {
                c.not_null |= not_null;
                if c.default.is_none() && !c.generated {
                    c.default.clone_from(&default);
                }
            }
        }
    }
    let enums: Vec<i64> = tables
        .iter()
        .flat_map(|t| &t.columns)
        .filter_map(|c| enum_type(&c.pg_type))
        .map(i64::from)
        .collect();
    if !enums.is_empty() {
        let rows = client
            .query(
                "SELECT enumtypid::int8, enumlabel::text FROM pg_enum
                  WHERE enumtypid::int8 = ANY($1) ORDER BY enumtypid, enumsortorder",
                &[&enums],
            )
            .await
            .map_err(Error::pg("reading enum labels"))?;
        for r in &rows {
            let ty = oid(r.get(0));
            let label: String = r.get(1);
            for c in tables
                .iter_mut()
                .flat_map(|t| t.columns.iter_mut())
                .filter(|c| enum_type(&c.pg_type) == Some(ty))
            {
                c.enum_labels.push(label.clone());
            }
        }
    }
    Ok(())
}

/// The oid of the enum a column's type is, or is a domain over.
pub fn enum_type(t: &PgType) -> Option<u32> {
    match &t.class {
        TypeClass::Enum => Some(t.oid),
        TypeClass::Domain(base) => enum_type(base),
        _ => None,
    }
}

struct RawType {
    schema: String,
    name: String,
    display: String,
    output: String,
    typtype: String,
    category: String,
    elem: u32,
    base: u32,
}

struct TypeTable(HashMap<u32, RawType>);

impl TypeTable {
    fn resolve(&self, oid: u32) -> Option<PgType> {
        self.resolve_depth(oid, 0)
    }

    fn resolve_depth(&self, oid: u32, depth: u32) -> Option<PgType> {
        if depth > 16 {
            return None;
        }
        let raw = self.0.get(&oid)?;
        let class = match raw.typtype.as_str() {
            "d" => TypeClass::Domain(Box::new(self.resolve_depth(raw.base, depth + 1)?)),
            "e" => TypeClass::Enum,
            "r" => TypeClass::Range,
            "m" => TypeClass::Multirange,
            "c" => TypeClass::Composite,
            "p" => TypeClass::Pseudo,
            _ if raw.category == "A" && raw.elem != 0 => {
                TypeClass::Array(Box::new(self.resolve_depth(raw.elem, depth + 1)?))
            }
            _ => TypeClass::Base,
        };
        Some(PgType {
            oid,
            schema: raw.schema.clone(),
            name: raw.name.clone(),
            display: raw.display.clone(),
            output: raw.output.clone(),
            class,
        })
    }
}

async fn read_types(client: &Client, oids: &[i64]) -> Result<TypeTable> {
    let rows = client
        .query(
            "WITH RECURSIVE ts(oid) AS (
                 SELECT DISTINCT unnest($1::int8[])::oid
               UNION
                 SELECT v.o FROM ts JOIN pg_type t ON t.oid = ts.oid,
                        LATERAL (VALUES (t.typelem), (t.typbasetype)) v(o)
                  WHERE v.o <> 0)
             SELECT t.oid::int8, n.nspname::text, t.typname::text, format_type(t.oid, NULL),
                    t.typtype::text, t.typcategory::text, t.typelem::int8, t.typbasetype::int8,
                    t.typoutput::regproc::text
               FROM ts JOIN pg_type t ON t.oid = ts.oid
               JOIN pg_namespace n ON n.oid = t.typnamespace",
            &[&oids],
        )
        .await
        .map_err(Error::pg("reading column types"))?;
    Ok(TypeTable(
        rows.iter()
            .map(|r| {
                (
                    oid(r.get(0)),
                    RawType {
                        schema: r.get(1),
                        name: r.get(2),
                        display: r.get(3),
                        typtype: r.get(4),
                        category: r.get(5),
                        elem: oid(r.get(6)),
                        base: oid(r.get(7)),
                        output: r.get(8),
                    },
                )
            })
            .collect(),
    ))
}

fn column_names(table: &PgTable, attnums: &[i16]) -> Option<Vec<String>> {
    attnums
        .iter()
        .map(|n| {
            table
                .columns
                .iter()
                .find(|c| c.attnum == *n)
                .map(|c| c.name.clone())
        })
        .collect()
}

async fn read_constraints(
    client: &Client,
    oids: &[i64],
    by_oid: &HashMap<u32, usize>,
    tables: &mut [PgTable],
) -> Result<()> {
    let rows = client
        .query(
            "SELECT con.conrelid::int8, con.conname::text, con.contype::text, con.conkey,
                    con.confrelid::int8, con.confkey, con.confupdtype::text,
                    con.confdeltype::text, con.condeferrable, pg_get_constraintdef(con.oid),
                    rn.nspname::text, rc.relname::text, con.condeferred,
                    CASE WHEN con.contype = 'c' THEN pg_get_expr(con.conbin, con.conrelid) END,
                    con.convalidated
               FROM pg_constraint con
               LEFT JOIN pg_class rc ON rc.oid = con.confrelid
               LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
              WHERE con.conrelid::int8 = ANY($1) AND con.conparentid = 0
              ORDER BY con.conrelid, con.conname",
            &[&oids],
        )
        .await
        .map_err(Error::pg("reading constraints"))?;
    for r in &rows {
        let Some(&ti) = by_oid.get(&oid(r.get(0))) else {
            continue;
        };
        let name: String = r.get(1);
        let contype: String = r.get(2);
        let conkey: Option<Vec<i16>> = r.get(3);
        let definition: String = r.get(9);
        let cols = conkey.as_deref().and_then(|k| column_names(&tables[ti], k));
        match (contype.as_str(), cols) {
            ("p", Some(cols)) => tables[ti].primary_key = Some(cols),
            ("u", Some(cols)) => {
                if definition.contains("NULLS NOT DISTINCT") {
                    tables[ti].nulls_not_distinct.push(name.clone());
                }
                tables[ti].unique_constraints.push((name, cols));
            }
            ("f", Some(cols)) => {
                let confkey: Option<Vec<i16>> = r.get(5);
                let ref_schema: Option<String> = r.get(10);
                let ref_table: Option<String> = r.get(11);
                let ref_oid = oid(r.get(4));
                // Referenced column names come from the referenced table, which may be
                // outside the copied schemas: resolve them from its attributes.
                let ref_columns = match (by_oid.get(&ref_oid), &confkey) {
                    (Some(&ri), Some(k)) => column_names(&tables[ri], k),
                    _ => None,
                };
                let ref_columns = match ref_columns {
                    Some(c) => c,
                    None => {
                        ref_column_names(client, ref_oid, confkey.as_deref().unwrap_or(&[])).await?
                    }
                };
                let action = |s: String| s.chars().next().unwrap_or('a');
                tables[ti].foreign_keys.push(ForeignKey {
                    name,
                    columns: cols,
                    ref_schema: ref_schema.unwrap_or_default(),
                    ref_table: ref_table.unwrap_or_default(),
                    ref_columns,
                    on_update: action(r.get(6)),
                    on_delete: action(r.get(7)),
                    deferrable: r.get(8),
                    initially_deferred: r.get(12),
                });
            }
            ("c", _) => tables[ti].checks.push(PgCheck {
                name,
                expr: r.get::<_, Option<String>>(13).unwrap_or(definition),
                validated: r.get(14),
            }),
            (kind, _) => {
                let kind = match kind {
                    "c" => "check constraint",
                    "x" => "exclusion constraint",
                    "t" => "constraint trigger",
                    "n" => "not-null constraint",
                    _ => "constraint",
                };
                if kind != "not-null constraint" {
                    tables[ti].other_constraints.push(OtherConstraint {
                        name,
                        kind: kind.to_owned(),
                        definition,
                    });
                }
            }
        }
    }
    Ok(())
}

async fn ref_column_names(client: &Client, rel: u32, attnums: &[i16]) -> Result<Vec<String>> {
    let nums: Vec<i16> = attnums.to_vec();
    let rows = client
        .query(
            "SELECT attname::text FROM pg_attribute a, unnest($2::int2[]) WITH ORDINALITY k(n, i)
              WHERE a.attrelid = $1::int8::oid AND a.attnum = k.n ORDER BY k.i",
            &[&i64::from(rel), &nums],
        )
        .await
        .map_err(Error::pg("reading referenced columns"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn read_indexes(
    client: &Client,
    oids: &[i64],
    by_oid: &HashMap<u32, usize>,
    tables: &mut [PgTable],
) -> Result<()> {
    let rows = client
        .query(
            "SELECT i.indrelid::int8, ic.relname::text, i.indisunique, am.amname::text,
                    i.indkey::int2[], i.indnkeyatts, i.indoption::int2[],
                    i.indexprs IS NOT NULL, i.indpred IS NOT NULL,
                    pg_get_indexdef(i.indexrelid),
                    EXISTS (SELECT 1 FROM pg_constraint con
                             WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                               AND con.contype IN ('p', 'u', 'x')),
                    ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, false)
                            FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
                    pg_get_expr(i.indpred, i.indrelid),
                    -- PostgreSQL 15's column, NULL before it
                    coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::bool, false)
               FROM pg_index i
               JOIN pg_class ic ON ic.oid = i.indexrelid
               JOIN pg_am am ON am.oid = ic.relam
              WHERE i.indrelid::int8 = ANY($1)
              ORDER BY i.indrelid, ic.relname",
            &[&oids],
        )
        .await
        .map_err(Error::pg("reading indexes"))?;
    for r in &rows {
        let Some(&ti) = by_oid.get(&oid(r.get(0))) else {
            continue;
        };
        if r.get::<_, bool>(10) {
            continue; // backs a constraint, created from the constraint
        }
        let indkey: Vec<i16> = r.get(4);
        let nkey = usize::try_from(r.get::<_, i16>(5)).unwrap_or(0);
        let options: Vec<i16> = r.get(6);
        let has_exprs: bool = r.get(7);
        let keys = &indkey[..nkey.min(indkey.len())];
        let columns = if has_exprs || keys.contains(&0) {
            None
        } else {
            column_names(&tables[ti], keys).map(|names| {
                names
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| (n, options.get(i).is_some_and(|o| o & 1 == 1)))
                    .collect()
            })
        };
        tables[ti].indexes.push(PgIndex {
            name: r.get(1),
            unique: r.get(2),
            method: r.get(3),
            columns,
            partial: r.get(8),
            definition: r.get(9),
            keys: r.get(11),
            descending: (0..nkey)
                .map(|i| options.get(i).is_some_and(|o| o & 1 == 1))
                .collect(),
            predicate: r.get(12),
            nulls_not_distinct: r.get(13),
        });
    }
    Ok(())
}

async fn read_partitions(client: &Client, tables: &mut [PgTable]) -> Result<()> {
    for t in tables
        .iter_mut()
        .filter(|t| t.kind == RelationKind::Partitioned)
    {
        let rows = client
            .query(
                "SELECT n.nspname::text, c.relname::text
                   FROM pg_partition_tree($1::int8::oid) p
                   JOIN pg_class c ON c.oid = p.relid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE p.isleaf ORDER BY 1, 2",
                &[&i64::from(t.oid)],
            )
            .await
            .map_err(Error::pg("reading partitions"))?;
        t.partitions = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    }
    Ok(())
}
