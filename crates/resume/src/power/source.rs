//! The power index's input from the store: `enterprises` scanned for the four columns it needs,
//! and `power` a day at a time through the files the manifest lists under that day (column
//! projected: the id, the kWh, and the row id only when a day needs it).

use std::collections::BTreeMap;

use model::{Date, Kind, Region};
use store::{DataFile, RID_COLUMN, Store};

use super::{FirmRow, PowerError, PowerSource};

/// A store's enterprises and readings.
pub struct StoreSource {
    enterprises: Vec<DataFile>,
    by_day: BTreeMap<Date, Vec<DataFile>>,
}

impl StoreSource {
    /// The files of `store` the index reads; a `power` file the manifest lists without its
    /// partition day is refused (the store always records one).
    pub fn new(store: &Store) -> Result<StoreSource, PowerError> {
        let mut by_day: BTreeMap<Date, Vec<DataFile>> = BTreeMap::new();
        for f in store.tables(Kind::Power) {
            let day = f
                .date()
                .ok_or_else(|| f.corrupt("a power file without its partition day"))?;
            by_day.entry(day).or_default().push(f);
        }
        Ok(StoreSource {
            enterprises: store.tables(Kind::Enterprises),
            by_day,
        })
    }
}

impl PowerSource for StoreSource {
    fn firms(&self, each: &mut dyn FnMut(FirmRow<'_>)) -> Result<(), PowerError> {
        for f in &self.enterprises {
            for b in f.scan(&["enterprise_id", "industry", "region", RID_COLUMN])? {
                let b = b?;
                let (ids, industries, regions, rids) = (
                    b.texts("enterprise_id")?,
                    b.texts("industry")?,
                    b.texts("region")?,
                    b.ints(RID_COLUMN)?,
                );
                for i in 0..b.rows() {
                    let region = Region::parse(regions.value(i).as_bytes())
                        .map_err(|e| f.corrupt(format!("region: {}", e.reason())))?;
                    each(FirmRow {
                        id: ids.value(i).as_bytes(),
                        region,
                        industry: industries.value(i),
                        rid: rids.value(i),
                    });
                }
            }
        }
        Ok(())
    }

    fn days(&self, from: Date, to: Date) -> Vec<Date> {
        self.by_day.range(from..=to).map(|(d, _)| *d).collect()
    }

    fn read_day(
        &self,
        day: Date,
        exact: bool,
        each: &mut dyn FnMut(&[u8], f64, i64),
    ) -> Result<(), PowerError> {
        let Some(files) = self.by_day.get(&day) else {
            return Ok(());
        };
        let columns: &[&str] = if exact {
            &["enterprise_id", "kwh", RID_COLUMN]
        } else {
            &["enterprise_id", "kwh"]
        };
        for f in files {
            let source = i64::from(f.source()) << 32;
            for b in f.scan(columns)? {
                let b = b?;
                let (ids, kwh) = (b.texts("enterprise_id")?, b.floats("kwh")?);
                let kwh = kwh.values();
                if exact {
                    let rids = b.ints(RID_COLUMN)?.values();
                    for i in 0..b.rows() {
                        each(ids.value(i).as_bytes(), kwh[i], rids[i]);
                    }
                } else {
                    for (i, &k) in kwh.iter().enumerate() {
                        each(ids.value(i).as_bytes(), k, source);
                    }
                }
            }
        }
        Ok(())
    }
}
