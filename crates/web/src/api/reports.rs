//! Progress reports over JSON: a unit's figures for a period rolled up from its communities,
//! a community's month submitted, and the due days the levels set.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shequ_app::{Basis, ProgressReport};
use utoipa::ToSchema;

use crate::auth::ApiSession;
use crate::error::{ErrorBody, WebError};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ReportQuery {
    basis: Option<String>,
}

/// A unit's figures for a period (`2010-03`, `2010-Q1` or `2010`) and the same for each child
/// unit: services, activities, reporting completeness and evaluation progress. `basis=live`
/// (default) reads the records as they stand; `basis=submitted` the communities' submitted
/// month reports, with `changed_since_submitted` counting the months whose records changed
/// since.
#[utoipa::path(get, path = "/api/v1/units/{code}/reports/{period}",
    params(("code" = String, Path), ("period" = String, Path), ("basis" = Option<String>, Query, description = "live (default) or submitted")),
    responses((status = 200, body = ProgressReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, period)): Path<(String, String)>,
    Query(query): Query<ReportQuery>,
) -> Result<Json<ProgressReport>, WebError> {
    let basis = Basis::parse(query.basis.as_deref().unwrap_or("")).map_err(WebError::Api)?;
    let view = state
        .app
        .progress_report(&session.caller, &code, &period, basis)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(view.report()))
}

#[derive(Serialize, ToSchema)]
pub struct SubmittedJson {
    unit: String,
    /// `2010-03`
    period: String,
    first_submitted_at: String,
    submitted_at: String,
    submissions: i64,
    message: String,
}

/// Submits the community's month report (again, after changes): its figures as they stand are
/// kept as the submitted snapshot; the first submission decides on time or late.
#[utoipa::path(post, path = "/api/v1/units/{code}/reports/{period}/submit",
    params(("code" = String, Path), ("period" = String, Path, description = "a month: 2010-03")),
    responses((status = 200, body = SubmittedJson), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, period)): Path<(String, String)>,
) -> Result<Json<SubmittedJson>, WebError> {
    let r = state
        .app
        .submit_report(&session.caller, &code, &period)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(SubmittedJson {
        unit: r.unit.as_str().to_string(),
        period: format!("{}-{:02}", r.year, r.month),
        message: format!(
            "已报送{}年{}月月报（第 {} 次）",
            r.year, r.month, r.submissions
        ),
        first_submitted_at: r.first_submitted_at,
        submitted_at: r.submitted_at,
        submissions: r.submissions,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlineBody {
    /// the day of the following month
    day: i64,
}

#[derive(Serialize, ToSchema)]
pub struct DeadlineJson {
    due_on: String,
    message: String,
}

/// Sets the day of the following month by which the month reports of the communities below
/// the unit are due; not later than a level above set for the month.
#[utoipa::path(put, path = "/api/v1/units/{code}/report-deadlines/{period}",
    params(("code" = String, Path), ("period" = String, Path, description = "a month: 2010-03")),
    request_body = DeadlineBody,
    responses((status = 200, body = DeadlineJson), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn set_deadline(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, period)): Path<(String, String)>,
    Json(body): Json<DeadlineBody>,
) -> Result<Json<DeadlineJson>, WebError> {
    let due = state
        .app
        .set_report_deadline(&session.caller, &code, &period, body.day)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(DeadlineJson {
        due_on: due.to_string(),
        message: format!("月报截止日已设为 {due}"),
    }))
}

#[utoipa::path(delete, path = "/api/v1/units/{code}/report-deadlines/{period}",
    params(("code" = String, Path), ("period" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn clear_deadline(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, period)): Path<(String, String)>,
) -> Result<StatusCode, WebError> {
    let cleared = state
        .app
        .clear_report_deadline(&session.caller, &code, &period)
        .await
        .map_err(WebError::Api)?;
    if cleared {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(WebError::Api(shequ_app::AppError::NotFound(
            "该单位未规定这个月的月报截止日".into(),
        )))
    }
}
