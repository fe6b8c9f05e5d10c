//! Read-only SQL for analysts, over the pseudonymised tables only: person ids are the store's
//! keyed pseudonyms, sealed fields are not tables, and `pseudonym()` (which would turn a known ID
//! number into its pseudonym) is not available.

use arrow::array::RecordBatch;
use futures_util::StreamExt;
use privacy::Action;
use serde::Serialize;

use crate::{Caller, Engine, EngineError};

/// At most this many rows are returned; the answer says when it was cut.
pub const MAX_ROWS: usize = 10_000;

/// `POST /sql`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct SqlAnswer {
    pub columns: Vec<String>,
    /// Row objects, as `fangyi sql --format json` prints them.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub rows: Vec<serde_json::Value>,
    /// True when more rows matched than [`MAX_ROWS`].
    pub truncated: bool,
}

fn to_json(batches: &[RecordBatch]) -> Result<Vec<serde_json::Value>, EngineError> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::ArrayWriter::new(&mut buf);
        for b in batches {
            w.write(b).map_err(EngineError::internal)?;
        }
        w.finish().map_err(EngineError::internal)?;
    }
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&buf).map_err(EngineError::internal)
}

impl Engine {
    /// Runs one read-only statement and returns up to [`MAX_ROWS`] rows.
    pub async fn sql(&self, caller: &Caller, statement: &str) -> Result<SqlAnswer, EngineError> {
        if let Err(denied) = privacy::authorize(caller.account.role, Action::Sql, caller.purpose) {
            let e = EngineError::Denied(denied);
            self.audit(caller, Action::Sql, Vec::new(), 0, e.outcome())
                .await?;
            return Err(e);
        }
        let result = self.sql_rows(statement).await;
        match &result {
            Ok(a) => {
                self.audit(
                    caller,
                    Action::Sql,
                    Vec::new(),
                    a.rows.len() as i64,
                    "ok".into(),
                )
                .await?
            }
            Err(e) => {
                self.audit(caller, Action::Sql, Vec::new(), 0, e.outcome())
                    .await?
            }
        }
        result
    }

    async fn sql_rows(&self, statement: &str) -> Result<SqlAnswer, EngineError> {
        let q = self
            .read(|snap| {
                query::Query::open_pseudonymised(&snap.store).map_err(EngineError::internal)
            })
            .await?;
        let mut stream = q.stream(statement).await.map_err(|e| match e {
            query::QueryError::Sql(m) => EngineError::BadRequest(m),
            e => EngineError::BadRequest(e.to_string()),
        })?;
        let schema = stream.schema();
        let mut batches = Vec::new();
        let mut n = 0usize;
        let mut truncated = false;
        while let Some(b) = stream.next().await {
            let b = b.map_err(|e| EngineError::BadRequest(e.to_string()))?;
            if n + b.num_rows() > MAX_ROWS {
                batches.push(b.slice(0, MAX_ROWS - n));
                truncated = true;
                break;
            }
            n += b.num_rows();
            batches.push(b);
        }
        Ok(SqlAnswer {
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            rows: to_json(&batches)?,
            truncated,
        })
    }
}
