//! The PostgreSQL → SQLite type table: one line per type, as in product.md.
//!
//! A column's mapping says three things: how its wire value is decoded
//! ([`ValueKind`]), whether the reader asks PostgreSQL to cast it to text first,
//! and how SQLite stores it ([`Storage`] and the declared type).

use crate::source::catalog::{PgType, TypeClass};

/// How one value arrives on the wire (binary COPY) and is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    /// text, varchar, name, enum labels: UTF-8 bytes, unchanged.
    Text,
    /// char(n): as `Text`, with the padding its output keeps (a cast to
    /// `text` drops it).
    PaddedText,
    /// Any type PostgreSQL was asked to cast to `text` in the COPY query:
    /// its own text output (inet, interval, ranges, money, ...).
    TextForm,
    Json,
    Jsonb,
    Bytea,
    Uuid,
    Date,
    Timestamp,
    Timestamptz,
    /// `time` (without zone): binary microseconds since midnight, or its text
    /// form when stored as PostgreSQL prints it.
    Time,
    /// `interval`: binary (microseconds, days, months), or its text form when
    /// stored as PostgreSQL prints it.
    Interval,
    /// pgvector's `vector`.
    Vector,
    /// An array of the inner kind, written as a JSON array.
    Array(Box<ValueKind>),
}

impl ValueKind {
    /// A date or timestamp: what can order rows by when they changed (a delta
    /// sync's cursor, compared with `--since`).
    pub fn is_point_in_time(&self) -> bool {
        matches!(
            self,
            ValueKind::Date | ValueKind::Timestamp | ValueKind::Timestamptz
        )
    }
}

/// How SQLite stores a mapped column, which is also the Arrow type the
/// converters produce for it (Int64, Float64, Utf8, Binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    Integer,
    /// Doubles; NaN, which SQLite turns into NULL, is bound as the text `'NaN'`.
    Real,
    Text,
    Blob,
}

/// How PostgreSQL is asked for a column's text form in the COPY query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextCast {
    /// Call the type's output function: `inet_out("ip")::text`.
    Output(String),
    /// An array of such types: `"ips"::text::text[]` formats each element with
    /// its output function (array_out) and reads the result back as text[],
    /// keeping dimensions and NULL elements.
    ElementsToText,
}

impl TextCast {
    /// The select expression for an already quoted column.
    pub fn select(&self, quoted_column: &str) -> String {
        match self {
            TextCast::Output(f) => format!("{f}({quoted_column})::text"),
            TextCast::ElementsToText => format!("{quoted_column}::text::text[]"),
        }
    }
}

/// The mapping of one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMapping {
    pub kind: ValueKind,
    /// How the COPY query turns the column into text first, if it does.
    pub cast: Option<TextCast>,
    pub storage: Storage,
    /// The declared type of the SQLite column.
    pub declared: &'static str,
}

impl TypeMapping {
    fn new(kind: ValueKind, storage: Storage, declared: &'static str) -> Self {
        TypeMapping {
            kind,
            cast: None,
            storage,
            declared,
        }
    }
    fn text_form(pg: &PgType) -> Self {
        TypeMapping {
            kind: ValueKind::TextForm,
            cast: Some(TextCast::Output(pg.output.clone())),
            storage: Storage::Text,
            declared: "TEXT",
        }
    }
}

/// Most significant digits a NUMERIC-affinity SQLite column round-trips exactly:
/// SQLite converts numeric-looking text in such a column to a double, and a double
/// holds any 15-digit decimal exactly enough to print it back unchanged.
const SQLITE_EXACT_DIGITS: i32 = 15;

/// Base types with their own text output and nothing to decode: PostgreSQL casts
/// them to text and SQLite stores that text.
const TEXT_FORM_TYPES: &[&str] = &[
    "timetz",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
    "money",
    "bit",
    "varbit",
    "tsvector",
    "tsquery",
    "xml",
    "point",
    "line",
    "lseg",
    "box",
    "path",
    "polygon",
    "circle",
    "pg_lsn",
    "oid",
    "xid",
    "xid8",
    "cid",
    "tid",
    "regclass",
    "regtype",
    "regproc",
    "regprocedure",
    "regoper",
    "regoperator",
    "regconfig",
    "regdictionary",
    "regnamespace",
    "regrole",
    "regcollation",
    "txid_snapshot",
    "pg_snapshot",
    "jsonpath",
    "char",
    "aclitem",
    "int2vector",
    "oidvector",
    "pg_node_tree",
    "refcursor",
    "gtsvector",
    // common extension types whose text output is their meaning
    "citext",
    "hstore",
    "ltree",
    "lquery",
    "cube",
    "isbn",
    "isbn13",
    "issn",
    "ean13",
    "upc",
    "seg",
];

/// Maps a column's PostgreSQL type; `typmod` is the column's `atttypmod`.
/// Returns a message naming the type when it is not known.
pub fn map_type(pg: &PgType, typmod: i32) -> Result<TypeMapping, String> {
    match &pg.class {
        TypeClass::Domain(base) => map_type(base, typmod),
        TypeClass::Enum => Ok(TypeMapping::new(ValueKind::Text, Storage::Text, "TEXT")),
        TypeClass::Range | TypeClass::Multirange | TypeClass::Composite => {
            Ok(TypeMapping::text_form(pg))
        }
        TypeClass::Array(element) => map_array(element),
        TypeClass::Pseudo => Err(format!("pseudo-type {} cannot be copied", pg.display)),
        TypeClass::Base => map_base(pg, typmod),
    }
}

fn map_base(pg: &PgType, typmod: i32) -> Result<TypeMapping, String> {
    use Storage::*;
    use ValueKind as K;
    let in_catalog = pg.schema == "pg_catalog";
    let m = match pg.name.as_str() {
        "bool" if in_catalog => TypeMapping::new(K::Bool, Integer, "INTEGER"),
        "int2" if in_catalog => TypeMapping::new(K::Int2, Integer, "INTEGER"),
        "int4" if in_catalog => TypeMapping::new(K::Int4, Integer, "INTEGER"),
        "int8" if in_catalog => TypeMapping::new(K::Int8, Integer, "INTEGER"),
        "float4" if in_catalog => TypeMapping::new(K::Float4, Real, "REAL"),
        "float8" if in_catalog => TypeMapping::new(K::Float8, Real, "REAL"),
        "numeric" if in_catalog => {
            // typmod = ((precision << 16) | scale) + 4, or -1 when unconstrained.
            let precision = if typmod >= 4 {
                Some(((typmod - 4) >> 16) & 0xffff)
            } else {
                None
            };
            let declared = match precision {
                Some(p) if p <= SQLITE_EXACT_DIGITS => "NUMERIC",
                // Wider decimals would be rounded to a double by NUMERIC affinity.
                _ => "TEXT",
            };
            TypeMapping::new(K::Numeric, Text, declared)
        }
        "text" | "varchar" | "name" if in_catalog => TypeMapping::new(K::Text, Text, "TEXT"),
        "bpchar" if in_catalog => TypeMapping::new(K::PaddedText, Text, "TEXT"),
        "bytea" if in_catalog => TypeMapping::new(K::Bytea, Blob, "BLOB"),
        "uuid" if in_catalog => TypeMapping::new(K::Uuid, Text, "TEXT"),
        "date" if in_catalog => TypeMapping::new(K::Date, Text, "TEXT"),
        "timestamp" if in_catalog => TypeMapping::new(K::Timestamp, Text, "TEXT"),
        "timestamptz" if in_catalog => TypeMapping::new(K::Timestamptz, Text, "TEXT"),
        "json" if in_catalog => TypeMapping::new(K::Json, Text, "TEXT"),
        "jsonb" if in_catalog => TypeMapping::new(K::Jsonb, Text, "TEXT"),
        // Stored as PostgreSQL's text unless a format asks for another form, for
        // which the plan drops the cast and the converter decodes the binary value.
        "time" | "interval" if in_catalog => TypeMapping {
            kind: if pg.name == "time" {
                K::Time
            } else {
                K::Interval
            },
            ..TypeMapping::text_form(pg)
        },
        "vector" if !in_catalog => TypeMapping::new(K::Vector, Blob, "BLOB"),
        name if TEXT_FORM_TYPES.contains(&name) => TypeMapping::text_form(pg),
        _ => {
            return Err(format!(
                "type {} ({}.{}) is not known to pg2sqlite",
                pg.display, pg.schema, pg.name
            ))
        }
    };
    Ok(m)
}

fn map_array(element: &PgType) -> Result<TypeMapping, String> {
    let inner = map_type(element, -1)?;
    let (kind, cast) = match inner.kind {
        ValueKind::Vector | ValueKind::Array(_) => {
            return Err(format!("arrays of {} are not supported", element.display))
        }
        // Elements PostgreSQL must cast to text: cast the whole array.
        ValueKind::TextForm | ValueKind::Time | ValueKind::Interval => {
            (ValueKind::TextForm, Some(TextCast::ElementsToText))
        }
        k => (k, None),
    };
    Ok(TypeMapping {
        kind: ValueKind::Array(Box::new(kind)),
        cast,
        storage: Storage::Text,
        declared: "TEXT",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(name: &str) -> PgType {
        PgType {
            oid: 0,
            schema: "pg_catalog".into(),
            name: name.into(),
            display: name.into(),
            output: format!("{name}_out"),
            class: TypeClass::Base,
        }
    }

    #[test]
    fn table_lines() {
        assert_eq!(map_type(&base("int8"), -1).unwrap().declared, "INTEGER");
        assert_eq!(
            map_type(&base("float8"), -1).unwrap().storage,
            Storage::Real
        );
        assert_eq!(
            map_type(&base("inet"), -1).unwrap().cast,
            Some(TextCast::Output("inet_out".into()))
        );
        assert_eq!(map_type(&base("bytea"), -1).unwrap().storage, Storage::Blob);
    }

    #[test]
    fn numeric_declared_type_follows_precision() {
        // numeric(10,2): typmod = (10 << 16 | 2) + 4
        assert_eq!(
            map_type(&base("numeric"), (10 << 16 | 2) + 4)
                .unwrap()
                .declared,
            "NUMERIC"
        );
        assert_eq!(
            map_type(&base("numeric"), (40 << 16) + 4).unwrap().declared,
            "TEXT"
        );
        assert_eq!(map_type(&base("numeric"), -1).unwrap().declared, "TEXT");
    }

    #[test]
    fn arrays_of_text_forms_are_cast_whole() {
        let arr = PgType {
            class: TypeClass::Array(Box::new(base("inet"))),
            ..base("_inet")
        };
        let m = map_type(&arr, -1).unwrap();
        assert_eq!(m.cast, Some(TextCast::ElementsToText));
        assert_eq!(m.kind, ValueKind::Array(Box::new(ValueKind::TextForm)));
    }

    #[test]
    fn unknown_types_are_named() {
        let geo = PgType {
            schema: "public".into(),
            ..base("geometry")
        };
        let e = map_type(&geo, -1).unwrap_err();
        assert!(e.contains("geometry"), "{e}");
    }
}
