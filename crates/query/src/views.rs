//! The tables a session registers under the kinds' names: the stored files themselves, views
//! over them keeping the rows of the persons in a scope, or the de-identified views
//! ([`privacy::analyst_column`]). A session sees only what is registered — the stored files
//! behind a view are not a table of it — so what a role may see is a property of its session,
//! not of the statements it runs.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, StringArray};
use arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::error::Result;
use datafusion::functions::expr_fn::date_trunc;
use datafusion::logical_expr::{ColumnarValue, Expr, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::{SessionContext, cast, ident, lit};
use model::Kind;
use privacy::ColumnRule;

use crate::deidentify::Deidentified;

/// Pseudonyms, sorted: the persons whose rows a session may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonSet(Arc<Vec<i64>>);

impl PersonSet {
    pub fn new(mut persons: Vec<i64>) -> PersonSet {
        persons.sort_unstable();
        persons.dedup();
        PersonSet(Arc::new(persons))
    }

    pub fn contains(&self, person: i64) -> bool {
        self.0.binary_search(&person).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a session's tables are built from (see [`privacy::SqlView`]).
#[derive(Clone)]
pub enum Tables {
    /// The stored files.
    Stored,
    /// Views keeping the rows of these persons in every kind that names a person.
    InScope(PersonSet),
    /// The de-identified views (narrowed to a scope when it was built with one).
    Deidentified(Arc<Deidentified>),
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tables::Stored => f.write_str("Stored"),
            Tables::InScope(s) => write!(f, "InScope({} persons)", s.len()),
            Tables::Deidentified(_) => f.write_str("Deidentified"),
        }
    }
}

/// Whether rows of `kind` are about a person.
pub(crate) fn personal(kind: Kind) -> bool {
    kind.spec().column("person_id").is_some()
}

/// `in_scope(person_id)`: whether the pseudonym is in `set`. Used in views only; a session has
/// no function of that name.
fn in_scope(set: PersonSet) -> ScalarUDF {
    create_udf(
        "in_scope",
        vec![DataType::Int64],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let rows = match &args[0] {
                ColumnarValue::Array(a) => a.len(),
                ColumnarValue::Scalar(_) => 1,
            };
            let a = args[0].clone().into_array(rows)?;
            let ids = a.as_primitive::<arrow::datatypes::Int64Type>();
            let out: BooleanArray = (0..ids.len())
                .map(|i| Some(!ids.is_null(i) && set.contains(ids.value(i))))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

/// `common(x)`: `x` when it is one of `values`, else NULL.
fn common(values: Arc<HashSet<String>>) -> ScalarUDF {
    create_udf(
        "common",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let rows = match &args[0] {
                ColumnarValue::Array(a) => a.len(),
                ColumnarValue::Scalar(_) => 1,
            };
            let a = args[0].clone().into_array(rows)?;
            let a = arrow::compute::cast(&a, &DataType::Utf8)?;
            let out: StringArray = a
                .as_string::<i32>()
                .iter()
                .map(|v| v.filter(|s| values.contains(*s)))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

/// The rows of `raw` about persons in `scope`, or all of them.
pub(crate) fn scoped(
    ctx: &SessionContext,
    raw: Arc<dyn TableProvider>,
    scope: Option<&PersonSet>,
) -> Result<datafusion::dataframe::DataFrame> {
    let df = ctx.read_table(raw)?;
    match scope {
        Some(set) => df.filter(in_scope(set.clone()).call(vec![ident("person_id")])),
        None => Ok(df),
    }
}

/// The stored rows of `kind` about persons in `scope` (every row of a kind naming no person).
pub(crate) fn in_scope_view(
    ctx: &SessionContext,
    kind: Kind,
    raw: Arc<dyn TableProvider>,
    scope: &PersonSet,
) -> Result<Arc<dyn TableProvider>> {
    if !personal(kind) {
        return Ok(raw);
    }
    Ok(scoped(ctx, raw, Some(scope))?.into_view())
}

/// The de-identified view of a kind other than `persons`: each column as
/// [`privacy::analyst_column`] says, rows narrowed to the scope.
pub(crate) fn deidentified_view(
    ctx: &SessionContext,
    kind: Kind,
    raw: Arc<dyn TableProvider>,
    d: &Deidentified,
) -> Result<Arc<dyn TableProvider>> {
    let schema = raw.schema();
    let scope = if personal(kind) { d.scope() } else { None };
    let df = scoped(ctx, raw, scope)?;
    let mut columns: Vec<Expr> = Vec::new();
    for field in schema.fields() {
        let name = field.name().as_str();
        let c = ident(name);
        let e = match privacy::analyst_column(kind, name) {
            ColumnRule::Keep => c,
            ColumnRule::Drop | ColumnRule::Generalised => continue,
            ColumnRule::Hour => {
                cast(date_trunc(lit("hour"), c), field.data_type().clone()).alias(name)
            }
            ColumnRule::Common => {
                let values = d.common_values(kind, name);
                cast(common(values).call(vec![c]), field.data_type().clone()).alias(name)
            }
        };
        columns.push(e);
    }
    Ok(df.select(columns)?.into_view())
}
