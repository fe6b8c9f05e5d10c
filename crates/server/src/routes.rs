//! The API's routes, one file per area, collected with their OpenAPI descriptions.

pub mod alerts;
pub mod audit;
pub mod cases;
pub mod communities;
pub mod corrections;
pub mod dashboard;
pub mod inflow;
pub mod ingest;
pub mod market;
pub mod open;
pub mod persons;
pub mod public;
pub mod resident;
pub mod resident_qr;
pub mod resume;
pub mod resume_power;
pub mod returnees;
pub mod session;
pub mod sql;
pub mod system;
pub mod verify;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// Uploads, which stream large bodies and take longer, under `/api/v1`.
pub fn uploads() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ingest::upload))
}

/// Everything else under `/api/v1`, with its OpenAPI paths.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(session::me))
        .routes(routes!(session::status))
        .routes(routes!(persons::code))
        .routes(routes!(persons::issue))
        .routes(routes!(persons::revoke))
        .routes(routes!(cases::contacts))
        .routes(routes!(communities::codes))
        .routes(routes!(corrections::list, corrections::file))
        .routes(routes!(corrections::one))
        .routes(routes!(corrections::decide))
        .routes(routes!(verify::verify))
        .routes(routes!(public::cotravel))
        .routes(routes!(public::nearby))
        .routes(routes!(resident::otp))
        .routes(routes!(resident::session))
        .routes(routes!(resident::logout))
        .routes(routes!(resident::self_report))
        .routes(routes!(resident::registration))
        .routes(routes!(resident::code))
        .routes(routes!(resident_qr::code_png))
        .routes(routes!(resident::access_log))
        .routes(routes!(resident::file_correction, resident::corrections))
        .routes(routes!(returnees::returnees))
        .routes(routes!(inflow::inflow))
        .routes(routes!(inflow::roads))
        .routes(routes!(inflow::watch))
        .routes(routes!(resume_power::index))
        .routes(routes!(resume_power::forecast))
        .routes(routes!(resume::application))
        .routes(routes!(resume::plan))
        .routes(routes!(resume::matches))
        .routes(routes!(resume::consent))
        .routes(routes!(resume::withdraw_consent))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::set_status))
        .routes(routes!(market::leads))
        .routes(routes!(market::set_status))
        .routes(routes!(market::prices))
        .routes(routes!(open::risk_areas))
        .routes(routes!(open::migration))
        .routes(routes!(open::case_curve))
        .routes(routes!(open::trail))
        .routes(routes!(sql::sql))
        .routes(routes!(audit::entries))
        .routes(routes!(audit::check))
}
