//! The registry of input kinds: for each kind its columns, which are required, how each is
//! typed and stored, the date it is partitioned by, and cross-field checks. Ingest, the store's
//! schemas, the generator and the docs all read this one table.

use std::fmt;

use crate::value::{Diagnosis, Direction, LabResult, Mode, OccupantRole, Product, RiskLevel};

mod applications;
mod checkins;
mod checkpoint;
mod city_cases;
mod device_registrations;
mod employment;
mod enterprises;
mod job_seekers;
mod jobs;
mod lab_results;
mod listings;
mod migration;
mod persons;
mod power;
mod price_baselines;
mod registrations;
mod risk_areas;
mod self_reports;
mod station_scans;
mod travel;
mod venues;

/// How a field is parsed and normalised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldType {
    /// GB 11643 identity number with check character and birth date.
    PersonId,
    /// GB 32100 unified social credit code with check character.
    EnterpriseId,
    /// 6-digit region code.
    Region,
    /// `;`-separated region codes (a JSON array is accepted too).
    RegionList,
    /// Free text, trimmed.
    Text,
    /// A short code compared exactly: trimmed and upper-cased (`g1234` is `G1234`).
    Token,
    /// A carriage number: digits are zero-padded to two (`5` is `05`), anything else a token.
    Car,
    /// A phone number: 7 to 15 digits once spaces, dashes, brackets and a `+86` prefix are removed.
    Phone,
    /// `M`/`F` (also `male`/`female`, `男`/`女`).
    Sex,
    /// One of a closed set of lowercase names (input is matched case-insensitively).
    Enum(&'static [&'static str]),
    /// RFC 3339 with an offset; stored as an instant.
    Timestamp,
    /// `YYYY-MM-DD`.
    Date,
    /// A finite decimal number within bounds.
    Float { min: f64, max: f64 },
    /// A whole number within bounds.
    Int { min: i64, max: i64 },
    /// `true`/`false` (also `1`/`0`, `yes`/`no`).
    Bool,
}

impl FieldType {
    pub const MODE: FieldType = FieldType::Enum(Mode::NAMES);
    pub const DIRECTION: FieldType = FieldType::Enum(Direction::NAMES);
    pub const OCCUPANT_ROLE: FieldType = FieldType::Enum(OccupantRole::NAMES);
    pub const LAB_RESULT: FieldType = FieldType::Enum(LabResult::NAMES);
    pub const DIAGNOSIS: FieldType = FieldType::Enum(Diagnosis::NAMES);
    pub const RISK_LEVEL: FieldType = FieldType::Enum(RiskLevel::NAMES);
    pub const PRODUCT: FieldType = FieldType::Enum(Product::NAMES);

    /// A short description for docs and error messages.
    pub fn describe(&self) -> String {
        match self {
            FieldType::PersonId => "18-character resident id (GB 11643)".into(),
            FieldType::EnterpriseId => "18-character credit code (GB 32100)".into(),
            FieldType::Region => "6-digit region code".into(),
            FieldType::RegionList => "region codes separated by ;".into(),
            FieldType::Text => "text".into(),
            FieldType::Token => "code".into(),
            FieldType::Car => "car number".into(),
            FieldType::Phone => "phone number".into(),
            FieldType::Sex => "M or F".into(),
            FieldType::Enum(names) => names.join(" | "),
            FieldType::Timestamp => "RFC 3339 time with offset".into(),
            FieldType::Date => "date YYYY-MM-DD".into(),
            FieldType::Float { min, max } => format!("number {min}..{max}"),
            FieldType::Int { min, max } => format!("whole number {min}..{max}"),
            FieldType::Bool => "true or false".into(),
        }
    }
}

/// Where a column's value lives in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// In the kind's Parquet files as parsed.
    Plain,
    /// A person id: the store holds only its keyed pseudonym.
    Pseudonym,
    /// Personal details (names, phones, addresses, plates, free notes): sealed in the vault,
    /// absent from the kind's Parquet files.
    Vault,
}

/// One column of an input kind.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
    pub storage: Storage,
}

impl Column {
    const fn new(name: &'static str, ty: FieldType, required: bool) -> Column {
        let storage = if matches!(ty, FieldType::PersonId) {
            Storage::Pseudonym
        } else {
            Storage::Plain
        };
        Column {
            name,
            ty,
            required,
            storage,
        }
    }

    /// A sealed personal detail.
    const fn sealed(self) -> Column {
        Column {
            storage: Storage::Vault,
            ..self
        }
    }
}

/// A required column.
const fn req(name: &'static str, ty: FieldType) -> Column {
    Column::new(name, ty, true)
}

/// An optional column.
const fn opt(name: &'static str, ty: FieldType) -> Column {
    Column::new(name, ty, false)
}

/// A check across the fields of one row.
#[derive(Clone, Copy, Debug)]
pub enum RowCheck {
    /// When both are present, `later` must not be before `earlier` (times or dates).
    NotBefore {
        earlier: &'static str,
        later: &'static str,
    },
}

/// Everything the system knows about one input kind.
#[derive(Debug)]
pub struct KindSpec {
    pub kind: Kind,
    /// One line for docs and `--help`.
    pub about: &'static str,
    pub columns: &'static [Column],
    /// The timestamp or date column whose calendar date (in the deployment zone) partitions
    /// the stored files; `None` for reference kinds kept whole.
    pub partition_by: Option<&'static str>,
    pub checks: &'static [RowCheck],
}

impl KindSpec {
    pub fn column(&self, name: &str) -> Option<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
    }

    pub fn column_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|c| c.name)
    }

    /// True when some column is sealed in the vault.
    pub fn has_vault_columns(&self) -> bool {
        self.columns.iter().any(|c| c.storage == Storage::Vault)
    }
}

macro_rules! kinds {
    ($($variant:ident => $module:ident),+ $(,)?) => {
        /// An input kind; its name is the file stem and the SQL table name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind { $($variant),+ }

        impl Kind {
            /// Every kind, in the contract's order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),+];

            pub fn spec(self) -> &'static KindSpec {
                match self { $(Kind::$variant => &$module::SPEC),+ }
            }

            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => stringify!($module)),+ }
            }

            pub fn parse(s: &str) -> Option<Kind> {
                match s { $(stringify!($module) => Some(Kind::$variant),)+ _ => None }
            }
        }
    };
}

kinds! {
    Persons => persons,
    Travel => travel,
    StationScans => station_scans,
    Checkpoint => checkpoint,
    Venues => venues,
    Checkins => checkins,
    SelfReports => self_reports,
    Registrations => registrations,
    LabResults => lab_results,
    RiskAreas => risk_areas,
    Enterprises => enterprises,
    Employment => employment,
    Power => power,
    Jobs => jobs,
    JobSeekers => job_seekers,
    Applications => applications,
    Listings => listings,
    DeviceRegistrations => device_registrations,
    PriceBaselines => price_baselines,
    Migration => migration,
    CityCases => city_cases,
}

impl Kind {
    /// The kind named by a file name: its stem up to the first `-` or `.`
    /// (`travel-2020-01-23.jsonl` is `travel`).
    pub fn from_file_name(name: &str) -> Option<Kind> {
        let stem = name.split(['-', '.']).next().unwrap_or("");
        Kind::parse(stem)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_name_their_kind() {
        assert_eq!(Kind::from_file_name("travel.csv"), Some(Kind::Travel));
        assert_eq!(
            Kind::from_file_name("travel-2020-01-23.jsonl"),
            Some(Kind::Travel)
        );
        assert_eq!(Kind::from_file_name("travel.parquet"), Some(Kind::Travel));
        assert_eq!(
            Kind::from_file_name("station_scans-part1.csv"),
            Some(Kind::StationScans)
        );
        assert_eq!(Kind::from_file_name("travels.csv"), None);
        assert_eq!(Kind::from_file_name("Travel.csv"), None);
    }

    #[test]
    fn the_registry_is_consistent() {
        // The contract's 15, §8's `applications` and §9's three market kinds, then the two
        // public-data kinds (migration, city_cases).
        assert_eq!(Kind::ALL.len(), 21);
        for &k in Kind::ALL {
            let spec = k.spec();
            assert_eq!(spec.kind, k);
            assert_eq!(Kind::parse(k.name()), Some(k));
            let mut names: Vec<_> = spec.column_names().collect();
            let n = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), n, "{k} has a repeated column");
            if let Some(p) = spec.partition_by {
                let (_, col) = spec
                    .column(p)
                    .unwrap_or_else(|| panic!("{k}: no column {p}"));
                assert!(col.required, "{k}: partition column must be required");
                assert!(matches!(col.ty, FieldType::Timestamp | FieldType::Date));
            }
            for check in spec.checks {
                let RowCheck::NotBefore { earlier, later } = check;
                let (_, a) = spec.column(earlier).unwrap();
                let (_, b) = spec.column(later).unwrap();
                assert_eq!(a.ty, b.ty, "{k}: {earlier} and {later} differ in type");
            }
            for c in spec.columns {
                if c.storage == Storage::Vault {
                    assert!(
                        matches!(c.ty, FieldType::Text | FieldType::Phone),
                        "{k}.{} sealed",
                        c.name
                    );
                }
            }
        }
    }

    #[test]
    fn columns_follow_the_contract_table() {
        let cols = |k: Kind| k.spec().column_names().collect::<Vec<_>>().join(",");
        let required = |k: Kind| {
            k.spec()
                .columns
                .iter()
                .filter(|c| c.required)
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(
            cols(Kind::Travel),
            "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time"
        );
        assert_eq!(
            required(Kind::Travel),
            "person_id,mode,service_no,service_date,from_region,depart_time,to_region,arrive_time"
        );
        assert_eq!(
            cols(Kind::Checkpoint),
            "pass_id,plate,person_id,role,checkpoint_id,region,time,origin_region,destination_region,purpose"
        );
        assert_eq!(
            required(Kind::LabResults),
            "person_id,sample_time,result,reported_time"
        );
        assert_eq!(required(Kind::RiskAreas), "region,level,valid_from");
        assert_eq!(
            required(Kind::Enterprises),
            "enterprise_id,name,industry,region"
        );
        assert_eq!(
            cols(Kind::JobSeekers),
            "person_id,skill,region,available_from"
        );
        assert_eq!(
            cols(Kind::Applications),
            "application_id,enterprise_id,person_id,start_date,submitted_time"
        );
        assert_eq!(
            required(Kind::Applications),
            "application_id,enterprise_id,person_id,start_date"
        );
        assert_eq!(
            cols(Kind::Listings),
            "platform,listing_id,shop_id,seller_enterprise_id,seller_region,title,product,standard,registration_no,price_cny,units,sales,captured_time"
        );
        assert_eq!(
            required(Kind::Listings),
            "platform,listing_id,shop_id,title,product,price_cny,units,captured_time"
        );
        assert_eq!(
            cols(Kind::DeviceRegistrations),
            "registration_no,holder_enterprise_id,product,valid_from,valid_to"
        );
        assert_eq!(
            required(Kind::DeviceRegistrations),
            "registration_no,holder_enterprise_id,product,valid_from"
        );
        assert_eq!(
            cols(Kind::PriceBaselines),
            "shop_id,product,unit_price_cny,date"
        );
        assert_eq!(
            required(Kind::PriceBaselines),
            "shop_id,product,unit_price_cny,date"
        );
        // Sellers and registration holders are enterprises: nothing of these kinds is a
        // person's, so nothing is pseudonymised or sealed.
        for k in [
            Kind::Listings,
            Kind::DeviceRegistrations,
            Kind::PriceBaselines,
        ] {
            assert!(k.spec().columns.iter().all(|c| c.storage == Storage::Plain));
        }
    }
}
