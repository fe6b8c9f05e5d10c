//! Who the population is: every person in `persons`, once.

use std::ops::ControlFlow;

use model::Kind;
use rayon::prelude::*;
use store::{DataFile, Store};

use crate::CodeError;

/// The pseudonyms of everyone in `persons`, sorted, each once.
pub fn persons(store: &Store) -> Result<Vec<i64>, CodeError> {
    person_ids(&store.tables(Kind::Persons))
}

/// Whether `person` has a row in `persons`. Someone without one is contract §8's
/// `not_registered`: the store knows nothing of who they are, so no absence of records can
/// vouch for them.
pub fn registered(store: &Store, person: i64) -> Result<bool, CodeError> {
    let found: Vec<bool> = store
        .tables(Kind::Persons)
        .par_iter()
        .map(|file| {
            let mut found = false;
            each_batch(file, &mut |ids| {
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
pub fn person_ids(files: &[DataFile]) -> Result<Vec<i64>, CodeError> {
    let parts: Vec<Vec<i64>> = files
        .par_iter()
        .map(|file| {
            let mut out = Vec::new();
            each_batch(file, &mut |ids| {
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
fn each_batch(
    file: &DataFile,
    f: &mut dyn FnMut(&[i64]) -> ControlFlow<()>,
) -> Result<(), CodeError> {
    for batch in file.scan(&["person_id"])? {
        if f(batch?.ints("person_id")?.values()).is_break() {
            break;
        }
    }
    Ok(())
}
