//! The one reader of arrivals: which stored records are arrivals (contract §4 and §7) and which
//! of their columns say who, when, how, from where and into where, turned into
//! [`model::Arrival`]s from batches of stored rows however they were read — the trace index
//! reads Parquet files itself, inflow through SQL — so every consumer sees the same arrivals.
//!
//! | kind | date (deployment zone), time | kind of arrival | from | to |
//! |---|---|---|---|---|
//! | `travel` | `arrive_time` | its `mode` | `from_region` | `to_region` |
//! | `checkpoint` | `time` | `road` | `origin_region` | `region` |
//! | `registrations` | `arrival_date`, its start | `registration` | `from_region` | `stay_region` |
//! | `self_reports` | `time` | `self_report` | each of `visited_regions` | — |
//!
//! An empty or absent origin is none (a checkpoint pass may name none: no arrival *from*
//! anywhere, still an arrival *into* its region); a self-report's visits with no region are
//! skipped. A region that does not read as one (never stored: ingest checked it) says nothing:
//! an unreadable origin drops the record, an unreadable destination is none.

use arrow::array::{
    Array, AsArray, Date32Array, Int64Array, RecordBatch, StringArray, StringViewArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Date32Type, Int64Type, TimeUnit, TimestampMillisecondType};
use model::{Arrival, ArrivalKind, Date, Kind, Mode, Region, Timestamp, Zone};

/// The kinds whose records are arrivals.
pub const ARRIVAL_KINDS: [Kind; 4] = [
    Kind::Travel,
    Kind::Checkpoint,
    Kind::Registrations,
    Kind::SelfReports,
];

/// Which ends of an arrival a reader wants: where from (contract §4: health codes, the trace
/// index, "who came from R"), or also where to (§7: inflow), which costs a column more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ends {
    From,
    FromAndTo,
}

/// A batch without a column the reader needs, or with one of another type.
#[derive(Debug, thiserror::Error)]
#[error("column {column} {problem}")]
pub struct ColumnError {
    pub column: &'static str,
    pub problem: &'static str,
}

/// The columns of `kind` [`read_arrivals`] reads, by name (none for a kind without arrivals).
pub fn arrival_columns(kind: Kind, ends: Ends) -> &'static [&'static str] {
    let to = ends == Ends::FromAndTo;
    match kind {
        Kind::Travel if to => &[
            "person_id",
            "mode",
            "arrive_time",
            "from_region",
            "to_region",
        ],
        Kind::Travel => &["person_id", "mode", "arrive_time", "from_region"],
        Kind::Checkpoint if to => &["person_id", "time", "origin_region", "region"],
        Kind::Checkpoint => &["person_id", "time", "origin_region"],
        Kind::Registrations if to => &["person_id", "arrival_date", "from_region", "stay_region"],
        Kind::Registrations => &["person_id", "arrival_date", "from_region"],
        Kind::SelfReports => &["person_id", "time", "visited_regions"],
        _ => &[],
    }
}

/// Hands `f` every arrival the rows of `batch`, rows of `kind` holding (at least) the
/// [`arrival_columns`] of `ends` by name, state. With [`Ends::From`] no arrival has a `to`.
/// Rows are read in order; text is read in place, as `Utf8` or `Utf8View`.
pub fn read_arrivals(
    kind: Kind,
    batch: &RecordBatch,
    zone: Zone,
    ends: Ends,
    mut f: impl FnMut(Arrival),
) -> Result<(), ColumnError> {
    let to = |name| match ends {
        Ends::From => Ok(None),
        Ends::FromAndTo => text(batch, name).map(Some),
    };
    let person = ints(batch, "person_id")?;
    match kind {
        Kind::Travel => {
            let (mode, at) = (text(batch, "mode")?, instants(batch, "arrive_time")?);
            let (from, to) = (text(batch, "from_region")?, to("to_region")?);
            for i in 0..batch.num_rows() {
                let Some(kind) = Mode::parse(mode.value(i)).map(ArrivalKind::of_mode) else {
                    continue;
                };
                let time = Timestamp(at.value(i));
                let date = time.date(zone);
                ends_of(
                    person.value(i),
                    date,
                    time,
                    kind,
                    &from,
                    to.as_ref(),
                    i,
                    &mut f,
                );
            }
        }
        Kind::Checkpoint => {
            let at = instants(batch, "time")?;
            let (from, to) = (text(batch, "origin_region")?, to("region")?);
            for i in 0..batch.num_rows() {
                let time = Timestamp(at.value(i));
                let date = time.date(zone);
                let kind = ArrivalKind::Road;
                ends_of(
                    person.value(i),
                    date,
                    time,
                    kind,
                    &from,
                    to.as_ref(),
                    i,
                    &mut f,
                );
            }
        }
        Kind::Registrations => {
            let day = dates(batch, "arrival_date")?;
            let (from, to) = (text(batch, "from_region")?, to("stay_region")?);
            for i in 0..batch.num_rows() {
                let date = Date(day.value(i));
                let (time, kind) = (date.start(zone), ArrivalKind::Registration);
                ends_of(
                    person.value(i),
                    date,
                    time,
                    kind,
                    &from,
                    to.as_ref(),
                    i,
                    &mut f,
                );
            }
        }
        Kind::SelfReports => {
            let at = instants(batch, "time")?;
            let visited = column(batch, "visited_regions")?
                .as_list_opt::<i32>()
                .ok_or(ColumnError {
                    column: "visited_regions",
                    problem: "is not a list",
                })?;
            // The listed regions of all rows, read in place by each row's offsets.
            let regions = Text::of(visited.values().as_ref(), "visited_regions")?;
            let offsets = visited.value_offsets();
            for i in 0..batch.num_rows() {
                if !visited.is_valid(i) {
                    continue;
                }
                let time = Timestamp(at.value(i));
                let date = time.date(zone);
                for j in offsets[i] as usize..offsets[i + 1] as usize {
                    let Some(Ok(from)) = regions.get(j).map(str::parse::<Region>) else {
                        continue;
                    };
                    f(Arrival {
                        person: person.value(i),
                        date,
                        time,
                        kind: ArrivalKind::SelfReport,
                        from: Some(from),
                        to: None,
                    });
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Row `i`'s arrival with its origin from `from` and destination from `to`, if its origin
/// reads (or it names none).
#[allow(clippy::too_many_arguments)]
#[inline]
fn ends_of(
    person: i64,
    date: Date,
    time: Timestamp,
    kind: ArrivalKind,
    from: &Text<'_>,
    to: Option<&Text<'_>>,
    i: usize,
    f: &mut impl FnMut(Arrival),
) {
    let from = match from.get(i) {
        None => None,
        Some(s) => match s.parse::<Region>() {
            Ok(r) => Some(r),
            Err(_) => return,
        },
    };
    let to = to
        .and_then(|t| t.get(i))
        .and_then(|s| s.parse::<Region>().ok());
    f(Arrival {
        person,
        date,
        time,
        kind,
        from,
        to,
    });
}

/// A text column read in place.
enum Text<'a> {
    View(&'a StringViewArray),
    Plain(&'a StringArray),
}

impl<'a> Text<'a> {
    fn of(a: &'a dyn Array, column: &'static str) -> Result<Text<'a>, ColumnError> {
        match a.data_type() {
            DataType::Utf8View => Ok(Text::View(a.as_string_view())),
            DataType::Utf8 => Ok(Text::Plain(a.as_string::<i32>())),
            _ => Err(ColumnError {
                column,
                problem: "is not text",
            }),
        }
    }

    fn value(&self, i: usize) -> &'a str {
        match self {
            Text::View(a) => a.value(i),
            Text::Plain(a) => a.value(i),
        }
    }

    /// The text of row `i`, `None` when it is null or empty.
    #[inline]
    fn get(&self, i: usize) -> Option<&'a str> {
        let valid = match self {
            Text::View(a) => a.is_valid(i),
            Text::Plain(a) => a.is_valid(i),
        };
        let s = if valid { self.value(i) } else { "" };
        (!s.is_empty()).then_some(s)
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a dyn Array, ColumnError> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or(ColumnError {
            column: name,
            problem: "is missing",
        })
}

fn text<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<Text<'a>, ColumnError> {
    Text::of(column(batch, name)?, name)
}

fn ints<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a Int64Array, ColumnError> {
    column(batch, name)?
        .as_primitive_opt::<Int64Type>()
        .ok_or(ColumnError {
            column: name,
            problem: "is not an integer",
        })
}

fn dates<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a Date32Array, ColumnError> {
    column(batch, name)?
        .as_primitive_opt::<Date32Type>()
        .ok_or(ColumnError {
            column: name,
            problem: "is not a date",
        })
}

/// Instants in milliseconds, whatever zone the column shows them in.
fn instants<'a>(
    batch: &'a RecordBatch,
    name: &'static str,
) -> Result<&'a TimestampMillisecondArray, ColumnError> {
    let c = column(batch, name)?;
    match c.data_type() {
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            Ok(c.as_primitive::<TimestampMillisecondType>())
        }
        _ => Err(ColumnError {
            column: name,
            problem: "is not a time in milliseconds",
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, ListBuilder, StringBuilder};

    use super::*;

    fn region(code: u32) -> Option<Region> {
        Some(Region::new(code).unwrap())
    }

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn at(s: &str) -> i64 {
        Timestamp::parse_rfc3339(s.as_bytes()).unwrap().millis()
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn texts(view: bool, v: &[Option<&str>]) -> ArrayRef {
        if view {
            Arc::new(StringViewArray::from(v.to_vec()))
        } else {
            Arc::new(StringArray::from(v.to_vec()))
        }
    }

    fn read(kind: Kind, b: &RecordBatch, ends: Ends) -> Vec<Arrival> {
        let mut out = Vec::new();
        read_arrivals(kind, b, Zone::CST, ends, |a| out.push(a)).unwrap();
        out
    }

    #[test]
    fn rides_arrive_on_their_arrival_date_in_the_zone_by_their_mode() {
        for view in [false, true] {
            let b = batch(vec![
                ("person_id", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
                (
                    "mode",
                    texts(
                        view,
                        &[Some("rail"), Some("walk"), Some("ship"), Some("flight")],
                    ),
                ),
                (
                    "arrive_time",
                    Arc::new(
                        TimestampMillisecondArray::from(vec![
                            at("2020-01-21T16:30:00Z"),
                            at("2020-01-21T10:00:00Z"),
                            at("2020-01-21T10:00:00Z"),
                            at("2020-01-21T10:00:00Z"),
                        ])
                        .with_timezone("+08:00"),
                    ),
                ),
                (
                    "from_region",
                    texts(
                        view,
                        &[Some("420106"), Some("420106"), Some(""), Some("bad")],
                    ),
                ),
                (
                    "to_region",
                    texts(
                        view,
                        &[Some("330302"), Some("330302"), None, Some("330302")],
                    ),
                ),
            ]);
            let all = read(Kind::Travel, &b, Ends::FromAndTo);
            // The unknown mode and the unreadable origin say nothing; an empty origin is none.
            assert_eq!(all.len(), 2, "{all:?}");
            assert_eq!(
                all[0],
                Arrival {
                    person: 1,
                    date: day("2020-01-22"),
                    time: Timestamp(at("2020-01-21T16:30:00Z")),
                    kind: ArrivalKind::Rail,
                    from: region(420106),
                    to: region(330302),
                }
            );
            assert_eq!(
                (all[1].kind, all[1].from, all[1].to),
                (ArrivalKind::Ship, None, None)
            );
            let from_only = read(Kind::Travel, &b, Ends::From);
            assert_eq!(from_only[0], Arrival { to: None, ..all[0] });
        }
    }

    #[test]
    fn passes_registrations_and_visits() {
        let times = || {
            Arc::new(TimestampMillisecondArray::from(vec![
                at("2020-01-22T09:00:00+08:00"),
                at("2020-01-23T09:00:00+08:00"),
                at("2020-01-24T09:00:00+08:00"),
            ])) as ArrayRef
        };
        let people = || Arc::new(Int64Array::from(vec![7, 8, 9])) as ArrayRef;
        let passes = batch(vec![
            ("person_id", people()),
            ("time", times()),
            (
                "origin_region",
                texts(true, &[Some("420100"), None, Some("")]),
            ),
            (
                "region",
                texts(true, &[Some("330302"), Some("330303"), Some("330304")]),
            ),
        ]);
        let got: Vec<_> = read(Kind::Checkpoint, &passes, Ends::FromAndTo)
            .into_iter()
            .map(|a| (a.person, a.date, a.kind, a.from, a.to))
            .collect();
        assert_eq!(
            got,
            [
                (
                    7,
                    day("2020-01-22"),
                    ArrivalKind::Road,
                    region(420100),
                    region(330302)
                ),
                (
                    8,
                    day("2020-01-23"),
                    ArrivalKind::Road,
                    None,
                    region(330303)
                ),
                (
                    9,
                    day("2020-01-24"),
                    ArrivalKind::Road,
                    None,
                    region(330304)
                ),
            ]
        );

        let registrations = batch(vec![
            ("person_id", people()),
            (
                "arrival_date",
                Arc::new(Date32Array::from(vec![day("2020-01-22").days(); 3])),
            ),
            (
                "from_region",
                texts(false, &[Some("420100"), Some("420900"), Some("110101")]),
            ),
            (
                "stay_region",
                texts(false, &[Some("330302"), None, Some("330302")]),
            ),
        ]);
        let got = read(Kind::Registrations, &registrations, Ends::FromAndTo);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].time, day("2020-01-22").start(Zone::CST));
        assert_eq!(
            (got[0].kind, got[1].from, got[1].to),
            (ArrivalKind::Registration, region(420900), None)
        );

        let mut lists = ListBuilder::new(StringBuilder::new());
        lists.append_value([Some("420100"), Some(""), None, Some("420900")]);
        lists.append_null();
        lists.append_value([Some("110101")]);
        let reports = batch(vec![
            ("person_id", people()),
            ("time", times()),
            ("visited_regions", Arc::new(lists.finish())),
        ]);
        let got: Vec<_> = read(Kind::SelfReports, &reports, Ends::FromAndTo)
            .into_iter()
            .map(|a| (a.person, a.date, a.kind, a.from, a.to))
            .collect();
        let visit = |p, d, r| (p, day(d), ArrivalKind::SelfReport, region(r), None);
        assert_eq!(
            got,
            [
                visit(7, "2020-01-22", 420100),
                visit(7, "2020-01-22", 420900),
                visit(9, "2020-01-24", 110101),
            ]
        );
        // A slice of the batch reads its own rows' lists.
        let got = read(Kind::SelfReports, &reports.slice(2, 1), Ends::From);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].from, region(110101));
    }

    #[test]
    fn a_missing_or_mistyped_column_is_named() {
        let b = batch(vec![(
            "person_id",
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
        )]);
        let e = read_arrivals(Kind::Checkpoint, &b, Zone::CST, Ends::From, |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "column time is missing");
        let b = batch(vec![
            ("person_id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("arrival_date", Arc::new(Int64Array::from(vec![1]))),
        ]);
        let e = read_arrivals(Kind::Registrations, &b, Zone::CST, Ends::From, |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "column arrival_date is not a date");
        // Kinds without arrivals read nothing.
        read_arrivals(Kind::Persons, &b, Zone::CST, Ends::From, |_| panic!()).unwrap();
    }

    #[test]
    fn the_columns_read_are_the_columns_named() {
        for kind in ARRIVAL_KINDS {
            let from = arrival_columns(kind, Ends::From);
            let both = arrival_columns(kind, Ends::FromAndTo);
            assert!(from.iter().all(|c| both.contains(c)), "{kind:?}");
            let spec = kind.spec();
            for c in both {
                assert!(spec.columns.iter().any(|s| s.name == *c), "{kind:?} {c}");
            }
        }
    }
}
