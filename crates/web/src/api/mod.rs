//! The JSON API under `/api/v1`, described by an OpenAPI 3 document at `/api/openapi.json`.

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};

mod accounts;
pub(crate) mod evaluations;
pub(crate) mod records;
mod reports;
mod surveys;
use serde::{Deserialize, Serialize};
use shequ_app::UnitView;
use shequ_app::domain::units::{Unit, UnitCounts, UnitRef};
use shequ_app::domain::{Category, Standard};
use utoipa::{OpenApi, ToSchema};

use crate::error::{ErrorBody, WebError};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/standards/current", get(current_standard))
        .route("/api/v1/units", get(search_units))
        .route("/api/v1/units/{code}", get(unit))
        .route("/api/v1/units/{code}/children", get(children))
        .route("/api/v1/auth/login", post(accounts::login))
        .route("/api/v1/auth/logout", post(accounts::logout))
        .route("/api/v1/me", get(accounts::me))
        .route("/api/v1/audit", get(accounts::audit))
        .route("/api/v1/audit.csv", get(accounts::audit_csv))
        .route("/api/v1/me/password", post(accounts::change_password))
        .route(
            "/api/v1/users",
            get(accounts::users).post(accounts::create_user),
        )
        .route(
            "/api/v1/users/{username}/deactivate",
            post(accounts::deactivate),
        )
        .route(
            "/api/v1/users/{username}/activate",
            post(accounts::activate),
        )
        .route(
            "/api/v1/users/{username}/reset-password",
            post(accounts::reset_password),
        )
        .route("/api/v1/record-kinds", get(records::kinds))
        .route("/api/v1/records", get(records::list).post(records::create))
        .route(
            "/api/v1/records/import",
            post(records::import).layer(DefaultBodyLimit::max(crate::IMPORT_LIMIT)),
        )
        .route("/api/v1/records/export", get(records::export))
        .route(
            "/api/v1/records/{id}",
            get(records::get_one)
                .put(records::update)
                .delete(records::delete),
        )
        .route(
            "/api/v1/records/{id}/files",
            get(records::files)
                .post(records::upload)
                .layer(DefaultBodyLimit::max(crate::UPLOAD_LIMIT)),
        )
        .route(
            "/api/v1/files/{id}",
            get(records::download).delete(records::delete_file),
        )
        .route("/api/v1/units/{code}/years/{year}", get(records::year))
        .route(
            "/api/v1/units/{code}/years/{year}/start",
            post(records::start_year),
        )
        .route(
            "/api/v1/units/{code}/years/{year}/confirm",
            post(records::confirm_year),
        )
        .route("/api/v1/units/{code}/surveys/{year}", get(surveys::results))
        .route(
            "/api/v1/units/{code}/surveys/{year}/{kind}/{action}",
            post(surveys::action),
        )
        .route(
            "/api/v1/units/{code}/evaluations/{year}",
            get(evaluations::evaluations),
        )
        .route(
            "/api/v1/units/{code}/evaluations/{year}/indicators/{number}/inspection",
            post(evaluations::inspection),
        )
        .route(
            "/api/v1/units/{code}/evaluations/{year}/indicators/{number}/override",
            post(evaluations::set_override).delete(evaluations::clear_override),
        )
        .route(
            "/api/v1/units/{code}/reviews/{year}",
            get(evaluations::review),
        )
        .route(
            "/api/v1/units/{code}/reviews/{year}/{action}",
            post(evaluations::review_step),
        )
        .route(
            "/api/v1/units/{code}/rankings/{year}",
            get(evaluations::rankings),
        )
        .route(
            "/api/v1/units/{code}/reports/{period}",
            get(reports::report),
        )
        .route(
            "/api/v1/units/{code}/reports/{period}/submit",
            post(reports::submit),
        )
        .route(
            "/api/v1/units/{code}/report-deadlines/{period}",
            put(reports::set_deadline).delete(reports::clear_deadline),
        )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "shequ API",
        description = "“百项服务进社区 打造特色型社区”活动管理系统的 JSON 接口。列表均为带 items 数组的对象（考评结果 /evaluations 例外：与 shequ evaluate --json 相同，为数组）；代码均为字符串。"
    ),
    paths(
        healthz,
        current_standard,
        unit,
        children,
        search_units,
        accounts::login,
        accounts::logout,
        accounts::me,
        accounts::audit,
        accounts::audit_csv,
        accounts::change_password,
        accounts::users,
        accounts::create_user,
        accounts::deactivate,
        accounts::activate,
        accounts::reset_password,
        records::kinds,
        records::list,
        records::create,
        records::get_one,
        records::update,
        records::delete,
        records::import,
        records::export,
        records::files,
        records::upload,
        records::download,
        records::delete_file,
        records::year,
        records::start_year,
        records::confirm_year,
        surveys::results,
        surveys::action,
        evaluations::evaluations,
        evaluations::review,
        evaluations::review_step,
        evaluations::inspection,
        evaluations::set_override,
        evaluations::clear_override,
        evaluations::rankings,
        reports::report,
        reports::submit,
        reports::set_deadline,
        reports::clear_deadline
    ),
    components(schemas(
        ErrorBody,
        StandardJson,
        CategoryJson,
        ItemJson,
        IndicatorJson,
        UnitJson,
        UnitRefJson,
        CountsJson,
        UnitList,
        UnitPage,
        accounts::LoginBody,
        accounts::LoginJson,
        accounts::MeJson,
        accounts::AuditJson,
        accounts::AuditList,
        accounts::UserJson,
        accounts::UserList,
        accounts::NewUserBody,
        accounts::CreatedUserJson,
        accounts::PasswordJson,
        accounts::ChangePasswordBody,
        records::RecordJson,
        records::RecordPageJson,
        records::RecordBody,
        records::CreatedJson,
        records::FieldJson,
        records::KindJson,
        records::KindList,
        records::KindCountJson,
        records::MonthJson,
        records::YearJson,
        records::CopiedJson,
        records::ConfirmedJson,
        records::RowErrorJson,
        records::ImportJson,
        records::FileJson,
        records::FileList,
        surveys::SurveyResultJson,
        surveys::SurveyResultList,
        surveys::SurveyActionBody,
        surveys::ExpectedCounts,
        surveys::SurveyActionJson,
        shequ_app::EvaluationReport,
        shequ_app::IndicatorReport,
        shequ_app::RankRow,
        evaluations::ReviewEventJson,
        evaluations::ReviewJson,
        evaluations::ReasonBody,
        evaluations::ReviewStepJson,
        evaluations::InspectionBody,
        evaluations::MessageJson,
        evaluations::OverrideBody,
        evaluations::RankingJson,
        reports::SubmittedJson,
        reports::DeadlineBody,
        reports::DeadlineJson,
        shequ_app::ProgressReport,
        shequ_app::CompletenessReport,
        shequ_app::SubmissionReport
    ))
)]
struct ApiDoc;

/// The OpenAPI document as JSON text.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_string())
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json())
}

#[derive(Serialize, ToSchema)]
struct Health {
    status: &'static str,
    database: &'static str,
}

/// 200 once the database is migrated and the first-start data loaded; 503 before.
#[utoipa::path(get, path = "/healthz", responses(
    (status = 200, description = "ready"),
    (status = 503, description = "still initialising, or the database cannot be reached")
))]
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let database = state.app.backend().as_str();
    if !state.is_ready() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "starting",
                database,
            }),
        );
    }
    match state.app.is_initialised().await {
        Ok(true) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                database,
            }),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "unavailable",
                database,
            }),
        ),
    }
}

#[derive(Serialize, ToSchema)]
pub struct StandardJson {
    /// version id, such as hlj-2010
    id: String,
    title: String,
    categories: Vec<CategoryJson>,
    indicators: Vec<IndicatorJson>,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryJson {
    number: u32,
    name: String,
    declared_count: u32,
    items: Vec<ItemJson>,
}

#[derive(Serialize, ToSchema)]
pub struct ItemJson {
    number: u32,
    text: String,
}

#[derive(Serialize, ToSchema)]
pub struct IndicatorJson {
    number: u32,
    group: String,
    /// true for the 10 distinctive indicators, false for the 15 common ones
    distinctive: bool,
    text: String,
}

fn category_json(category: &Category) -> CategoryJson {
    CategoryJson {
        number: category.number,
        name: category.name.clone(),
        declared_count: category.declared_count().unwrap_or(0),
        items: category
            .items
            .iter()
            .map(|i| ItemJson {
                number: i.number,
                text: i.text.clone(),
            })
            .collect(),
    }
}

fn standard_json(standard: &Standard) -> StandardJson {
    StandardJson {
        id: standard.id.clone(),
        title: standard.title.clone(),
        categories: standard.categories.iter().map(category_json).collect(),
        indicators: standard
            .indicators()
            .map(|(group, indicator)| IndicatorJson {
                number: indicator.number,
                group: group.name.clone(),
                distinctive: group.distinctive,
                text: indicator.text.clone(),
            })
            .collect(),
    }
}

/// The standard in force: 16 categories of the 100 services and the 25 indicators.
#[utoipa::path(get, path = "/api/v1/standards/current", responses(
    (status = 200, body = StandardJson)
))]
async fn current_standard(State(state): State<AppState>) -> Result<Json<StandardJson>, WebError> {
    let standard = state.app.current_standard().await.map_err(WebError::Api)?;
    Ok(Json(standard_json(&standard)))
}

#[derive(Serialize, ToSchema)]
pub struct UnitRefJson {
    code: String,
    name: String,
}

/// Open units below a unit (all descendants), by level.
#[derive(Serialize, ToSchema)]
pub struct CountsJson {
    prefecture: i64,
    county: i64,
    township: i64,
    committee: i64,
    /// committee-level units that are communities (codes 001-199 and 400-599)
    community: i64,
    /// committee-level units that are not communities
    village: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UnitJson {
    code: String,
    name: String,
    /// province, prefecture, county, township or committee
    level: String,
    /// from the code: province, prefecture, county, street, town, township, township_like,
    /// residents_committee, villagers_committee, residents_like, villagers_like, ...
    kind: String,
    /// whether the unit is a community (a residents' committee or a unit like one)
    community: bool,
    parent: Option<String>,
    /// from the province down, ending with the unit itself
    path: Vec<UnitRefJson>,
    counts: CountsJson,
    /// date the unit appeared in an import after its province's first one (YYYY-MM-DD)
    opened_on: Option<String>,
    /// date from which the unit is closed (missing from a full import), or null
    closed_on: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UnitList {
    items: Vec<UnitJson>,
}

fn ref_json(r: &UnitRef) -> UnitRefJson {
    UnitRefJson {
        code: r.code.to_string(),
        name: r.name.clone(),
    }
}

fn counts_json(c: &UnitCounts) -> CountsJson {
    CountsJson {
        prefecture: c.prefecture,
        county: c.county,
        township: c.township,
        committee: c.committee,
        community: c.community,
        village: c.village(),
    }
}

fn unit_json(unit: &Unit, path: &[UnitRef]) -> UnitJson {
    UnitJson {
        code: unit.code.to_string(),
        name: unit.name.clone(),
        level: unit.level.as_str().to_string(),
        kind: unit.kind.as_str().to_string(),
        community: unit.kind.is_community(),
        parent: unit.parent.as_ref().map(ToString::to_string),
        path: path.iter().map(ref_json).collect(),
        counts: counts_json(&unit.counts),
        opened_on: unit.opened_on.map(|d| d.to_string()),
        closed_on: unit.closed_on.map(|d| d.to_string()),
    }
}

fn view_json(view: &UnitView) -> UnitJson {
    unit_json(&view.unit, &view.path)
}

/// One unit of the organisation tree with its path and the counts below it.
#[utoipa::path(get, path = "/api/v1/units/{code}",
    params(("code" = String, Path, description = "division code, 2 to 12 digits")),
    responses(
        (status = 200, body = UnitJson),
        (status = 400, body = ErrorBody, description = "not a division code"),
        (status = 404, body = ErrorBody, description = "no such unit")
    ))]
async fn unit(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<UnitJson>, WebError> {
    let view = state.app.unit(&code).await.map_err(WebError::Api)?;
    Ok(Json(view_json(&view)))
}

/// The direct children of a unit, in code order, each with its counts.
#[utoipa::path(get, path = "/api/v1/units/{code}/children",
    params(("code" = String, Path, description = "division code")),
    responses(
        (status = 200, body = UnitList),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ))]
async fn children(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<UnitList>, WebError> {
    let parent = state.app.unit(&code).await.map_err(WebError::Api)?;
    let children = state.app.children(&code).await.map_err(WebError::Api)?;
    let items = children
        .iter()
        .map(|child| {
            let mut path = parent.path.clone();
            path.push(UnitRef {
                code: child.code.clone(),
                name: child.name.clone(),
            });
            unit_json(child, &path)
        })
        .collect();
    Ok(Json(UnitList { items }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// a name (or part of one) or the first digits of a code
    q: Option<String>,
    /// the `next` value of the previous page
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UnitPage {
    items: Vec<UnitJson>,
    /// cursor for the next page, or null on the last page
    next: Option<String>,
}

/// Units whose name contains `q` or whose code starts with it, each with its path; 50 a page,
/// the next page by `cursor`.
#[utoipa::path(get, path = "/api/v1/units", params(SearchParams), responses(
    (status = 200, body = UnitPage),
    (status = 400, body = ErrorBody, description = "q missing, empty or too long")
))]
async fn search_units(
    State(state): State<AppState>,
    Query(params): Query<SearchParams>,
) -> Result<Json<UnitPage>, WebError> {
    let q = params.q.unwrap_or_default();
    let page = state
        .app
        .search(&q, params.cursor.as_deref())
        .await
        .map_err(WebError::Api)?;
    Ok(Json(UnitPage {
        items: page.items.iter().map(view_json).collect(),
        next: page.next,
    }))
}
