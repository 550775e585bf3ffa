//! Evaluation pages: a community's year on the 25 indicators (with the on-site checklist,
//! overrides and the review chain), and the ranking of the communities under any unit with its
//! award list, print view and spreadsheet.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use shequ_app::domain::evaluation::{IndicatorResult, ReviewAction, ReviewState, Status};
use shequ_app::domain::units::Unit;
use shequ_app::{AppError, CommunityEvaluation, RankRow, ReviewView, Session};

use super::account::{PageSession, check_csrf};
use super::page;
use crate::error::WebError;
use crate::state::AppState;

/// An indicator's line on the page.
pub struct IndicatorLine {
    number: u32,
    text: String,
    weight: u32,
    status: Status,
    automatic: Status,
    detail: String,
    overridden: bool,
    vetoed: bool,
    /// The checklist items, if this indicator is assessed on site.
    checklist: Vec<String>,
}

impl IndicatorLine {
    fn css(&self) -> &'static str {
        match self.status {
            Status::Met | Status::NotApplicable => "ok",
            Status::NotMet => "bad",
            Status::Missing | Status::AwaitingAssessment => "pending",
        }
    }
}

#[derive(Template)]
#[template(path = "evaluation.html")]
struct EvaluationPage {
    unit: Unit,
    year: i16,
    result: CommunityEvaluation,
    lines: Vec<IndicatorLine>,
    review: ReviewView,
    may_assess: bool,
    csrf_token: String,
    message: Option<String>,
    error: Option<String>,
}

impl EvaluationPage {
    fn state_label(&self, state: &ReviewState) -> &'static str {
        state.label_zh()
    }

    fn level_name(&self, level: &str) -> &'static str {
        shequ_app::domain::codes::Level::ALL
            .into_iter()
            .find(|l| l.as_str() == level)
            .map_or("", shequ_app::domain::evaluation::review::level_label)
    }

    fn action_name(&self, action: &str) -> &'static str {
        ReviewAction::parse(action).map_or("", ReviewAction::label_zh)
    }
}

async fn evaluation_page(
    state: &AppState,
    session: &Session,
    code: &str,
    year: i16,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let app = &state.app;
    let (unit, mut results) = app
        .evaluate(&session.caller, code, year)
        .await
        .map_err(WebError::Page)?;
    if !unit.kind.is_community() {
        return Err(WebError::Page(AppError::BadRequest(format!(
            "{}不是社区；各社区的考评排名见 /units/{}/rankings/{year}",
            unit.name, unit.code
        ))));
    }
    let Some(result) = results.pop() else {
        return Err(WebError::Page(AppError::NotFound(format!(
            "{}在 {year} 年不存在",
            unit.name
        ))));
    };
    let review = app
        .review(&session.caller, code, year)
        .await
        .map_err(WebError::Page)?;
    let standard = app.current_standard().await.map_err(WebError::Page)?;
    let lines = result
        .evaluation
        .indicators
        .iter()
        .map(|r: &IndicatorResult| IndicatorLine {
            number: r.number,
            text: standard
                .indicators()
                .find(|(_, i)| i.number == r.number)
                .map(|(_, i)| i.text.clone())
                .unwrap_or_default(),
            weight: r.weight,
            status: r.status,
            automatic: r.automatic,
            detail: r.detail.clone(),
            overridden: r.overridden.is_some(),
            vetoed: r.vetoed,
            checklist: standard
                .rule(r.number)
                .map(|rule| rule.inspection_items())
                .unwrap_or_default(),
        })
        .collect();
    let may_assess =
        app.may_assess(&session.caller, &unit) && result.review_state != ReviewState::Final;
    page(EvaluationPage {
        unit,
        year,
        result,
        lines,
        review,
        may_assess,
        csrf_token: session.csrf_token.clone(),
        message,
        error,
    })
}

pub async fn evaluation(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year)): Path<(String, i16)>,
) -> Result<Response, WebError> {
    evaluation_page(&state, &session, &code, year, None, None).await
}

/// What a refused form shows on the page it came from; system faults get the error page.
async fn after_action(
    state: &AppState,
    session: &Session,
    code: &str,
    year: i16,
    outcome: Result<String, AppError>,
) -> Result<Response, WebError> {
    match outcome {
        Ok(message) => evaluation_page(state, session, code, year, Some(message), None).await,
        Err(
            e @ (AppError::BadRequest(_)
            | AppError::Forbidden(_)
            | AppError::NotFound(_)
            | AppError::Conflict(_)),
        ) => evaluation_page(state, session, code, year, None, Some(e.to_string())).await,
        Err(e) => Err(WebError::Page(e)),
    }
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf_token: String,
    action: String,
    #[serde(default)]
    reason: String,
}

pub async fn review(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year)): Path<(String, i16)>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let outcome = match ReviewAction::parse(&form.action) {
        None => Err(AppError::BadRequest("未知的审核操作".into())),
        Some(action) => state
            .app
            .review_action(&session.caller, &code, year, action, &form.reason)
            .await
            .map(|to| format!("已{}，当前状态：{}", action.label_zh(), to.label_zh())),
    };
    after_action(&state, &session, &code, year, outcome).await
}

pub async fn inspection(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year, number)): Path<(String, i16, u32)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let csrf = form
        .iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    check_csrf(&session, csrf)?;
    // Each item comes as `item:<label>` = yes | no, so an unticked item is a "no", not absent.
    let items = form
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("item:").map(|label| (label, v)))
        .map(|(label, v)| match v.as_str() {
            "yes" => Ok((label.to_string(), true)),
            "no" => Ok((label.to_string(), false)),
            _ => Err(AppError::BadRequest(format!(
                "“{label}”应选“符合”或“不符合”"
            ))),
        })
        .collect::<Result<std::collections::BTreeMap<String, bool>, AppError>>();
    let outcome = match items {
        Ok(items) => state
            .app
            .enter_inspection(&session.caller, &code, year, number, &items)
            .await
            .map(|()| format!("已录入第 {number} 项现场检查")),
        Err(e) => Err(e),
    };
    after_action(&state, &session, &code, year, outcome).await
}

#[derive(Deserialize)]
pub struct OverrideForm {
    csrf_token: String,
    /// met, not_met, not_applicable, or clear to go back to the automatic result
    status: String,
    #[serde(default)]
    reason: String,
}

pub async fn set_override(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year, number)): Path<(String, i16, u32)>,
    Form(form): Form<OverrideForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let app = &state.app;
    let outcome = if form.status == "clear" {
        app.clear_override(&session.caller, &code, year, number)
            .await
            .map(|()| format!("已撤销第 {number} 项的人工认定"))
    } else {
        match Status::parse(&form.status) {
            None => Err(AppError::BadRequest("请选择人工认定的结果".into())),
            Some(status) => app
                .set_override(&session.caller, &code, year, number, status, &form.reason)
                .await
                .map(|()| format!("第 {number} 项已人工认定为{}", status.label_zh())),
        }
    };
    after_action(&state, &session, &code, year, outcome).await
}

/// What the ranking page and its print view show.
pub struct RankingView {
    unit: Unit,
    year: i16,
    rows: Vec<RankRow>,
    awards: Vec<RankRow>,
    finalised: usize,
    print: bool,
}

impl RankingView {
    fn state_name(&self, state: &str) -> &'static str {
        ReviewState::parse(state).map_or("", ReviewState::label_zh)
    }
}

#[derive(Template)]
#[template(path = "rankings.html")]
struct RankingsPage {
    view: RankingView,
}

#[derive(Template)]
#[template(path = "rankings_print.html")]
struct RankingsPrint {
    view: RankingView,
}

#[derive(Deserialize)]
pub struct RankingQuery {
    print: Option<String>,
}

pub async fn rankings(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year)): Path<(String, i16)>,
    Query(query): Query<RankingQuery>,
) -> Result<Response, WebError> {
    let (unit, rows) = state
        .app
        .rankings(&session.caller, &code, year)
        .await
        .map_err(WebError::Page)?;
    let awards = rows.iter().filter(|r| r.award).cloned().collect();
    let finalised = rows
        .iter()
        .filter(|r| r.review_state == ReviewState::Final.as_str())
        .count();
    let view = RankingView {
        unit,
        year,
        rows,
        awards,
        finalised,
        print: query.print.is_some(),
    };
    if view.print {
        page(RankingsPrint { view })
    } else {
        page(RankingsPage { view })
    }
}

pub async fn rankings_export(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year)): Path<(String, i16)>,
) -> Result<Response, WebError> {
    let file = state
        .app
        .rankings_file(&session.caller, &code, year)
        .await
        .map_err(WebError::Page)?;
    Ok(crate::api::evaluations::xlsx_response(file))
}

/// `/units/{code}/evaluations` and `/units/{code}/rankings` open this year's page.
pub async fn this_years_evaluation(Path(code): Path<String>) -> Response {
    this_year(&format!("/units/{}/evaluations", urlencode(&code)))
}

pub async fn this_years_rankings(Path(code): Path<String>) -> Response {
    this_year(&format!("/units/{}/rankings", urlencode(&code)))
}

fn this_year(prefix: &str) -> Response {
    use axum::response::IntoResponse;
    axum::response::Redirect::to(&format!("{prefix}/{}", shequ_app::today().year())).into_response()
}

/// Keeps only digits: unit codes are digits, anything else would be refused by the next page.
fn urlencode(code: &str) -> String {
    code.chars().filter(char::is_ascii_digit).take(12).collect()
}
