//! Public datasets for the data dir: Baidu migration shares, DXY city case counts and the risk
//! areas derived from them, read (`opendata`) and turned into files of the store's public kinds
//! that are ingested by the ordinary run ([`crate::datadir::ingest_files`]), so they are
//! validated, deduplicated and queryable like any input. Nothing here is about a person.

use std::path::{Path, PathBuf};

use model::{Date, Kind, Zone};
use opendata::risk;
use store::Writer;
use vault::Keys;

use crate::EngineError;

pub use opendata::OpenDataError;
pub use opendata::risk::RiskRule;

/// One file of an import: a name standing for one dataset derived one way
/// (`risk_areas-dxy.csv`), its kind, and its CSV text.
#[derive(Clone, Debug)]
pub struct ImportFile {
    pub name: &'static str,
    pub kind: Kind,
    pub text: String,
}

/// Baidu Qianxi shares read from a folder.
#[derive(Clone, Debug)]
pub struct BaiduImport {
    pub shares: u64,
    pub rows_read: u64,
    /// Rows without a region code, and repeated rows, left out.
    pub unmapped: u64,
    pub duplicates: u64,
    /// The first and last day of the shares (`None` when there are none).
    pub dates: Option<(Date, Date)>,
    pub files: Vec<ImportFile>,
}

/// Reads the three Baidu files in `dir` as the `migration` kind.
pub fn read_baidu(dir: &Path) -> Result<BaiduImport, OpenDataError> {
    let m = opendata::baidu::read(dir)?;
    Ok(BaiduImport {
        shares: m.shares.len() as u64,
        rows_read: m.rows_read.iter().sum(),
        unmapped: m.unmapped,
        duplicates: m.duplicates,
        dates: m.first_date().zip(m.last_date()),
        files: vec![ImportFile {
            name: "migration-baidu.csv",
            kind: Kind::Migration,
            text: m.to_csv(),
        }],
    })
}

/// Periods of each risk level derived from case counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskPeriods {
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

/// DXY city case counts read from a folder or file, and the risk areas derived from them.
#[derive(Clone, Debug)]
pub struct DxyImport {
    pub counts: u64,
    pub regions: usize,
    pub rows_read: u64,
    /// Rows without a region code left out, and names merged into another of the same code.
    pub unmapped: u64,
    pub merged: u64,
    pub dates: Option<(Date, Date)>,
    /// With a rule: the risk periods derived (their file is among `files`).
    pub risk: Option<RiskPeriods>,
    pub files: Vec<ImportFile>,
}

/// Reads `dxy_city_daily.csv` at `path` as the `city_cases` kind and, with `rule`, derives
/// `risk_areas` from it.
pub fn read_dxy(path: &Path, rule: Option<RiskRule>) -> Result<DxyImport, OpenDataError> {
    let c = opendata::dxy::read(path)?;
    let mut files = vec![ImportFile {
        name: "city_cases-dxy.csv",
        kind: Kind::CityCases,
        text: c.to_csv(),
    }];
    let risk = rule.map(|rule| {
        let areas = risk::derive(&c.counts, rule);
        let count = |l: risk::Level| areas.iter().filter(|x| x.level == l).count();
        files.push(ImportFile {
            name: "risk_areas-dxy.csv",
            kind: Kind::RiskAreas,
            text: risk::to_csv(&areas),
        });
        RiskPeriods {
            high: count(risk::Level::High),
            medium: count(risk::Level::Medium),
            low: count(risk::Level::Low),
        }
    });
    Ok(DxyImport {
        counts: c.counts.len() as u64,
        regions: c.regions(),
        rows_read: c.rows_read,
        unmapped: c.unmapped,
        merged: c.merged,
        dates: c.first_date().zip(c.last_date()),
        risk,
        files,
    })
}

/// Files written to a fresh private folder outside the data dir, to be ingested; the folder
/// goes when this is dropped.
pub struct Staged {
    _dir: tempfile::TempDir,
    pub paths: Vec<PathBuf>,
}

/// Writes `files` under their names to a fresh private folder.
pub fn stage(files: &[ImportFile]) -> std::io::Result<Staged> {
    let dir = tempfile::Builder::new().prefix("fangyi-import").tempdir()?;
    let mut paths = Vec::with_capacity(files.len());
    for f in files {
        let path = dir.path().join(f.name);
        std::fs::write(&path, &f.text)?;
        paths.push(path);
    }
    Ok(Staged { _dir: dir, paths })
}

/// After `file` was ingested: removes the sources of its kind imported earlier under its name
/// with other content (an updated dataset, other thresholds), so importing again replaces
/// instead of stacking. Returns the rows removed.
pub fn replace_earlier(
    data: &Path,
    keys: &Keys,
    zone: Zone,
    file: &ImportFile,
) -> Result<u64, EngineError> {
    let hash = blake3::hash(file.text.as_bytes()).to_hex().to_string();
    let mut writer =
        Writer::open(data, keys.key_id(), zone, || {}).map_err(EngineError::internal)?;
    let removed = writer
        .remove_sources(|s| {
            s.kind() == Some(file.kind)
                && s.blake3 != hash
                && Path::new(&s.name).file_name() == Some(file.name.as_ref())
        })
        .map_err(EngineError::internal)?;
    Ok(removed.rows)
}
