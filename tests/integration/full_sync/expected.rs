//! What a full sync of `demo.sql` + `test_extra.sql` with `--schema public,billing`
//! must produce, written out table by table.

/// Every SQLite table a full sync of `demo.sql` + `test_extra.sql` with
/// `--schema public,billing` must produce, with the PostgreSQL relation it comes
/// from (`ONLY` where inheritance children must not be counted) and its row count.
pub const EXPECTED_TABLES: &[(&str, &str, i64)] = &[
    ("Order", "ONLY public.\"Order\"", 1500),
    ("Weird \"Name\"", "ONLY public.\"Weird \"\"Name\"\"\"", 3),
    ("all_types", "ONLY public.all_types", 4),
    // the inheritance parent without its child's rows
    ("audit_log", "ONLY public.audit_log", 3005),
    ("audit_log_archive", "ONLY public.audit_log_archive", 100),
    ("billing__invoices", "ONLY billing.invoices", 1500),
    ("billing__payments", "ONLY billing.payments", 1000),
    ("categories", "ONLY public.categories", 4),
    ("devices", "ONLY public.devices", 300),
    ("empty_things", "ONLY public.empty_things", 0),
    // partitioned: every partition's rows, in one table
    ("events", "public.events", 4000),
    ("sessions", "ONLY public.sessions", 5000),
    ("tags", "ONLY public.tags", 5),
    ("user_categories", "ONLY public.user_categories", 2000),
    ("users", "ONLY public.users", 2000),
];

/// Columns and declared types, in PostgreSQL's column order (all_types is
/// checked column by column in `values.rs`).
pub const EXPECTED_COLUMNS: &[(&str, &[(&str, &str)])] = &[
    (
        "Order",
        &[
            ("Id", "INTEGER"),
            ("select", "TEXT"),
            ("User Id", "INTEGER"),
            ("Total", "NUMERIC"),
        ],
    ),
    (
        "Weird \"Name\"",
        &[("from", "INTEGER"), ("a\"b", "TEXT"), ("Group", "TEXT")],
    ),
    (
        "audit_log",
        &[
            ("at", "TEXT"),
            ("actor", "TEXT"),
            ("action", "TEXT"),
            ("details", "TEXT"),
        ],
    ),
    (
        "audit_log_archive",
        &[
            ("at", "TEXT"),
            ("actor", "TEXT"),
            ("action", "TEXT"),
            ("details", "TEXT"),
            ("archived_on", "TEXT"),
        ],
    ),
    (
        "billing__invoices",
        &[
            ("id", "INTEGER"),
            ("order_id", "INTEGER"),
            ("amount", "TEXT"),
            ("issued_on", "TEXT"),
        ],
    ),
    (
        "billing__payments",
        &[
            ("id", "INTEGER"),
            ("invoice_id", "INTEGER"),
            ("paid_at", "TEXT"),
            ("amount", "NUMERIC"),
        ],
    ),
    (
        "categories",
        &[
            ("id", "INTEGER"),
            ("parent_id", "INTEGER"),
            ("label", "TEXT"),
        ],
    ),
    (
        "devices",
        &[
            ("id", "TEXT"),
            ("user_id", "INTEGER"),
            ("tag", "TEXT"),
            ("vendor", "TEXT"),
            ("serial_no", "TEXT"),
            ("retired", "INTEGER"),
        ],
    ),
    ("empty_things", &[("id", "INTEGER"), ("note", "TEXT")]),
    (
        "events",
        &[
            ("id", "INTEGER"),
            ("happened_at", "TEXT"),
            ("kind", "TEXT"),
            ("payload", "TEXT"),
        ],
    ),
    (
        "sessions",
        &[
            ("token", "TEXT"),
            ("user_id", "INTEGER"),
            ("ip", "TEXT"),
            ("started_at", "TEXT"),
            ("expires_at", "TEXT"),
        ],
    ),
    (
        "tags",
        &[("code", "TEXT"), ("label", "TEXT"), ("weight", "INTEGER")],
    ),
    (
        "user_categories",
        &[
            ("user_id", "INTEGER"),
            ("category_id", "INTEGER"),
            ("since", "TEXT"),
        ],
    ),
    (
        "users",
        &[
            ("id", "INTEGER"),
            ("email", "TEXT"),
            ("name", "TEXT"),
            ("is_admin", "INTEGER"),
            ("mood", "TEXT"),
            ("created_at", "TEXT"),
            ("updated_at", "TEXT"),
        ],
    ),
];

/// Primary key columns in key order; an empty list means no primary key.
pub const EXPECTED_PRIMARY_KEYS: &[(&str, &[&str])] = &[
    ("Order", &["Id"]),
    ("Weird \"Name\"", &["from"]),
    ("all_types", &["id"]),
    ("audit_log", &[]),
    ("audit_log_archive", &[]),
    ("billing__invoices", &["id"]),
    ("billing__payments", &["id"]),
    ("categories", &["id"]),
    ("devices", &["id"]),
    ("empty_things", &["id"]),
    ("events", &["id", "happened_at"]),
    ("sessions", &["token"]),
    ("tags", &["code"]),
    ("user_categories", &["user_id", "category_id"]),
    ("users", &["id"]),
];

/// Columns declared NOT NULL (primary key columns included: they are NOT NULL
/// in PostgreSQL).
pub const EXPECTED_NOT_NULL: &[(&str, &[&str])] = &[
    ("Order", &["Id", "Total"]),
    ("Weird \"Name\"", &["from"]),
    ("all_types", &["id"]),
    ("audit_log", &["action", "at"]),
    ("audit_log_archive", &["action", "archived_on", "at"]),
    ("billing__invoices", &["amount", "id", "issued_on"]),
    (
        "billing__payments",
        &["amount", "id", "invoice_id", "paid_at"],
    ),
    ("categories", &["id", "label"]),
    (
        "devices",
        &["id", "retired", "serial_no", "user_id", "vendor"],
    ),
    ("empty_things", &["id"]),
    ("events", &["happened_at", "id", "kind"]),
    ("sessions", &["started_at", "token", "user_id"]),
    ("tags", &["code", "label", "weight"]),
    ("user_categories", &["category_id", "since", "user_id"]),
    (
        "users",
        &[
            "created_at",
            "email",
            "id",
            "is_admin",
            "name",
            "updated_at",
        ],
    ),
];

/// (table, column, referenced table, referenced column, ON UPDATE, ON DELETE).
pub const EXPECTED_FOREIGN_KEYS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("Order", "User Id", "users", "id", "NO ACTION", "NO ACTION"),
    (
        "billing__invoices",
        "order_id",
        "Order",
        "Id",
        "NO ACTION",
        "NO ACTION",
    ),
    (
        "billing__payments",
        "invoice_id",
        "billing__invoices",
        "id",
        "NO ACTION",
        "NO ACTION",
    ),
    (
        "categories",
        "parent_id",
        "categories",
        "id",
        "NO ACTION",
        "NO ACTION",
    ),
    ("devices", "tag", "tags", "code", "NO ACTION", "SET NULL"),
    ("devices", "user_id", "users", "id", "CASCADE", "RESTRICT"),
    ("sessions", "user_id", "users", "id", "NO ACTION", "CASCADE"),
    (
        "user_categories",
        "category_id",
        "categories",
        "id",
        "NO ACTION",
        "NO ACTION",
    ),
    (
        "user_categories",
        "user_id",
        "users",
        "id",
        "NO ACTION",
        "NO ACTION",
    ),
];

/// Explicitly created indexes: (name, table, unique, [(column, descending)]),
/// an expression key as `<expression>`. Primary keys are checked separately.
pub type IndexSpec = (
    &'static str,
    &'static str,
    bool,
    &'static [(&'static str, bool)],
);
pub const EXPECTED_INDEXES: &[IndexSpec] = &[
    (
        "Weird \"Name\"_Group_key",
        "Weird \"Name\"",
        true,
        &[("Group", false)],
    ),
    (
        "billing__payments_paid_at_idx",
        "billing__payments",
        false,
        &[("paid_at", false)],
    ),
    (
        "devices_serial_idx",
        "devices",
        true,
        &[("serial_no", true)],
    ),
    (
        "devices_vendor_serial_no_key",
        "devices",
        true,
        &[("vendor", false), ("serial_no", false)],
    ),
    (
        "sessions_user_idx",
        "sessions",
        false,
        &[("user_id", false), ("started_at", true)],
    ),
    ("users_email_key", "users", true, &[("email", false)]),
    (
        "users_lower_name_idx",
        "users",
        false,
        &[("<expression>", false)],
    ),
    (
        "devices_active_idx",
        "devices",
        false,
        &[("user_id", false)],
    ),
    (
        "users_updated_at_idx",
        "users",
        false,
        &[("updated_at", false)],
    ),
];

/// Column defaults SQLite can hold with the same meaning: (table, column, SQL).
/// The current time in timestamptz's stored form (`DEFAULT now()`).
const NOW_ISO_UTC: &str = "CASE WHEN strftime('%f', 'now') GLOB '*.000' THEN strftime('%Y-%m-%dT%H:%M:%S', 'now') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z' END";

pub const EXPECTED_DEFAULTS: &[(&str, &str, &str)] = &[
    ("devices", "retired", "0"),
    ("tags", "weight", "1"),
    ("user_categories", "since", "date('now')"),
    ("users", "created_at", NOW_ISO_UTC),
    ("users", "is_admin", "0"),
    ("users", "name", "''"),
    ("users", "updated_at", NOW_ISO_UTC),
];
