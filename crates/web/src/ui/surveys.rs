//! Pages for democratic evaluations: a community's surveys of a year (open, issue codes as a
//! print sheet, void, close, confirm a paper tally), and the public voting page.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use shequ_app::domain::surveys::SurveyKind;
use shequ_app::domain::units::Unit;
use shequ_app::{
    AppError, BallotView, CastOutcome, KindSurveys, PaperCounts, Session, SurveyResult,
};

use super::account::{PageSession, check_csrf};
use super::page;
use crate::auth::ClientAddress;
use crate::error::WebError;
use crate::state::AppState;

/// One row of the results table, formatted.
pub struct ResultRow {
    label: &'static str,
    ballots: i64,
    satisfied: i64,
    rate: String,
    threshold: u32,
    met: &'static str,
    participation: String,
}

fn result_row(r: &SurveyResult) -> ResultRow {
    ResultRow {
        label: r.kind.label_zh(),
        ballots: r.tally.ballots,
        satisfied: r.tally.satisfied,
        rate: r
            .tally
            .rate_hundredths()
            .map_or("不适用".into(), shequ_app::percent),
        threshold: r.threshold_percent,
        met: match r.met {
            Some(true) => "是",
            Some(false) => "否",
            None => "不适用",
        },
        participation: r
            .participation_hundredths()
            .map_or("—".into(), shequ_app::percent),
    }
}

#[derive(Template)]
#[template(path = "surveys.html")]
struct SurveysPage {
    unit: Unit,
    year: i16,
    results: Vec<ResultRow>,
    surveys: Vec<KindSurveys>,
    may_run: bool,
    csrf_token: String,
    message: Option<String>,
    error: Option<String>,
}

async fn surveys_page(
    state: &AppState,
    session: &Session,
    code: &str,
    year: i16,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let (unit, surveys) = state
        .app
        .community_surveys(&session.caller, code, year)
        .await
        .map_err(WebError::Page)?;
    let results = state
        .app
        .survey_results(&session.caller, code, year)
        .await
        .map_err(WebError::Page)?;
    let may_run = state.app.may_run_surveys(&session.caller, &unit);
    page(SurveysPage {
        unit,
        year,
        results: results.iter().map(result_row).collect(),
        surveys,
        may_run,
        csrf_token: session.csrf_token.clone(),
        message,
        error,
    })
}

pub async fn surveys(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year)): Path<(String, i16)>,
) -> Result<Response, WebError> {
    surveys_page(&state, &session, &code, year, None, None).await
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf_token: String,
    from: Option<String>,
    to: Option<String>,
    count: Option<String>,
    codes: Option<String>,
    /// close: the box saying the closer knows results become final
    sure: Option<String>,
    /// confirm: the counts the confirmer was shown
    very: Option<i64>,
    fairly: Option<i64>,
    not: Option<i64>,
}

fn optional_date(text: &Option<String>) -> Result<Option<shequ_app::Date>, AppError> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => shequ_app::domain::dates::parse_date_text(t)
            .map(Some)
            .map_err(AppError::BadRequest),
    }
}

pub async fn action(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year, kind, action)): Path<(String, i16, String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let kind = SurveyKind::parse(&kind)
        .ok_or_else(|| WebError::Page(AppError::NotFound("未知的测评类型".into())))?;
    let app = &state.app;
    let caller = &session.caller;
    let outcome: Result<String, AppError> = match action.as_str() {
        "open" => match (optional_date(&form.from), optional_date(&form.to)) {
            (Ok(from), Ok(to)) => app
                .open_survey(caller, &code, year, kind, from, to)
                .await
                .map(|_| format!("已开启{}", kind.label_zh())),
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        "close" if form.sure.as_deref() != Some("yes") => Err(AppError::BadRequest(
            "请勾选确认：结束后结果为最终结果".into(),
        )),
        "close" => app
            .close_survey(caller, &code, year, kind)
            .await
            .map(|()| format!("已结束{}，结果为最终结果", kind.label_zh())),
        "void" => {
            let codes: Vec<String> = form
                .codes
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect();
            app.void_codes(caller, &code, year, kind, &codes)
                .await
                .map(|n| format!("已作废 {n} 个未使用的测评码"))
        }
        "confirm" => match (form.very, form.fairly, form.not) {
            (Some(very), Some(fairly), Some(not)) => app
                .confirm_tally(
                    caller,
                    &code,
                    year,
                    kind,
                    Some(PaperCounts { very, fairly, not }),
                )
                .await
                .map(|t| format!("已确认纸质计票：{} 票，满意 {} 票", t.ballots, t.satisfied)),
            _ => Err(AppError::BadRequest(
                "请从测评页面确认纸质计票（缺少所确认的票数）".into(),
            )),
        },
        "codes" => {
            let count = form
                .count
                .as_deref()
                .unwrap_or("")
                .trim()
                .parse::<usize>()
                .map_err(|_| AppError::BadRequest("请填写要发放的测评码数量".into()));
            match count {
                Ok(count) => match app.issue_codes(caller, &code, year, kind, count).await {
                    Ok(codes) => return sheet_response(&state, &code, year, kind, &codes).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        }
        _ => Err(AppError::NotFound("页面不存在".into())),
    };
    match outcome {
        Ok(message) => surveys_page(&state, &session, &code, year, Some(message), None).await,
        Err(e @ (AppError::BadRequest(_) | AppError::Forbidden(_) | AppError::NotFound(_))) => {
            surveys_page(&state, &session, &code, year, None, Some(e.to_string())).await
        }
        Err(e) => Err(WebError::Page(e)),
    }
}

/// The print sheet, shown once: the codes are stored only as hashes.
async fn sheet_response(
    state: &AppState,
    code: &str,
    year: i16,
    kind: SurveyKind,
    codes: &[String],
) -> Result<Response, WebError> {
    let html = state
        .app
        .ballot_sheet(code, year, kind, codes, &state.public_url)
        .await
        .map_err(WebError::Page)?;
    let mut response = Html(html).into_response();
    // The sheet carries its own print styles and no script.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Template)]
#[template(path = "vote.html")]
struct VotePage {
    title: String,
    ballot: Option<BallotView>,
    message: Option<String>,
    ok: bool,
    show_form: bool,
}

fn vote_page(
    ballot: Option<BallotView>,
    message: Option<String>,
    ok: bool,
) -> Result<Response, WebError> {
    let show_form = ballot
        .as_ref()
        .is_some_and(|b| b.code_state == "unused" && b.state == shequ_app::SurveyState::Open)
        && !ok;
    page(VotePage {
        title: "居民民主测评".into(),
        ballot,
        message,
        ok,
        show_form,
    })
}

fn closed_message(b: &BallotView) -> Option<String> {
    match (b.code_state.as_str(), b.state) {
        ("used", _) => Some("这个测评码已经投过票，每个码只能使用一次。".into()),
        ("void", _) => Some("这个测评码已作废。".into()),
        ("expired", _) | (_, shequ_app::SurveyState::Closed | shequ_app::SurveyState::Ended) => {
            Some("测评已结束。".into())
        }
        (_, shequ_app::SurveyState::NotYetOpen) => Some(format!(
            "测评尚未开始{}。",
            b.survey
                .opens_on
                .map_or(String::new(), |d| format!("，{d} 开始"))
        )),
        _ => None,
    }
}

/// Where a resident without a camera types the code printed under the QR code.
pub async fn code_entry() -> Result<Response, WebError> {
    vote_page(None, None, false)
}

#[derive(Deserialize)]
pub struct CodeEntryForm {
    code: String,
}

/// A typed code leads to its voting page; wrong codes count against the client as in the URL.
pub async fn enter_code(
    State(state): State<AppState>,
    ClientAddress(client, _): ClientAddress,
    Form(form): Form<CodeEntryForm>,
) -> Result<Response, WebError> {
    match state.app.ballot(&form.code, &client).await {
        Ok(b) => Ok(axum::response::Redirect::to(&format!("/v/{}", b.code)).into_response()),
        Err(e @ (AppError::NotFound(_) | AppError::TooManyAttempts(_))) => public_error(e),
        Err(e) => Err(WebError::Page(e)),
    }
}

/// The public voting page: no sign-in; the code is the ticket.
pub async fn vote_form(
    State(state): State<AppState>,
    ClientAddress(client, _): ClientAddress,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    match state.app.ballot(&code, &client).await {
        Ok(b) => {
            let message = closed_message(&b);
            vote_page(Some(b), message, false)
        }
        Err(e @ (AppError::NotFound(_) | AppError::TooManyAttempts(_))) => public_error(e),
        Err(e) => Err(WebError::Page(e)),
    }
}

/// The ballot page again with what was wrong; nothing was counted and the code stays unused.
fn invalid_ballot(ballot: BallotView, message: String) -> Result<Response, WebError> {
    let mut response = vote_page(Some(ballot), Some(message), false)?;
    *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    Ok(response)
}

fn public_error(e: AppError) -> Result<Response, WebError> {
    let status = match e {
        AppError::TooManyAttempts(_) => axum::http::StatusCode::TOO_MANY_REQUESTS,
        _ => axum::http::StatusCode::NOT_FOUND,
    };
    let mut response = vote_page(None, Some(e.to_string()), false)?;
    *response.status_mut() = status;
    Ok(response)
}

pub async fn vote(
    State(state): State<AppState>,
    ClientAddress(client, _): ClientAddress,
    Path(code): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let ballot = match state.app.ballot(&code, &client).await {
        Ok(b) => b,
        Err(e @ (AppError::NotFound(_) | AppError::TooManyAttempts(_))) => return public_error(e),
        Err(e) => return Err(WebError::Page(e)),
    };
    let questions = ballot.survey.spec.questions.len();
    let mut answers: Vec<Option<usize>> = Vec::with_capacity(questions);
    for i in 0..questions {
        let key = format!("q{i}");
        let given: Vec<&str> = form
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.trim())
            .collect();
        // Two answers to one question is a tampered form, not a choice to guess between.
        if given.len() > 1 {
            return invalid_ballot(ballot, format!("第 {} 题只能选择一项", i + 1));
        }
        answers.push(given.first().and_then(|v| v.parse().ok()));
    }
    let outcome = state.app.cast_ballot(&code, &answers, &client).await;
    let (message, ok) = match outcome {
        Ok(CastOutcome::Cast) => ("投票成功，谢谢您的参与！".to_string(), true),
        Ok(CastOutcome::AlreadyUsed) => (
            "这个测评码已经投过票，每个码只能使用一次；本次提交未计入。".into(),
            false,
        ),
        Ok(CastOutcome::Void) => ("这个测评码已作废。".into(), false),
        Ok(CastOutcome::Expired) => ("测评已结束。".into(), false),
        Ok(CastOutcome::NotYetOpen) => ("测评尚未开始。".into(), false),
        Ok(CastOutcome::Unknown) => ("测评码无效。".into(), false),
        Err(AppError::BadRequest(m)) => return invalid_ballot(ballot, m),
        Err(e) => return Err(WebError::Page(e)),
    };
    let mut view = ballot;
    if ok || view.code_state == "unused" {
        // Re-read so the page shows the code as used, without the form.
        view.code_state = "used".into();
    }
    vote_page(Some(view), Some(message), ok)
}
