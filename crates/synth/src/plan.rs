//! Who travels where around the 2020 Spring Festival: residents living in Wuhan who come home,
//! students back for the winter break, business trips, migrant workers going home, festival
//! visits to relatives, and Hubei visitors arriving. A plan is a pure function of the person
//! (or their household or travel party), so it is recomputed wherever it is needed.

use model::{Date, Mode, Region, RegionTable, Timestamp, Zone};

use crate::calendar;
use crate::config::Rates;
use crate::layout::{BlockCache, Class, Layout, Person};
use crate::network::{Network, distance_km};
use crate::rng::{Rng, tag};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Going home (returnees, migrant workers, students).
    Home,
    /// Visiting relatives.
    Visit,
    /// Coming back from a visit or trip.
    Return,
    Work,
}

impl Purpose {
    pub fn text(self) -> &'static str {
        match self {
            Purpose::Home => "返乡",
            Purpose::Visit => "探亲",
            Purpose::Return => "返程",
            Purpose::Work => "工作",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Service(u32),
    Car,
}

#[derive(Clone, Copy, Debug)]
pub struct Leg {
    pub day: Date,
    pub from_node: u16,
    pub to_node: u16,
    /// Counties where the trip starts and ends (stations' counties for public transport).
    pub from_region: Region,
    pub to_region: Region,
    pub by: By,
    pub purpose: Purpose,
    pub depart: Timestamp,
    pub arrive: Timestamp,
    /// Ends at the person's home (or stay) county.
    pub to_home: bool,
    /// Crosses into the home province from outside (returnees register).
    pub enters_province: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanKind {
    Stay,
    Sojourner,
    Student,
    Business,
    Migrant,
    Festival,
    Visitor,
}

#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub kind: PlanKind,
    pub away_at_start: bool,
    pub legs: [Option<Leg>; 2],
    /// Days spent in Hubei before coming (back) to the province: [from, to), and where.
    pub hubei: Option<(Date, Date, Region)>,
    /// Legs shared with the household (or travel party): one car, one pass.
    pub shared: bool,
    /// The region of the place they were away in (for `visited_regions`).
    pub away_region: Option<Region>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    Home,
    Away,
    /// On the road: the leg's index.
    Travel(usize),
}

impl Plan {
    fn stay() -> Plan {
        Plan {
            kind: PlanKind::Stay,
            away_at_start: false,
            legs: [None, None],
            hubei: None,
            shared: false,
            away_region: None,
        }
    }

    /// Where the person is on `day` if only the first `n` legs happen.
    pub fn where_with(&self, day: Date, n: usize) -> Where {
        let mut home = !self.away_at_start;
        for (i, leg) in self.legs.iter().enumerate().take(n) {
            let Some(leg) = leg else { break };
            if day < leg.day {
                break;
            }
            if day == leg.day {
                return Where::Travel(i);
            }
            home = leg.to_home;
        }
        if home { Where::Home } else { Where::Away }
    }

    /// Was in Hubei at some point of the 14 days up to `day`.
    pub fn hubei_within_14(&self, day: Date) -> Option<Region> {
        let (_, to, region) = self.hubei?;
        (day.0 - to.0 < 14 && day.0 >= to.0 - 1).then_some(region)
    }
}

/// Plans for everyone, from the layout and network.
#[derive(Debug)]
pub struct Planner<'a> {
    pub layout: &'a Layout,
    pub net: &'a Network,
    pub rates: &'a Rates,
    pub zone: Zone,
    seed: u64,
    province_counties: Vec<Region>,
    wuhan: Option<usize>,
    hubei_nodes: Vec<usize>,
    business: Vec<(usize, f64)>,
    study: Vec<(usize, f64)>,
}

fn day_of(m: u32, d: u32) -> Date {
    Date::from_ymd(2020, m, d).expect("valid date")
}

impl<'a> Planner<'a> {
    pub fn new(layout: &'a Layout, net: &'a Network, rates: &'a Rates, zone: Zone) -> Planner<'a> {
        let table = RegionTable::get();
        let province_counties = table
            .counties_under(layout.home_province)
            .iter()
            .map(|c| c.region)
            .collect();
        let wuhan = net.find(420100);
        let hubei_nodes = (0..net.nodes.len())
            .filter(|&i| net.nodes[i].hubei && !net.nodes[i].in_province)
            .collect();
        let weight = |code: u32| -> f64 {
            match code {
                310000 => 25.0,
                330100 => 12.0,
                110000 => 8.0,
                420100 => 8.0,
                440100 | 440300 => 6.0,
                320100 => 5.0,
                340100 => 3.0,
                c if c / 10_000 == 42 => 0.4,
                _ => 2.0,
            }
        };
        let mut business = Vec::new();
        let mut study = Vec::new();
        for (i, n) in net.nodes.iter().enumerate() {
            let w = if n.in_province {
                4.0
            } else {
                weight(n.prefecture.code())
            };
            business.push((i, w));
            let s = match n.prefecture.code() {
                _ if n.in_province && n.prefecture.code() % 10_000 == 100 => 35.0,
                _ if n.in_province => 3.0,
                310000 => 15.0,
                110000 | 320100 => 8.0,
                420100 => 5.0,
                c if c / 10_000 == 42 => 0.3,
                _ => 2.0,
            };
            study.push((i, s));
        }
        Planner {
            layout,
            net,
            rates,
            zone,
            seed: layout.seed,
            province_counties,
            wuhan,
            hubei_nodes,
            business,
            study,
        }
    }

    fn key(&self, a: u64, b: u64) -> Rng {
        Rng::at(self.seed, tag::PLAN, a, b)
    }

    /// The person's own plan, or their household's, or their travel party's.
    pub fn plan(&self, p: &Person, cache: &mut BlockCache) -> Plan {
        if p.is_visitor() {
            return self.visitor(p);
        }
        if let Some(plan) = self.personal(p) {
            return plan;
        }
        let head_class = if p.pos_in_hh == 0 {
            p.class
        } else {
            self.layout.person(p.hh, cache).class
        };
        if head_class == Class::Migrant {
            let head = if p.pos_in_hh == 0 {
                p.clone()
            } else {
                self.layout.person(p.hh, cache)
            };
            self.migrant(p, &head)
        } else {
            self.festival(p)
        }
    }

    /// Plans of individuals (they never join household trips).
    pub fn personal(&self, p: &Person) -> Option<Plan> {
        let mut r = self.key(p.idx, 1);
        let u = r.f64();
        match p.class {
            Class::Young | Class::Middle if p.age >= 22 => {
                let pref = self.layout.counties[p.county as usize].prefecture.code();
                let mult = if pref == 330300 { 3.0 } else { 1.0 };
                let soj = self.rates.wuhan_sojourners * mult;
                if u < soj {
                    return Some(self.sojourner(p, &mut r));
                }
                if p.works() && u < soj + self.rates.business_trips {
                    return self.business(p, &mut r);
                }
                None
            }
            Class::Young if p.age <= 22 && u < self.rates.students_away => {
                Some(self.student(p, &mut r))
            }
            _ => None,
        }
    }

    fn home_node(&self, p: &Person) -> usize {
        self.net
            .node_of(self.layout.counties[p.county as usize].region)
    }

    fn home_region(&self, p: &Person) -> Region {
        self.layout.counties[p.county as usize].region
    }

    /// A leg between nodes on `day`; `car_from`/`car_to` are the counties a car drives between.
    #[allow(clippy::too_many_arguments)]
    fn leg(
        &self,
        r: &mut Rng,
        day: Date,
        from: usize,
        to: usize,
        car_from: Region,
        car_to: Region,
        allow_car: bool,
        purpose: Purpose,
        to_home: bool,
        latest_min: Option<u32>,
    ) -> Option<Leg> {
        let net = self.net;
        let dist = distance_km(net.nodes[from].point, net.nodes[to].point);
        let mut options: Vec<(By, f64)> = Vec::with_capacity(4);
        for (mode, w) in [
            (Mode::Rail, 0.6),
            (
                Mode::Flight,
                if dist > 800.0 {
                    0.55
                } else if dist > 450.0 {
                    0.15
                } else {
                    0.0
                },
            ),
            (Mode::Coach, 0.15),
            (Mode::Ship, 0.3),
        ] {
            if w == 0.0 {
                continue;
            }
            let list = net.services(from, to, mode);
            let usable: Vec<u32> = list
                .iter()
                .copied()
                .filter(|&s| latest_min.is_none_or(|l| net.services[s as usize].depart_min <= l))
                .collect();
            if !usable.is_empty() {
                let s = usable[r.below(usable.len() as u64) as usize];
                options.push((By::Service(s), w));
            }
        }
        if allow_car && dist < 1300.0 {
            options.push((By::Car, if dist < 400.0 { 0.35 } else { 0.12 }));
        }
        if options.is_empty() {
            return None;
        }
        let weights: Vec<f64> = options.iter().map(|o| o.1).collect();
        let by = options[r.weighted(&weights)].0;
        let start = day.start(self.zone);
        let (depart, arrive, from_region, to_region) = match by {
            By::Service(s) => {
                let sv = &net.services[s as usize];
                let d = start.add_ms(i64::from(sv.depart_min) * 60_000);
                (
                    d,
                    d.add_ms(i64::from(sv.duration_min) * 60_000),
                    net.station(from, sv.mode).region,
                    net.station(to, sv.mode).region,
                )
            }
            By::Car => {
                let hours = 0.6 + dist.max(30.0) * 1.3 / 85.0;
                let dur = (hours * 60.0).round() as i64;
                let latest = latest_min.map_or(23 * 60 + 30 - dur, i64::from);
                let earliest = 5 * 60;
                let dep_min = if latest <= earliest {
                    earliest
                } else {
                    (earliest + r.below((latest - earliest).min(9 * 60) as u64 + 1) as i64)
                        .min(latest)
                };
                let d = start.add_ms(dep_min * 60_000);
                (d, d.add_ms(dur * 60_000), car_from, car_to)
            }
        };
        let home_prov = self.layout.home_province;
        Some(Leg {
            day,
            from_node: from as u16,
            to_node: to as u16,
            from_region,
            to_region,
            by,
            purpose,
            depart,
            arrive,
            to_home,
            enters_province: to_home && !home_prov.covers(from_region),
        })
    }

    fn county_in(&self, prefecture: Region, r: &mut Rng) -> Region {
        let list = RegionTable::get().counties_under(prefecture);
        if list.is_empty() {
            prefecture
        } else {
            list[r.below(list.len() as u64) as usize].region
        }
    }

    fn sojourner(&self, p: &Person, r: &mut Rng) -> Plan {
        let node = match (self.wuhan, r.chance(0.75)) {
            (Some(w), true) => w,
            _ if !self.hubei_nodes.is_empty() => {
                self.hubei_nodes[r.below(self.hubei_nodes.len() as u64) as usize]
            }
            (Some(w), _) => w,
            (None, _) => self.home_node(p),
        };
        let pref = self.net.nodes[node].prefecture;
        let origin = self.county_in(pref, r);
        let mut plan = Plan::stay();
        plan.kind = PlanKind::Sojourner;
        plan.away_at_start = true;
        plan.away_region = Some(pref);
        // A third stayed in Hubei for the festival; the others came home, most in the last
        // days before the lockdown (the last ones by car on the morning of Jan 23).
        if r.chance(0.3) {
            return plan;
        }
        let back = (r.erlang(1, 4.0)).floor() as i32;
        let day = calendar::WUHAN_LOCKDOWN.add_days(-back.min(25));
        let latest = (day == calendar::WUHAN_LOCKDOWN).then_some(9 * 60);
        let home = self.home_node(p);
        if let Some(leg) = self.leg(
            r,
            day,
            node,
            home,
            origin,
            self.home_region(p),
            true,
            Purpose::Home,
            true,
            latest,
        ) {
            plan.legs[0] = Some(leg);
            plan.hubei = Some((day.add_days(-60), day, pref));
        }
        plan
    }

    fn student(&self, p: &Person, r: &mut Rng) -> Plan {
        let weights: Vec<f64> = self
            .study
            .iter()
            .map(|&(i, w)| if i == self.home_node(p) { 0.0 } else { w })
            .collect();
        let node = self.study[r.weighted(&weights)].0;
        let mut plan = Plan::stay();
        plan.kind = PlanKind::Student;
        plan.away_at_start = true;
        let pref = self.net.nodes[node].prefecture;
        plan.away_region = Some(pref);
        let day = day_of(1, 8).add_days(r.below(13) as i32);
        let origin = self.county_in(pref, r);
        if let Some(leg) = self.leg(
            r,
            day,
            node,
            self.home_node(p),
            origin,
            self.home_region(p),
            false,
            Purpose::Home,
            true,
            None,
        ) {
            plan.legs[0] = Some(leg);
            if self.net.nodes[node].hubei {
                plan.hubei = Some((day.add_days(-40), day, pref));
            }
        } else {
            plan.away_at_start = false;
        }
        plan
    }

    fn business(&self, p: &Person, r: &mut Rng) -> Option<Plan> {
        let home = self.home_node(p);
        let weights: Vec<f64> = self
            .business
            .iter()
            .map(|&(i, w)| if i == home { 0.0 } else { w })
            .collect();
        let node = self.business[r.weighted(&weights)].0;
        let out = day_of(1, 2).add_days(r.below(21) as i32);
        let back = out.add_days(1 + r.below(3) as i32);
        let pref = self.net.nodes[node].prefecture;
        let dest = self.county_in(pref, r);
        let in_prov = self.net.nodes[node].in_province;
        let out_leg = self.leg(
            r,
            out,
            home,
            node,
            self.home_region(p),
            dest,
            in_prov,
            Purpose::Work,
            false,
            None,
        )?;
        let car = out_leg.by == By::Car;
        let mut back_leg = None;
        // A trip to Hubei ending after the lockdown cannot come back by public transport.
        if !(self.net.nodes[node].hubei && back >= calendar::WUHAN_LOCKDOWN) {
            back_leg = self.leg(
                r,
                back,
                node,
                home,
                dest,
                self.home_region(p),
                car,
                Purpose::Return,
                true,
                None,
            );
            if let (Some(b), true) = (&mut back_leg, car)
                && b.by != By::Car
            {
                // Drove there, drives back.
                b.by = By::Car;
                b.from_region = dest;
                b.to_region = self.home_region(p);
                b.depart = back
                    .start(self.zone)
                    .add_ms(i64::from(14 + (r.below(4) as u32)) * 3_600_000);
                b.arrive = b.depart.add_ms(out_leg.arrive.0 - out_leg.depart.0);
            }
        }
        let mut plan = Plan::stay();
        plan.kind = PlanKind::Business;
        plan.legs = [Some(out_leg), back_leg];
        plan.away_region = Some(pref);
        if self.net.nodes[node].hubei && back_leg.is_some() {
            plan.hubei = Some((out, back, pref));
        }
        Some(plan)
    }

    /// Migrant households go home together before the festival; those from outside Hubei
    /// start coming back in February, those from Hubei are held there by the lockdown.
    fn migrant(&self, p: &Person, head: &Person) -> Plan {
        let mut r = self.key(p.hh, 2);
        if !r.chance(self.rates.migrants_go_home) {
            return Plan::stay();
        }
        let origin = head.birth_region;
        let home = self.home_node(p);
        let node = self.net.node_of(origin);
        let out = day_of(1, 8).add_days(r.below(15) as i32);
        let mut plan = Plan::stay();
        plan.kind = PlanKind::Migrant;
        plan.shared = true;
        plan.away_region = Some(origin.prefecture());
        let Some(out_leg) = self.leg(
            &mut r,
            out,
            home,
            node,
            self.home_region(p),
            origin,
            true,
            Purpose::Home,
            false,
            None,
        ) else {
            return Plan::stay();
        };
        plan.legs[0] = Some(out_leg);
        if origin.province().code() != 420000 && r.chance(0.85) {
            let back = day_of(2, 1).add_days(r.erlang(2, 9.0).floor() as i32);
            plan.legs[1] = self.leg(
                &mut r,
                back,
                node,
                home,
                origin,
                self.home_region(p),
                out_leg.by == By::Car,
                Purpose::Return,
                true,
                None,
            );
        }
        plan
    }

    /// Native households visiting relatives in another county of the province.
    fn festival(&self, p: &Person) -> Plan {
        let mut r = self.key(p.hh, 3);
        if !r.chance(self.rates.festival_visits) || self.province_counties.len() < 2 {
            return Plan::stay();
        }
        let home_region = self.home_region(p);
        let same_pref: Vec<Region> = self
            .province_counties
            .iter()
            .copied()
            .filter(|c| c.prefecture() == home_region.prefecture() && *c != home_region)
            .collect();
        let dest = if !same_pref.is_empty() && r.chance(0.6) {
            same_pref[r.below(same_pref.len() as u64) as usize]
        } else {
            let c = self.province_counties[r.below(self.province_counties.len() as u64) as usize];
            if c == home_region {
                return Plan::stay();
            }
            c
        };
        let out = day_of(1, 21).add_days(r.weighted(&[1.0, 2.0, 3.0, 3.0, 1.0]) as i32);
        // After the first-level response most cut their visits short.
        let stay = if out >= calendar::RESPONSE {
            1 + r.below(3)
        } else {
            2 + r.below(5)
        } as i32;
        let back = out.add_days(stay);
        let home = self.home_node(p);
        let node = self.net.node_of(dest);
        let Some(out_leg) = self.leg(
            &mut r,
            out,
            home,
            node,
            home_region,
            dest,
            true,
            Purpose::Visit,
            false,
            None,
        ) else {
            return Plan::stay();
        };
        if out_leg.by != By::Car && home == node {
            return Plan::stay();
        }
        let car = out_leg.by == By::Car;
        let mut back_leg = self.leg(
            &mut r,
            back,
            node,
            home,
            dest,
            home_region,
            car,
            Purpose::Return,
            true,
            None,
        );
        // Whoever drove there drives back.
        if let Some(b) = &mut back_leg
            && car
            && b.by != By::Car
        {
            b.by = By::Car;
            b.from_region = dest;
            b.to_region = home_region;
            b.depart = back
                .start(self.zone)
                .add_ms(i64::from(13 + (r.below(5) as u32)) * 3_600_000);
            b.arrive = b.depart.add_ms(out_leg.arrive.0 - out_leg.depart.0);
        }
        let mut plan = Plan::stay();
        plan.kind = PlanKind::Festival;
        plan.shared = car;
        plan.legs = [Some(out_leg), back_leg];
        plan.away_region = Some(dest);
        plan
    }

    /// Hubei visitors arrive (with their travel party) in the weeks before the lockdown;
    /// a few go back before it.
    fn visitor(&self, p: &Person) -> Plan {
        let mut r = self.key(p.hh, 4);
        let leader_origin = self
            .layout
            .visitor(p.hh - self.layout.residents)
            .birth_region;
        let node = self.net.node_of(leader_origin);
        let stay = self.layout.counties[p.county as usize].region;
        let home = self.net.node_of(stay);
        let day = day_of(1, 10).add_days(r.weighted(&[
            1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.4, 1.6, 2.0, 2.4, 2.8, 3.0, 2.5, 0.8,
        ]) as i32);
        let latest = (day == calendar::WUHAN_LOCKDOWN).then_some(9 * 60);
        let mut plan = Plan::stay();
        plan.kind = PlanKind::Visitor;
        plan.away_at_start = true;
        plan.shared = true;
        plan.away_region = Some(leader_origin.prefecture());
        let Some(leg) = self.leg(
            &mut r,
            day,
            node,
            home,
            leader_origin,
            stay,
            true,
            Purpose::Visit,
            true,
            latest,
        ) else {
            return plan;
        };
        plan.legs[0] = Some(leg);
        plan.hubei = Some((day.add_days(-14), day, leader_origin.prefecture()));
        let back = day.add_days(2 + r.below(5) as i32);
        if back < calendar::WUHAN_LOCKDOWN && r.chance(0.25) {
            plan.legs[1] = self.leg(
                &mut r,
                back,
                home,
                node,
                stay,
                leader_origin,
                leg.by == By::Car,
                Purpose::Return,
                false,
                None,
            );
        }
        plan
    }

    /// Another county of the province, at random (trucks' destinations).
    pub fn other_county(&self, home: Region, r: &mut Rng) -> Option<Region> {
        if self.province_counties.len() < 2 {
            return None;
        }
        let c = self.province_counties[r.below(self.province_counties.len() as u64) as usize];
        if c == home {
            Some(self.province_counties[0]).filter(|c| *c != home)
        } else {
            Some(c)
        }
    }

    /// The force of infection a person staying in Hubei over [from, to) met there, against
    /// their own draw of how much it takes to infect them.
    pub fn hubei_exposure(&self, p: &Person, plan: &Plan) -> Option<HubeiExposure> {
        let (from, to, region) = plan.hubei?;
        let rel = if region.code() == 420100 {
            1.0
        } else {
            self.rates.hubei_relative_hazard
        };
        let mut r = Rng::at(self.seed, tag::IMPORT, p.idx, 0);
        let target = -(1.0 - r.f64()).ln();
        let minute = r.below(24 * 60) as i64;
        let mut acc = 0.0;
        let mut d = from;
        while d < to {
            acc += calendar::wuhan_hazard(d, self.rates) * rel;
            d = d.add_days(1);
        }
        Some(HubeiExposure {
            from,
            to,
            rel,
            target,
            total: acc,
            minute,
        })
    }

    /// When a person with `e` was infected in Hubei with the force of infection multiplied by
    /// `scale` (1 for the rate as it is): the first day its sum reaches their draw, if one does.
    pub fn hubei_infection(&self, e: &HubeiExposure, scale: f64) -> Option<Timestamp> {
        let mut acc = 0.0;
        let mut d = e.from;
        while d < e.to {
            acc += calendar::wuhan_hazard(d, self.rates) * e.rel * scale;
            if acc >= e.target {
                return Some(d.start(self.zone).add_ms(e.minute * 60_000));
            }
            d = d.add_days(1);
        }
        None
    }
}

/// What a stay in Hubei exposed a person to (see [`Planner::hubei_exposure`]).
#[derive(Clone, Copy, Debug)]
pub struct HubeiExposure {
    from: Date,
    to: Date,
    rel: f64,
    /// The person's draw: the summed force of infection that infects them.
    target: f64,
    /// The force of infection summed over the whole stay.
    total: f64,
    minute: i64,
}

impl HubeiExposure {
    /// How close the stay came to infecting them: 1 or more means it did.
    pub fn ratio(&self) -> f64 {
        self.total / self.target
    }
}
