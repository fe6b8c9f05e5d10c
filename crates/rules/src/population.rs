//! Who the population is: every person in `persons`, once.

use std::fs::File;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

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

/// Whether `person` has a row in `persons`. Someone without one is contract §8's
/// `not_registered`: the store knows nothing of who they are, so no absence of records can
/// vouch for them.
pub fn registered(store: &Store, person: i64) -> Result<bool, CodeError> {
    let found: Vec<bool> = store
        .table_files(Kind::Persons)
        .par_iter()
        .map(|path| {
            let mut found = false;
            each_batch(path, &mut |ids| {
                found = ids.contains(&person);
                if found {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            Ok(found)
        })
        .collect::<Result<_, CodeError>>()?;
    Ok(found.contains(&true))
}

/// The `person_id` pseudonyms in these table files, sorted, each once.
pub fn person_ids(files: &[PathBuf]) -> Result<Vec<i64>, CodeError> {
    let parts: Vec<Vec<i64>> = files
        .par_iter()
        .map(|path| {
            let mut out = Vec::new();
            each_batch(path, &mut |ids| {
                out.extend_from_slice(ids);
                ControlFlow::Continue(())
            })?;
            Ok(out)
        })
        .collect::<Result<_, CodeError>>()?;
    let mut all: Vec<i64> = parts.concat();
    all.par_sort_unstable();
    all.dedup();
    Ok(all)
}

/// Hands the `person_id` column of one table file to `f`, a batch at a time, until it breaks.
fn each_batch(path: &Path, f: &mut dyn FnMut(&[i64]) -> ControlFlow<()>) -> Result<(), CodeError> {
    let corrupt = |e: &dyn std::fmt::Display| CodeError::Store {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = File::open(path).map_err(|e| corrupt(&e))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| corrupt(&e))?;
    let mask = ProjectionMask::columns(b.parquet_schema(), ["person_id"]);
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
        if f(ids.values()).is_break() {
            break;
        }
    }
    Ok(())
}
