//! Places with a check-in code: each community's market, supermarkets, restaurants, pharmacy
//! and health station; each county's malls and fever clinics; one office per enterprise.

use crate::layout::{Layout, push_code, push_padded};
use crate::rng::{Rng, tag};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueKind {
    Market,
    Supermarket,
    Restaurant,
    Pharmacy,
    Clinic,
    Mall,
    FeverClinic,
    Office,
}

impl VenueKind {
    pub fn text(self) -> &'static str {
        match self {
            VenueKind::Market => "market",
            VenueKind::Supermarket => "supermarket",
            VenueKind::Restaurant => "restaurant",
            VenueKind::Pharmacy => "pharmacy",
            VenueKind::Clinic => "clinic",
            VenueKind::Mall => "mall",
            VenueKind::FeverClinic => "fever_clinic",
            VenueKind::Office => "office",
        }
    }

    fn letter(self) -> u8 {
        match self {
            VenueKind::Market => b'M',
            VenueKind::Supermarket => b'S',
            VenueKind::Restaurant => b'R',
            VenueKind::Pharmacy => b'P',
            VenueKind::Clinic => b'C',
            VenueKind::Mall => b'L',
            VenueKind::FeverClinic => b'F',
            VenueKind::Office => b'E',
        }
    }

    /// Transmission rate per hour of shared stay, before the global multiplier. Crowded,
    /// long, talkative settings rank higher; offices are large and spread out.
    pub fn beta_per_hour(self) -> f64 {
        match self {
            VenueKind::Market => 0.004,
            VenueKind::Supermarket => 0.002,
            VenueKind::Restaurant => 0.01,
            VenueKind::Pharmacy => 0.002,
            VenueKind::Clinic => 0.004,
            VenueKind::Mall => 0.0015,
            VenueKind::FeverClinic => 0.004,
            VenueKind::Office => 0.0,
        }
    }
}

/// Venues every community has, with how many of each.
pub const COMMUNITY_VENUES: &[(VenueKind, u8)] = &[
    (VenueKind::Market, 1),
    (VenueKind::Supermarket, 2),
    (VenueKind::Restaurant, 4),
    (VenueKind::Pharmacy, 1),
    (VenueKind::Clinic, 1),
];
/// Venues every county has.
pub const COUNTY_VENUES: &[(VenueKind, u8)] = &[(VenueKind::Mall, 2), (VenueKind::FeverClinic, 2)];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Venue {
    Community {
        comm: u32,
        kind: VenueKind,
        n: u8,
    },
    County {
        county: u32,
        kind: VenueKind,
        n: u8,
    },
    /// An enterprise's office: county and the enterprise's number within the county.
    Office {
        county: u32,
        j: u64,
        ent: u64,
    },
}

impl Venue {
    /// A unique number for lookups.
    pub fn key(&self) -> u64 {
        match *self {
            Venue::Community { comm, kind, n } => {
                (1 << 62) | (u64::from(comm) << 12) | ((kind as u64) << 6) | u64::from(n)
            }
            Venue::County { county, kind, n } => {
                (2 << 62) | (u64::from(county) << 12) | ((kind as u64) << 6) | u64::from(n)
            }
            Venue::Office { ent, .. } => (3 << 62) | ent,
        }
    }

    pub fn kind(&self) -> VenueKind {
        match *self {
            Venue::Community { kind, .. } | Venue::County { kind, .. } => kind,
            Venue::Office { .. } => VenueKind::Office,
        }
    }

    /// `V330302001R2` (community), `V330302F1` (county), `V330302E00012` (office).
    pub fn write_id(&self, layout: &Layout, out: &mut Vec<u8>) {
        out.push(b'V');
        match *self {
            Venue::Community { comm, kind, n } => {
                let cm = &layout.communities[comm as usize];
                push_code(out, layout.counties[cm.county as usize].region.code());
                push_padded(out, u64::from(cm.ordinal), 3);
                out.push(kind.letter());
                push_padded(out, u64::from(n), 1);
            }
            Venue::County { county, kind, n } => {
                push_code(out, layout.counties[county as usize].region.code());
                out.push(kind.letter());
                push_padded(out, u64::from(n), 1);
            }
            Venue::Office { county, j, .. } => {
                push_code(out, layout.counties[county as usize].region.code());
                out.push(b'E');
                push_padded(out, j, 5);
            }
        }
    }

    pub fn name(&self, layout: &Layout, office_name: Option<&str>) -> String {
        let mut r = Rng::at(layout.seed, tag::VENUE, self.key(), 0);
        match *self {
            Venue::Community { comm, kind, n } => {
                let cm = &layout.communities[comm as usize];
                let base: String = cm
                    .name
                    .trim_end_matches("花园社区")
                    .trim_end_matches("社区")
                    .trim_end_matches("新村")
                    .trim_end_matches('村')
                    .to_string();
                match kind {
                    VenueKind::Market => format!("{base}农贸市场"),
                    VenueKind::Supermarket => {
                        let brands = [
                            "联华超市",
                            "华润万家",
                            "世纪联华",
                            "物美超市",
                            "永辉超市",
                            "好又多便利",
                        ];
                        format!(
                            "{}({base}店)",
                            brands[(r.below(brands.len() as u64) as usize + n as usize)
                                % brands.len()]
                        )
                    }
                    VenueKind::Restaurant => {
                        let kinds = [
                            "面馆",
                            "小吃店",
                            "酒家",
                            "饭店",
                            "快餐",
                            "海鲜大排档",
                            "馄饨店",
                        ];
                        format!(
                            "{base}{}",
                            kinds
                                [(r.below(kinds.len() as u64) as usize + n as usize) % kinds.len()]
                        )
                    }
                    VenueKind::Pharmacy => format!("{base}大药房"),
                    _ => format!("{base}社区卫生服务站"),
                }
            }
            Venue::County { county, kind, n } => {
                let short = &layout.counties[county as usize].short;
                match (kind, n) {
                    (VenueKind::Mall, 1) => format!("{short}银泰城"),
                    (VenueKind::Mall, _) => format!("{short}万达广场"),
                    (_, 1) => format!("{short}人民医院发热门诊"),
                    _ => format!("{short}中医院发热门诊"),
                }
            }
            Venue::Office { .. } => office_name.unwrap_or("办公楼").to_string(),
        }
    }

    /// Latitude and longitude near the community's or county's point.
    pub fn lat_lon(&self, layout: &Layout) -> (f64, f64) {
        let mut r = Rng::at(layout.seed, tag::VENUE, self.key(), 1);
        let (lon, lat) = match *self {
            Venue::Community { comm, .. } => layout.communities[comm as usize].point,
            Venue::County { county, .. } | Venue::Office { county, .. } => {
                layout.counties[county as usize].point
            }
        };
        let spread = if matches!(self, Venue::Community { .. }) {
            0.008
        } else {
            0.04
        };
        let lat = lat + (r.f64() - 0.5) * spread;
        let lon = lon + (r.f64() - 0.5) * spread;
        ((lat * 1e6).round() / 1e6, (lon * 1e6).round() / 1e6)
    }
}
