//! Evaluation over JSON: every community under a unit assessed, the review chain's steps,
//! on-site checklists and overrides, and rankings (also as xlsx).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shequ_app::domain::evaluation::{ReviewAction, Status};
use shequ_app::{AppError, EvaluationReport, RankRow};
use utoipa::ToSchema;

use crate::auth::ApiSession;
use crate::error::{ErrorBody, WebError};
use crate::state::AppState;

/// Every community under the unit (or the community itself): an array of
/// `{unit, name, year, score, award, review_state, indicators: [{number, status, detail}]}`,
/// the same as `shequ evaluate --json`.
#[utoipa::path(get, path = "/api/v1/units/{code}/evaluations/{year}",
    params(("code" = String, Path), ("year" = i16, Path)),
    responses((status = 200, body = Vec<EvaluationReport>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn evaluations(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year)): Path<(String, i16)>,
) -> Result<Json<Vec<EvaluationReport>>, WebError> {
    let (_, results) = state
        .app
        .evaluate(&session.caller, &code, year)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(results.iter().map(|r| r.report()).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct ReviewEventJson {
    action: String,
    from_state: &'static str,
    to_state: &'static str,
    /// committee, township, county, prefecture or province
    level: String,
    reason: String,
    actor: String,
    at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewJson {
    /// draft, returned, submitted, approved_township, approved_county, approved_prefecture or final
    state: &'static str,
    /// the level whose step it is (committee before submission); null once final
    awaiting: Option<&'static str>,
    /// the levels that review this community, nearest first
    chain: Vec<&'static str>,
    /// the steps the caller may take now
    allowed: Vec<&'static str>,
    history: Vec<ReviewEventJson>,
}

/// A community year's review: its state, whose step it is, what the caller may do, its history.
#[utoipa::path(get, path = "/api/v1/units/{code}/reviews/{year}",
    params(("code" = String, Path), ("year" = i16, Path)),
    responses((status = 200, body = ReviewJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn review(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year)): Path<(String, i16)>,
) -> Result<Json<ReviewJson>, WebError> {
    let view = state
        .app
        .review(&session.caller, &code, year)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(ReviewJson {
        state: view.state.as_str(),
        awaiting: view.awaiting.map(|l| l.as_str()),
        chain: view.chain.iter().map(|l| l.as_str()).collect(),
        allowed: view.allowed.iter().map(|a| a.as_str()).collect(),
        history: view
            .history
            .into_iter()
            .map(|e| ReviewEventJson {
                action: e.action,
                from_state: e.from_state.as_str(),
                to_state: e.to_state.as_str(),
                level: e.level,
                reason: e.reason,
                actor: e.actor,
                at: e.at,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// why: required to return or reopen
    #[serde(default)]
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewStepJson {
    /// the new state
    state: &'static str,
    message: String,
}

/// A review step: `submit` (the community), `approve` or `return` (the level whose step it is),
/// `withdraw` (the level that took the last step, while the next has not acted), `reopen` (the
/// province, after its final approval).
#[utoipa::path(post, path = "/api/v1/units/{code}/reviews/{year}/{action}",
    params(("code" = String, Path), ("year" = i16, Path), ("action" = String, Path)),
    request_body = ReasonBody,
    responses((status = 200, body = ReviewStepJson), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn review_step(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year, action)): Path<(String, i16, String)>,
    body: Option<Json<ReasonBody>>,
) -> Result<Json<ReviewStepJson>, WebError> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let action = ReviewAction::parse(&action).ok_or_else(|| {
        WebError::Api(AppError::NotFound(format!(
            "未知的审核操作“{}”",
            shequ_app::domain::text::excerpt(&action, 20)
        )))
    })?;
    let to = state
        .app
        .review_action(&session.caller, &code, year, action, &body.reason)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(ReviewStepJson {
        state: to.as_str(),
        message: format!("已{}，当前状态：{}", action.label_zh(), to.label_zh()),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectionBody {
    /// every item of the indicator's checklist, true when it holds
    items: BTreeMap<String, bool>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageJson {
    message: String,
}

/// Enters an on-site checklist (indicator 18 by default), as an evaluator or officer.
#[utoipa::path(post, path = "/api/v1/units/{code}/evaluations/{year}/indicators/{number}/inspection",
    params(("code" = String, Path), ("year" = i16, Path), ("number" = u32, Path)),
    request_body = InspectionBody,
    responses((status = 200, body = MessageJson), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn inspection(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year, number)): Path<(String, i16, u32)>,
    Json(body): Json<InspectionBody>,
) -> Result<Json<MessageJson>, WebError> {
    state
        .app
        .enter_inspection(&session.caller, &code, year, number, &body.items)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(MessageJson {
        message: format!("已录入第 {number} 项现场检查"),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    /// met, not_met or not_applicable
    status: String,
    reason: String,
}

/// Sets a result in place of the automatic one (POST), or removes it (DELETE); the automatic
/// result stays visible beside it.
#[utoipa::path(post, path = "/api/v1/units/{code}/evaluations/{year}/indicators/{number}/override",
    params(("code" = String, Path), ("year" = i16, Path), ("number" = u32, Path)),
    request_body = OverrideBody,
    responses((status = 200, body = MessageJson), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn set_override(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year, number)): Path<(String, i16, u32)>,
    Json(body): Json<OverrideBody>,
) -> Result<Json<MessageJson>, WebError> {
    let status = Status::parse(&body.status).ok_or_else(|| {
        WebError::Api(AppError::BadRequest(
            "status 应为 met、not_met 或 not_applicable".into(),
        ))
    })?;
    state
        .app
        .set_override(&session.caller, &code, year, number, status, &body.reason)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(MessageJson {
        message: format!("第 {number} 项已人工认定为{}", status.label_zh()),
    }))
}

#[utoipa::path(delete, path = "/api/v1/units/{code}/evaluations/{year}/indicators/{number}/override",
    params(("code" = String, Path), ("year" = i16, Path), ("number" = u32, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn clear_override(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year, number)): Path<(String, i16, u32)>,
) -> Result<StatusCode, WebError> {
    state
        .app
        .clear_override(&session.caller, &code, year, number)
        .await
        .map_err(WebError::Api)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct RankingQuery {
    format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RankingJson {
    /// the communities ranked by score
    items: Vec<RankRow>,
    /// 特色型社区: meeting the award rule, finalised by the province
    awards: Vec<RankRow>,
}

/// The communities under a unit ranked by score, with the award list; `?format=xlsx` for a
/// spreadsheet.
#[utoipa::path(get, path = "/api/v1/units/{code}/rankings/{year}",
    params(("code" = String, Path), ("year" = i16, Path), ("format" = Option<String>, Query, description = "json (default) or xlsx")),
    responses((status = 200, body = RankingJson), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn rankings(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year)): Path<(String, i16)>,
    Query(query): Query<RankingQuery>,
) -> Result<Response, WebError> {
    match query.format.as_deref() {
        None | Some("json") => {
            let (_, rows) = state
                .app
                .rankings(&session.caller, &code, year)
                .await
                .map_err(WebError::Api)?;
            let awards = rows.iter().filter(|r| r.award).cloned().collect();
            Ok(Json(RankingJson {
                items: rows,
                awards,
            })
            .into_response())
        }
        Some("xlsx") => {
            let file = state
                .app
                .rankings_file(&session.caller, &code, year)
                .await
                .map_err(WebError::Api)?;
            Ok(xlsx_response(file))
        }
        Some(_) => Err(WebError::Api(AppError::BadRequest(
            "format 应为 json 或 xlsx".into(),
        ))),
    }
}

/// A spreadsheet download: (ASCII file name, file name, bytes).
pub(crate) fn xlsx_response((ascii_name, name, bytes): (String, String, Vec<u8>)) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
            ),
            (
                header::CONTENT_DISPOSITION,
                crate::download::attachment(&ascii_name, &name),
            ),
        ],
        bytes,
    )
        .into_response()
}
