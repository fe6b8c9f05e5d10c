//! Who the population is: every person in `persons`, once.

use std::fs::File;
use std::path::PathBuf;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use model::Kind;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;
use store::Store;

use crate::CodeError;

/// The pseudonyms of everyone in `persons`, sorted, each once.
pub fn persons(store: &Store) -> Result<Vec<i64>, CodeError> {
    person_ids(&store.table_files(Kind::Persons))
}

/// The `person_id` pseudonyms in these table files, sorted, each once.
pub fn person_ids(files: &[PathBuf]) -> Result<Vec<i64>, CodeError> {
    let parts: Vec<Vec<i64>> = files
        .par_iter()
        .map(|path| {
            let corrupt = |e: &dyn std::fmt::Display| CodeError::Store {
                path: path.display().to_string(),
                reason: e.to_string(),
            };
            let f = File::open(path).map_err(|e| corrupt(&e))?;
            let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| corrupt(&e))?;
            let mask = ProjectionMask::columns(b.parquet_schema(), ["person_id"]);
            let mut out = Vec::new();
            for batch in b
                .with_projection(mask)
                .with_batch_size(64 * 1024)
                .build()
                .map_err(|e| corrupt(&e))?
            {
                let batch = batch.map_err(|e| corrupt(&e))?;
                let ids = batch
                    .column(0)
                    .as_primitive_opt::<Int64Type>()
                    .ok_or_else(|| corrupt(&"person_id is not a pseudonym column"))?;
                out.extend_from_slice(ids.values());
            }
            Ok(out)
        })
        .collect::<Result<_, CodeError>>()?;
    let mut all: Vec<i64> = parts.concat();
    all.par_sort_unstable();
    all.dedup();
    Ok(all)
}
