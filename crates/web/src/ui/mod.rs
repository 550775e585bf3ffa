//! Server-rendered pages in Chinese. Askama escapes everything a template prints.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

/// Whether this server shows demo data: every page says so. One server serves one database,
/// so the flag is the process's.
static DEMO: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn set_demo(on: bool) {
    DEMO.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn demo_mode() -> bool {
    DEMO.load(std::sync::atomic::Ordering::Relaxed)
}

mod account;
mod admin;
mod evaluations;
mod records;
mod reports;
pub(crate) mod surveys;
use serde::Deserialize;
use shequ_app::domain::Standard;
use shequ_app::domain::units::{Unit, UnitCounts};
use shequ_app::{AppError, GroupSummary, NameChange, SearchPage, UnitView};

use crate::error::WebError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/catalogue", get(catalogue))
        .route("/indicators", get(indicators))
        .route("/units", get(units))
        .route("/units/{code}", get(unit))
        .route("/groups", get(groups))
        .route("/groups/{set}/{group}", get(group))
        .route("/static/style.css", get(stylesheet))
        .route("/login", get(account::login_form).post(account::login))
        .route("/logout", post(account::logout))
        .route("/account", get(account::account))
        .route("/account/password", post(account::change_password))
        .route(
            "/setup/{token}",
            get(account::setup_form).post(account::setup),
        )
        .route("/audit", get(admin::audit))
        .route("/users", get(admin::users).post(admin::create_user))
        .route("/users/import", post(admin::import_users))
        .route("/users/{username}/{action}", post(admin::user_action))
        .route("/units/{code}/records", get(records::records_home))
        .route("/units/{code}/records/{year}", get(records::year))
        .route(
            "/units/{code}/records/{year}/{kind}",
            get(records::list).post(records::create),
        )
        .route(
            "/units/{code}/records/{year}/{kind}/export",
            get(records::export),
        )
        .route(
            "/records/import",
            get(records::import_form)
                .post(records::import)
                .layer(DefaultBodyLimit::max(crate::IMPORT_LIMIT)),
        )
        .route("/records/templates/{kind}", get(records::template))
        .route("/records/{id}", get(records::record).post(records::update))
        .route(
            "/records/{id}/delete",
            get(records::delete_form).post(records::delete),
        )
        .route(
            "/records/{id}/files",
            post(records::upload_file).layer(DefaultBodyLimit::max(crate::UPLOAD_LIMIT)),
        )
        .route("/files/{id}", get(records::download_file))
        .route("/files/{id}/delete", post(records::delete_file))
        .route("/units/{code}/surveys/{year}", get(surveys::surveys))
        .route(
            "/units/{code}/surveys/{year}/{kind}/{action}",
            post(surveys::action),
        )
        .route(
            "/units/{code}/evaluations",
            get(evaluations::this_years_evaluation),
        )
        .route(
            "/units/{code}/rankings",
            get(evaluations::this_years_rankings),
        )
        .route(
            "/units/{code}/evaluations/{year}",
            get(evaluations::evaluation),
        )
        .route(
            "/units/{code}/evaluations/{year}/review",
            post(evaluations::review),
        )
        .route(
            "/units/{code}/evaluations/{year}/indicators/{number}/inspection",
            post(evaluations::inspection),
        )
        .route(
            "/units/{code}/evaluations/{year}/indicators/{number}/override",
            post(evaluations::set_override),
        )
        .route("/units/{code}/rankings/{year}", get(evaluations::rankings))
        .route(
            "/units/{code}/rankings/{year}/export",
            get(evaluations::rankings_export),
        )
        .route("/dashboard", get(reports::dashboard))
        .route("/units/{code}/reports", get(reports::latest_report))
        .route("/units/{code}/reports/{period}", get(reports::report))
        .route(
            "/units/{code}/reports/{period}/submit",
            post(reports::submit),
        )
        .route(
            "/units/{code}/reports/{period}/deadline",
            post(reports::deadline),
        )
        .route("/units/{code}/bulletin/{period}", get(reports::bulletin))
        .route(
            "/units/{code}/bulletin/{period}/export",
            get(reports::bulletin_export),
        )
        .route("/static/print.css", get(print_stylesheet))
        .route("/v", get(surveys::code_entry).post(surveys::enter_code))
        .route("/v/{code}", get(surveys::vote_form).post(surveys::vote))
}

pub(crate) fn page(template: impl Template) -> Result<Response, WebError> {
    template
        .render()
        .map(|html| Html(html).into_response())
        .map_err(|e| {
            tracing::error!(error = %e, "template failed");
            WebError::Page(AppError::Store(shequ_app::StoreError::Corrupt(
                "页面生成失败".into(),
            )))
        })
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/style.css"),
    )
}

async fn print_stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/print.css"),
    )
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    standard_id: String,
    standard_title: String,
    category_count: usize,
    item_count: usize,
    indicator_count: usize,
    units: Vec<Unit>,
}

async fn home(State(state): State<AppState>) -> Result<Response, WebError> {
    let standard = state.app.current_standard().await.map_err(WebError::Page)?;
    let units = state.app.roots().await.map_err(WebError::Page)?;
    page(HomePage {
        standard_id: standard.id.clone(),
        standard_title: standard.title.clone(),
        category_count: standard.categories.len(),
        item_count: standard.items().count(),
        indicator_count: standard.indicators().count(),
        units,
    })
}

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    standard: Arc<Standard>,
    item_count: usize,
}

async fn catalogue(State(state): State<AppState>) -> Result<Response, WebError> {
    let standard = state.app.current_standard().await.map_err(WebError::Page)?;
    let item_count = standard.items().count();
    page(CataloguePage {
        standard,
        item_count,
    })
}

#[derive(Template)]
#[template(path = "indicators.html")]
struct IndicatorsPage {
    standard: Arc<Standard>,
    indicator_count: usize,
}

async fn indicators(State(state): State<AppState>) -> Result<Response, WebError> {
    let standard = state.app.current_standard().await.map_err(WebError::Page)?;
    let indicator_count = standard.indicators().count();
    page(IndicatorsPage {
        standard,
        indicator_count,
    })
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "units.html")]
struct UnitsPage {
    query: String,
    results: Option<SearchPage>,
    units: Vec<Unit>,
}

async fn units(
    State(state): State<AppState>,
    Query(params): Query<SearchParams>,
) -> Result<Response, WebError> {
    let query = params.q.unwrap_or_default();
    let (results, units) = if query.trim().is_empty() {
        (None, state.app.roots().await.map_err(WebError::Page)?)
    } else {
        (
            Some(
                state
                    .app
                    .search(&query, params.cursor.as_deref())
                    .await
                    .map_err(WebError::Page)?,
            ),
            Vec::new(),
        )
    };
    page(UnitsPage {
        query,
        results,
        units,
    })
}

#[derive(Template)]
#[template(path = "unit.html")]
struct UnitPage {
    view: UnitView,
    units: Vec<Unit>,
    groups: Vec<(String, String)>,
    history: Vec<NameChange>,
}

async fn unit(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let app = &state.app;
    let view = app.unit(&code).await.map_err(WebError::Page)?;
    let units = app.children(&code).await.map_err(WebError::Page)?;
    let groups = app
        .groups_of(&view.unit.code)
        .await
        .map_err(WebError::Page)?;
    let history = app
        .name_history(&view.unit.code)
        .await
        .map_err(WebError::Page)?;
    page(UnitPage {
        view,
        units,
        groups,
        history,
    })
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    groups: Vec<GroupSummary>,
}

async fn groups(State(state): State<AppState>) -> Result<Response, WebError> {
    let groups = state.app.groups().await.map_err(WebError::Page)?;
    page(GroupsPage { groups })
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    group_set: String,
    group: String,
    members: Vec<UnitView>,
    total: UnitCounts,
}

async fn group(
    State(state): State<AppState>,
    Path((group_set, group)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let members = state
        .app
        .group_members(&group_set, &group)
        .await
        .map_err(WebError::Page)?;
    // A member covers its subtree: count the member itself at its level plus what is below it.
    let mut total = UnitCounts::default();
    for m in &members {
        let c = &m.unit.counts;
        total.township += c.township + i64::from(m.unit.level.as_str() == "township");
        total.committee += c.committee;
        total.community += c.community;
    }
    page(GroupPage {
        group_set,
        group,
        members,
        total,
    })
}
