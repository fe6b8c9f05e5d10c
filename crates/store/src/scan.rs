//! Reading the stored files: typed, column-projected scans of a kind's table or vault files, so
//! no crate but the store (and `query`'s DataFusion tables, `ingest`'s input) decodes them.
//!
//! A scan names the columns it needs; only those are decoded, a name the kind does not store is
//! refused before a byte is read, and a column is handed out only as the Arrow type the
//! schema gives it ([`Batch::ints`], [`Batch::texts`], …), with errors naming the file. A text
//! column whose values repeat (a venue, a pass) may be asked for *keyed*
//! ([`DataFile::scan_keyed`], [`Batch::keyed_texts`]): each distinct value once, as Parquet's
//! dictionary holds it, and a key per row — no string copied or compared per row. Each
//! [`DataFile`] is one unit of work, cheap to clone and `Send + Sync`: callers scan many in
//! parallel (the trace index build does, with rayon) and stop early by dropping the iterator.

use std::fs::File;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BinaryArray, Date32Array, FixedSizeBinaryArray, Float64Array, Int32Array,
    Int64Array, ListArray, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow::datatypes::{
    DataType, Date32Type, Field, Float64Type, Int32Type, Int64Type, Schema,
    TimestampMillisecondType,
};
use model::{Date, Kind, Storage};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};

use crate::{RID_COLUMN, SourceEntry, Store, StoreError, StoredFile, VAULT_SCHEMA_FIELDS};

/// Rows per batch a scan hands out.
pub const BATCH_ROWS: usize = 64 * 1024;

/// Which of a source's files: its stored rows, or the sealed personal fields of those rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// `tables/<kind>/…`: the columns of [`crate::arrow_schema`].
    Table,
    /// `vault/<kind>/…`: [`VAULT_SCHEMA_FIELDS`], one row per sealed row.
    Vault,
}

/// One committed file of a kind, ready to scan.
#[derive(Clone, Debug)]
pub struct DataFile {
    kind: Kind,
    part: Part,
    source: u32,
    rows: u64,
    /// The partition date, for a partitioned kind (every row's partition column holds it).
    date: Option<Date>,
    path: PathBuf,
}

impl Store {
    fn data_file(&self, kind: Kind, part: Part, source: u32, f: &StoredFile) -> DataFile {
        DataFile {
            kind,
            part,
            source,
            rows: f.rows,
            date: f
                .date
                .as_deref()
                .and_then(|d| Date::parse(d.as_bytes()).ok()),
            path: self.root().join(&f.path),
        }
    }

    /// Every committed table file of `kind`, in commit order.
    pub fn tables(&self, kind: Kind) -> Vec<DataFile> {
        self.files_of_kind(kind, Part::Table)
    }

    /// Every committed vault file of `kind`, in commit order.
    pub fn vaults(&self, kind: Kind) -> Vec<DataFile> {
        self.files_of_kind(kind, Part::Vault)
    }

    fn files_of_kind(&self, kind: Kind, part: Part) -> Vec<DataFile> {
        self.manifest()
            .sources()
            .iter()
            .filter(|s| s.kind() == Some(kind))
            .flat_map(|s| self.source_files(s, part))
            .collect()
    }

    /// The committed files of one source (of this store's manifest).
    pub fn source_files(&self, source: &SourceEntry, part: Part) -> Vec<DataFile> {
        let Some(kind) = source.kind() else {
            return Vec::new();
        };
        let files = match part {
            Part::Table => &source.files,
            Part::Vault => &source.vault_files,
        };
        files
            .iter()
            .map(|f| self.data_file(kind, part, source.seq, f))
            .collect()
    }
}

impl DataFile {
    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn part(&self) -> Part {
        self.part
    }

    /// The sequence number of the source it belongs to.
    pub fn source(&self) -> u32 {
        self.source
    }

    /// Rows, as the manifest lists them.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The day every row of it is partitioned under, for a kind partitioned by date (as the
    /// manifest lists it): a reader of a period skips the other days' files unopened.
    pub fn date(&self) -> Option<Date> {
        self.date
    }

    /// Where it is (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An error about this file's content, for a caller's own checks of the values it read.
    pub fn corrupt(&self, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }

    /// Whether this part of the kind stores a column of that name.
    fn stores(&self, column: &str) -> bool {
        match self.part {
            Part::Vault => VAULT_SCHEMA_FIELDS.contains(&column),
            Part::Table => {
                column == RID_COLUMN
                    || self
                        .kind
                        .spec()
                        .column(column)
                        .is_some_and(|(_, c)| c.storage != Storage::Vault)
            }
        }
    }

    fn reader(
        &self,
        columns: &[&str],
        keyed: &[&str],
    ) -> Result<ParquetRecordBatchReaderBuilder<File>, StoreError> {
        if let Some(c) = columns.iter().chain(keyed).find(|c| !self.stores(c)) {
            return Err(StoreError::NoColumn {
                kind: self.kind.name(),
                vault: self.part == Part::Vault,
                column: (*c).to_string(),
            });
        }
        let f = File::open(&self.path).map_err(StoreError::io(&self.path))?;
        let mut meta = ArrowReaderMetadata::load(&f, ArrowReaderOptions::new())
            .map_err(|e| self.corrupt(e))?;
        if !keyed.is_empty() {
            // The file's own schema, with the keyed text columns as dictionaries: Parquet's
            // dictionary pages are then handed out as they are.
            let schema = meta.schema();
            let mut fields = Vec::with_capacity(schema.fields().len());
            for f in schema.fields() {
                if !keyed.contains(&f.name().as_str()) {
                    fields.push(f.as_ref().clone());
                } else if f.data_type() == &DataType::Utf8 {
                    let dictionary =
                        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                    fields.push(Field::new(f.name(), dictionary, f.is_nullable()));
                } else {
                    return Err(self.corrupt(format!("column {} is not text", f.name())));
                }
            }
            let hint = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
            meta = ArrowReaderMetadata::try_new(
                meta.metadata().clone(),
                ArrowReaderOptions::new().with_schema(hint),
            )
            .map_err(|e| self.corrupt(e))?;
        }
        let b = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta);
        let mask =
            ProjectionMask::columns(b.parquet_schema(), columns.iter().chain(keyed).copied());
        Ok(b.with_projection(mask).with_batch_size(BATCH_ROWS))
    }

    /// Reads `columns` (stored names of its kind; in any order) of every row, a batch of up to
    /// [`BATCH_ROWS`] at a time.
    pub fn scan(&self, columns: &[&str]) -> Result<Batches<'_>, StoreError> {
        self.scan_keyed(columns, &[])
    }

    /// Like [`DataFile::scan`], with the text columns `keyed` (not also in `columns`) read as
    /// keys into their distinct values ([`Batch::keyed_texts`]).
    pub fn scan_keyed(&self, columns: &[&str], keyed: &[&str]) -> Result<Batches<'_>, StoreError> {
        let reader = self
            .reader(columns, keyed)?
            .build()
            .map_err(|e| self.corrupt(e))?;
        Ok(Batches { file: self, reader })
    }

    /// Reads `columns` of the rows at these positions in the file (ascending, each once).
    pub fn scan_rows(&self, columns: &[&str], rows: &[u32]) -> Result<Batches<'_>, StoreError> {
        let b = self.reader(columns, &[])?;
        let total = b.metadata().file_metadata().num_rows().max(0) as u64;
        let mut selectors = Vec::new();
        let mut at = 0u64;
        for &row in rows {
            let row = u64::from(row);
            if row >= total || row < at {
                return Err(self.corrupt(format!(
                    "row {row} asked for, of {total} (rows must ascend, each once)"
                )));
            }
            if row > at {
                selectors.push(RowSelector::skip((row - at) as usize));
            }
            selectors.push(RowSelector::select(1));
            at = row + 1;
        }
        let reader = b
            .with_row_selection(RowSelection::from(selectors))
            .build()
            .map_err(|e| self.corrupt(e))?;
        Ok(Batches { file: self, reader })
    }
}

/// The batches of one scan, in file order.
pub struct Batches<'a> {
    file: &'a DataFile,
    reader: ParquetRecordBatchReader,
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<Batch<'a>, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.reader.next()?;
        Some(
            next.map(|batch| Batch {
                file: self.file,
                batch,
            })
            .map_err(|e| self.file.corrupt(e)),
        )
    }
}

/// Rows of a scan: the columns asked for, each handed out as its stored type.
pub struct Batch<'a> {
    file: &'a DataFile,
    batch: RecordBatch,
}

impl Batch<'_> {
    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// The file it came from.
    pub fn file(&self) -> &DataFile {
        self.file
    }

    /// The columns as Arrow has them, for readers shared with SQL (`arrivals`).
    pub fn record_batch(&self) -> &RecordBatch {
        &self.batch
    }

    fn column(&self, name: &str) -> Result<&dyn Array, StoreError> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| self.file.corrupt(format!("column {name} missing")))
    }

    fn typed<'b, T: 'b>(
        &'b self,
        name: &str,
        what: &str,
        cast: impl FnOnce(&'b dyn Array) -> Option<&'b T>,
    ) -> Result<&'b T, StoreError> {
        cast(self.column(name)?)
            .ok_or_else(|| self.file.corrupt(format!("column {name} is not {what}")))
    }

    /// A column of 64-bit integers: pseudonyms, row ids, counts.
    pub fn ints(&self, name: &str) -> Result<&Int64Array, StoreError> {
        self.typed(name, "an integer", |a| a.as_primitive_opt::<Int64Type>())
    }

    /// A text column (codes, ids, vocabulary words, free text).
    pub fn texts(&self, name: &str) -> Result<&StringArray, StoreError> {
        self.typed(name, "text", |a| a.as_string_opt::<i32>())
    }

    /// A text column scanned keyed ([`DataFile::scan_keyed`]).
    pub fn keyed_texts(&self, name: &str) -> Result<KeyedTexts<'_>, StoreError> {
        let d = self.typed(name, "keyed text", |a| a.as_dictionary_opt::<Int32Type>())?;
        let values = d.values().as_string_opt::<i32>().ok_or_else(|| {
            self.file
                .corrupt(format!("column {name} is not keyed text"))
        })?;
        Ok(KeyedTexts {
            keys: d.keys(),
            values,
        })
    }

    /// An instant column (milliseconds since the epoch).
    pub fn instants(&self, name: &str) -> Result<&TimestampMillisecondArray, StoreError> {
        self.typed(name, "a time", |a| {
            a.as_primitive_opt::<TimestampMillisecondType>()
        })
    }

    /// A calendar-day column (days since 1970-01-01).
    pub fn dates(&self, name: &str) -> Result<&Date32Array, StoreError> {
        self.typed(name, "a date", |a| a.as_primitive_opt::<Date32Type>())
    }

    /// A number column.
    pub fn floats(&self, name: &str) -> Result<&Float64Array, StoreError> {
        self.typed(name, "a number", |a| a.as_primitive_opt::<Float64Type>())
    }

    /// A list column (region lists: each value a list of text).
    pub fn lists(&self, name: &str) -> Result<&ListArray, StoreError> {
        self.typed(name, "a list", |a| a.as_list_opt::<i32>())
    }

    /// A bytes column (the vault's sealed fields).
    pub fn binaries(&self, name: &str) -> Result<&BinaryArray, StoreError> {
        self.typed(name, "bytes", |a| a.as_binary_opt::<i32>())
    }

    /// A fixed-width bytes column (the vault's salts).
    pub fn fixed_binaries(&self, name: &str) -> Result<&FixedSizeBinaryArray, StoreError> {
        self.typed(name, "fixed-width bytes", |a| a.as_fixed_size_binary_opt())
    }
}

/// A text column as keys into its distinct values: what repeats is decoded once.
#[derive(Clone, Copy)]
pub struct KeyedTexts<'a> {
    keys: &'a Int32Array,
    values: &'a StringArray,
}

impl<'a> KeyedTexts<'a> {
    /// The distinct values the keys point into (some perhaps used by no row of this batch);
    /// several batches may share them.
    pub fn values(&self) -> &'a StringArray {
        self.values
    }

    /// Row `i`'s position in [`KeyedTexts::values`]; `None` for no value.
    #[inline]
    pub fn key(&self, i: usize) -> Option<usize> {
        self.keys.is_valid(i).then(|| self.keys.value(i) as usize)
    }

    /// Row `i`'s text; `None` for no value.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        self.key(i).map(|k| self.values.value(k))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, BinaryArray, FixedSizeBinaryArray, Int64Array, StringArray};
    use model::Zone;

    use super::*;
    use crate::{SourceId, Writer, arrow_schema, vault_schema};

    /// A store with one `employment` source of `rows` rows (person `i`, row id `100 + i`) and
    /// a vault file beside it.
    fn store(rows: i64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), "k1", Zone::CST, || {}).unwrap();
        let st = w
            .begin(Kind::Employment, "employment.csv".into(), 10, 1)
            .unwrap();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|_| "91350100M000100Y43"),
            )),
            Arc::new(Int64Array::from_iter_values(0..rows)),
            Arc::new(Int64Array::from_iter_values(100..100 + rows)),
        ];
        let table = RecordBatch::try_new(arrow_schema(Kind::Employment, Zone::CST), cols).unwrap();
        st.append(0, false, None, &table).unwrap();
        let salt = [7u8; vault::SALT_LEN];
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(100..100 + rows)),
            Arc::new(Int64Array::from_iter_values(0..rows)),
            Arc::new(FixedSizeBinaryArray::try_from_iter((0..rows).map(|_| salt)).unwrap()),
            Arc::new(BinaryArray::from_iter_values(
                (0..rows).map(|i| format!("sealed {i}").into_bytes()),
            )),
        ];
        let sealed = RecordBatch::try_new(vault_schema(), cols).unwrap();
        st.append(0, true, None, &sealed).unwrap();
        let id = SourceId {
            blake3: "h1".into(),
            probe: "p1".into(),
        };
        w.commit(st, id, rows as u64, 0).unwrap();
        let store = Store::open(dir.path(), "k1").unwrap();
        (dir, store)
    }

    #[test]
    fn a_scan_decodes_only_the_columns_asked_for_as_their_stored_types() {
        let (_dir, store) = store(5);
        let files = store.tables(Kind::Employment);
        assert_eq!(files.len(), 1);
        let f = &files[0];
        assert_eq!(
            (f.kind(), f.part(), f.source(), f.rows()),
            (Kind::Employment, Part::Table, 1, 5)
        );
        let mut persons = Vec::new();
        for b in f.scan(&["person_id"]).unwrap() {
            let b = b.unwrap();
            assert_eq!(b.record_batch().num_columns(), 1, "only what was asked for");
            persons.extend_from_slice(b.ints("person_id").unwrap().values());
            let e = b.texts("person_id").unwrap_err().to_string();
            assert!(e.contains("column person_id is not text"), "{e}");
            assert!(e.contains("employment"), "names the file: {e}");
            let e = b.ints("enterprise_id").unwrap_err().to_string();
            assert!(e.contains("column enterprise_id missing"), "{e}");
        }
        assert_eq!(persons, [0, 1, 2, 3, 4]);
        let b = f
            .scan(&[RID_COLUMN, "enterprise_id"])
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(b.ints(RID_COLUMN).unwrap().value(4), 104);
        assert_eq!(
            b.texts("enterprise_id").unwrap().value(0),
            "91350100M000100Y43"
        );
    }

    #[test]
    fn a_keyed_scan_hands_out_each_distinct_text_once() {
        let (_dir, store) = store(5);
        let f = &store.tables(Kind::Employment)[0];
        let mut rows = 0;
        for b in f.scan_keyed(&["person_id"], &["enterprise_id"]).unwrap() {
            let b = b.unwrap();
            let e = b.keyed_texts("enterprise_id").unwrap();
            assert_eq!(e.values().len(), 1, "one enterprise, stored once");
            for i in 0..b.rows() {
                assert_eq!(e.key(i), Some(0));
                assert_eq!(e.get(i), Some("91350100M000100Y43"));
            }
            assert!(b.texts("enterprise_id").is_err(), "keyed, not plain");
            assert_eq!(b.ints("person_id").unwrap().value(0), 0);
            rows += b.rows();
        }
        assert_eq!(rows, 5);
        let e = f.scan_keyed(&[], &["person_id"]).err().unwrap().to_string();
        assert!(e.contains("column person_id is not text"), "{e}");
        let e = f.scan_keyed(&[], &["name"]).err().unwrap().to_string();
        assert_eq!(e, "employment stores no column name");
        // Unkeyed, the same column reads as plain text.
        let b = f.scan(&["enterprise_id"]).unwrap().next().unwrap().unwrap();
        assert!(b.keyed_texts("enterprise_id").is_err());
    }

    #[test]
    fn a_column_the_kind_does_not_store_is_refused_before_reading() {
        let (_dir, store) = store(2);
        let f = &store.tables(Kind::Employment)[0];
        let e = f.scan(&["name"]).err().unwrap().to_string();
        assert_eq!(e, "employment stores no column name");
        let e = f.scan(&["sealed"]).err().unwrap().to_string();
        assert_eq!(e, "employment stores no column sealed");
        let v = &store.vaults(Kind::Employment)[0];
        assert_eq!(v.part(), Part::Vault);
        let e = v.scan(&["enterprise_id"]).err().unwrap().to_string();
        assert_eq!(e, "employment stores no column enterprise_id in the vault");
        // Persons' names are sealed: not a table column.
        let e = DataFile {
            kind: Kind::Persons,
            ..f.clone()
        }
        .scan(&["name"])
        .err()
        .unwrap();
        assert!(matches!(e, StoreError::NoColumn { .. }), "{e}");
    }

    #[test]
    fn chosen_rows_of_a_vault_file() {
        let (_dir, store) = store(10);
        let v = &store.vaults(Kind::Employment)[0];
        let mut seen = Vec::new();
        for b in v.scan_rows(&VAULT_SCHEMA_FIELDS, &[0, 3, 9]).unwrap() {
            let b = b.unwrap();
            let (rid, person) = (b.ints(RID_COLUMN).unwrap(), b.ints("person_id").unwrap());
            let (salt, sealed) = (
                b.fixed_binaries("salt").unwrap(),
                b.binaries("sealed").unwrap(),
            );
            for i in 0..b.rows() {
                assert_eq!(salt.value(i), [7u8; vault::SALT_LEN]);
                seen.push((rid.value(i), person.value(i), sealed.value(i).to_vec()));
            }
        }
        assert_eq!(
            seen,
            [
                (100, 0, b"sealed 0".to_vec()),
                (103, 3, b"sealed 3".to_vec()),
                (109, 9, b"sealed 9".to_vec())
            ]
        );
        for bad in [&[10u32][..], &[3, 3], &[4, 2]] {
            let e = v.scan_rows(&["person_id"], bad).err().unwrap().to_string();
            assert!(e.contains("unreadable stored file"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_damaged_file_is_named() {
        let (_dir, store) = store(3);
        let f = &store.tables(Kind::Employment)[0];
        std::fs::write(f.path(), b"not parquet").unwrap();
        let e = f.scan(&["person_id"]).err().unwrap().to_string();
        assert!(e.starts_with(&f.path().display().to_string()), "{e}");
        assert!(e.contains("unreadable stored file"), "{e}");
    }
}
