//! Turning the rows of one chunk of a source into validated, partitioned Arrow batches:
//! every field parsed by its contract type, person ids replaced by pseudonyms, personal fields
//! sealed for the vault, and each bad row rolled back and recorded with line, column, reason.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeBinaryArray, RecordBatch};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::SchemaRef;
use model::{Date, FieldError, FieldType, KindSpec, RowCheck, Storage, Value, Zone, field};
use store::{Staging, StoreError, arrow_schema, vault_schema};
use vault::{FileSealer, Keys};

use crate::columns::ColBuf;
use crate::rejects::Reason;

/// One bad row, or span of lines or range of rows refused together: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// Line of the row in its source (CSV, JSON Lines; the header is line 1), or row number (Parquet).
    pub line: u64,
    /// The last line (or row) it covers: `line` for one line, more for a record over several
    /// lines, a malformed span, or a range of Parquet rows that could not be read.
    pub last_line: u64,
    /// The offending column; empty when the row as a whole is malformed.
    pub column: String,
    /// Never quotes a value (built from a typed reason, `rejects::Reason`).
    pub reason: String,
    /// The input rows it stands for: 1 for a row or a span of lines (however many lines a
    /// garbled record took), the range's length for Parquet rows.
    pub rows: u64,
}

/// Access to the fields of one source row by the kind's column index.
pub(crate) trait Row {
    /// The field's text, trimmed; `None` when absent or empty.
    fn text(&self, col: usize) -> Result<Option<Cow<'_, str>>, FieldError>;
}

/// Rows handed to the Parquet writer at a time: small enough that the buffers stay in cache
/// and are recycled at once, large enough that per-batch costs vanish.
const BATCH_ROWS: usize = 32 * 1024;

/// Rows a partition's buffers start with; they then take the size the partition needed last
/// time (a source spread over many dates fills each one slowly, so reserving a full batch for
/// each would hold memory it never uses).
const FIRST_ROWS: usize = 1024;

/// The rows of one partition of a chunk not yet handed to the writer.
struct Part {
    cols: Vec<ColBuf>,
    rows: usize,
    vault_rid: Vec<i64>,
    vault_pid: Vec<i64>,
    vault_salt: Vec<[u8; vault::SALT_LEN]>,
    vault_sealed: Vec<u8>,
    vault_offsets: Vec<i32>,
}

impl Part {
    fn new(schema: &SchemaRef, capacity: usize) -> Part {
        Part {
            cols: schema
                .fields()
                .iter()
                .map(|f| ColBuf::for_type(f.data_type(), capacity))
                .collect(),
            rows: 0,
            vault_rid: Vec::new(),
            vault_pid: Vec::new(),
            vault_salt: Vec::new(),
            vault_sealed: Vec::new(),
            vault_offsets: vec![0],
        }
    }

    /// The rows so far as a table batch and, if any row had personal fields, a vault batch;
    /// leaves the part empty, with room for as many rows as it just held.
    fn take(&mut self, schema: &SchemaRef) -> (RecordBatch, Option<RecordBatch>) {
        let fresh = Part::new(schema, self.rows.clamp(16, BATCH_ROWS));
        let full = std::mem::replace(self, fresh);
        let arrays: Vec<ArrayRef> = full
            .cols
            .into_iter()
            .zip(schema.fields())
            .map(|(c, f)| c.finish(f.data_type()))
            .collect();
        let table = RecordBatch::try_new(schema.clone(), arrays).expect("buffers match the schema");
        if full.vault_rid.is_empty() {
            return (table, None);
        }
        let salts =
            FixedSizeBinaryArray::try_from_iter(full.vault_salt.into_iter()).expect("fixed size");
        let sealed = arrow::array::BinaryArray::new(
            OffsetBuffer::new(ScalarBuffer::from(full.vault_offsets)),
            Buffer::from_vec(full.vault_sealed),
            None,
        );
        let cols: Vec<ArrayRef> = vec![
            Arc::new(arrow::array::Int64Array::from(full.vault_rid)),
            Arc::new(arrow::array::Int64Array::from(full.vault_pid)),
            Arc::new(salts),
            Arc::new(sealed),
        ];
        (
            table,
            Some(RecordBatch::try_new(vault_schema(), cols).expect("vault buffers match")),
        )
    }
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
    /// Spec index of `enterprise_id` and the one value it may take ([`Options::only_enterprise`]).
    ///
    /// [`Options::only_enterprise`]: crate::Options::only_enterprise
    only: Option<(usize, String)>,
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
            only: None,
            rid: next,
        }
    }

    /// Accepts only rows whose `enterprise_id` is `only` (no effect on a kind without one).
    fn restrict(&mut self, spec: &KindSpec, only: Option<&str>) {
        self.only = only.and_then(|v| {
            spec.column("enterprise_id")
                .map(|(i, _)| (i, v.to_string()))
        });
    }
}

/// Builds the output of one chunk, handing full batches to the worker's open files.
pub(crate) struct ChunkBuilder<'a> {
    spec: &'static KindSpec,
    zone: Zone,
    keys: &'a Keys,
    /// Today as `YYYYMMDD`: no birth date in an id may be later.
    today: u32,
    rid_base: i64,
    plan: Plan,
    staging: &'a Staging,
    slot: usize,
    parts: HashMap<Option<Date>, Part>,
    /// Rows a new partition's buffers start with.
    capacity: usize,
    sealer: Option<FileSealer>,
    scratch: Vec<Option<String>>,
    parser: field::Parser,
    /// The first failure to write; rows after it are parsed but not kept.
    failed: Option<StoreError>,
    pub(crate) rejects: Vec<Reject>,
    pub(crate) accepted: u64,
    /// Columns the kind does not know that rows named (JSON keys).
    pub(crate) unknown: crate::formats::UnknownNames,
}

impl<'a> ChunkBuilder<'a> {
    /// Accepts only rows whose `enterprise_id` is `only` ([`crate::Options::only_enterprise`]).
    pub(crate) fn restrict(&mut self, only: Option<&str>) {
        self.plan.restrict(self.spec, only);
    }

    /// A builder for a chunk of about `rows_hint` rows of `staging`'s source, writing through
    /// the worker's `slot`.
    pub(crate) fn new(
        staging: &'a Staging,
        slot: usize,
        zone: Zone,
        keys: &'a Keys,
        today: Date,
        rows_hint: usize,
    ) -> Result<ChunkBuilder<'a>, vault::VaultError> {
        let spec = staging.kind().spec();
        let sealer = if spec.has_vault_columns() {
            Some(keys.sealer()?)
        } else {
            None
        };
        Ok(ChunkBuilder {
            spec,
            zone,
            keys,
            today: yyyymmdd(today),
            rid_base: i64::from(staging.seq()) << 32,
            plan: Plan::new(spec, zone),
            staging,
            slot,
            parts: HashMap::new(),
            capacity: rows_hint.clamp(16, FIRST_ROWS),
            sealer,
            scratch: Vec::new(),
            parser: field::Parser::default(),
            failed: None,
            rejects: Vec::new(),
            accepted: 0,
            unknown: Default::default(),
        })
    }

    pub(crate) fn spec(&self) -> &'static KindSpec {
        self.spec
    }

    /// Records one bad row. The column is one of the kind's (or empty), never input text.
    pub(crate) fn reject(&mut self, line: u64, column: &'static str, reason: Reason) {
        self.reject_span(line, line, column, reason, 1);
    }

    /// Records lines (or rows) `first..=last`, standing for `rows` input rows, as refused.
    pub(crate) fn reject_span(
        &mut self,
        first: u64,
        last: u64,
        column: &'static str,
        reason: Reason,
        rows: u64,
    ) {
        self.rejects.push(Reject {
            line: first,
            last_line: last,
            column: column.to_string(),
            reason: reason.to_string(),
            rows,
        });
    }

    /// Validates and stores the row on lines `line..=last`; records a reject and stores
    /// nothing if any field is bad.
    pub(crate) fn push(&mut self, line: u64, last: u64, row: &dyn Row) {
        if let Err((column, e)) = self.try_push_row(line, row) {
            self.reject_span(line, last, column, Reason::Field(e), 1);
        }
    }

    /// Validates and stores the row starting on `line`; says which column is bad and why
    /// when it is refused (nothing is recorded then: the caller decides the reject's span).
    pub(crate) fn try_push_row(
        &mut self,
        line: u64,
        row: &dyn Row,
    ) -> Result<(), (&'static str, FieldError)> {
        match self.try_push(line, row) {
            Ok(date) => {
                self.accepted += 1;
                if self.parts[&date].rows >= BATCH_ROWS {
                    self.flush(date);
                }
                Ok(())
            }
            Err((col, e)) => Err((col.map(|c| self.spec.columns[c].name).unwrap_or(""), e)),
        }
    }

    fn try_push(
        &mut self,
        line: u64,
        row: &dyn Row,
    ) -> Result<Option<Date>, (Option<usize>, FieldError)> {
        let date = partition_of(self.spec, &self.plan, self.zone, &mut self.parser, row)?;
        let (schema, capacity) = (&self.plan.schema, self.capacity);
        let part = self
            .parts
            .entry(date)
            .or_insert_with(|| Part::new(schema, capacity));
        self.scratch.clear();
        validate_into(
            self.spec,
            &self.plan,
            self.keys,
            self.today,
            &mut self.parser,
            row,
            part,
            &mut self.scratch,
        )?;
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
            part.vault_salt.push(sealer.salt());
            part.vault_sealed.extend_from_slice(&sealed);
            part.vault_offsets.push(part.vault_sealed.len() as i32);
        }
        Ok(date)
    }

    /// Hands partition `date`'s rows to the worker's open file for it.
    fn flush(&mut self, date: Option<Date>) {
        let Some(part) = self.parts.get_mut(&date) else {
            return;
        };
        if part.rows == 0 || self.failed.is_some() {
            return;
        }
        let (table, vault) = part.take(&self.plan.schema);
        let mut result = self.staging.append(self.slot, false, date, &table);
        if let (Ok(()), Some(v)) = (&result, vault) {
            result = self.staging.append(self.slot, true, date, &v);
        }
        if let Err(e) = result {
            self.failed = Some(e);
        }
    }

    /// Hands every remaining row to the worker's open files.
    pub(crate) fn finish(mut self) -> Result<(), StoreError> {
        let mut dates: Vec<Option<Date>> = self.parts.keys().copied().collect();
        dates.sort_unstable();
        for d in dates {
            self.flush(d);
        }
        match self.failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The partition date of `row` (the deployment-zone date of the kind's partition column).
fn partition_of(
    spec: &KindSpec,
    plan: &Plan,
    zone: Zone,
    parser: &mut field::Parser,
    row: &dyn Row,
) -> Result<Option<Date>, (Option<usize>, FieldError)> {
    let Some(p) = plan.partition else {
        return Ok(None);
    };
    let col = &spec.columns[p];
    let text = row.text(p).map_err(|e| (Some(p), e))?;
    let text = text.ok_or_else(|| {
        (
            Some(p),
            FieldError::new("required field is missing or empty"),
        )
    })?;
    match parser.parse(col.ty, &text).map_err(|e| (Some(p), e))? {
        Value::Timestamp(t) => Ok(Some(t.date(zone))),
        Value::Date(d) => Ok(Some(d)),
        _ => unreachable!("partition columns are times or dates"),
    }
}

/// Parses `row` into `part` and applies the cross-field checks; on failure the partial row
/// is rolled back. Everything [`ChunkBuilder::push`] decides about a row is decided here.
#[allow(clippy::too_many_arguments)]
#[inline]
fn validate_into(
    spec: &KindSpec,
    plan: &Plan,
    keys: &Keys,
    today: u32,
    parser: &mut field::Parser,
    row: &dyn Row,
    part: &mut Part,
    sealed: &mut Vec<Option<String>>,
) -> Result<(), (Option<usize>, FieldError)> {
    let before = part.rows;
    let result = fill_row(spec, plan, keys, today, parser, row, part, sealed)
        .and_then(|()| check_row(spec, plan, part));
    if result.is_err() {
        for c in &mut part.cols {
            c.truncate(before);
        }
    }
    result
}

/// Decides rows exactly as [`ChunkBuilder::push`] would, storing nothing: the splitter asks
/// it about records over several lines, whose validity decides where the next record starts
/// ([`crate::records`]).
pub(crate) struct Validator<'a> {
    spec: &'static KindSpec,
    plan: Plan,
    zone: Zone,
    keys: &'a Keys,
    today: u32,
    parser: field::Parser,
    part: Part,
    scratch: Vec<Option<String>>,
}

impl<'a> Validator<'a> {
    /// Accepts only rows whose `enterprise_id` is `only`, as [`ChunkBuilder::restrict`].
    pub(crate) fn restrict(&mut self, only: Option<&str>) {
        self.plan.restrict(self.spec, only);
    }

    pub(crate) fn new(kind: model::Kind, zone: Zone, keys: &'a Keys, today: Date) -> Validator<'a> {
        let spec = kind.spec();
        let plan = Plan::new(spec, zone);
        let part = Part::new(&plan.schema, 1);
        Validator {
            spec,
            zone,
            keys,
            today: yyyymmdd(today),
            parser: field::Parser::default(),
            part,
            scratch: Vec::new(),
            plan,
        }
    }

    pub(crate) fn check(&mut self, row: &dyn Row) -> bool {
        self.decide(row).is_ok()
    }

    /// [`Validator::check`] saying which column is bad and why.
    pub(crate) fn decide(&mut self, row: &dyn Row) -> Result<(), (Option<usize>, FieldError)> {
        partition_of(self.spec, &self.plan, self.zone, &mut self.parser, row)?;
        self.scratch.clear();
        let ok = validate_into(
            self.spec,
            &self.plan,
            self.keys,
            self.today,
            &mut self.parser,
            row,
            &mut self.part,
            &mut self.scratch,
        );
        for c in &mut self.part.cols {
            c.truncate(0);
        }
        ok
    }

    /// The kind's column `i`'s name.
    pub(crate) fn column_name(&self, i: usize) -> &'static str {
        self.spec.columns[i].name
    }
}

fn yyyymmdd(d: Date) -> u32 {
    let (y, m, d) = d.ymd();
    y as u32 * 10_000 + m * 100 + d
}

/// Parses every field of `row` into `part` (vault fields into `sealed`).
// Split borrows of the builder (its parser, one partition, the sealed-field scratch) go in
// one by one.
#[allow(clippy::too_many_arguments)]
fn fill_row(
    spec: &KindSpec,
    plan: &Plan,
    keys: &Keys,
    today: u32,
    parser: &mut field::Parser,
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
        let value = parser.parse(col.ty, &text).map_err(at)?;
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
                if id.birth_yyyymmdd() > today {
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
    if let Some((i, only)) = &plan.only
        && plan.stored[*i].and_then(|s| part.cols[s].last_str()) != Some(only.as_str())
    {
        let reason = "is not the uploading account's enterprise".to_string();
        return Err((Some(*i), FieldError::new(reason)));
    }
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
