//! The contract's output shapes for a trace: the JSON object of `fangyi trace` and the rows of
//! `trace --all`. Ids are revealed by the caller's function, and contacts sorted by them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Int32Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use model::{Timestamp, Zone};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use crate::tracer::{Contact, Evidence, Trace, Tracer};
use crate::{TraceError, Via};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct WindowOut {
    pub from: String,
    pub to: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct CaseOut {
    pub person_id: String,
    pub report_time: String,
    pub onset_date: String,
    pub window: WindowOut,
}

/// One piece of evidence; which fields appear depends on its kind.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct EvidenceOut {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_date: Option<String>,
    /// Rail only: the contact's car, `null` when their ticket names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub car: Option<Option<String>>,
    /// Flight only: the contact's seat, `null` when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub venue_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub household_id: Option<String>,
    pub from: String,
    pub to: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ContactOut {
    pub person_id: String,
    pub degree: u8,
    pub via: String,
    pub is_case: bool,
    pub first_exposure: String,
    pub last_exposure: String,
    pub quarantine_until: String,
    pub evidence: Vec<EvidenceOut>,
}

/// `fangyi trace CASE --format json`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct TraceOut {
    pub case: CaseOut,
    pub as_of: String,
    pub contacts: Vec<ContactOut>,
}

fn time(ms: i64, zone: Zone) -> String {
    Timestamp(ms).to_rfc3339(zone)
}

impl EvidenceOut {
    pub fn new(e: &Evidence, tracer: &Tracer<'_>) -> EvidenceOut {
        let zone = tracer.zone();
        let parts = tracer.evidence_parts(e);
        let id = Some(parts.id.to_string());
        let label = parts.label.map(str::to_string);
        let mut out = EvidenceOut {
            kind: e.via.as_str(),
            service_no: None,
            service_date: parts.service_date.map(|d| d.to_string()),
            car: None,
            seat: None,
            pass_id: None,
            checkpoint_id: None,
            venue_id: None,
            household_id: None,
            from: time(e.from, zone),
            to: time(e.to, zone),
        };
        match e.via {
            Via::Rail => {
                out.service_no = id;
                out.car = Some(label);
            }
            Via::Flight => {
                out.service_no = id;
                out.seat = Some(label);
            }
            Via::Coach | Via::Ship => out.service_no = id,
            Via::Vehicle => {
                out.pass_id = id;
                out.checkpoint_id = label;
            }
            Via::Venue => out.venue_id = id,
            Via::Household => out.household_id = id,
        }
        out
    }
}

impl TraceOut {
    /// The contract's JSON shape, contacts sorted by the revealed id.
    pub fn new(t: &Trace, tracer: &Tracer<'_>, reveal: &dyn Fn(i64) -> String) -> TraceOut {
        let zone = tracer.zone();
        let case_id = reveal(t.case);
        let mut contacts: Vec<ContactOut> = t
            .contacts
            .iter()
            .map(|c| ContactOut {
                person_id: reveal(c.person),
                degree: c.degree,
                via: via_id(c, t, &case_id, reveal),
                is_case: c.is_case,
                first_exposure: time(c.first_exposure, zone),
                last_exposure: time(c.last_exposure, zone),
                quarantine_until: c.quarantine_until.to_string(),
                evidence: {
                    // The same fact stored in two segments reads the same: show it once.
                    let mut list: Vec<EvidenceOut> = Vec::with_capacity(c.evidence.len());
                    for e in &c.evidence {
                        let e = EvidenceOut::new(e, tracer);
                        if !list.contains(&e) {
                            list.push(e);
                        }
                    }
                    list
                },
            })
            .collect();
        contacts.sort_by(|a, b| a.person_id.cmp(&b.person_id));
        TraceOut {
            case: CaseOut {
                person_id: case_id,
                report_time: time(t.info.report_time, zone),
                onset_date: t.info.onset.to_string(),
                window: WindowOut {
                    from: time(t.info.window.from, zone),
                    to: time(t.info.window.to, zone),
                },
            },
            as_of: time(t.as_of, zone),
            contacts,
        }
    }
}

/// One row of `trace --all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    pub case_id: String,
    pub person_id: String,
    pub degree: u8,
    pub via: String,
    pub is_case: bool,
    pub first_exposure: String,
    pub last_exposure: String,
    pub quarantine_until: String,
    /// Evidence kinds, distinct, sorted, `;`-separated.
    pub evidence: String,
}

impl ContactRow {
    /// The row as a CSV line (no field needs quoting: ids, times, dates and kind names).
    pub fn csv_line(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{},{}",
            self.case_id,
            self.person_id,
            self.degree,
            self.via,
            self.is_case,
            self.first_exposure,
            self.last_exposure,
            self.quarantine_until,
            self.evidence
        )
    }

    pub const HEADER: [&'static str; 9] = [
        "case_id",
        "person_id",
        "degree",
        "via",
        "is_case",
        "first_exposure",
        "last_exposure",
        "quarantine_until",
        "evidence",
    ];
}

/// The rows of one trace, sorted by contact id.
pub fn contact_rows(t: &Trace, zone: Zone, reveal: &dyn Fn(i64) -> String) -> Vec<ContactRow> {
    let case_id = reveal(t.case);
    let mut rows: Vec<ContactRow> = t
        .contacts
        .iter()
        .map(|c: &Contact| ContactRow {
            case_id: case_id.clone(),
            person_id: reveal(c.person),
            degree: c.degree,
            via: via_id(c, t, &case_id, reveal),
            is_case: c.is_case,
            first_exposure: time(c.first_exposure, zone),
            last_exposure: time(c.last_exposure, zone),
            quarantine_until: c.quarantine_until.to_string(),
            evidence: evidence_kinds(c),
        })
        .collect();
    rows.sort_by(|a, b| a.person_id.cmp(&b.person_id));
    rows
}

/// Writes `trace --all` rows as CSV, or as Parquet when the name ends in `.parquet`; into a
/// temporary file renamed on [`ContactsWriter::finish`], so an interrupted run leaves nothing.
pub struct ContactsWriter {
    path: PathBuf,
    tmp: PathBuf,
    zone: Zone,
    rows: u64,
    sink: Sink,
}

enum Sink {
    Csv(BufWriter<File>),
    Parquet {
        writer: Box<ArrowWriter<File>>,
        schema: SchemaRef,
        pending: Vec<ContactRecord>,
    },
}

/// One row of `trace --all` with its ids revealed, its times and date still typed: what
/// [`ContactsWriter::write_records`] takes from an answer found otherwise than by a [`Trace`]
/// (the same question in SQL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactRecord {
    pub case_id: String,
    pub person_id: String,
    pub degree: u8,
    pub via: String,
    pub is_case: bool,
    /// Epoch milliseconds.
    pub first: i64,
    pub last: i64,
    /// Days since 1970-01-01.
    pub until: i32,
    /// Evidence kinds, distinct, sorted, `;`-separated.
    pub evidence: String,
}

impl ContactRecord {
    /// The row as the CSV writes it.
    fn row(&self, zone: Zone) -> ContactRow {
        ContactRow {
            case_id: self.case_id.clone(),
            person_id: self.person_id.clone(),
            degree: self.degree,
            via: self.via.clone(),
            is_case: self.is_case,
            first_exposure: time(self.first, zone),
            last_exposure: time(self.last, zone),
            quarantine_until: model::Date(self.until).to_string(),
            evidence: self.evidence.clone(),
        }
    }
}

const PARQUET_BATCH: usize = 64 * 1024;

impl std::fmt::Debug for ContactsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContactsWriter({})", self.path.display())
    }
}

impl ContactsWriter {
    pub fn create(path: &Path, zone: Zone) -> Result<ContactsWriter, TraceError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp"));
        let file = File::create(&tmp).map_err(TraceError::io(&tmp))?;
        let parquet = name.to_ascii_lowercase().ends_with(".parquet");
        let sink = if parquet {
            let tz: Arc<str> = zone.to_string().into();
            let schema = Arc::new(Schema::new(vec![
                Field::new("case_id", DataType::Utf8, false),
                Field::new("person_id", DataType::Utf8, false),
                Field::new("degree", DataType::Int32, false),
                Field::new("via", DataType::Utf8, false),
                Field::new("is_case", DataType::Boolean, false),
                Field::new(
                    "first_exposure",
                    DataType::Timestamp(TimeUnit::Millisecond, Some(tz.clone())),
                    false,
                ),
                Field::new(
                    "last_exposure",
                    DataType::Timestamp(TimeUnit::Millisecond, Some(tz)),
                    false,
                ),
                Field::new("quarantine_until", DataType::Date32, false),
                Field::new("evidence", DataType::Utf8, false),
            ]));
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level")))
                .build();
            let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
                .map_err(|e| TraceError::BadQuery(format!("{}: {e}", tmp.display())))?;
            Sink::Parquet {
                writer: Box::new(writer),
                schema,
                pending: Vec::new(),
            }
        } else {
            let mut w = BufWriter::new(file);
            writeln!(w, "{}", ContactRow::HEADER.join(",")).map_err(TraceError::io(&tmp))?;
            Sink::Csv(w)
        };
        Ok(ContactsWriter {
            path: path.to_path_buf(),
            tmp,
            zone,
            rows: 0,
            sink,
        })
    }

    /// Appends the contacts of one trace, sorted by contact id.
    pub fn write(&mut self, t: &Trace, reveal: &dyn Fn(i64) -> String) -> Result<(), TraceError> {
        let zone = self.zone;
        match &mut self.sink {
            Sink::Csv(w) => {
                for r in contact_rows(t, zone, reveal) {
                    writeln!(w, "{}", r.csv_line()).map_err(TraceError::io(&self.tmp))?;
                    self.rows += 1;
                }
            }
            Sink::Parquet { pending, .. } => {
                let case_id = reveal(t.case);
                let mut recs: Vec<ContactRecord> = t
                    .contacts
                    .iter()
                    .map(|c| ContactRecord {
                        case_id: case_id.clone(),
                        person_id: reveal(c.person),
                        degree: c.degree,
                        via: via_id(c, t, &case_id, reveal),
                        is_case: c.is_case,
                        first: c.first_exposure,
                        last: c.last_exposure,
                        until: c.quarantine_until.days(),
                        evidence: evidence_kinds(c),
                    })
                    .collect();
                recs.sort_by(|a, b| a.person_id.cmp(&b.person_id));
                self.rows += recs.len() as u64;
                pending.extend(recs);
                if pending.len() >= PARQUET_BATCH {
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    /// Appends rows as given (the caller orders them as [`ContactsWriter::write`] would:
    /// cases by id, each case's contacts by id).
    pub fn write_records(&mut self, recs: Vec<ContactRecord>) -> Result<(), TraceError> {
        let zone = self.zone;
        self.rows += recs.len() as u64;
        match &mut self.sink {
            Sink::Csv(w) => {
                for r in &recs {
                    writeln!(w, "{}", r.row(zone).csv_line()).map_err(TraceError::io(&self.tmp))?;
                }
            }
            Sink::Parquet { pending, .. } => {
                pending.extend(recs);
                if pending.len() >= PARQUET_BATCH {
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), TraceError> {
        let Sink::Parquet {
            writer,
            schema,
            pending,
        } = &mut self.sink
        else {
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        let tz = self.zone.to_string();
        let rows = std::mem::take(pending);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.case_id),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.person_id),
            )),
            Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|r| i32::from(r.degree)),
            )),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.via))),
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| Some(r.is_case)),
            )),
            Arc::new(
                TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.first))
                    .with_timezone(tz.clone()),
            ),
            Arc::new(
                TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.last))
                    .with_timezone(tz),
            ),
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| r.until))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.evidence),
            )),
        ];
        let batch =
            RecordBatch::try_new(schema.clone(), columns).expect("columns match the schema");
        writer
            .write(&batch)
            .map_err(|e| TraceError::BadQuery(format!("{}: {e}", self.tmp.display())))
    }

    /// Finishes the file and moves it into place; returns the rows written.
    pub fn finish(mut self) -> Result<u64, TraceError> {
        self.flush()?;
        match self.sink {
            Sink::Csv(w) => {
                let f = w.into_inner().map_err(|e| TraceError::Io {
                    path: self.tmp.clone(),
                    cause: e.into_error(),
                })?;
                f.sync_all().map_err(TraceError::io(&self.tmp))?;
            }
            Sink::Parquet { writer, .. } => {
                writer
                    .close()
                    .map_err(|e| TraceError::BadQuery(format!("{}: {e}", self.tmp.display())))?;
            }
        }
        std::fs::rename(&self.tmp, &self.path).map_err(TraceError::io(&self.path))?;
        Ok(self.rows)
    }
}

/// The contact's evidence kinds, distinct, in alphabetical order, `;`-separated.
pub fn evidence_kinds(c: &Contact) -> String {
    let mut seen = [false; Via::ALL.len()];
    for e in &c.evidence {
        seen[e.via as usize] = true;
    }
    let mut out = String::new();
    for via in Via::BY_NAME {
        if seen[via as usize] {
            if !out.is_empty() {
                out.push(';');
            }
            out.push_str(via.as_str());
        }
    }
    out
}

/// Who a contact was exposed to, revealed; for degree 1 that is the case, already revealed.
fn via_id(c: &Contact, t: &Trace, case_id: &str, reveal: &dyn Fn(i64) -> String) -> String {
    if c.via == t.case {
        case_id.to_string()
    } else {
        reveal(c.via)
    }
}
