//! Prometheus-style metrics: requests by route and status, and their latency, counted by a
//! middleware; store figures added at scrape time.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Latency bucket bounds, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Route {
    by_status: BTreeMap<u16, u64>,
    /// Cumulative counts per bucket, then +Inf.
    buckets: [u64; BUCKETS.len() + 1],
    seconds: f64,
    count: u64,
}

/// Request counters.
#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<String, Route>>,
}

impl Metrics {
    fn record(&self, route: &str, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().expect("metrics lock");
        let r = routes.entry(route.to_string()).or_default();
        *r.by_status.entry(status).or_default() += 1;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                r.buckets[i] += 1;
            }
        }
        r.buckets[BUCKETS.len()] += 1;
        r.seconds += seconds;
        r.count += 1;
    }

    /// The text exposition format.
    pub fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let routes = self.routes.lock().expect("metrics lock");
        let mut out = String::new();
        out.push_str("# HELP fangyi_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE fangyi_http_requests_total counter\n");
        for (route, r) in routes.iter() {
            for (status, n) in &r.by_status {
                out.push_str(&format!(
                    "fangyi_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}\n"
                ));
            }
        }
        out.push_str("# HELP fangyi_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE fangyi_http_request_duration_seconds histogram\n");
        for (route, r) in routes.iter() {
            for (i, b) in BUCKETS.iter().enumerate() {
                out.push_str(&format!(
                    "fangyi_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}\n",
                    r.buckets[i]
                ));
            }
            out.push_str(&format!(
                "fangyi_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n",
                r.buckets[BUCKETS.len()]
            ));
            out.push_str(&format!(
                "fangyi_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n",
                r.seconds
            ));
            out.push_str(&format!(
                "fangyi_http_request_duration_seconds_count{{route=\"{route}\"}} {}\n",
                r.count
            ));
        }
        for (name, help, value) in extra {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            ));
        }
        out
    }
}

/// Counts every request under its route template (`/api/v1/persons/{id}/code`), so ids never
/// become label values.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let started = Instant::now();
    let resp = next.run(req).await;
    state.metrics.record(
        &route,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}
