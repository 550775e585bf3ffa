//! Democratic evaluations over JSON: results rolled up to any unit, and the survey steps a
//! community worker or officer takes (open, issue codes, void, close, confirm a paper tally).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use shequ_app::domain::surveys::SurveyKind;
use shequ_app::{AppError, PaperCounts};
use utoipa::ToSchema;

use crate::auth::ApiSession;
use crate::error::{ErrorBody, WebError};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct SurveyResultJson {
    /// cadres, building, services or security
    kind: &'static str,
    /// valid ballots: online plus confirmed paper tallies
    ballots: i64,
    satisfied: i64,
    /// satisfaction in percent, two decimals; null when nobody answered (not applicable)
    rate: Option<f64>,
    /// the standard's threshold in percent ("at least")
    threshold: u32,
    /// compared exactly (79.95 does not meet 80); null when not applicable
    met: Option<bool>,
    /// households in the year's profiles
    households: i64,
    /// ballots per household in percent, two decimals; null without households
    participation: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct SurveyResultList {
    items: Vec<SurveyResultJson>,
}

/// The year's four survey results for a community, or added up over everything under a unit.
#[utoipa::path(get, path = "/api/v1/units/{code}/surveys/{year}",
    params(("code" = String, Path), ("year" = i16, Path)),
    responses((status = 200, body = SurveyResultList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn results(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year)): Path<(String, i16)>,
) -> Result<Json<SurveyResultList>, WebError> {
    let results = state
        .app
        .survey_results(&session.caller, &code, year)
        .await
        .map_err(WebError::Api)?;
    let hundredths = |h: i64| h as f64 / 100.0;
    Ok(Json(SurveyResultList {
        items: results
            .iter()
            .map(|r| SurveyResultJson {
                kind: r.kind.as_str(),
                ballots: r.tally.ballots,
                satisfied: r.tally.satisfied,
                rate: r.tally.rate_hundredths().map(hundredths),
                threshold: r.threshold_percent,
                met: r.met,
                households: r.households,
                participation: r.participation_hundredths().map(hundredths),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SurveyActionBody {
    /// open, dates: first day (YYYY-MM-DD), optional
    from: Option<String>,
    /// open, dates: last day, optional
    to: Option<String>,
    /// codes: how many to issue (1-5000)
    count: Option<usize>,
    /// void: the codes of a lost sheet
    codes: Option<Vec<String>>,
    /// confirm: the counts being confirmed; if the tally differs, nothing is confirmed (409)
    expected: Option<ExpectedCounts>,
}

/// A paper tally's counts per answer.
#[derive(Deserialize, ToSchema)]
pub struct ExpectedCounts {
    very: i64,
    fairly: i64,
    not: i64,
}

#[derive(Serialize, ToSchema)]
pub struct SurveyActionJson {
    /// what was done, in Chinese
    message: String,
    /// codes: the issued codes (shown only this once)
    codes: Vec<String>,
}

fn date(text: &Option<String>) -> Result<Option<shequ_app::Date>, AppError> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => shequ_app::domain::dates::parse_date_text(t)
            .map(Some)
            .map_err(AppError::BadRequest),
    }
}

/// One step of a survey: `open`, `dates` (change the dates of an open survey), `codes`, `void`,
/// `close` or `confirm` (a paper tally, by someone other than who entered it).
#[utoipa::path(post, path = "/api/v1/units/{code}/surveys/{year}/{kind}/{action}",
    params(("code" = String, Path), ("year" = i16, Path), ("kind" = String, Path), ("action" = String, Path)),
    request_body = SurveyActionBody,
    responses((status = 200, body = SurveyActionJson), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn action(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year, kind, action)): Path<(String, i16, String, String)>,
    body: Option<Json<SurveyActionBody>>,
) -> Result<Json<SurveyActionJson>, WebError> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let kind = SurveyKind::parse(&kind)
        .ok_or_else(|| WebError::Api(AppError::NotFound(format!("未知的测评类型“{kind}”"))))?;
    let app = &state.app;
    let caller = &session.caller;
    let mut codes = Vec::new();
    let message = match action.as_str() {
        "open" => {
            let (from, to) = (date(&body.from), date(&body.to));
            let (from, to) = (from.map_err(WebError::Api)?, to.map_err(WebError::Api)?);
            app.open_survey(caller, &code, year, kind, from, to)
                .await
                .map(|_| format!("已开启{}", kind.label_zh()))
        }
        "dates" => {
            let (from, to) = (date(&body.from), date(&body.to));
            let (from, to) = (from.map_err(WebError::Api)?, to.map_err(WebError::Api)?);
            app.set_survey_dates(caller, &code, year, kind, from, to)
                .await
                .map(|()| "已修改测评日期".to_string())
        }
        "codes" => {
            let count = body.count.unwrap_or(0);
            app.issue_codes(caller, &code, year, kind, count)
                .await
                .map(|issued| {
                    codes = issued;
                    format!("已发放 {count} 个测评码")
                })
        }
        "void" => app
            .void_codes(caller, &code, year, kind, &body.codes.unwrap_or_default())
            .await
            .map(|n| format!("已作废 {n} 个未使用的测评码")),
        "close" => app
            .close_survey(caller, &code, year, kind)
            .await
            .map(|()| format!("已结束{}", kind.label_zh())),
        "confirm" => app
            .confirm_tally(
                caller,
                &code,
                year,
                kind,
                body.expected.map(|e| PaperCounts {
                    very: e.very,
                    fairly: e.fairly,
                    not: e.not,
                }),
            )
            .await
            .map(|t| format!("已确认纸质计票：{} 票，满意 {} 票", t.ballots, t.satisfied)),
        _ => Err(AppError::NotFound("未知的操作".into())),
    }
    .map_err(WebError::Api)?;
    Ok(Json(SurveyActionJson { message, codes }))
}
