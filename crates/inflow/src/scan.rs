//! Running the crate's read-only SQL with typed parameters, and reading the columns it returns.
//!
//! Period bounds are passed as parameters of the column's exact type (instants as
//! `Timestamp(ms, zone)`, dates as `Date32`), so the planner compares them without a cast and
//! can prune Parquet files and row groups by their statistics.

use std::sync::Arc;

use arrow::array::TimestampMillisecondArray;
use arrow::array::{Array, ArrayRef, AsArray, Date32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Date32Type, Int64Type, TimeUnit, TimestampMillisecondType};
use datafusion::error::DataFusionError;
use datafusion::prelude::SQLOptions;
use datafusion::scalar::ScalarValue;
use futures_util::StreamExt;
use model::{Date, Timestamp, Zone};
use query::Query;

use crate::InflowError;

/// Named parameters: `("start", v)` fills `$start`.
pub(crate) type Params = Vec<(&'static str, ScalarValue)>;

/// An instant as a literal of the stored type of instants in `zone`.
pub(crate) fn instant(t: Timestamp, zone: Zone) -> ScalarValue {
    ScalarValue::TimestampMillisecond(Some(t.millis()), Some(Arc::from(zone.to_string())))
}

/// A date as a `Date32` literal.
pub(crate) fn date(d: Date) -> ScalarValue {
    ScalarValue::Date32(Some(d.days()))
}

/// Runs `sql` with `params` over `query` and hands each result batch to `f` as it streams.
pub(crate) async fn for_each_batch(
    query: &Query,
    table: &'static str,
    sql: &str,
    params: Params,
    mut f: impl FnMut(&RecordBatch) -> Result<(), InflowError>,
) -> Result<(), InflowError> {
    let err = |e: DataFusionError| InflowError::Query {
        table,
        message: e.to_string(),
    };
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let df = query
        .context()
        .sql_with_options(sql, options)
        .await
        .map_err(err)?
        .with_param_values(params)
        .map_err(err)?;
    let mut stream = df.execute_stream().await.map_err(err)?;
    while let Some(batch) = stream.next().await {
        f(&batch.map_err(err)?)?;
    }
    Ok(())
}

/// Typed access to the columns of one result batch, naming the table in errors.
pub(crate) struct Columns<'a> {
    pub table: &'static str,
    pub batch: &'a RecordBatch,
}

impl Columns<'_> {
    fn column(&self, i: usize) -> Result<&ArrayRef, InflowError> {
        self.batch
            .columns()
            .get(i)
            .ok_or_else(|| self.unexpected(i, "a column"))
    }

    fn unexpected(&self, i: usize, wanted: &str) -> InflowError {
        let found = self
            .batch
            .columns()
            .get(i)
            .map_or_else(|| "nothing".to_string(), |c| c.data_type().to_string());
        InflowError::Query {
            table: self.table,
            message: format!("result column {i} is {found}, expected {wanted}"),
        }
    }

    pub fn ints(&self, i: usize) -> Result<&Int64Array, InflowError> {
        self.column(i)?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| self.unexpected(i, "Int64"))
    }

    pub fn floats(&self, i: usize) -> Result<&arrow::array::Float64Array, InflowError> {
        self.column(i)?
            .as_primitive_opt::<arrow::datatypes::Float64Type>()
            .ok_or_else(|| self.unexpected(i, "Float64"))
    }

    pub fn dates(&self, i: usize) -> Result<&Date32Array, InflowError> {
        self.column(i)?
            .as_primitive_opt::<Date32Type>()
            .ok_or_else(|| self.unexpected(i, "Date32"))
    }

    /// Instants in milliseconds since the epoch (UTC), whatever zone the column shows them in.
    pub fn instants(&self, i: usize) -> Result<&TimestampMillisecondArray, InflowError> {
        let c = self.column(i)?;
        match c.data_type() {
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                Ok(c.as_primitive::<TimestampMillisecondType>())
            }
            _ => Err(self.unexpected(i, "Timestamp(ms)")),
        }
    }

    /// Text, as `Utf8` (a view or large string column is converted).
    pub fn strings(&self, i: usize) -> Result<StringArray, InflowError> {
        let c = self.column(i)?;
        let c = if c.data_type() == &DataType::Utf8 {
            c.clone()
        } else {
            arrow::compute::cast(c, &DataType::Utf8).map_err(|_| self.unexpected(i, "text"))?
        };
        Ok(c.as_string::<i32>().clone())
    }
}
