//! Domain functions available in SQL: `pseudonym(id)`, `covers(a, b)`, `prefecture(code)`,
//! `region_at(code, level)`, `region_name(code)`, `arrives(to, from, level)`; each applies the
//! one implementation in `model` or `vault`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use model::{Level, PersonId, Region};
use vault::Keys;

fn strings(arg: &ColumnarValue, rows: usize) -> Result<ArrayRef> {
    let a = arg.clone().into_array(rows)?;
    Ok(arrow::compute::cast(&a, &DataType::Utf8)?)
}

fn rows(args: &[ColumnarValue]) -> usize {
    args.iter()
        .find_map(|a| match a {
            ColumnarValue::Array(x) => Some(x.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1)
}

fn finish(args: &[ColumnarValue], out: ArrayRef) -> Result<ColumnarValue> {
    if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        Ok(ColumnarValue::Scalar(
            datafusion::scalar::ScalarValue::try_from_array(&out, 0)?,
        ))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

/// A function from one region code to text (`NULL` for a bad code or no answer).
fn region_to_text(
    name: &str,
    f: fn(Region) -> Option<String>,
) -> datafusion::logical_expr::ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let a = strings(&args[0], rows(args))?;
            let out: StringArray = a
                .as_string::<i32>()
                .iter()
                .map(|v| v.and_then(|s| s.parse::<Region>().ok()).and_then(f))
                .collect();
            finish(args, Arc::new(out))
        }),
    )
}

pub(crate) fn register(ctx: &SessionContext, keys: Option<&Keys>) {
    for f in region_functions() {
        ctx.register_udf(f);
    }
    if let Some(keys) = keys {
        ctx.register_udf(pseudonym(Some(keys)));
    }
}

/// `pseudonym(id)` with the key holder's keys; without them, a function of the same name and
/// type that refuses to run, for a cluster node started without the master key (a plan names
/// its functions, and a node must know every name to read one).
pub(crate) fn pseudonym(keys: Option<&Keys>) -> datafusion::logical_expr::ScalarUDF {
    let pseudonyms = keys.map(|k| k.pseudonyms.clone());
    create_udf(
        "pseudonym",
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let Some(pseudonyms) = &pseudonyms else {
                return Err(DataFusionError::Execution(
                    "pseudonym(): this cluster node was started without the master key \
                     (fangyi cluster executor --keys)"
                        .into(),
                ));
            };
            let n = rows(args);
            let ids = strings(&args[0], n)?;
            let ids = ids.as_string::<i32>();
            let mut out = Vec::with_capacity(ids.len());
            for v in ids.iter() {
                out.push(match v {
                    None => None,
                    Some(s) => {
                        let id: PersonId = s.parse().map_err(|e| {
                            DataFusionError::Execution(format!(
                                "pseudonym(): not a valid person id: {e}"
                            ))
                        })?;
                        Some(pseudonyms.pseudonym(id))
                    }
                });
            }
            finish(args, Arc::new(Int64Array::from(out)))
        }),
    )
}

/// The region functions, which reveal nothing about anyone.
pub(crate) fn region_functions() -> Vec<datafusion::logical_expr::ScalarUDF> {
    let mut fns = Vec::new();
    fns.push(create_udf(
        "covers",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let n = rows(args);
            let (a, b) = (strings(&args[0], n)?, strings(&args[1], n)?);
            let (a, b) = (a.as_string::<i32>(), b.as_string::<i32>());
            let out: BooleanArray = a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| {
                    let x = x.and_then(|s| s.parse::<Region>().ok())?;
                    let y = y.and_then(|s| s.parse::<Region>().ok())?;
                    Some(x.covers(y))
                })
                .collect();
            finish(args, Arc::new(out))
        }),
    ));

    // Contract §7: a record from `from` (NULL or empty: no origin) into `to` is an arrival into
    // `to`'s ancestor at `level` when that ancestor does not cover `from`. Evaluated in the
    // scan, in parallel, so only arrivals leave it.
    fns.push(create_udf(
        "arrives",
        vec![DataType::Utf8, DataType::Utf8, DataType::Utf8],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let n = rows(args);
            let (to, from) = (strings(&args[0], n)?, strings(&args[1], n)?);
            let level_of = |s: &str| {
                Level::parse(s).ok_or_else(|| {
                    DataFusionError::Execution(format!(
                        "arrives(): level {s:?} is not province, prefecture or county"
                    ))
                })
            };
            let fixed = match &args[2] {
                ColumnarValue::Scalar(v) => match v {
                    datafusion::scalar::ScalarValue::Utf8(Some(s))
                    | datafusion::scalar::ScalarValue::Utf8View(Some(s))
                    | datafusion::scalar::ScalarValue::LargeUtf8(Some(s)) => Some(level_of(s)?),
                    _ => None,
                },
                ColumnarValue::Array(_) => None,
            };
            let levels = strings(&args[2], n)?;
            let (to, from, levels) = (
                to.as_string::<i32>(),
                from.as_string::<i32>(),
                levels.as_string::<i32>(),
            );
            let mut out = Vec::with_capacity(to.len());
            for i in 0..to.len() {
                let level = match fixed {
                    Some(l) => l,
                    None if levels.is_null(i) => {
                        out.push(None);
                        continue;
                    }
                    None => level_of(levels.value(i))?,
                };
                let Some(dest) = (!to.is_null(i))
                    .then(|| to.value(i).parse::<Region>().ok())
                    .flatten()
                else {
                    out.push(None);
                    continue;
                };
                let origin = if from.is_null(i) || from.value(i).is_empty() {
                    None
                } else {
                    match from.value(i).parse::<Region>() {
                        Ok(r) => Some(r),
                        Err(_) => {
                            out.push(None);
                            continue;
                        }
                    }
                };
                out.push(Some(origin.is_none_or(|o| !dest.at_level(level).covers(o))));
            }
            finish(args, Arc::new(BooleanArray::from(out)))
        }),
    ));

    fns.push(region_to_text("prefecture", |r| {
        Some(r.prefecture().to_string())
    }));
    // Contract §7's roll-up of a code to its ancestor at a level (`county`: the code itself),
    // as `model::Region::at_level`; NULL for a code that does not read as one, so it also
    // says which stored codes are codes.
    fns.push(create_udf(
        "region_at",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let n = rows(args);
            let (codes, levels) = (strings(&args[0], n)?, strings(&args[1], n)?);
            let (codes, levels) = (codes.as_string::<i32>(), levels.as_string::<i32>());
            let mut out = Vec::with_capacity(codes.len());
            for (code, level) in codes.iter().zip(levels.iter()) {
                let Some(level) = level else {
                    out.push(None);
                    continue;
                };
                let level = Level::parse(level).ok_or_else(|| {
                    DataFusionError::Execution(format!(
                        "region_at(): level {level:?} is not province, prefecture or county"
                    ))
                })?;
                out.push(
                    code.and_then(|s| s.parse::<Region>().ok())
                        .map(|r| r.at_level(level).to_string()),
                );
            }
            finish(args, Arc::new(StringArray::from(out)))
        }),
    ));
    fns.push(region_to_text("region_name", |r| {
        r.name().map(str::to_string)
    }));
    fns
}
