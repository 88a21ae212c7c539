//! The translator against expressions as PostgreSQL prints them.

use super::*;

fn cols() -> Vec<(String, String, Ty)> {
    [
        ("name", Ty::Text { ordered: true }),
        ("status", Ty::Text { ordered: false }),
        ("qty", Ty::Int),
        ("price", Ty::Number),
        ("amount", Ty::Opaque("a numeric stored as TEXT")),
        ("f", Ty::Real),
        ("active", Ty::Bool),
        ("starts", Ty::Timestamptz),
        ("ends", Ty::Timestamptz),
        ("d", Ty::Date),
        ("Mixed", Ty::Int),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_owned(), format!("s_{n}"), t))
    .collect()
}

fn check(pg: &str) -> Result<String, String> {
    let c = cols();
    condition(
        pg,
        &TableScope {
            columns: &c,
            value: None,
        },
    )
}

#[test]
fn conditions_as_pg_get_expr_prints_them() {
    assert_eq!(
        check("((name)::text <> ''::text)").unwrap(),
        "(\"s_name\" <> '')"
    );
    assert_eq!(
        check("(status = ANY (ARRAY['a'::text, 'b'::text]))").unwrap(),
        "(\"s_status\" IN ('a', 'b'))"
    );
    assert_eq!(
        check("((status)::text = ANY ((ARRAY['x'::character varying, 'y'::character varying])::text[]))").unwrap(),
        "(\"s_status\" IN ('x', 'y'))"
    );
    assert_eq!(
        check("((qty >= 1) AND (qty <= 100))").unwrap(),
        "((\"s_qty\" >= 1) AND (\"s_qty\" <= 100))"
    );
    assert_eq!(
        check("(price >= (0)::numeric)").unwrap(),
        "(\"s_price\" >= 0)"
    );
    assert_eq!(
        check("((name)::text ~~ 'x%'::text)").unwrap(),
        "(\"s_name\" GLOB 'x*')"
    );
    assert_eq!(
        check("(NOT (active IS NULL))").unwrap(),
        "(NOT (\"s_active\" IS NULL))"
    );
    assert_eq!(
        check("CASE WHEN active THEN (qty > 0) ELSE true END").unwrap(),
        "CASE WHEN \"s_active\" THEN (\"s_qty\" > 0) ELSE 1 END"
    );
    assert_eq!(check("(\"Mixed\" > 0)").unwrap(), "(\"s_Mixed\" > 0)");
    assert!(check("(length(VALUE) < 200)").is_err());
}

#[test]
fn times_compare_in_time_order() {
    let s = check("(ends > starts)").unwrap();
    assert!(s.contains("'.000000Z'"), "{s}");
    let s = check("(starts > '2020-01-01 00:00:00+00'::timestamp with time zone)").unwrap();
    assert!(s.ends_with("> '2020-01-01T00:00:00.000000Z')"), "{s}");
    assert_eq!(
        check("(d >= '2000-01-01'::date)").unwrap(),
        "(\"s_d\" >= '2000-01-01')"
    );
}

#[test]
fn refusals_say_why() {
    let err = |pg: &str| check(pg).unwrap_err();
    assert!(err("(amount > (0)::numeric)").contains("numeric stored as TEXT"));
    assert!(err("(status > 'a'::text)").contains("collation"));
    assert!(err("(name ~ '^a'::text)").contains("regular expressions"));
    assert!(err("((name)::text ~~* 'a'::text)").contains("ILIKE"));
    assert!(err("(price / (2)::numeric > (1)::numeric)").contains("numeric"));
    assert!(err("(starts < now())").contains("clock"));
    assert!(err("(substr(name, '-1'::integer) = 'a'::text)").contains("substr"));
    assert!(err("(f || 'x'::text) = 'y'").contains("double"));
    assert!(err("(qty = (name)::text)").contains("comparing"));
    assert!(err("qty").contains("not a condition"));
}

#[test]
fn domain_checks_name_value() {
    let c = cols();
    let scope = TableScope {
        columns: &c,
        value: Some(0),
    };
    assert_eq!(
        condition("(length(VALUE) < 200)", &scope).unwrap(),
        "(length(\"s_name\") < 200)"
    );
    assert_eq!(
        condition("(VALUE ~~ '%@%'::text)", &scope).unwrap(),
        "(\"s_name\" GLOB '*@*')"
    );
}

#[test]
fn values_and_defaults() {
    let c = cols();
    let scope = TableScope {
        columns: &c,
        value: None,
    };
    // `None`: an index key, which no column stores.
    let v = |pg: &str, p: Purpose, ty: Option<Ty>| match ty {
        Some(ty) => value(pg, &scope, p, ty),
        None => parse(pg).and_then(|e| index_key(&e, &scope)),
    };
    assert_eq!(
        v("lower((name)::text)", Purpose::IndexKey, None).unwrap(),
        "lower(\"s_name\")"
    );
    assert_eq!(
        v("(qty * 2)", Purpose::Value, Some(Ty::Int)).unwrap(),
        "(\"s_qty\" * 2)"
    );
    assert_eq!(
        v(
            "'ok'::mood",
            Purpose::Default,
            Some(Ty::Text { ordered: false })
        )
        .unwrap(),
        "'ok'"
    );
    assert_eq!(v("true", Purpose::Default, Some(Ty::Bool)).unwrap(), "1");
    assert_eq!(
        v("'-1.5'::numeric", Purpose::Default, Some(Ty::Number)).unwrap(),
        "-1.5"
    );
    assert_eq!(
        v("CURRENT_DATE", Purpose::Default, Some(Ty::Date)).unwrap(),
        "(date('now'))"
    );
    assert!(v("now()", Purpose::Default, Some(Ty::Timestamptz))
        .unwrap()
        .contains("'000Z'"));
    assert!(v(
        "timezone('utc'::text, now())",
        Purpose::Default,
        Some(Ty::Timestamp)
    )
    .unwrap()
    .contains("%H:%M:%S"));
    assert!(v("now()", Purpose::Value, Some(Ty::Timestamptz)).is_err());
    assert!(v(
        "(qty * 2)",
        Purpose::Value,
        Some(Ty::Text { ordered: true })
    )
    .is_err());
    assert!(v(
        "nextval('t_id_seq'::regclass)",
        Purpose::Default,
        Some(Ty::Int)
    )
    .is_err());
    assert!(v("amount", Purpose::IndexKey, None).is_err());
    // A generated value must be PostgreSQL's: no ASCII-only case folding, no
    // doubles standing in for decimals.
    assert!(v(
        "lower((name)::text)",
        Purpose::Value,
        Some(Ty::Text { ordered: true })
    )
    .unwrap_err()
    .contains("ASCII"));
    assert!(
        v("(price * (qty)::numeric)", Purpose::Value, Some(Ty::Number))
            .unwrap_err()
            .contains("doubles")
    );
    assert!(v("round(price, 1)", Purpose::Value, Some(Ty::Number)).is_err());
    assert_eq!(
        v("(f * 1.5)", Purpose::Value, Some(Ty::Real)).unwrap(),
        "(\"s_f\" * 1.5)"
    );
    assert_eq!(
        v(
            "(((name)::text || ' '::text) || qty)",
            Purpose::Value,
            Some(Ty::Text { ordered: true })
        )
        .unwrap(),
        "((\"s_name\" || ' ') || \"s_qty\")"
    );
}

#[test]
fn like_patterns_become_glob() {
    assert_eq!(like_to_glob("a%b_c"), "a*b?c");
    assert_eq!(like_to_glob("100\\%*[?"), "100%[*][[][?]");
}
