//! fangyi-synth: a deterministic, streaming generator of a synthetic province in the
//! contract's input formats, with a seeded COVID-19 outbreak whose transmissions happen only
//! through contacts the generated data records, and the ground truth to check against.
//!
//! Nothing is stored per person: everyone's attributes and day are pure functions of the
//! seed, their index, the day and their own (sparse) outbreak state. Each day first collects
//! where infectious people are ("hot units"), then streams everybody in fixed parts on
//! parallel threads and checks their day against those units.

mod applications;
mod bad_rows;
mod calendar;
mod config;
mod economy;
mod error;
mod generate;
mod layout;
mod market;
mod names;
mod network;
mod outbreak;
mod plan;
mod reference;
mod rng;
mod rows;
mod schedule;
mod seats;
mod truth;
mod venues;
mod writer;

pub use config::{Config, Format, Rates};
pub use error::Error;
pub use generate::{Progress, Summary, generate};

/// Everything shared by the generator's threads.
#[derive(Debug)]
pub(crate) struct World<'a> {
    pub config: &'a Config,
    pub layout: &'a layout::Layout,
    pub net: &'a network::Network,
    pub economy: &'a economy::Economy,
    pub planner: plan::Planner<'a>,
    pub rates: &'a Rates,
    pub zone: model::Zone,
    pub seed: u64,
}

#[doc(hidden)]
pub mod testing {
    //! Hooks for tests: the identity numbers the layout gives, without generating files.
    pub fn person_ids(
        config: &crate::Config,
        limit: u64,
    ) -> Result<Vec<(model::PersonId, model::Date, bool)>, crate::Error> {
        let layout = crate::layout::Layout::new(config)?;
        let mut cache = crate::layout::BlockCache::default();
        let n = layout.total().min(limit);
        Ok((0..n)
            .map(|i| {
                let p = layout.person(i, &mut cache);
                (p.id, p.birth, p.male)
            })
            .collect())
    }
}
