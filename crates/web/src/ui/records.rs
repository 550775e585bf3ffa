//! Pages for community records: a community's year, each ledger with filters and an add form,
//! one record to edit (with its evidence files), deletion with confirmation, and spreadsheet
//! import with its report.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{Redirect, Response};
use serde::Deserialize;
use shequ_app::domain::records::{FieldType, RecordKind};
use shequ_app::{
    AppError, ExportRequest, ImportReport, RecordQuery, Session, StoredFile, StoredRecord,
    YearOverview,
};

use super::account::{PageSession, check_csrf};
use super::page;
use crate::download::{evidence_response, export_response, format_param, kind_param};
use crate::error::WebError;
use crate::state::AppState;

/// One input of a record form, prepared so the template only prints.
pub struct FormField {
    pub key: &'static str,
    pub label: &'static str,
    pub required: bool,
    /// text, date, number, select or hidden
    pub input: &'static str,
    /// "0.01" for decimals, "1" for whole numbers, "" otherwise
    pub step: &'static str,
    /// the smallest number allowed, "" for other inputs
    pub min: String,
    pub options: Vec<(String, String)>,
    pub value: String,
}

/// Builds a kind's form: the community (and, for yearly kinds, the year) fixed; choices as
/// lists; the service item from the standard; the resident group from the year's groups.
async fn form_fields(
    state: &AppState,
    session: &Session,
    kind: RecordKind,
    unit: &str,
    year: i16,
    values: &HashMap<String, String>,
) -> Result<Vec<FormField>, AppError> {
    let mut fields = Vec::new();
    for f in kind.fields() {
        let value = values.get(f.key).cloned().unwrap_or_default();
        let mut field = FormField {
            key: f.key,
            label: f.header,
            required: f.required,
            input: "text",
            step: "",
            min: String::new(),
            options: Vec::new(),
            value,
        };
        match f.ty {
            FieldType::Unit => {
                field.input = "hidden";
                field.value = unit.to_string();
            }
            FieldType::Year => {
                field.input = "hidden";
                field.value = year.to_string();
            }
            FieldType::Date => field.input = "date",
            FieldType::Count { min, .. } => {
                field.input = "number";
                field.step = "1";
                field.min = min.to_string();
            }
            FieldType::Hundredths { .. } | FieldType::Percent => {
                field.input = "number";
                field.step = "0.01";
                field.min = "0".into();
            }
            FieldType::Choice(options) => {
                field.input = "select";
                field.options = options
                    .iter()
                    .map(|o| (o.to_string(), o.to_string()))
                    .collect();
            }
            FieldType::YesNo => {
                field.input = "select";
                field.options = vec![("是".into(), "是".into()), ("否".into(), "否".into())];
            }
            FieldType::Item => {
                field.input = "select";
                let standard = state.app.current_standard().await?;
                field.options = standard
                    .items()
                    .map(|(_, item)| {
                        (
                            item.number.to_string(),
                            format!("{} · {}", item.number, item.text),
                        )
                    })
                    .collect();
            }
            FieldType::Group => {
                let query = RecordQuery {
                    kind: Some(RecordKind::Groups),
                    unit: Some(unit.to_string()),
                    year: Some(year),
                    ..Default::default()
                };
                let groups = state.app.list_records(&session.caller, &query).await?;
                field.input = "select";
                field.options = groups
                    .items
                    .iter()
                    .filter_map(|g| g.data.text("name"))
                    .map(|n| (n.to_string(), n.to_string()))
                    .collect();
            }
            FieldType::Text { .. } | FieldType::Links => {}
        }
        fields.push(field);
    }
    Ok(fields)
}

fn current_year() -> i16 {
    shequ_app::today().year()
}

#[derive(Template)]
#[template(path = "records_year.html")]
struct YearPage {
    o: YearOverview,
    csrf_token: String,
    message: Option<String>,
    error: Option<String>,
    this_year: i16,
}

async fn year_page(
    state: &AppState,
    session: &Session,
    code: &str,
    year: i16,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let o = state
        .app
        .year_overview(&session.caller, code, year)
        .await
        .map_err(WebError::Page)?;
    page(YearPage {
        o,
        csrf_token: session.csrf_token.clone(),
        message,
        error,
        this_year: current_year(),
    })
}

pub async fn records_home(Path(code): Path<String>) -> Redirect {
    Redirect::to(&format!(
        "/units/{}/records/{}",
        code.chars()
            .filter(char::is_ascii_digit)
            .collect::<String>(),
        current_year()
    ))
}

pub async fn year(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year)): Path<(String, i16)>,
) -> Result<Response, WebError> {
    year_page(&state, &session, &code, year, None, None).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf_token: String,
}

/// `start` copies last year's profile, groups and organisations; `confirm` confirms them.
/// (They share the address pattern of adding a record, which hands them over.)
async fn year_action(
    state: &AppState,
    session: &Session,
    code: &str,
    year: i16,
    action: &str,
) -> Result<Response, WebError> {
    let outcome = match action {
        "start" => state
            .app
            .start_year(&session.caller, code, year)
            .await
            .map(|s| {
                if s.copied.values().sum::<usize>() == 0 {
                    format!("{} 年没有可复制的记录", year - 1)
                } else {
                    format!(
                        "已从 {} 年复制：{}。请逐项核对后点击“确认”",
                        year - 1,
                        s.copied
                            .iter()
                            .map(|(k, n)| format!("{k} {n} 条"))
                            .collect::<Vec<_>>()
                            .join("，")
                    )
                }
            }),
        "confirm" => state
            .app
            .confirm_year(&session.caller, code, year)
            .await
            .map(|n| format!("已确认 {n} 条从上年复制的记录")),
        _ => Err(AppError::NotFound("页面不存在".into())),
    };
    match outcome {
        Ok(message) => year_page(state, session, code, year, Some(message), None).await,
        Err(e @ (AppError::BadRequest(_) | AppError::Forbidden(_))) => {
            year_page(state, session, code, year, None, Some(e.to_string())).await
        }
        Err(e) => Err(WebError::Page(e)),
    }
}

#[derive(Deserialize, Default)]
pub struct ListParams {
    month: Option<String>,
    #[serde(rename = "type")]
    category: Option<String>,
    item: Option<String>,
    group: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "records_list.html")]
struct ListPage {
    unit: String,
    unit_name: String,
    year: i16,
    kind: RecordKind,
    headers: Vec<&'static str>,
    rows: Vec<(StoredRecord, Vec<String>)>,
    total: i64,
    next: Option<String>,
    filter_query: String,
    month: String,
    category: String,
    categories: Vec<&'static str>,
    item: String,
    group: String,
    may_write: bool,
    locked: bool,
    fields: Vec<FormField>,
    csrf_token: String,
    error: Option<String>,
    message: Option<String>,
}

fn parse_optional<T: std::str::FromStr>(
    text: &Option<String>,
    what: &str,
) -> Result<Option<T>, AppError> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| {
            AppError::BadRequest(format!(
                "{what}“{}”无效",
                shequ_app::domain::text::excerpt(t, 20)
            ))
        }),
    }
}

#[allow(clippy::too_many_arguments)]
async fn list_page(
    state: &AppState,
    session: &Session,
    code: &str,
    year: i16,
    kind: RecordKind,
    params: &ListParams,
    values: &HashMap<String, String>,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let o = state
        .app
        .year_overview(&session.caller, code, year)
        .await
        .map_err(WebError::Page)?;
    let blank = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
    let query = RecordQuery {
        kind: Some(kind),
        unit: Some(o.unit.code.to_string()),
        year: Some(year),
        month: parse_optional(&params.month, "月份").map_err(WebError::Page)?,
        category: blank(&params.category),
        item: parse_optional(&params.item, "服务项目编号").map_err(WebError::Page)?,
        group: blank(&params.group),
        cursor: blank(&params.cursor),
    };
    let records = state
        .app
        .list_records(&session.caller, &query)
        .await
        .map_err(WebError::Page)?;
    let fields = form_fields(state, session, kind, o.unit.code.as_str(), year, values)
        .await
        .map_err(WebError::Page)?;
    let categories = match kind
        .category_key()
        .and_then(|k| kind.field(k))
        .map(|f| f.ty)
    {
        Some(FieldType::Choice(options)) => options.to_vec(),
        _ => Vec::new(),
    };
    let filter_query = format!(
        "month={}&type={}&item={}&group={}",
        urlencode(params.month.as_deref().unwrap_or("")),
        urlencode(params.category.as_deref().unwrap_or("")),
        urlencode(params.item.as_deref().unwrap_or("")),
        urlencode(params.group.as_deref().unwrap_or(""))
    );
    page(ListPage {
        unit: o.unit.code.to_string(),
        unit_name: o.unit.name.clone(),
        year,
        kind,
        headers: kind.fields().iter().skip(1).map(|f| f.header).collect(),
        rows: records
            .items
            .into_iter()
            .map(|r| {
                let cells = r.data.cells().into_iter().skip(1).collect();
                (r, cells)
            })
            .collect(),
        total: records.total,
        next: records.next,
        filter_query,
        month: params.month.clone().unwrap_or_default(),
        category: params.category.clone().unwrap_or_default(),
        categories,
        item: params.item.clone().unwrap_or_default(),
        group: params.group.clone().unwrap_or_default(),
        may_write: o.may_write,
        locked: o.locked,
        fields,
        csrf_token: session.csrf_token.clone(),
        error,
        message,
    })
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub async fn list(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year, kind)): Path<(String, i16, String)>,
    Query(params): Query<ListParams>,
) -> Result<Response, WebError> {
    let kind = kind_param(&kind).map_err(WebError::Page)?;
    list_page(
        &state,
        &session,
        &code,
        year,
        kind,
        &params,
        &HashMap::new(),
        None,
        None,
    )
    .await
}

/// A submitted record form: the CSRF token and the fields by key.
fn split_form(form: Vec<(String, String)>) -> (String, HashMap<String, String>) {
    let mut csrf = String::new();
    let mut values = HashMap::new();
    for (k, v) in form {
        if k == "csrf_token" {
            csrf = v;
        } else {
            values.insert(k, v);
        }
    }
    (csrf, values)
}

pub async fn create(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year, kind)): Path<(String, i16, String)>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (csrf, values) = split_form(form);
    check_csrf(&session, &csrf)?;
    if matches!(kind.as_str(), "start" | "confirm") {
        return year_action(&state, &session, &code, year, &kind).await;
    }
    let kind = kind_param(&kind).map_err(WebError::Page)?;
    let outcome = state
        .app
        .create_record(
            &session.caller,
            kind,
            values.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .await;
    let params = ListParams::default();
    match outcome {
        Ok(id) => {
            let message = format!("已添加一条{}（编号 {id}）", kind.label_zh());
            list_page(
                &state,
                &session,
                &code,
                year,
                kind,
                &params,
                &HashMap::new(),
                Some(message),
                None,
            )
            .await
        }
        // The form comes back with what was typed, and the reason.
        Err(e @ (AppError::BadRequest(_) | AppError::Forbidden(_))) => {
            list_page(
                &state,
                &session,
                &code,
                year,
                kind,
                &params,
                &values,
                None,
                Some(e.to_string()),
            )
            .await
        }
        Err(e) => Err(WebError::Page(e)),
    }
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    record: StoredRecord,
    unit_name: String,
    fields: Vec<FormField>,
    files: Vec<StoredFile>,
    may_write: bool,
    csrf_token: String,
    message: Option<String>,
    error: Option<String>,
}

async fn record_page(
    state: &AppState,
    session: &Session,
    id: i64,
    values: Option<&HashMap<String, String>>,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let view = state
        .app
        .record(&session.caller, id)
        .await
        .map_err(WebError::Page)?;
    let record = view.record;
    let stored: HashMap<String, String> = record.data.to_text_map().into_iter().collect();
    let o = state
        .app
        .year_overview(&session.caller, record.unit.as_str(), record.year)
        .await
        .map_err(WebError::Page)?;
    let fields = form_fields(
        state,
        session,
        record.data.kind,
        record.unit.as_str(),
        record.year,
        values.unwrap_or(&stored),
    )
    .await
    .map_err(WebError::Page)?;
    let files = state
        .app
        .record_files(&session.caller, id)
        .await
        .map_err(WebError::Page)?;
    page(RecordPage {
        record,
        unit_name: view.unit_name,
        fields,
        files,
        may_write: o.may_write && !o.locked,
        csrf_token: session.csrf_token.clone(),
        message,
        error,
    })
}

pub async fn record(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    record_page(&state, &session, id, None, None, None).await
}

pub async fn update(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (csrf, values) = split_form(form);
    check_csrf(&session, &csrf)?;
    match state
        .app
        .update_record(
            &session.caller,
            id,
            values.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .await
    {
        Ok(()) => record_page(&state, &session, id, None, Some("已保存".into()), None).await,
        Err(e @ (AppError::BadRequest(_) | AppError::Forbidden(_))) => {
            record_page(
                &state,
                &session,
                id,
                Some(&values),
                None,
                Some(e.to_string()),
            )
            .await
        }
        Err(e) => Err(WebError::Page(e)),
    }
}

#[derive(Template)]
#[template(path = "record_delete.html")]
struct DeletePage {
    record: StoredRecord,
    unit_name: String,
    cells: Vec<(&'static str, String)>,
    files: usize,
    csrf_token: String,
}

/// Asks before deleting.
pub async fn delete_form(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let view = state
        .app
        .record(&session.caller, id)
        .await
        .map_err(WebError::Page)?;
    let files = state
        .app
        .record_files(&session.caller, id)
        .await
        .map_err(WebError::Page)?
        .len();
    let cells = view
        .record
        .data
        .kind
        .fields()
        .iter()
        .map(|f| f.header)
        .zip(view.record.data.cells())
        .filter(|(_, v)| !v.is_empty())
        .collect();
    page(DeletePage {
        record: view.record,
        unit_name: view.unit_name,
        cells,
        files,
        csrf_token: session.csrf_token.clone(),
    })
}

pub async fn delete(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let view = state
        .app
        .record(&session.caller, id)
        .await
        .map_err(WebError::Page)?;
    state
        .app
        .delete_record(&session.caller, id)
        .await
        .map_err(WebError::Page)?;
    let r = view.record;
    list_page(
        &state,
        &session,
        r.unit.as_str(),
        r.year,
        r.data.kind,
        &ListParams::default(),
        &HashMap::new(),
        Some(format!("已删除记录 {id}")),
        None,
    )
    .await
}

async fn multipart_parts(
    mut multipart: Multipart,
) -> Result<(String, Option<shequ_app::SourceFile>), WebError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        WebError::Page(AppError::BadRequest(format!("上传内容无法读取：{e}")))
    };
    let mut csrf = String::new();
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("csrf_token") => csrf = field.text().await.map_err(bad)?,
            Some("file") => {
                let name = field.file_name().unwrap_or("上传的文件").to_string();
                let bytes = field.bytes().await.map_err(bad)?;
                file = Some(shequ_app::SourceFile {
                    name,
                    bytes: bytes.to_vec(),
                });
            }
            _ => {}
        }
    }
    Ok((csrf, file.filter(|f| !f.bytes.is_empty())))
}

pub async fn upload_file(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let (csrf, file) = multipart_parts(multipart).await?;
    check_csrf(&session, &csrf)?;
    let Some(file) = file else {
        return record_page(
            &state,
            &session,
            id,
            None,
            None,
            Some("请选择要上传的文件".into()),
        )
        .await;
    };
    match state
        .app
        .add_record_file(&session.caller, id, &file.name, file.bytes)
        .await
    {
        Ok(_) => {
            record_page(
                &state,
                &session,
                id,
                None,
                Some(format!("已上传 {}", file.name)),
                None,
            )
            .await
        }
        Err(e @ (AppError::BadRequest(_) | AppError::Forbidden(_))) => {
            record_page(&state, &session, id, None, None, Some(e.to_string())).await
        }
        Err(e) => Err(WebError::Page(e)),
    }
}

pub async fn download_file(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    evidence_response(&state, &session.caller, id)
        .await
        .map_err(WebError::Page)
}

pub async fn delete_file(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let record_id = state
        .app
        .delete_record_file(&session.caller, id)
        .await
        .map_err(WebError::Page)?;
    record_page(
        &state,
        &session,
        record_id,
        None,
        Some("已删除文件".into()),
        None,
    )
    .await
}

#[derive(Deserialize)]
pub struct ExportParams {
    format: Option<String>,
}

pub async fn export(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((code, year, kind)): Path<(String, i16, String)>,
    Query(params): Query<ExportParams>,
) -> Result<Response, WebError> {
    let request = ExportRequest {
        unit: code,
        year,
        kind: kind_param(&kind).map_err(WebError::Page)?,
        format: format_param(params.format.as_deref()).map_err(WebError::Page)?,
    };
    export_response(&state, &session.caller, &request)
        .await
        .map_err(WebError::Page)
}

pub async fn template(
    Path(kind): Path<String>,
    Query(params): Query<ExportParams>,
) -> Result<Response, WebError> {
    let kind = kind_param(&kind).map_err(WebError::Page)?;
    let format = format_param(params.format.as_deref()).map_err(WebError::Page)?;
    crate::download::template_response(kind, format).map_err(WebError::Page)
}

#[derive(Template)]
#[template(path = "records_import.html")]
struct ImportPage {
    kinds: Vec<RecordKind>,
    csrf_token: String,
    file_name: String,
    report: Option<ImportReport>,
    error: Option<String>,
}

pub async fn import_form(PageSession(session): PageSession) -> Result<Response, WebError> {
    page(ImportPage {
        kinds: RecordKind::ALL.to_vec(),
        csrf_token: session.csrf_token.clone(),
        file_name: String::new(),
        report: None,
        error: None,
    })
}

pub async fn import(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let (csrf, file) = multipart_parts(multipart).await?;
    check_csrf(&session, &csrf)?;
    let (file_name, report, error) = match file {
        None => (String::new(), None, Some("请选择要上传的文件".to_string())),
        Some(file) => match state.app.import_records(&session.caller, &file).await {
            Ok(report) => (file.name, Some(report), None),
            Err(e @ (AppError::BadRequest(_) | AppError::Forbidden(_))) => {
                (file.name, None, Some(e.to_string()))
            }
            Err(e) => return Err(WebError::Page(e)),
        },
    };
    page(ImportPage {
        kinds: RecordKind::ALL.to_vec(),
        csrf_token: session.csrf_token.clone(),
        file_name,
        report,
        error,
    })
}
