//! Return-to-work applications (contract §8.1): a few enterprises ask, around the day they
//! reopen, for many of their employees to come back — one large one for about 1,700 (as
//! L'Oréal did in Shanghai's Jing'an district), the others for a share of their staff. Which
//! enterprises apply is decided once from the enterprises alone; who is on an application is
//! decided per resident while employment is streamed, so no worker list is kept.

use model::{Date, Timestamp};

use crate::World;
use crate::economy::Enterprise;
use crate::rng::{Rng, tag};

/// The employees the large application asks for (as many as its enterprise has, if fewer).
const LARGE: f64 = 1_700.0;

/// Who applies.
#[derive(Debug)]
pub struct Applicants {
    /// The enterprise applying for (about) [`LARGE`] employees: the one whose expected local
    /// staff comes closest to it.
    large: Option<u64>,
    /// Share of the other enterprises that apply.
    rate: f64,
    /// The chance that a resident working elsewhere is on the large application by mistake:
    /// about 2% of its rows.
    stray: f64,
    seed: u64,
}

/// One enterprise's application.
#[derive(Clone, Debug)]
pub struct Application {
    pub id: String,
    /// The first working day asked for: the day the enterprise reopens.
    pub start: Date,
    /// The share of its employees on it.
    pub share: f64,
}

impl Applicants {
    pub fn new(world: &World) -> Applicants {
        let eco = world.economy;
        let mut large = None;
        let mut best = f64::INFINITY;
        let mut staff_of_large = 0.0;
        for g in 0..eco.total {
            let e = eco.enterprise(world.layout, g);
            let staff = e.employees as f64 * e.local_share;
            let miss = (staff - LARGE).abs();
            if miss < best {
                best = miss;
                large = Some(g);
                staff_of_large = staff;
            }
        }
        Applicants {
            large,
            rate: world.rates.applications,
            stray: 0.02 * staff_of_large / world.layout.residents.max(1) as f64,
            seed: world.seed,
        }
    }

    /// The application enterprise `e` makes, if it applies.
    pub fn of(&self, e: &Enterprise) -> Option<Application> {
        let mut r = Rng::at(self.seed, tag::APPLICATION, e.idx, 0);
        let share = if self.large == Some(e.idx) {
            1.0
        } else if r.chance(self.rate) {
            0.4 + 0.6 * r.f64()
        } else {
            return None;
        };
        Some(Application {
            id: format!(
                "A{}-{:06}",
                e.id.as_str().get(2..8).unwrap_or("000000"),
                e.idx
            ),
            start: e.reopen,
            share,
        })
    }

    /// Whether the resident `idx`, employed by an applicant, is on its application, and when
    /// the row was submitted (one to four days before the start, in office hours).
    pub fn row(&self, world: &World, a: &Application, idx: u64) -> Option<Timestamp> {
        let mut r = Rng::at(self.seed, tag::APPLICATION, idx, 1);
        if !r.chance(a.share) {
            return None;
        }
        let day = a.start.add_days(-(1 + r.below(4) as i32));
        let secs = 9 * 3600 + r.below(8 * 3600) as i64;
        Some(day.start(world.zone).add_ms(secs * 1000))
    }

    /// Whether resident `idx`, who works elsewhere (or nowhere), is put on the large
    /// application by mistake: a few rows the decision answers `not_employee`.
    pub fn stray(&self, idx: u64) -> bool {
        self.large.is_some() && Rng::at(self.seed, tag::APPLICATION, idx, 2).chance(self.stray)
    }

    pub fn large(&self) -> Option<u64> {
        self.large
    }
}
