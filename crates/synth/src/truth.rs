//! Ground truth beside the data: every infection with its infector, route and place and what
//! became of it, the list of injected bad rows, and the run's summary.

use std::io::Write;
use std::path::Path;

use model::Timestamp;

use crate::Error;
use crate::World;
use crate::bad_rows::BadRow;
use crate::layout::BlockCache;
use crate::outbreak::Outbreak;

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn csv_cell(s: &str, out: &mut String) {
    if s.contains([',', '"', '\n']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// Infections, cases, and each case's (county, report date).
pub type Counted = (u64, u64, Vec<(u32, model::Date)>);

/// `infections.csv`; returns (infections, cases) and each case's (county, report date).
pub fn infections(
    world: &World,
    outbreak: &Outbreak,
    dir: &Path,
    end: Timestamp,
) -> Result<Counted, Error> {
    let zone = world.zone;
    let mut list: Vec<&crate::outbreak::Case> = outbreak.cases.values().collect();
    list.sort_by_key(|c| (c.infected, c.idx));
    let mut cache = BlockCache::default();
    let mut out = String::with_capacity(64 * list.len() + 128);
    out.push_str(
        "person_id,infected_time,infector_id,via,place,onset_date,outcome,reported_time\n",
    );
    let mut cases = 0;
    let mut reports = Vec::new();
    for c in &list {
        out.push_str(&c.id.to_string());
        out.push(',');
        out.push_str(&c.infected.to_rfc3339(zone));
        out.push(',');
        if let Some(i) = c.infector {
            out.push_str(&world.layout.person(i, &mut cache).id.to_string());
        }
        out.push(',');
        out.push_str(c.via.text());
        out.push(',');
        csv_cell(&c.place, &mut out);
        out.push(',');
        if !c.asymptomatic {
            out.push_str(&c.onset.date(zone).to_string());
        }
        out.push(',');
        match c.report_before(end) {
            Some((t, confirmed)) => {
                cases += 1;
                reports.push((c.county, t.date(zone)));
                out.push_str(if confirmed {
                    "confirmed"
                } else {
                    "asymptomatic"
                });
                out.push(',');
                out.push_str(&t.to_rfc3339(zone));
            }
            None => out.push_str("undetected,"),
        }
        out.push('\n');
    }
    write_file(&dir.join("infections.csv"), out.as_bytes())?;
    Ok((list.len() as u64, cases, reports))
}

pub fn bad_rows(dir: &Path, bad: &mut [BadRow]) -> Result<(), Error> {
    bad.sort();
    let mut out = String::from("file,line,column,what\n");
    for b in bad.iter() {
        csv_cell(&b.file, &mut out);
        out.push(',');
        out.push_str(&b.line.to_string());
        out.push(',');
        out.push_str(b.column);
        out.push(',');
        out.push_str(b.what);
        out.push('\n');
    }
    write_file(&dir.join("bad_rows.csv"), out.as_bytes())
}

/// Marks `dir` as ground truth, which ingest skips when it walks the generated folder.
pub fn mark(dir: &Path) -> Result<(), Error> {
    write_file(
        &dir.join(model::GROUND_TRUTH_MARKER),
        b"ground truth written by fangyi gen; `fangyi ingest` skips this folder\n",
    )
}

pub fn summary(dir: &Path, json: &serde_json::Value) -> Result<(), Error> {
    let mut text = serde_json::to_string_pretty(json).expect("serialisable");
    text.push('\n');
    write_file(&dir.join("summary.json"), text.as_bytes())
}

/// The true per-industry recovery curves: per industry and simulated day, the share of their
/// normal power use the industry's enterprises drew (weighted by their normal use; before
/// weekends and meter noise). Constant memory: one sum per industry-day.
#[derive(Debug, Default)]
pub struct Curves {
    sums: std::collections::BTreeMap<(model::Date, usize), (f64, f64, u64)>,
}

impl Curves {
    pub fn new() -> Curves {
        Curves::default()
    }

    pub fn add(
        &mut self,
        economy: &crate::economy::Economy,
        e: &crate::economy::Enterprise,
        day: model::Date,
    ) {
        let base = e.employees as f64 * crate::names::INDUSTRIES[e.industry].3;
        let (a, _) = economy.power_activity(e, day);
        let s = self.sums.entry((day, e.industry)).or_default();
        s.0 += base * a;
        s.1 += base;
        s.2 += 1;
    }

    /// `power_recovery.csv`: `industry,date,enterprises,activity` (4 decimals), by industry
    /// and date.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        let mut rows: Vec<_> = self.sums.iter().collect();
        rows.sort_by_key(|((day, industry), _)| (crate::names::INDUSTRIES[*industry].0, *day));
        let mut out = String::from("industry,date,enterprises,activity\n");
        for ((day, industry), (used, normal, n)) in rows {
            let share = if *normal > 0.0 { used / normal } else { 0.0 };
            out.push_str(&format!(
                "{},{day},{n},{share:.4}\n",
                crate::names::INDUSTRIES[*industry].0
            ));
        }
        write_file(&dir.join("power_recovery.csv"), out.as_bytes())
    }
}
