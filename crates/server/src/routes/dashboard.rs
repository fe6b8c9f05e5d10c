//! The command-centre dashboard: one page, its script and stylesheet (built with npm and
//! embedded at compile time by `build.rs`), and the region table it draws its map from; and
//! the residents' page at `/me` (its own script and stylesheet, built the same way). Neither
//! page holds data: everything they show comes from the API with the viewer's token.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};

static INDEX: &str = include_str!(concat!(env!("OUT_DIR"), "/dashboard/index.html"));
static APP: &str = include_str!(concat!(env!("OUT_DIR"), "/dashboard/app.js"));
static STYLE: &str = include_str!(concat!(env!("OUT_DIR"), "/dashboard/style.css"));
static ME: &str = include_str!(concat!(env!("OUT_DIR"), "/dashboard/me.html"));
static ME_SCRIPT: &str = include_str!(concat!(env!("OUT_DIR"), "/dashboard/me.js"));
static ME_STYLE: &str = include_str!(concat!(env!("OUT_DIR"), "/dashboard/me.css"));
/// The licence notices of the bundled libraries (ECharts, zrender, tslib), which the script
/// links to.
static LEGAL: &str = include_str!(concat!(env!("OUT_DIR"), "/dashboard/app.js.LEGAL.txt"));

/// An embedded file. The Content-Security-Policy and the other security headers are set for
/// every response in one layer (`headers.rs`).
fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

pub async fn app() -> Response {
    asset("text/javascript; charset=utf-8", APP)
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// The residents' page (contract §10): sign in, one's own code, reports, corrections, the
/// access log and cases nearby, for a phone.
pub async fn me() -> Response {
    asset("text/html; charset=utf-8", ME)
}

pub async fn me_script() -> Response {
    asset("text/javascript; charset=utf-8", ME_SCRIPT)
}

pub async fn me_style() -> Response {
    asset("text/css; charset=utf-8", ME_STYLE)
}

/// A small mark for the browser tab (drawn here, not a file).
pub async fn favicon() -> Response {
    asset(
        "image/svg+xml",
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><rect width='16' height='16' rx='3' fill='#14213d'/><path d='M8 3v10M3 8h10' stroke='#ffb4a2' stroke-width='2.4'/></svg>",
    )
}

pub async fn legal() -> Response {
    asset("text/plain; charset=utf-8", LEGAL)
}

/// `[[code, name, level, parent, lon, lat], …]` for every region with a point: public facts
/// (the embedded GB/T 2260 table), the map's backdrop and positions.
pub async fn regions() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(engine::open_api::region_points_json);
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        body.as_str(),
    )
        .into_response()
}
