//! Points on the sphere in a grid of cells 0.05° a side, sorted by cell, so a search within a
//! radius visits only the cells the circle's bounding box covers (a binary search per row of
//! cells), never every point; distances by the haversine formula.

/// The mean radius of the Earth (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A cell's side, degrees: about 5.6 km of latitude, so a 50 km search spans ~19 rows.
const CELL_DEG: f64 = 0.05;
const ROWS: u32 = (180.0 / CELL_DEG) as u32;
const COLS: u32 = (360.0 / CELL_DEG) as u32;

/// The great-circle distance between two points given in degrees, metres.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

fn row_of(lat: f64) -> u32 {
    (((lat + 90.0) / CELL_DEG).floor() as i64).clamp(0, i64::from(ROWS) - 1) as u32
}

fn col_of(lon: f64) -> i64 {
    ((lon + 180.0) / CELL_DEG).floor() as i64
}

fn cell(lat: f64, lon: f64) -> u32 {
    row_of(lat) * COLS + col_of(lon).clamp(0, i64::from(COLS) - 1) as u32
}

/// Points (latitude, longitude in degrees, each finite and in range), found by radius.
#[derive(Debug, Default)]
pub struct Grid {
    /// Cell of each entry, ascending.
    cells: Vec<u32>,
    /// The point behind each entry (its position in what [`Grid::new`] was given).
    items: Vec<u32>,
    points: Vec<(f64, f64)>,
}

impl Grid {
    /// Indexes `points`; a point's number in answers is its position here.
    pub fn new(points: Vec<(f64, f64)>) -> Grid {
        let mut order: Vec<(u32, u32)> = points
            .iter()
            .enumerate()
            .map(|(i, &(lat, lon))| (cell(lat, lon), i as u32))
            .collect();
        order.sort_unstable();
        Grid {
            cells: order.iter().map(|&(c, _)| c).collect(),
            items: order.iter().map(|&(_, i)| i).collect(),
            points,
        }
    }

    /// Calls `f(point, distance_m)` for every point within `radius_m` of (`lat`, `lon`)
    /// (`radius_m` finite, not negative), in no particular order; returns how many entries it
    /// looked at (the work done, for tests).
    pub fn within(&self, lat: f64, lon: f64, radius_m: f64, mut f: impl FnMut(u32, f64)) -> usize {
        // The circle's bounding box on the sphere (Matuschek): latitudes φ ± δ; longitudes
        // λ ± asin(sin δ / cos φ), or all of them when the circle reaches a pole. A hair of
        // margin keeps a point exactly on the circle inside despite rounding.
        let delta = radius_m / EARTH_RADIUS_M * (1.0 + 1e-9) + 1e-12;
        let phi = lat.to_radians();
        let (lat_min, lat_max) = (phi - delta, phi + delta);
        let all_lons = lat_max >= std::f64::consts::FRAC_PI_2
            || lat_min <= -std::f64::consts::FRAC_PI_2
            || delta >= std::f64::consts::FRAC_PI_2;
        let col_ranges: Vec<(u32, u32)> = if all_lons {
            vec![(0, COLS - 1)]
        } else {
            let dlon = (delta.sin() / phi.cos()).min(1.0).asin().to_degrees();
            let (lo, hi) = (col_of(lon - dlon), col_of(lon + dlon));
            let cols = i64::from(COLS);
            if hi - lo + 1 >= cols {
                vec![(0, COLS - 1)]
            } else if lo < 0 {
                vec![(0, hi as u32), ((lo + cols) as u32, COLS - 1)]
            } else if hi >= cols {
                vec![(lo as u32, COLS - 1), (0, (hi - cols) as u32)]
            } else {
                vec![(lo as u32, hi as u32)]
            }
        };
        let (row_lo, row_hi) = (
            row_of(lat_min.to_degrees().max(-90.0)),
            row_of(lat_max.to_degrees().min(90.0)),
        );
        let mut looked = 0;
        for row in row_lo..=row_hi {
            for &(c0, c1) in &col_ranges {
                let (from, to) = (row * COLS + c0, row * COLS + c1);
                let a = self.cells.partition_point(|&c| c < from);
                let b = self.cells.partition_point(|&c| c <= to);
                looked += b - a;
                for &i in &self.items[a..b] {
                    let (plat, plon) = self.points[i as usize];
                    let d = haversine_m(lat, lon, plat, plon);
                    if d <= radius_m {
                        f(i, d);
                    }
                }
            }
        }
        looked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(points: &[(f64, f64)], lat: f64, lon: f64, r: f64) -> Vec<u32> {
        (0..points.len() as u32)
            .filter(|&i| {
                let (a, b) = points[i as usize];
                haversine_m(lat, lon, a, b) <= r
            })
            .collect()
    }

    fn found(g: &Grid, lat: f64, lon: f64, r: f64) -> Vec<u32> {
        let mut out = Vec::new();
        g.within(lat, lon, r, |i, _| out.push(i));
        out.sort_unstable();
        out
    }

    #[test]
    fn distances_are_the_great_circle() {
        // Wuhan to Hangzhou, about 560 km; a degree of latitude, about 111.2 km.
        let d = haversine_m(30.5928, 114.3055, 30.2741, 120.1551);
        assert!((d - 561_000.0).abs() < 5_000.0, "{d}");
        let d = haversine_m(0.0, 0.0, 1.0, 0.0);
        assert!((d - 111_195.0).abs() < 10.0, "{d}");
        assert_eq!(haversine_m(45.0, 90.0, 45.0, 90.0), 0.0);
        // Across the antimeridian, the short way round.
        let d = haversine_m(0.0, 179.9, 0.0, -179.9);
        assert!((d - 22_239.0).abs() < 10.0, "{d}");
    }

    #[test]
    fn a_search_looks_only_at_nearby_cells() {
        // A point every 0.01° over 2° × 2° (40,401 points); a 1 km search looks at a few
        // cells' worth, not all of them.
        let mut points = Vec::new();
        for i in 0..=200 {
            for j in 0..=200 {
                points.push((30.0 + f64::from(i) * 0.01, 120.0 + f64::from(j) * 0.01));
            }
        }
        let g = Grid::new(points.clone());
        let looked = g.within(31.0, 121.0, 1_000.0, |_, _| {});
        assert!(looked < 200, "looked at {looked}");
        assert_eq!(
            found(&g, 31.0, 121.0, 1_000.0),
            brute(&points, 31.0, 121.0, 1_000.0)
        );
    }

    #[test]
    fn the_poles_and_the_antimeridian_are_searched_whole() {
        let points = vec![
            (89.99, 0.0),
            (89.99, 179.0),
            (-89.99, -120.0),
            (10.0, 179.999),
            (10.0, -179.999),
            (10.0, 180.0),
            (10.0, -180.0),
        ];
        let g = Grid::new(points.clone());
        for (lat, lon, r) in [
            (90.0, 0.0, 5_000.0),
            (89.995, 45.0, 3_000.0),
            (-90.0, 10.0, 50_000.0),
            (10.0, 180.0, 1_000.0),
            (10.0, -180.0, 1_000.0),
            (10.0, 179.9999, 500.0),
        ] {
            assert_eq!(
                found(&g, lat, lon, r),
                brute(&points, lat, lon, r),
                "{lat},{lon}"
            );
        }
        assert_eq!(found(&g, 10.0, 180.0, 1_000.0).len(), 4);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The grid finds exactly what a scan of every point finds, anywhere on the globe, for
        /// radii from nothing to far beyond the search's bound.
        #[test]
        fn the_grid_finds_what_a_scan_finds(
            centre in (-90.0f64..=90.0, -180.0f64..=180.0),
            spread in prop_oneof![Just(0.01f64), Just(0.5), Just(5.0), Just(180.0)],
            offsets in prop::collection::vec((-1.0f64..=1.0, -1.0f64..=1.0), 0..300),
            radius in prop_oneof![Just(0.0f64), 0.0f64..2_000.0, 0.0f64..60_000.0, 0.0f64..3e6],
            query in (-1.0f64..=1.0, -1.0f64..=1.0),
        ) {
            let place = |(a, b): (f64, f64)| {
                let lat = (centre.0 + a * spread).clamp(-90.0, 90.0);
                let mut lon = centre.1 + b * spread * 2.0;
                while lon > 180.0 { lon -= 360.0; }
                while lon < -180.0 { lon += 360.0; }
                (lat, lon)
            };
            let points: Vec<(f64, f64)> = offsets.into_iter().map(place).collect();
            let g = Grid::new(points.clone());
            let (lat, lon) = place((query.0 * 0.2, query.1 * 0.2));
            let mut seen = Vec::new();
            g.within(lat, lon, radius, |i, d| {
                let (a, b) = points[i as usize];
                assert_eq!(d, haversine_m(lat, lon, a, b));
                seen.push(i);
            });
            seen.sort_unstable();
            let before = seen.len();
            seen.dedup();
            prop_assert_eq!(before, seen.len(), "a point found twice");
            prop_assert_eq!(seen, brute(&points, lat, lon, radius));
        }
    }
}
