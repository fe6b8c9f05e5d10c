//! Enterprises and who works where: per-county enterprise counts with a heavy-tailed size
//! distribution sampled in closed form (so no worker list is kept), unified social credit
//! codes, industries, holiday closures and the gradual reopening seen in power use.

use model::{Date, EnterpriseId};

use crate::calendar;
use crate::layout::{Class, Layout, Person};
use crate::names::{self, INDUSTRIES};
use crate::rng::{Affine, Rng, hash, tag, unit};

/// Mean employees per enterprise; enterprise `j` of a county draws `(u^ALPHA)` of its workers.
const MEAN_SIZE: f64 = 45.0;
const ALPHA: f64 = 2.2;
/// Expected share of residents who hold a job (for sizing enterprises).
const EMPLOYED_SHARE: f64 = 0.5;

/// Days power use takes to recover after an enterprise reopens, per industry of
/// [`INDUSTRIES`]: continuous processes and utilities within days, labour-intensive
/// manufacturing, construction and catering (waiting for migrant workers and customers) over
/// weeks. The truth's per-industry recovery curves follow from them.
pub const POWER_RAMP_DAYS: [f64; 14] = [
    24.0, 16.0, 18.0, 8.0, 12.0, 8.0, 20.0, 30.0, 26.0, 14.0, 10.0, 4.0, 8.0, 6.0,
];
const _: () = assert!(POWER_RAMP_DAYS.len() == INDUSTRIES.len());

#[derive(Debug)]
pub struct Economy {
    /// Per county: global index of its first enterprise and how many it has.
    pub first: Vec<u64>,
    pub count: Vec<u64>,
    pub total: u64,
    perm: Affine,
}

#[derive(Clone, Debug)]
pub struct Enterprise {
    pub idx: u64,
    pub county: usize,
    pub id: EnterpriseId,
    pub industry: usize,
    pub critical: bool,
    /// Last full working day before the holiday and the day it starts reopening.
    pub close: Date,
    pub reopen: Date,
    pub employees: u64,
    pub local_share: f64,
    pub output_cny: f64,
}

impl Economy {
    pub fn new(layout: &Layout) -> Economy {
        let mut first = Vec::with_capacity(layout.counties.len());
        let mut count = Vec::with_capacity(layout.counties.len());
        let mut total = 0;
        for c in &layout.counties {
            let n = ((c.pop as f64 * EMPLOYED_SHARE / MEAN_SIZE).round() as u64).max(1);
            first.push(total);
            count.push(n);
            total += n;
        }
        Economy {
            first,
            count,
            total,
            perm: Affine::new(31u64.pow(7), hash(layout.seed, tag::ENTERPRISE, 0, 0)),
        }
    }

    /// The enterprise a resident works for, if they work.
    pub fn employer(&self, layout: &Layout, p: &Person, student: bool) -> Option<u64> {
        if p.is_visitor() || student || !p.works() {
            return None;
        }
        let mut r = Rng::at(layout.seed, tag::ENTERPRISE, p.idx, 1);
        let share = match p.class {
            Class::Migrant => 0.95,
            Class::Young => 0.82,
            Class::Middle => 0.78,
            _ => 0.3,
        };
        if !r.chance(share) {
            return None;
        }
        let k = p.county as usize;
        let n = self.count[k];
        let j = ((n as f64) * r.f64().powf(ALPHA)) as u64;
        Some(self.first[k] + j.min(n - 1))
    }

    pub fn county_of(&self, g: u64) -> usize {
        self.first.partition_point(|&f| f <= g) - 1
    }

    pub fn enterprise(&self, layout: &Layout, g: u64) -> Enterprise {
        let k = self.county_of(g);
        let j = g - self.first[k];
        let n = self.count[k] as f64;
        let c = &layout.counties[k];
        let mut r = Rng::at(layout.seed, tag::ENTERPRISE, g, 2);
        let weights: Vec<f64> = INDUSTRIES.iter().map(|i| i.2).collect();
        let industry = r.weighted(&weights);
        let critical = r.chance(INDUSTRIES[industry].4);
        // Expected local workers of the j-th enterprise under the u^ALPHA draw.
        let workers = c.pop as f64 * EMPLOYED_SHARE * 0.85;
        let share = ((j + 1) as f64 / n).powf(1.0 / ALPHA) - (j as f64 / n).powf(1.0 / ALPHA);
        let local = (workers * share).max(0.0);
        let local_share = 0.55 + 0.4 * r.f64();
        let employees = ((local / local_share).round() as u64).max(1);
        let output_cny = employees as f64 * (2.0e5 + 6.0e5 * r.f64());
        let close = calendar::WUHAN_LOCKDOWN.add_days(-(r.below(6) as i32));
        let reopen = if critical {
            Date::from_ymd(2020, 2, 3).expect("valid")
        } else {
            calendar::HOLIDAY_LAST.add_days(1 + r.erlang(2, 6.0) as i32)
        };
        // 91 (enterprise) + county code + a 9-character organisation code, unique by index.
        let mut body = [b'0'; 17];
        body[0] = b'9';
        body[1] = b'1';
        let code = c.region.code();
        let mut x = code;
        for i in (2..8).rev() {
            body[i] = b'0' + (x % 10) as u8;
            x /= 10;
        }
        body[8] = b'M';
        body[9] = b'A';
        let charset = EnterpriseId::charset();
        let mut v = self.perm.apply(g);
        for i in (10..17).rev() {
            body[i] = charset[(v % 31) as usize];
            v /= 31;
        }
        let id = EnterpriseId::from_body(&body).expect("charset body");
        Enterprise {
            idx: g,
            county: k,
            id,
            industry,
            critical,
            close,
            reopen,
            employees,
            local_share,
            output_cny,
        }
    }

    pub fn name(&self, layout: &Layout, e: &Enterprise) -> String {
        let mut r = Rng::at(layout.seed, tag::ENTERPRISE, e.idx, 3);
        names::company_name(
            &layout.counties[e.county].short,
            &mut r,
            INDUSTRIES[e.industry].1,
        )
    }

    /// Share of normal activity on `day` (also the chance a worker shows up).
    pub fn activity(&self, e: &Enterprise, day: Date) -> f64 {
        calendar::activity(day, e.close, e.reopen, e.critical)
    }

    /// Share of its normal power use an enterprise draws on `day` before weekends and noise:
    /// in 2020 the holiday dip and reopening at its industry's pace ([`POWER_RAMP_DAYS`]); before
    /// 2020 a normal year (2019's festival and National Day). Also whether `day` is an off day
    /// outside a holiday (a weekend, at 60 %).
    pub fn power_activity(&self, e: &Enterprise, day: Date) -> (f64, bool) {
        let ramp = POWER_RAMP_DAYS[e.industry];
        if day < calendar::YEAR_2020 {
            let close_before = calendar::FESTIVAL.0 - e.close.0;
            let delay = e.reopen.0 - calendar::HOLIDAY_LAST.0 - 1;
            let (a, workday) = calendar::activity_2019(day, close_before, delay, e.critical, ramp);
            (a, !workday && calendar::weekday(day) >= 5)
        } else {
            let a = calendar::power_activity(day, e.close, e.reopen, e.critical, ramp);
            (a, !calendar::is_workday(day) && !calendar::is_holiday(day))
        }
    }

    /// Daily electricity use, with weekends, the holiday dip and reopening.
    pub fn kwh(&self, layout: &Layout, e: &Enterprise, day: Date) -> f64 {
        let base = e.employees as f64 * INDUSTRIES[e.industry].3;
        let (mut a, off) = self.power_activity(e, day);
        if off {
            a *= 0.6;
        }
        let noise = 0.9 + 0.2 * unit(hash(layout.seed, tag::POWER, e.idx, day.0 as u64));
        // Standby load keeps meters running even when closed.
        let kwh = base * (0.05 + 0.95 * a) * noise;
        (kwh * 10.0).round() / 10.0
    }
}
