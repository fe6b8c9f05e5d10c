//! Seat allocation: each day, everyone riding a train, flight, coach or ferry is collected
//! (a pre-pass over the population keeping only today's passengers) and given a distinct seat
//! per service and date, travel parties and families side by side, the passengers of a service
//! spread over its cars. A sold-out train sells standing tickets (a car, no seat).

use model::Mode;

use crate::World;
use crate::network::Service;
use crate::rng::{Affine, IntMap, hash, tag};

/// Car (rail, 1-based; 0 otherwise), row or seat number (0 = standing), seat letter.
pub type Seat = (u8, u8, u8);

/// One passenger today: (service, group, position in group, person).
pub type Passenger = (u32, u64, u8, u64);

fn letters(mode: Mode) -> &'static [u8] {
    match mode {
        Mode::Rail => b"ABCDF",
        Mode::Flight => b"ABCDEF",
        _ => b"-",
    }
}

/// Seats per row and the service's capacity.
fn shape(sv: &Service) -> (u64, u64) {
    let per_row = letters(sv.mode).len() as u64;
    let cars = if sv.mode == Mode::Rail {
        u64::from(sv.cars)
    } else {
        1
    };
    (per_row, cars * u64::from(sv.rows) * per_row)
}

fn seat_of(sv: &Service, slot: u64) -> Seat {
    let (per_row, _) = shape(sv);
    let row_slots = u64::from(sv.rows) * per_row;
    let car = slot / row_slots;
    let within = slot % row_slots;
    let row = (within / per_row) as u8 + 1;
    let letter = letters(sv.mode)[(within % per_row) as usize];
    match sv.mode {
        Mode::Rail => (car as u8 + 1, row, letter),
        Mode::Flight => (0, row, letter),
        _ => (0, row, 0),
    }
}

/// Allocates seats to today's passengers, sorted by service, group and position.
pub fn allocate(
    world: &World,
    day: model::Date,
    mut passengers: Vec<Passenger>,
) -> IntMap<u64, Seat> {
    passengers.sort_unstable();
    let mut seats = IntMap::default();
    let mut i = 0;
    while i < passengers.len() {
        let s = passengers[i].0;
        let mut j = i;
        while j < passengers.len() && passengers[j].0 == s {
            j += 1;
        }
        let sv = &world.net.services[s as usize];
        let (per_row, capacity) = shape(sv);
        let key = hash(world.seed, tag::PLAN, u64::from(s), day.0 as u64);
        // Groups start on seats spread over the whole train by a permutation of rows.
        let rows_total = capacity / per_row;
        let perm = Affine::new(rows_total, key);
        let mut taken = vec![false; capacity as usize];
        let mut free = capacity;
        let mut g = 0u64;
        let mut k = i;
        while k < j {
            let group = passengers[k].1;
            let mut end = k;
            while end < j && passengers[end].1 == group {
                end += 1;
            }
            let mut slot = perm.apply(g % rows_total) * per_row;
            g += 1;
            for p in &passengers[k..end] {
                if free == 0 {
                    // Sold out: standing in a car (rail) or no seat number.
                    let car = if sv.mode == Mode::Rail {
                        1 + (hash(key, p.3, 0, 0) % u64::from(sv.cars)) as u8
                    } else {
                        0
                    };
                    seats.insert(p.3, (car, 0, 0));
                    continue;
                }
                while taken[slot as usize] {
                    slot = (slot + 1) % capacity;
                }
                taken[slot as usize] = true;
                free -= 1;
                seats.insert(p.3, seat_of(sv, slot));
                slot = (slot + 1) % capacity;
            }
            k = end;
        }
        i = j;
    }
    seats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_fill_a_train_without_repeats() {
        let sv = Service {
            mode: Mode::Rail,
            number: "G1".into(),
            depart_min: 600,
            duration_min: 60,
            cars: 8,
            rows: 18,
        };
        let (_, cap) = shape(&sv);
        let mut seen = std::collections::HashSet::new();
        for slot in 0..cap {
            let s = seat_of(&sv, slot);
            assert!((1..=8).contains(&s.0) && (1..=18).contains(&s.1));
            assert!(seen.insert(s));
        }
    }
}
