//! Turns people and their events into rows of the contract's kinds, column by column in the
//! registry's order: identities, names, phones and addresses, tickets and seats, passes,
//! self-reports and registrations.

use model::{Date, Direction, Kind, Mode, Zone};

use crate::World;
use crate::layout::{Layout, Person, push_code, push_padded};
use crate::names;
use crate::outbreak::{LabRow, PlaceRef};
use crate::rng::{Rng, hash, tag};
use crate::schedule::Event;
use crate::writer::Row;

/// The event kinds written per part and day, in file order.
pub const EVENT_KINDS: [Kind; 6] = [
    Kind::Travel,
    Kind::StationScans,
    Kind::Checkpoint,
    Kind::Checkins,
    Kind::SelfReports,
    Kind::Registrations,
];

pub fn event_kind(e: &Event) -> Option<usize> {
    Some(match e {
        Event::Ride { .. } => 0,
        Event::Scan { .. } => 1,
        Event::Pass { .. } => 2,
        Event::Checkin { .. } => 3,
        Event::SelfReport { .. } => 4,
        Event::Registration { .. } => 5,
        Event::FluSample { .. } => return None,
    })
}

/// `张伟`: the household's surname for the head and most members, the spouse's own.
pub fn push_name(layout: &Layout, p: &Person, out: &mut Vec<u8>) {
    let mut hr = Rng::at(layout.seed, tag::NAME, p.hh, 10);
    let mut pr = Rng::at(layout.seed, tag::NAME, p.idx, 11);
    let family = names::surname(&mut hr);
    let own = names::surname(&mut pr);
    let spouse = p.pos_in_hh == 1 && p.hh_len >= 2 && p.class != crate::layout::Class::Child;
    let surname = if p.is_visitor() || spouse || pr.chance(0.12) {
        own
    } else {
        family
    };
    out.extend_from_slice(surname.as_bytes());
    out.extend_from_slice(names::given(&mut pr, p.male).as_bytes());
}

/// A mobile number for everyone 12 and over (children's registrations carry a parent's).
pub fn push_phone(layout: &Layout, p: &Person, out: &mut Vec<u8>) -> bool {
    let key = if p.age < 12 { p.hh } else { p.idx };
    let mut r = Rng::at(layout.seed, tag::NAME, key, 12);
    names::push_phone(out, &mut r);
    true
}

/// `温州市鹿城区东塘社区12幢2单元1503室`.
pub fn push_address(layout: &Layout, p: &Person, out: &mut Vec<u8>) {
    let cm = &layout.communities[p.community as usize];
    let c = &layout.counties[cm.county as usize];
    if let Some(pref) = model::RegionTable::get().info(c.prefecture)
        && pref.region != c.region
        && !pref.is_placeholder()
    {
        out.extend_from_slice(pref.name.as_bytes());
    }
    out.extend_from_slice(c.name.as_bytes());
    out.extend_from_slice(cm.name.as_bytes());
    let mut r = Rng::at(layout.seed, tag::NAME, p.hh, 13);
    if p.is_visitor() && r.chance(0.5) {
        out.extend_from_slice("如家酒店".as_bytes());
        push_padded(out, 200 + r.below(400), 3);
        out.extend_from_slice("房".as_bytes());
        return;
    }
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(1 + r.below(30)).as_bytes());
    out.extend_from_slice("幢".as_bytes());
    out.extend_from_slice(b.format(1 + r.below(4)).as_bytes());
    out.extend_from_slice("单元".as_bytes());
    out.extend_from_slice(b.format(1 + r.below(18)).as_bytes());
    push_padded(out, 1 + r.below(4), 2);
    out.extend_from_slice("室".as_bytes());
}

fn push_date_digits(out: &mut Vec<u8>, d: Date) {
    let (y, m, dd) = d.ymd();
    push_padded(out, y as u64, 4);
    push_padded(out, u64::from(m), 2);
    push_padded(out, u64::from(dd), 2);
}

/// `P20200122H1234567-0`: date, shared (H) or solo (S), household/party or person, leg.
pub fn push_pass_id(out: &mut Vec<u8>, shared: bool, group: u64, leg: u8, day: Date) {
    out.push(b'P');
    push_date_digits(out, day);
    out.push(if shared { b'H' } else { b'S' });
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(group).as_bytes());
    out.push(b'-');
    out.extend_from_slice(b.format(leg).as_bytes());
}

/// `G7012|2020-01-21|05` for rail, `MU5120|2020-01-21|` otherwise.
pub fn place_text(world: &World, p: &Person, place: &PlaceRef) -> String {
    let mut out = Vec::with_capacity(32);
    match *place {
        PlaceRef::Household => world.layout.household_id(p, &mut out),
        PlaceRef::Venue(v) => v.write_id(world.layout, &mut out),
        PlaceRef::Ride { service, date, car } => {
            out.extend_from_slice(world.net.services[service as usize].number.as_bytes());
            out.push(b'|');
            date.write_to(&mut out);
            out.push(b'|');
            if car > 0 {
                push_padded(&mut out, u64::from(car), 2);
            }
        }
        PlaceRef::Pass {
            shared,
            group,
            leg,
            day,
        } => push_pass_id(&mut out, shared, group, leg, day),
    }
    String::from_utf8(out).expect("UTF-8")
}

/// Renders one event of person `p` as a row of its kind (see [`event_kind`]).
pub fn render(world: &World, p: &Person, e: &Event, row: &mut Row) {
    let zone: Zone = world.zone;
    let layout = world.layout;
    let net = world.net;
    row.clear();
    match *e {
        Event::Checkin {
            venue, tin, tout, ..
        } => {
            row.person(p.id);
            venue.write_id(layout, row.raw());
            row.done();
            row.ts(tin, zone);
            row.opt_ts(tout, zone);
        }
        Event::Ride {
            service,
            car,
            row: seat_row,
            letter,
            depart,
            arrive,
            from_node,
            to_node,
            service_date,
            ..
        } => {
            let sv = &net.services[service as usize];
            row.person(p.id);
            row.str(sv.mode.as_str());
            row.str(&sv.number);
            row.date(service_date);
            if sv.mode == Mode::Rail && car > 0 {
                push_padded(row.raw(), u64::from(car), 2);
                row.done();
            } else {
                row.empty();
            }
            if seat_row == 0 {
                row.empty();
            } else {
                match sv.mode {
                    Mode::Rail => {
                        push_padded(row.raw(), u64::from(seat_row), 2);
                        row.raw().push(letter);
                    }
                    Mode::Flight => {
                        let mut b = itoa::Buffer::new();
                        row.raw().extend_from_slice(b.format(seat_row).as_bytes());
                        row.raw().push(letter);
                    }
                    _ => push_padded(row.raw(), u64::from(seat_row), 2),
                }
                row.done();
            }
            let from = net.station(from_node as usize, sv.mode);
            let to = net.station(to_node as usize, sv.mode);
            row.str(&from.name);
            row.region(from.region);
            row.ts(depart, zone);
            row.str(&to.name);
            row.region(to.region);
            row.ts(arrive, zone);
        }
        Event::Scan {
            node,
            mode,
            dir,
            time,
        } => {
            let st = net.station(node as usize, mode);
            row.person(p.id);
            row.str(&st.name);
            row.region(st.region);
            row.str(match dir {
                Direction::In => "in",
                Direction::Out => "out",
            });
            row.ts(time, zone);
        }
        Event::Pass {
            shared,
            group,
            leg,
            day,
            driver,
            time,
            region,
            origin,
            dest,
            purpose,
            plate_key,
            plate_prefecture,
            checkpoint,
            ..
        } => {
            push_pass_id(row.raw(), shared, group, leg, day);
            row.done();
            row.str(&names::plate(
                plate_prefecture,
                hash(world.seed, tag::HOUSEHOLD_PLAN, plate_key, 6),
            ));
            row.person(p.id);
            row.str(if driver { "driver" } else { "passenger" });
            let raw = row.raw();
            raw.extend_from_slice(b"KP");
            push_code(raw, region.code());
            raw.push(b'0' + checkpoint);
            row.done();
            row.region(region);
            row.ts(time, zone);
            row.region(origin);
            row.region(dest);
            row.str(purpose);
        }
        Event::SelfReport {
            time,
            temp_tenths,
            symptoms,
            visited,
            note,
        } => {
            row.person(p.id);
            row.ts(time, zone);
            row.tenths(temp_tenths);
            row.str(symptoms);
            match visited {
                Some(r) => row.region(r),
                None => row.empty(),
            }
            row.str(note);
        }
        Event::Registration {
            arrival,
            from,
            stay_region,
            community,
        } => {
            row.person(p.id);
            row.date(arrival);
            row.region(from);
            row.region(stay_region);
            layout.community_id(community, row.raw());
            row.done();
            push_address(layout, p, row.raw());
            row.done();
            push_phone(layout, p, row.raw());
            row.done();
        }
        Event::FluSample { .. } => unreachable!("lab rows are rendered by render_lab"),
    }
}

pub fn render_lab(zone: Zone, lab: &LabRow, row: &mut Row) {
    row.clear();
    row.person(lab.person);
    row.ts(lab.sample, zone);
    row.str(if lab.positive { "positive" } else { "negative" });
    match lab.diagnosis {
        Some(d) => row.str(d.as_str()),
        None => row.empty(),
    }
    match lab.onset {
        Some(d) => row.date(d),
        None => row.empty(),
    }
    row.ts(lab.reported, zone);
}

/// A `persons` row.
pub fn render_person(layout: &Layout, p: &Person, row: &mut Row) {
    row.clear();
    row.person(p.id);
    push_name(layout, p, row.raw());
    row.done();
    if p.age >= 12 {
        push_phone(layout, p, row.raw());
        row.done();
    } else {
        row.empty();
    }
    row.date(p.birth);
    row.str(if p.male { "M" } else { "F" });
    row.region(layout.counties[p.county as usize].region);
    layout.community_id(p.community, row.raw());
    row.done();
    layout.household_id(p, row.raw());
    row.done();
    push_address(layout, p, row.raw());
    row.done();
}
