//! Progress report pages: a unit's period with its children and communities (drill-down,
//! submission, due days), the bulletin (通报) with inline SVG charts, its A4 print view and
//! spreadsheet, and each role's landing page after sign-in.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use shequ_app::Cell;
use shequ_app::domain::codes::Level;
use shequ_app::domain::reports::Period;
use shequ_app::{
    AppError, Basis, Bulletin, CommunityPeriod, Dashboard, PeriodView, ReportStatus, Session,
};

use super::account::{PageSession, check_csrf};
use super::page;
use crate::charts;
use crate::error::WebError;
use crate::state::AppState;

/// How a bulletin cell reads: whole numbers without decimals, as the spreadsheet shows them.
pub fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => t.clone(),
        Cell::Number(n) if n.fract() == 0.0 => format!("{n:.0}"),
        Cell::Number(n) => format!("{n:.2}"),
    }
}

fn is_number(cell: &Cell) -> bool {
    matches!(cell, Cell::Number(_))
}

/// Links to the periods around this one, for moving through a year.
struct PeriodLinks {
    /// None beyond the years periods may have (2000 to 2100).
    previous: Option<Period>,
    next: Option<Period>,
    month: Period,
    quarter: Period,
    year: Period,
}

fn period_links(p: Period) -> PeriodLinks {
    let year = p.year();
    let last = p.last_month();
    let step = |forward: bool| match p {
        Period::Month { year, month } => match (forward, month) {
            (true, 12) => Period::Month {
                year: year + 1,
                month: 1,
            },
            (true, m) => Period::Month { year, month: m + 1 },
            (false, 1) => Period::Month {
                year: year - 1,
                month: 12,
            },
            (false, m) => Period::Month { year, month: m - 1 },
        },
        Period::Quarter { year, quarter } => match (forward, quarter) {
            (true, 4) => Period::Quarter {
                year: year + 1,
                quarter: 1,
            },
            (true, q) => Period::Quarter {
                year,
                quarter: q + 1,
            },
            (false, 1) => Period::Quarter {
                year: year - 1,
                quarter: 4,
            },
            (false, q) => Period::Quarter {
                year,
                quarter: q - 1,
            },
        },
        Period::Year(y) => Period::Year(if forward { y + 1 } else { y - 1 }),
    };
    let in_range = |p: Period| (2000..=2100).contains(&p.year()).then_some(p);
    PeriodLinks {
        previous: in_range(step(false)),
        next: in_range(step(true)),
        month: Period::Month { year, month: last },
        quarter: Period::Quarter {
            year,
            quarter: (last + 2) / 3,
        },
        year: Period::Year(year),
    }
}

/// Communities listed per page under a report.
const COMMUNITY_PAGE: usize = 100;

/// One community's line in the completeness list.
struct CommunityLine {
    code: String,
    name: String,
    status: ReportStatus,
    due: String,
    submitted_at: String,
    changed: bool,
    records: i64,
    activities: i64,
    coverage: String,
}

fn community_line(c: &CommunityPeriod) -> CommunityLine {
    // Over a quarter or a year the line shows the worst month: missing before late before on
    // time before not yet due.
    let status = c
        .months
        .iter()
        .map(|m| m.status)
        .max_by_key(|s| match s {
            ReportStatus::Missing => 4,
            ReportStatus::Late => 3,
            ReportStatus::OnTime => 2,
            ReportStatus::Upcoming => 1,
            ReportStatus::NotExpected => 0,
        })
        .unwrap_or(ReportStatus::NotExpected);
    let last = c.months.last();
    CommunityLine {
        code: c.unit.code.as_str().to_string(),
        name: c.unit.name.clone(),
        status,
        due: last.map(|m| m.due.to_string()).unwrap_or_default(),
        submitted_at: last
            .and_then(|m| m.submitted.as_ref())
            .map(|s| shequ_app::short_time(&s.first_submitted_at))
            .unwrap_or_default(),
        changed: c.changed > 0,
        records: c.figures.services.records,
        activities: c.figures.activities.total,
        coverage: c.figures.coverage_display(),
    }
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    view: PeriodView,
    links: PeriodLinks,
    basis: &'static str,
    lines: Vec<CommunityLine>,
    status_filter: String,
    page_number: usize,
    pages: usize,
    listed: usize,
    is_community_month: bool,
    may_submit: bool,
    may_set_deadline: bool,
    own_deadline: Option<i8>,
    csrf_token: String,
    message: Option<String>,
    error: Option<String>,
}

impl ReportPage {
    fn status_label(&self, s: &ReportStatus) -> &'static str {
        s.label_zh()
    }

    fn time(&self, at: &str) -> String {
        shequ_app::short_time(at)
    }

    fn percent(&self, num: &i64, den: &i64) -> String {
        shequ_app::domain::ratio::percent_display(*num, *den)
    }
}

#[derive(Deserialize, Default)]
pub struct ReportQuery {
    basis: Option<String>,
    status: Option<String>,
    page: Option<usize>,
}

#[allow(clippy::too_many_arguments)]
async fn report_page(
    state: &AppState,
    session: &Session,
    code: &str,
    period: &str,
    query: &ReportQuery,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let app = &state.app;
    let basis = Basis::parse(query.basis.as_deref().unwrap_or("")).map_err(WebError::Page)?;
    let view = app
        .progress_report(&session.caller, code, period, basis)
        .await
        .map_err(WebError::Page)?;
    let status_filter = query.status.clone().unwrap_or_default();
    let wanted = match status_filter.as_str() {
        "" => None,
        s => Some(ReportStatus::parse(s).ok_or_else(|| {
            WebError::Page(AppError::BadRequest(
                "status 只能是 on_time、late、missing 或 not_expected".into(),
            ))
        })?),
    };
    let all: Vec<CommunityLine> = view
        .communities
        .iter()
        .map(community_line)
        .filter(|l| wanted.is_none_or(|w| l.status == w))
        .collect();
    let listed = all.len();
    let pages = listed.div_ceil(COMMUNITY_PAGE).max(1);
    let page_number = query.page.unwrap_or(1).clamp(1, pages);
    let lines = all
        .into_iter()
        .skip((page_number - 1) * COMMUNITY_PAGE)
        .take(COMMUNITY_PAGE)
        .collect();
    let unit = &view.total.unit;
    let is_community_month =
        unit.level == Level::Committee && matches!(view.period, Period::Month { .. });
    let may_submit = is_community_month
        && shequ_app::domain::access::may_write_records(
            &session.caller.actor,
            &unit
                .ancestors
                .codes()
                .cloned()
                .chain([unit.code.clone()])
                .collect::<Vec<_>>(),
        );
    let may_set_deadline =
        matches!(view.period, Period::Month { .. }) && app.may_set_deadlines(&session.caller, unit);
    let own_deadline = if may_set_deadline {
        let month = view.period.first_month();
        app.report_deadlines(&session.caller, code, view.period.year())
            .await
            .map_err(WebError::Page)?
            .into_iter()
            .find(|(m, _)| *m == month)
            .map(|(_, d)| d)
    } else {
        None
    };
    page(ReportPage {
        links: period_links(view.period),
        basis: basis.as_str(),
        view,
        lines,
        status_filter,
        page_number,
        pages,
        listed,
        is_community_month,
        may_submit,
        may_set_deadline,
        own_deadline,
        csrf_token: session.csrf_token.clone(),
        message,
        error,
    })
}

pub async fn report(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, period)): Path<(String, String)>,
    Query(query): Query<ReportQuery>,
) -> Result<Response, WebError> {
    report_page(&state, &session, &code, &period, &query, None, None).await
}

/// `/units/{code}/reports` opens the last month that has ended.
pub async fn latest_report(Path(code): Path<String>) -> Result<Response, WebError> {
    // Only a code goes into the address; anything else is refused, not quietly trimmed.
    let code = shequ_app::domain::codes::DivisionCode::parse(&code)
        .map_err(|e| WebError::Page(AppError::BadRequest(format!("单位代码无效：{e}"))))?;
    let t = shequ_app::today();
    let (year, month) = if t.month() == 1 {
        (t.year() - 1, 12)
    } else {
        (t.year(), t.month() - 1)
    };
    Ok(Redirect::to(&format!("/units/{code}/reports/{year}-{month:02}")).into_response())
}

async fn after_form(
    state: &AppState,
    session: &Session,
    code: &str,
    period: &str,
    outcome: Result<String, AppError>,
) -> Result<Response, WebError> {
    let query = ReportQuery::default();
    match outcome {
        Ok(m) => report_page(state, session, code, period, &query, Some(m), None).await,
        Err(
            e @ (AppError::BadRequest(_)
            | AppError::Forbidden(_)
            | AppError::NotFound(_)
            | AppError::Conflict(_)),
        ) => {
            report_page(
                state,
                session,
                code,
                period,
                &query,
                None,
                Some(e.to_string()),
            )
            .await
        }
        Err(e) => Err(WebError::Page(e)),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf_token: String,
}

pub async fn submit(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, period)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let outcome = state
        .app
        .submit_report(&session.caller, &code, &period)
        .await
        .map(|r| {
            format!(
                "已报送{}年{}月月报（第 {} 次）",
                r.year, r.month, r.submissions
            )
        });
    after_form(&state, &session, &code, &period, outcome).await
}

#[derive(Deserialize)]
pub struct DeadlineForm {
    csrf_token: String,
    /// a day, or empty with `clear`
    #[serde(default)]
    day: String,
    #[serde(default)]
    clear: Option<String>,
}

pub async fn deadline(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, period)): Path<(String, String)>,
    Form(form): Form<DeadlineForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let app = &state.app;
    let outcome = if form.clear.is_some() {
        app.clear_report_deadline(&session.caller, &code, &period)
            .await
            .map(|cleared| {
                if cleared {
                    "已取消本单位的截止日设置，按上级或默认截止日执行".to_string()
                } else {
                    "本单位未设置这个月的截止日".to_string()
                }
            })
    } else {
        match form.day.trim().parse::<i64>() {
            Err(_) => Err(AppError::BadRequest(
                "截止日应填写次月的日期（数字）".into(),
            )),
            Ok(day) => app
                .set_report_deadline(&session.caller, &code, &period, day)
                .await
                .map(|due| format!("月报截止日已设为 {due}")),
        }
    };
    after_form(&state, &session, &code, &period, outcome).await
}

/// What the bulletin page and its print view show.
pub struct BulletinView {
    bulletin: Bulletin,
    code: String,
    period: String,
    category_chart: String,
    trend_chart: String,
    ranking_chart: String,
    print: bool,
}

impl BulletinView {
    fn cell(&self, c: &Cell) -> String {
        cell_text(c)
    }

    fn numeric(&self, c: &Cell) -> bool {
        is_number(c)
    }
}

fn percent_value(num: i64, den: i64) -> f64 {
    if den <= 0 {
        0.0
    } else {
        num as f64 * 100.0 / den as f64
    }
}

fn bulletin_view(bulletin: Bulletin, print: bool) -> BulletinView {
    let view = &bulletin.view;
    let categories = &view.total.figures.services.by_category;
    let category_chart = charts::percent_bars(
        "各类服务项目覆盖率（%）",
        &categories
            .iter()
            .map(|c| c.category.to_string())
            .collect::<Vec<_>>(),
        &categories
            .iter()
            .map(|c| percent_value(c.items_covered, c.items_possible))
            .collect::<Vec<_>>(),
    );
    let trend_chart = charts::monthly_line("月度服务记录数", &view.trend);
    let ranking_chart = charts::ranking_bars(
        "各单位服务项目覆盖率（%）",
        &bulletin
            .ranked
            .iter()
            .map(|r| r.unit.name.clone())
            .collect::<Vec<_>>(),
        &bulletin
            .ranked
            .iter()
            .map(|r| {
                percent_value(
                    r.figures.services.items_covered,
                    r.figures.services.items_possible,
                )
            })
            .collect::<Vec<_>>(),
    );
    BulletinView {
        code: view.total.unit.code.as_str().to_string(),
        period: view.period.to_string(),
        bulletin,
        category_chart,
        trend_chart,
        ranking_chart,
        print,
    }
}

#[derive(Template)]
#[template(path = "bulletin.html")]
struct BulletinPage {
    view: BulletinView,
}

#[derive(Template)]
#[template(path = "bulletin_print.html")]
struct BulletinPrint {
    view: BulletinView,
}

#[derive(Deserialize)]
pub struct PrintQuery {
    print: Option<String>,
}

pub async fn bulletin(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, period)): Path<(String, String)>,
    Query(query): Query<PrintQuery>,
) -> Result<Response, WebError> {
    let bulletin = state
        .app
        .bulletin(&session.caller, &code, &period)
        .await
        .map_err(WebError::Page)?;
    let view = bulletin_view(bulletin, query.print.is_some());
    if view.print {
        page(BulletinPrint { view })
    } else {
        page(BulletinPage { view })
    }
}

pub async fn bulletin_export(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, period)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let file = state
        .app
        .bulletin_file(&session.caller, &code, &period)
        .await
        .map_err(WebError::Page)?;
    Ok(crate::api::evaluations::xlsx_response(file))
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    dashboard: Dashboard,
    display_name: String,
}

impl DashboardPage {
    fn status_label(&self, s: &ReportStatus) -> &'static str {
        s.label_zh()
    }

    fn rate(&self, view: &PeriodView) -> String {
        view.total.completeness.rate_display()
    }

    fn child_rate(&self, r: &shequ_app::Rollup) -> String {
        r.completeness.rate_display()
    }
}

/// Where each role lands after signing in.
pub async fn dashboard(
    State(state): State<AppState>,
    PageSession(session): PageSession,
) -> Result<Response, WebError> {
    let dashboard = state
        .app
        .dashboard(&session.caller)
        .await
        .map_err(WebError::Page)?;
    if let Dashboard::Bulletin { unit, period } = &dashboard {
        return Ok(
            Redirect::to(&format!("/units/{}/bulletin/{period}", unit.code)).into_response(),
        );
    }
    page(DashboardPage {
        dashboard,
        display_name: session.user.display_name.clone(),
    })
}
