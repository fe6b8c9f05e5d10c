//! Deliberately corrupted copies of good rows, one bad cell each (or a wrong field count in
//! CSV), so ingest's reject path can be tested against a known list.

use model::{Column, FieldType, PersonId};

use crate::config::Format;
use crate::rng::Rng;
use crate::writer::Row;

/// One injected bad row, as listed in `truth/bad_rows.csv`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BadRow {
    pub file: String,
    pub line: u64,
    /// Empty for a wrong field count.
    pub column: &'static str,
    pub what: &'static str,
}

const PERSON_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const PERSON_CHECK: &[u8; 11] = b"10X98765432";

fn person_check(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip(PERSON_WEIGHTS)
        .map(|(&b, w)| u32::from(b - b'0') * w)
        .sum();
    PERSON_CHECK[(sum % 11) as usize]
}

/// Builds a corrupted copy of `row` into `out`. Returns what was done, the bad column (none
/// for a wrong field count) and whether a CSV line needs an extra field.
pub fn corrupt(
    columns: &[Column],
    row: &Row,
    format: Format,
    rng: &mut Rng,
    out: &mut Row,
) -> Option<(&'static str, Option<usize>, bool)> {
    // Candidate (column, corruption) pairs; only required columns are touched so that every
    // bad row is bad under any reading of the contract.
    let mut options: Vec<(usize, u8)> = Vec::with_capacity(16);
    for (i, c) in columns.iter().enumerate() {
        if !c.required || row.cell(i).is_empty() {
            continue;
        }
        options.push((i, 0)); // empty required field
        match c.ty {
            FieldType::PersonId => {
                options.push((i, 1));
                options.push((i, 2));
            }
            FieldType::EnterpriseId => options.push((i, 1)),
            FieldType::Timestamp => {
                options.push((i, 3));
                options.push((i, 4));
            }
            FieldType::Date => options.push((i, 4)),
            FieldType::Enum(_) => options.push((i, 5)),
            FieldType::Float { .. } | FieldType::Int { .. } => options.push((i, 6)),
            FieldType::Region => options.push((i, 7)),
            _ => {}
        }
    }
    if format == Format::Csv {
        options.push((usize::MAX, 8));
    }
    if options.is_empty() {
        return None;
    }
    // Each kind of corruption equally often, then a column it applies to.
    let mut kinds: Vec<u8> = options.iter().map(|o| o.1).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let how = kinds[rng.below(kinds.len() as u64) as usize];
    let cols: Vec<usize> = options.iter().filter(|o| o.1 == how).map(|o| o.0).collect();
    let col = cols[rng.below(cols.len() as u64) as usize];
    out.clear();
    if how == 8 {
        for i in 0..row.len() {
            out.bytes(row.cell(i));
        }
        return Some(("wrong field count", None, true));
    }
    let mut what = "";
    for (i, column) in columns.iter().enumerate().take(row.len()) {
        let cell = row.cell(i);
        if i != col {
            out.bytes(cell);
            continue;
        }
        let ty = column.ty;
        match how {
            0 => {
                what = "empty required field";
                out.empty();
            }
            1 if ty == FieldType::PersonId => {
                what = "wrong check character";
                let mut v = cell.to_vec();
                let right = v[17];
                let options = b"0123456789X";
                let k = rng.below(10) as usize;
                let wrong = options
                    .iter()
                    .copied()
                    .filter(|&c| c != right)
                    .nth(k)
                    .expect("ten others");
                v[17] = wrong;
                out.bytes(&v);
            }
            1 => {
                what = "wrong check character";
                let mut v = cell.to_vec();
                let charset = model::EnterpriseId::charset();
                let right = v[17];
                let k = rng.below(30) as usize;
                v[17] = charset
                    .iter()
                    .copied()
                    .filter(|&c| c != right)
                    .nth(k)
                    .expect("thirty others");
                out.bytes(&v);
            }
            2 => {
                what = "impossible birth date in id";
                let mut v = cell.to_vec();
                // Month 13, with a correct check character so only the date is wrong.
                v[10] = b'1';
                v[11] = b'3';
                v[17] = person_check(&v[..17]);
                debug_assert!(PersonId::parse(&v).is_err());
                out.bytes(&v);
            }
            3 => {
                what = "time without offset";
                out.bytes(&cell[..19]);
            }
            4 => {
                what = "impossible date";
                let raw = out.raw();
                raw.extend_from_slice(b"2020-02-30");
                raw.extend_from_slice(&cell[10..]);
                out.done();
            }
            5 => {
                what = "unknown enum value";
                out.str("unknown");
            }
            6 => {
                what = "out-of-range number";
                match ty {
                    FieldType::Float { max, .. } => out.float(max * 2.0 + 1.0),
                    FieldType::Int { max, .. } => out.int(max.saturating_mul(2).saturating_add(1)),
                    _ => out.bytes(cell),
                }
            }
            7 => {
                what = "5-digit region";
                out.bytes(&cell[..5]);
            }
            _ => out.bytes(cell),
        }
    }
    Some((what, Some(col), false))
}
