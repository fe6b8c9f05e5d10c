//! Turning the rows of one chunk of a source into validated, partitioned Arrow batches:
//! every field parsed by its contract type, person ids replaced by pseudonyms, personal fields
//! sealed for the vault, and each bad row rolled back and recorded with line, column, reason.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeBinaryArray, RecordBatch};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::SchemaRef;
use model::{Date, FieldError, FieldType, Kind, KindSpec, RowCheck, Storage, Value, Zone, field};
use store::{Staging, StoreError, arrow_schema, vault_schema};
use vault::{FileSealer, Keys};

use crate::columns::ColBuf;

/// One bad row: where it is and why it was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// Line of the row in its source (CSV, JSON Lines; the header is line 1), or row number (Parquet).
    pub line: u64,
    /// The offending column; empty when the row as a whole is malformed.
    pub column: String,
    pub reason: String,
}

/// Access to the fields of one source row by the kind's column index.
pub(crate) trait Row {
    /// The field's text, trimmed; `None` when absent or empty.
    fn text(&self, col: usize) -> Result<Option<Cow<'_, str>>, FieldError>;
}

/// The rows of one partition of a chunk.
struct Part {
    cols: Vec<ColBuf>,
    rows: usize,
    vault_rid: Vec<i64>,
    vault_pid: Vec<i64>,
    vault_sealed: Vec<u8>,
    vault_offsets: Vec<i32>,
}

/// The stored columns of a kind, resolved once per chunk.
struct Plan {
    schema: SchemaRef,
    /// For each spec column: its index in the stored schema, or `None` if sealed in the vault.
    stored: Vec<Option<usize>>,
    /// Spec index of the partition column.
    partition: Option<usize>,
    /// Spec index of `person_id` (vault rows are keyed by it).
    person: Option<usize>,
    /// Spec index pairs of the not-before checks.
    checks: Vec<(usize, usize)>,
    rid: usize,
}

impl Plan {
    fn new(spec: &KindSpec, zone: Zone) -> Plan {
        let schema = arrow_schema(spec.kind, zone);
        let mut next = 0;
        let stored = spec
            .columns
            .iter()
            .map(|c| {
                (c.storage != Storage::Vault).then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect();
        let index = |name: &str| spec.column(name).map(|(i, _)| i);
        Plan {
            schema,
            stored,
            partition: spec.partition_by.and_then(index),
            person: index("person_id"),
            checks: spec
                .checks
                .iter()
                .map(|RowCheck::NotBefore { earlier, later }| {
                    (
                        index(earlier).expect("registry checked"),
                        index(later).expect("registry checked"),
                    )
                })
                .collect(),
            rid: next,
        }
    }
}

/// Builds the output of one chunk.
pub(crate) struct ChunkBuilder<'a> {
    spec: &'static KindSpec,
    zone: Zone,
    keys: &'a Keys,
    today: Date,
    rid_base: i64,
    plan: Plan,
    parts: HashMap<Option<Date>, Part>,
    /// Expected rows, to size the first partition's buffers once.
    rows_hint: usize,
    sealer: Option<FileSealer>,
    scratch: Vec<Option<String>>,
    pub(crate) rejects: Vec<Reject>,
    pub(crate) accepted: u64,
}

impl<'a> ChunkBuilder<'a> {
    pub(crate) fn new(
        kind: Kind,
        zone: Zone,
        keys: &'a Keys,
        seq: u32,
        today: Date,
        rows_hint: usize,
    ) -> Result<ChunkBuilder<'a>, vault::VaultError> {
        let spec = kind.spec();
        let sealer = if spec.has_vault_columns() {
            Some(keys.sealer()?)
        } else {
            None
        };
        Ok(ChunkBuilder {
            spec,
            zone,
            keys,
            today,
            rid_base: i64::from(seq) << 32,
            plan: Plan::new(spec, zone),
            parts: HashMap::new(),
            rows_hint,
            sealer,
            scratch: Vec::new(),
            rejects: Vec::new(),
            accepted: 0,
        })
    }

    pub(crate) fn spec(&self) -> &'static KindSpec {
        self.spec
    }

    pub(crate) fn reject(&mut self, line: u64, column: &str, reason: impl Into<String>) {
        self.rejects.push(Reject {
            line,
            column: column.to_string(),
            reason: reason.into(),
        });
    }

    /// Validates and stores one row; records a reject and stores nothing if any field is bad.
    pub(crate) fn push(&mut self, line: u64, row: &dyn Row) {
        match self.try_push(line, row) {
            Ok(()) => self.accepted += 1,
            Err((col, e)) => {
                let column = col.map(|c| self.spec.columns[c].name).unwrap_or("");
                self.reject(line, column, e.reason().to_string());
            }
        }
    }

    fn partition_of(&self, row: &dyn Row) -> Result<Option<Date>, (Option<usize>, FieldError)> {
        let Some(p) = self.plan.partition else {
            return Ok(None);
        };
        let col = &self.spec.columns[p];
        let text = row.text(p).map_err(|e| (Some(p), e))?;
        let text = text.ok_or_else(|| {
            (
                Some(p),
                FieldError::new("required field is missing or empty"),
            )
        })?;
        match field::parse(col.ty, &text).map_err(|e| (Some(p), e))? {
            Value::Timestamp(t) => Ok(Some(t.date(self.zone))),
            Value::Date(d) => Ok(Some(d)),
            _ => unreachable!("partition columns are times or dates"),
        }
    }

    fn try_push(&mut self, line: u64, row: &dyn Row) -> Result<(), (Option<usize>, FieldError)> {
        let date = self.partition_of(row)?;
        if !self.parts.contains_key(&date) {
            // The first partition usually takes the whole chunk; later ones start small.
            let hint = if self.parts.is_empty() {
                self.rows_hint
            } else {
                1024
            };
            let part = Part {
                cols: self
                    .plan
                    .schema
                    .fields()
                    .iter()
                    .map(|f| ColBuf::for_type(f.data_type(), hint))
                    .collect(),
                rows: 0,
                vault_rid: Vec::new(),
                vault_pid: Vec::new(),
                vault_sealed: Vec::new(),
                vault_offsets: vec![0],
            };
            self.parts.insert(date, part);
        }
        let part = self.parts.get_mut(&date).expect("inserted above");
        let before = part.rows;
        self.scratch.clear();
        let result = fill_row(
            self.spec,
            &self.plan,
            self.keys,
            self.today,
            row,
            part,
            &mut self.scratch,
        );
        let result = result.and_then(|()| check_row(self.spec, &self.plan, part));
        if let Err(e) = result {
            for c in &mut part.cols {
                c.truncate(before);
            }
            return Err(e);
        }
        let rid = self.rid_base | (line as i64 & 0xFFFF_FFFF);
        part.cols[self.plan.rid].push_i64(rid);
        part.rows += 1;
        if let Some(sealer) = &mut self.sealer
            && self.scratch.iter().any(Option::is_some)
        {
            let pid = self.plan.person.and_then(|p| {
                part.cols[self.plan.stored[p].expect("ids are stored")].last_number()
            });
            let pid = pid.expect("vault kinds require a person id");
            let fields: Vec<Option<&str>> = self.scratch.iter().map(Option::as_deref).collect();
            let sealed = sealer.seal(self.spec.kind.name(), pid, rid, &fields);
            part.vault_rid.push(rid);
            part.vault_pid.push(pid);
            part.vault_sealed.extend_from_slice(&sealed);
            part.vault_offsets.push(part.vault_sealed.len() as i32);
        }
        Ok(())
    }

    /// Appends this chunk's partitions to the files `slot` keeps open in the staging area.
    pub(crate) fn write(self, staging: &Staging, slot: usize) -> Result<(), StoreError> {
        let salt = self.sealer.as_ref().map(FileSealer::salt);
        let mut parts: Vec<_> = self.parts.into_iter().collect();
        parts.sort_by_key(|(d, _)| *d);
        for (date, part) in parts {
            if part.rows == 0 {
                continue;
            }
            let arrays: Vec<ArrayRef> = part
                .cols
                .into_iter()
                .zip(self.plan.schema.fields())
                .map(|(c, f)| c.finish(f.data_type()))
                .collect();
            let batch = RecordBatch::try_new(self.plan.schema.clone(), arrays)
                .expect("buffers match the schema");
            staging.append(slot, false, date, &batch)?;
            if let Some(salt) = salt
                && !part.vault_rid.is_empty()
            {
                let n = part.vault_rid.len();
                let salts = FixedSizeBinaryArray::try_from_iter(std::iter::repeat_n(salt, n))
                    .expect("fixed size");
                let sealed = arrow::array::BinaryArray::new(
                    OffsetBuffer::new(ScalarBuffer::from(part.vault_offsets)),
                    Buffer::from_vec(part.vault_sealed),
                    None,
                );
                let cols: Vec<ArrayRef> = vec![
                    Arc::new(arrow::array::Int64Array::from(part.vault_rid)),
                    Arc::new(arrow::array::Int64Array::from(part.vault_pid)),
                    Arc::new(salts),
                    Arc::new(sealed),
                ];
                let batch =
                    RecordBatch::try_new(vault_schema(), cols).expect("vault buffers match");
                staging.append(slot, true, date, &batch)?;
            }
        }
        Ok(())
    }
}

/// Parses every field of `row` into `part` (vault fields into `sealed`).
fn fill_row(
    spec: &KindSpec,
    plan: &Plan,
    keys: &Keys,
    today: Date,
    row: &dyn Row,
    part: &mut Part,
    sealed: &mut Vec<Option<String>>,
) -> Result<(), (Option<usize>, FieldError)> {
    for (i, col) in spec.columns.iter().enumerate() {
        let at = |e| (Some(i), e);
        let text = row.text(i).map_err(at)?;
        let Some(text) = text else {
            if col.required {
                return Err(at(FieldError::new("required field is missing or empty")));
            }
            match plan.stored[i] {
                Some(s) => part.cols[s].push_null(),
                None => sealed.push(None),
            }
            continue;
        };
        let value = field::parse(col.ty, &text).map_err(at)?;
        let Some(s) = plan.stored[i] else {
            let Value::Str(v) = value else {
                unreachable!("sealed columns are text")
            };
            sealed.push(Some(v.into_owned()));
            continue;
        };
        let buf = &mut part.cols[s];
        match value {
            Value::PersonId(id) => {
                if id.birth_date().is_some_and(|d| d > today) {
                    return Err(at(FieldError::new(
                        "digits 7-14 are a birth date in the future",
                    )));
                }
                buf.push_i64(keys.pseudonyms.pseudonym(id));
            }
            Value::EnterpriseId(e) => buf.push_str(e.as_str()),
            Value::Region(r) => {
                buf.push_str(std::str::from_utf8(&r.digits()).expect("ASCII digits"))
            }
            Value::RegionList(list) => {
                let texts: Vec<String> = list.iter().map(ToString::to_string).collect();
                buf.push_list(texts.iter().map(String::as_str));
            }
            Value::Str(s) => buf.push_str(&s),
            Value::Sex(s) => buf.push_str(s.as_str()),
            Value::Enum(ix) => {
                let FieldType::Enum(names) = col.ty else {
                    unreachable!("enum values come from enum columns")
                };
                buf.push_str(names[usize::from(ix)]);
            }
            Value::Timestamp(t) => buf.push_i64(t.millis()),
            Value::Date(d) => buf.push_date(d.days()),
            Value::Float(f) => buf.push_f64(f),
            Value::Int(n) => buf.push_i64(n),
            Value::Bool(b) => buf.push_bool(b),
        }
    }
    Ok(())
}

/// Applies the kind's cross-field checks to the row just filled.
fn check_row(spec: &KindSpec, plan: &Plan, part: &Part) -> Result<(), (Option<usize>, FieldError)> {
    for &(earlier, later) in &plan.checks {
        let get = |i: usize| plan.stored[i].and_then(|s| part.cols[s].last_number());
        if let (Some(a), Some(b)) = (get(earlier), get(later))
            && b < a
        {
            let reason = format!("is before {}", spec.columns[earlier].name);
            return Err((Some(later), FieldError::new(reason)));
        }
    }
    Ok(())
}
