//! Values a query makes are bounded. DataFusion's memory pool counts what operators hold (sorts,
//! joins, aggregates), not the values an expression makes: `repeat('x', 1000000000)`, `lpad`,
//! `range(1, 500000000)` or a CTE that doubles a string with `||` at every step each made one
//! value of gigabytes outside the pool (a server grew by 4 GB for one of them, and by 20 GB for
//! a few at once), and a function still filling its value could not be cancelled.
//!
//! So every expression that makes values larger than its inputs — the functions whose output
//! size an argument sets (`repeat`, `lpad`, `rpad`, `array_repeat`, `array_resize`, `range`,
//! `generate_series`), the ones that multiply an input (`replace`, `regexp_replace`), the ones
//! that add inputs up (`concat`, `concat_ws`, `overlay`, `make_array`, `array_concat`,
//! `array_append`, `array_prepend`) and the `||` operator on text — is rewritten, after type
//! coercion, into a call that first estimates, from its arguments, the bytes it would make
//! for the rows at hand (an upper bound, computed without making them) and refuses past
//! [`crate::Limits::max_value_bytes`]; what it made is checked against the same bound after.
//! Column names stay as written.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::kernels::concat_elements::concat_elements_dyn;
use arrow::datatypes::{DataType, FieldRef, IntervalUnit, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Documentation, Expr, ExprSchemable, LogicalPlan, Operator,
    ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

/// How a function's output size follows from its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Growth {
    /// `repeat(text, n)`: the text's bytes `n` times.
    Repeat,
    /// `lpad`/`rpad(text, n[, fill])`: `n` characters (up to 4 bytes each).
    Pad,
    /// `array_repeat(value, n)`: the value `n` times.
    ArrayRepeat,
    /// `array_resize(list, n[, fill])`: `n` elements.
    ArrayResize,
    /// `range`/`generate_series(start, stop[, step])` as a function: one element per step.
    Series,
    /// `replace(text, from, to)`: each occurrence of `from` becomes `to`.
    Replace,
    /// `regexp_replace(text, pattern, replacement[, flags])`: at most one match per position,
    /// each replaced by the replacement, whose group references may each copy the whole text.
    RegexpReplace,
    /// The sum of the arguments (`concat`, `make_array`, `||`, …).
    Sum,
}

impl Growth {
    /// The growth of a function by its name, for the functions that make values larger than
    /// their inputs; `None` for every other.
    fn of(name: &str) -> Option<Growth> {
        Some(match name {
            "repeat" => Growth::Repeat,
            "lpad" | "rpad" => Growth::Pad,
            "array_repeat" => Growth::ArrayRepeat,
            "array_resize" => Growth::ArrayResize,
            "range" | "generate_series" => Growth::Series,
            "replace" => Growth::Replace,
            "regexp_replace" => Growth::RegexpReplace,
            "concat" | "concat_ws" | "overlay" | "make_array" | "array_concat" | "array_append"
            | "array_prepend" => Growth::Sum,
            _ => return None,
        })
    }
}

/// The analyzer rule that puts every growing expression of a plan under the bound.
#[derive(Debug)]
pub(crate) struct BoundValues {
    max: usize,
}

impl BoundValues {
    pub fn new(max_value_bytes: usize) -> BoundValues {
        BoundValues {
            max: max_value_bytes.max(1),
        }
    }

    fn rewrite(&self, e: Expr, schema: &datafusion::common::DFSchema) -> Result<Transformed<Expr>> {
        match e {
            Expr::ScalarFunction(f) => Ok(bound_function(f, self.max)),
            Expr::BinaryExpr(b) if b.op == Operator::StringConcat => {
                let e = Expr::BinaryExpr(b);
                let Ok(ret) = e.get_type(schema) else {
                    return Ok(Transformed::no(e));
                };
                if !is_text(&ret) {
                    return Ok(Transformed::no(e));
                }
                let Expr::BinaryExpr(BinaryExpr { left, right, .. }) = e else {
                    unreachable!("matched above");
                };
                let func = Arc::new(ScalarUDF::new_from_impl(Concat {
                    ret: Some(ret),
                    signature: Signature::any(2, Volatility::Immutable),
                    max: self.max,
                }));
                Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction {
                    func,
                    args: vec![*left, *right],
                })))
            }
            e => Ok(Transformed::no(e)),
        }
    }
}

/// `f` bounded when it grows (and is not bounded yet).
fn bound_function(f: ScalarFunction, max: usize) -> Transformed<Expr> {
    let bounded = (f.func.inner().as_ref() as &dyn std::any::Any).is::<Bounded>();
    match Growth::of(f.func.name()) {
        Some(growth) if !bounded => {
            let func = Arc::new(ScalarUDF::new_from_impl(Bounded {
                inner: f.func.clone(),
                growth,
                max,
            }));
            Transformed::yes(Expr::ScalarFunction(ScalarFunction { func, args: f.args }))
        }
        _ => Transformed::no(Expr::ScalarFunction(f)),
    }
}

/// The default functions that make values larger than their inputs, each under the bound, and
/// `||` on text: what a cluster node registers under the same names, so a plan a bounded
/// session made (which names its functions only) is bounded where it runs too.
pub(crate) fn bounded_defaults(max_value_bytes: usize) -> Vec<ScalarUDF> {
    let max = max_value_bytes.max(1);
    let mut out: Vec<ScalarUDF> =
        datafusion::execution::SessionStateDefaults::default_scalar_functions()
            .into_iter()
            .filter_map(|f| {
                let growth = Growth::of(f.name())?;
                Some(ScalarUDF::new_from_impl(Bounded {
                    inner: f,
                    growth,
                    max,
                }))
            })
            .collect();
    out.push(ScalarUDF::new_from_impl(Concat {
        ret: None,
        signature: Signature::any(2, Volatility::Immutable),
        max,
    }));
    out
}

impl AnalyzerRule for BoundValues {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let preserver = NamePreserver::new(&node);
            // Expressions read their input's columns; a join's read both sides, which its own
            // schema holds.
            let inputs = node.inputs();
            let schema = match inputs.as_slice() {
                [one] => one.schema().clone(),
                _ => node.schema().clone(),
            };
            node.map_expressions(|e| {
                let saved = preserver.save(&e);
                let out = e.transform_up(|e| self.rewrite(e, &schema))?;
                Ok(out.update_data(|e| saved.restore(e)))
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "bound_values"
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn too_large(what: &str, bytes: u128, max: usize) -> DataFusionError {
    DataFusionError::ResourcesExhausted(format!(
        "{what} would make {} MiB of values in one step, more than the {} MiB a value may take; \
         make smaller values or fewer rows at once",
        bytes >> 20,
        max >> 20
    ))
}

/// The bytes of the values of `a` (text and list contents, not the buffers around them), for
/// the rows it actually spans when it is a slice.
fn payload(a: &dyn Array) -> u128 {
    let n = a.len() as u128;
    match a.data_type() {
        DataType::Utf8 => {
            let o = a.as_string::<i32>().value_offsets();
            (o[o.len() - 1] - o[0]) as u128
        }
        DataType::LargeUtf8 => {
            let o = a.as_string::<i64>().value_offsets();
            (o[o.len() - 1] - o[0]) as u128
        }
        DataType::Binary => {
            let o = a.as_binary::<i32>().value_offsets();
            (o[o.len() - 1] - o[0]) as u128
        }
        DataType::LargeBinary => {
            let o = a.as_binary::<i64>().value_offsets();
            (o[o.len() - 1] - o[0]) as u128
        }
        DataType::Utf8View => {
            a.as_string_view()
                .views()
                .iter()
                .map(|v| u128::from(*v as u32))
                .sum::<u128>()
                + 16 * n
        }
        DataType::BinaryView => {
            a.as_binary_view()
                .views()
                .iter()
                .map(|v| u128::from(*v as u32))
                .sum::<u128>()
                + 16 * n
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let o = l.value_offsets();
            let (from, to) = (o[0] as usize, o[o.len() - 1] as usize);
            payload(l.values().slice(from, to - from).as_ref()) + 4 * n
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            let o = l.value_offsets();
            let (from, to) = (o[0] as usize, o[o.len() - 1] as usize);
            payload(l.values().slice(from, to - from).as_ref()) + 8 * n
        }
        t => match t.primitive_width() {
            Some(w) => w as u128 * n,
            None => a.get_array_memory_size() as u128,
        },
    }
}

/// The bytes one row of `v` holds on average, and the bytes of all `rows` rows.
fn bytes_of(v: &ColumnarValue, rows: usize) -> u128 {
    match v {
        ColumnarValue::Array(a) => payload(a.as_ref()),
        ColumnarValue::Scalar(s) => scalar_bytes(s) * rows as u128,
    }
}

fn scalar_bytes(s: &ScalarValue) -> u128 {
    match s {
        ScalarValue::Utf8(Some(t))
        | ScalarValue::LargeUtf8(Some(t))
        | ScalarValue::Utf8View(Some(t)) => t.len() as u128,
        ScalarValue::List(l) => payload(l.as_ref()),
        ScalarValue::LargeList(l) => payload(l.as_ref()),
        s => s.size() as u128,
    }
}

/// Row `i` of an argument as text (`None` for NULL or not text).
fn text_at(v: &ColumnarValue, i: usize) -> Option<&str> {
    match v {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(t) | ScalarValue::LargeUtf8(t) | ScalarValue::Utf8View(t),
        ) => t.as_deref(),
        ColumnarValue::Scalar(_) => None,
        ColumnarValue::Array(a) => {
            if a.is_null(i) {
                return None;
            }
            match a.data_type() {
                DataType::Utf8 => Some(a.as_string::<i32>().value(i)),
                DataType::LargeUtf8 => Some(a.as_string::<i64>().value(i)),
                DataType::Utf8View => Some(a.as_string_view().value(i)),
                _ => None,
            }
        }
    }
}

/// An argument as one `i128` per row in the unit the series counts in (integers as they are,
/// dates and times in nanoseconds, intervals as their shortest length in nanoseconds).
struct Numbers {
    values: Vec<Option<i128>>,
}

impl Numbers {
    /// Unknown (every row `None`, no estimate) when the argument is not a number, date, time
    /// or interval: the function itself then says what is wrong.
    fn of(v: &ColumnarValue, rows: usize) -> Numbers {
        Numbers::read(v, rows).unwrap_or(Numbers { values: Vec::new() })
    }

    fn read(v: &ColumnarValue, rows: usize) -> Result<Numbers> {
        const DAY: i128 = 86_400_000_000_000;
        let a = match v {
            ColumnarValue::Array(a) => a.clone(),
            ColumnarValue::Scalar(s) => s.to_array_of_size(1)?,
        };
        let t = a.data_type().clone();
        let (a, scale): (ArrayRef, i128) = match &t {
            DataType::Date32 => (arrow::compute::cast(&a, &DataType::Int64)?, DAY),
            DataType::Date64 => (arrow::compute::cast(&a, &DataType::Int64)?, 1_000_000),
            DataType::Timestamp(unit, _) => {
                let scale = match unit {
                    TimeUnit::Second => 1_000_000_000,
                    TimeUnit::Millisecond => 1_000_000,
                    TimeUnit::Microsecond => 1_000,
                    TimeUnit::Nanosecond => 1,
                };
                (arrow::compute::cast(&a, &DataType::Int64)?, scale)
            }
            DataType::Interval(_) => {
                let m = arrow::compute::cast(&a, &DataType::Interval(IntervalUnit::MonthDayNano))?;
                let m = m.as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>();
                // A month is at least 28 days and a day at least 23 hours: the shortest a
                // step can be, so the count is never underestimated.
                let values = m
                    .iter()
                    .map(|v| {
                        v.map(|v| {
                            i128::from(v.months) * 28 * DAY
                                + i128::from(v.days) * (DAY / 24 * 23)
                                + i128::from(v.nanoseconds)
                        })
                    })
                    .collect();
                return Ok(Numbers::spread(values, rows));
            }
            _ => (arrow::compute::cast(&a, &DataType::Int64)?, 1),
        };
        let values = a
            .as_primitive::<arrow::datatypes::Int64Type>()
            .iter()
            .map(|v| v.map(|v| i128::from(v) * scale))
            .collect();
        Ok(Numbers::spread(values, rows))
    }

    /// A scalar's one value stands for every row.
    fn spread(values: Vec<Option<i128>>, rows: usize) -> Numbers {
        if values.len() == 1 && rows != 1 {
            return Numbers {
                values: vec![values[0]; rows],
            };
        }
        Numbers { values }
    }

    fn at(&self, i: usize) -> Option<i128> {
        self.values.get(i).copied().flatten()
    }
}

/// The rows an invocation covers: the arrays' length, else the rows asked for.
fn rows_of(args: &[ColumnarValue], number_rows: usize) -> usize {
    args.iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(number_rows)
}

/// The average bytes of one row of `v` (for the elements an array function repeats).
fn row_bytes(v: &ColumnarValue, rows: usize) -> u128 {
    match v {
        ColumnarValue::Scalar(s) => scalar_bytes(s),
        ColumnarValue::Array(a) => payload(a.as_ref()) / (rows.max(1) as u128),
    }
}

/// An upper bound of the bytes `growth` makes from `args` for `rows` rows.
fn estimate(growth: Growth, args: &[ColumnarValue], rows: usize) -> u128 {
    let count = |v: &ColumnarValue| Numbers::of(v, rows);
    let positive = |n: Option<i128>| n.unwrap_or(0).max(0) as u128;
    match growth {
        Growth::Repeat => {
            let n = count(&args[1]);
            (0..rows)
                .map(|i| text_at(&args[0], i).map_or(0, |t| t.len() as u128) * positive(n.at(i)))
                .sum()
        }
        Growth::Pad => {
            let n = count(&args[1]);
            (0..rows).map(|i| 4 * positive(n.at(i))).sum()
        }
        Growth::ArrayRepeat => {
            let n = count(&args[1]);
            let each = row_bytes(&args[0], rows) + 8;
            (0..rows).map(|i| each * positive(n.at(i))).sum()
        }
        Growth::ArrayResize => {
            let n = count(&args[1]);
            let each = match &args[0] {
                ColumnarValue::Array(a) => {
                    let inner = match a.data_type() {
                        DataType::List(_) => Some(a.as_list::<i32>().values().clone()),
                        DataType::LargeList(_) => Some(a.as_list::<i64>().values().clone()),
                        _ => None,
                    };
                    inner.map_or(8, |v| payload(v.as_ref()) / (v.len().max(1) as u128) + 8)
                }
                ColumnarValue::Scalar(_) => 16,
            } + args.get(2).map_or(0, |f| row_bytes(f, rows));
            (0..rows).map(|i| each * positive(n.at(i))).sum()
        }
        Growth::Series => {
            let (start, stop, step) = match args.len() {
                1 => (None, count(&args[0]), None),
                2 => (Some(count(&args[0])), count(&args[1]), None),
                _ => (
                    Some(count(&args[0])),
                    count(&args[1]),
                    Some(count(&args[2])),
                ),
            };
            (0..rows)
                .map(|i| {
                    let from = start.as_ref().map_or(Some(0), |s| s.at(i));
                    let step = step.as_ref().map_or(Some(1), |s| s.at(i));
                    match (from, stop.at(i), step) {
                        (Some(a), Some(b), Some(s)) if s != 0 => {
                            (((b - a) / s).max(0) as u128 + 1) * 8
                        }
                        _ => 0,
                    }
                })
                .sum()
        }
        Growth::Replace => (0..rows)
            .map(|i| {
                let (Some(s), Some(from), Some(to)) = (
                    text_at(&args[0], i),
                    text_at(&args[1], i),
                    text_at(&args[2], i),
                ) else {
                    return 0;
                };
                let hits = if from.is_empty() {
                    s.chars().count() + 1
                } else {
                    s.matches(from).count()
                } as u128;
                s.len() as u128 + hits * (to.len().saturating_sub(from.len()) as u128)
            })
            .sum(),
        Growth::RegexpReplace => (0..rows)
            .map(|i| {
                let (Some(s), Some(rep)) = (text_at(&args[0], i), text_at(&args[2], i)) else {
                    return 0;
                };
                let all = args
                    .get(3)
                    .and_then(|f| text_at(f, i))
                    .is_some_and(|f| f.contains('g'));
                let refs = rep.matches(['\\', '$']).count() as u128;
                let len = s.len() as u128;
                let each = rep.len() as u128 + refs * len;
                len + if all { (len + 1) * each } else { each }
            })
            .sum(),
        Growth::Sum => args.iter().map(|a| bytes_of(a, rows)).sum(),
    }
}

fn output_bytes(v: &ColumnarValue) -> u128 {
    bytes_of(v, 1)
}

/// A growing function, checked before and after it runs. Everything else is the function's.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Bounded {
    inner: Arc<ScalarUDF>,
    growth: Growth,
    max: usize,
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.inner.inner().schema_name(args)
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.inner().return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.inner().return_field_from_args(args)
    }

    fn is_strict(&self) -> bool {
        self.inner.inner().is_strict()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = rows_of(&args.args, args.number_rows);
        let before = estimate(self.growth, &args.args, rows);
        if before > self.max as u128 {
            return Err(too_large(self.name(), before, self.max));
        }
        let out = self.inner.inner().invoke_with_args(args)?;
        let made = output_bytes(&out);
        if made > self.max as u128 {
            return Err(too_large(self.name(), made, self.max));
        }
        Ok(out)
    }

    /// The function's own simplification (`concat` joins literal arguments into one), held
    /// to the bound too: a literal it makes is checked, and the growing functions it calls are
    /// bounded again.
    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        match self.inner.inner().simplify(args, info)? {
            ExprSimplifyResult::Simplified(e) => {
                let max = self.max;
                let e = e
                    .transform_up(|e| match e {
                        Expr::Literal(v, _) if scalar_bytes(&v) > max as u128 => {
                            Err(too_large(self.name(), scalar_bytes(&v), max))
                        }
                        Expr::ScalarFunction(f) => Ok(bound_function(f, max)),
                        e => Ok(Transformed::no(e)),
                    })?
                    .data;
                Ok(ExprSimplifyResult::Simplified(e))
            }
            original => Ok(original),
        }
    }

    fn short_circuits(&self) -> bool {
        self.inner.inner().short_circuits()
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.inner.inner().output_ordering(inputs)
    }

    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.inner.inner().preserves_lex_ordering(inputs)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.inner().coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.inner().documentation()
    }
}

/// The `||` operator on text, checked before it runs: NULL when either side is, else both
/// sides' text one after the other — the operator's own kernel.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Concat {
    /// The text type both sides are cast to; `None` on a cluster node, where the type the plan
    /// carries for the call is used (the one the client's analyzer gave it).
    ret: Option<DataType>,
    signature: Signature,
    max: usize,
}

impl ScalarUDFImpl for Concat {
    fn name(&self) -> &str {
        "||"
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        Ok(format!(
            "{} || {}",
            args[0].schema_name(),
            args[1].schema_name()
        ))
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match (&self.ret, arg_types.first()) {
            (Some(t), _) | (None, Some(t)) => Ok(t.clone()),
            (None, None) => Ok(DataType::Utf8),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ret = match &self.ret {
            Some(t) => t.clone(),
            None => args.return_field.data_type().clone(),
        };
        let rows = rows_of(&args.args, args.number_rows);
        let before = estimate(Growth::Sum, &args.args, rows);
        if before > self.max as u128 {
            return Err(too_large("||", before, self.max));
        }
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let n = if scalar { 1 } else { rows };
        let side = |v: &ColumnarValue| -> Result<ArrayRef> {
            let a = v.to_array(n)?;
            Ok(if a.data_type() == &ret {
                a
            } else {
                arrow::compute::cast(&a, &ret)?
            })
        };
        let (l, r) = (side(&args.args[0])?, side(&args.args[1])?);
        let out = concat_elements_dyn(&l, &r)?;
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    const MAX: usize = 1 << 20;

    /// A session with the rule, a bound of 1 MiB and a table `t(s)` of two texts and a NULL.
    fn session() -> SessionContext {
        let ctx = SessionContext::new();
        ctx.add_analyzer_rule(Arc::new(BoundValues::new(MAX)));
        let s: ArrayRef = Arc::new(StringArray::from(vec![Some("ab"), None, Some("c")]));
        let batch = arrow::array::RecordBatch::try_from_iter([("s", s)]).unwrap();
        let t = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
        ctx.register_table("t", Arc::new(t)).unwrap();
        ctx
    }

    async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<arrow::array::RecordBatch>> {
        ctx.sql(sql).await?.collect().await
    }

    #[tokio::test]
    async fn values_past_the_bound_are_refused_before_they_are_made() {
        // Regression: each of these made its value whole, outside the memory pool (with the
        // server's sizes, gigabytes); here 2 to 100 MiB against a bound of 1 MiB.
        let mut doubling = "WITH a0 AS (SELECT repeat('x', 60000) AS s)".to_string();
        for i in 1..8 {
            doubling.push_str(&format!(", a{i} AS (SELECT s || s AS s FROM a{})", i - 1));
        }
        doubling.push_str(" SELECT length(s) FROM a7");
        let hostile = [
            "SELECT length(repeat('x', 100000000))",
            "SELECT length(lpad('x', 20000000, 'y'))",
            "SELECT length(rpad('x', 20000000))",
            "SELECT cardinality(range(1, 20000000))",
            "SELECT cardinality(generate_series(1, 20000000))",
            "SELECT cardinality(range(DATE '2000-01-01', DATE '2020-01-01', INTERVAL '1 minute'))",
            "SELECT cardinality(array_repeat(1, 20000000))",
            "SELECT cardinality(array_resize(make_array(1), 20000000))",
            "SELECT length(replace(repeat('a', 100000), 'a', repeat('b', 100)))",
            "SELECT length(regexp_replace(repeat('a', 100000), 'a', repeat('b', 100), 'g'))",
            "SELECT length(concat(repeat('a', 600000), repeat('b', 600000)))",
            "SELECT length(s || repeat('y', 1000000)) FROM t",
            "SELECT length(repeat(s, 1000000)) FROM t",
            doubling.as_str(),
        ];
        let ctx = session();
        for sql in hostile {
            let e = run(&ctx, sql).await.expect_err(sql);
            assert!(
                matches!(e.find_root(), DataFusionError::ResourcesExhausted(_)),
                "{sql}: {e}"
            );
            assert!(e.to_string().contains("MiB"), "{sql}: {e}");
        }
    }

    #[tokio::test]
    async fn ordinary_values_and_column_names_are_as_before() {
        let ctx = session();
        let plain = SessionContext::new();
        let s: ArrayRef = Arc::new(StringArray::from(vec![Some("ab"), None, Some("c")]));
        let batch = arrow::array::RecordBatch::try_from_iter([("s", s)]).unwrap();
        let t = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
        plain.register_table("t", Arc::new(t)).unwrap();
        for sql in [
            "SELECT 'a' || 'b', 'a' || NULL, repeat('ab', 3), lpad('7', 3, '0'), rpad('7', 2)",
            "SELECT replace('banana', 'a', 'oo'), regexp_replace('banana', '(a)', '[\\1]', 'g')",
            "SELECT concat('a', NULL, 'b'), concat_ws('-', 'a', 'b'), cardinality(range(1, 5))",
            "SELECT cardinality(generate_series(1, 5)), array_repeat('z', 2), make_array(1, 2)",
            "SELECT s || 'x', s || s, repeat(s, 2), concat(s, '!') FROM t ORDER BY s",
            "SELECT CAST(s AS VARCHAR) || CAST('v' AS VARCHAR) AS v FROM t ORDER BY v",
            "SELECT s FROM t WHERE s || 'x' = 'abx'",
        ] {
            let ours = run(&ctx, sql).await.expect(sql);
            let theirs = run(&plain, sql).await.expect(sql);
            assert_eq!(
                arrow::util::pretty::pretty_format_batches(&ours)
                    .unwrap()
                    .to_string(),
                arrow::util::pretty::pretty_format_batches(&theirs)
                    .unwrap()
                    .to_string(),
                "{sql}"
            );
        }
    }
}
