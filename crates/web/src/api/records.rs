//! Community records over JSON: list, add, change, delete, a community's year, copying a year
//! forward, evidence files, import and export.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shequ_app::domain::records::{FieldType, RecordKind};
use shequ_app::{AppError, ExportRequest, ImportReport, RecordQuery, StoredFile, StoredRecord};
use utoipa::{IntoParams, ToSchema};

use crate::auth::ApiSession;
use crate::download::{evidence_response, export_response, format_param, kind_param};
use crate::error::{ErrorBody, WebError};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct RecordJson {
    id: i64,
    /// services, activities, mediation, incidents, health, profile, groups or organisations
    kind: String,
    /// the community's code
    unit: String,
    year: i16,
    /// values by field key, as text (dates YYYY-MM-DD, yes/no as 是/否); see /api/v1/record-kinds
    fields: BTreeMap<String, String>,
    /// the 记录编号 given by an import, if any
    record_ref: Option<String>,
    /// the standard version in force when the record was written
    standard: Option<String>,
    /// false while a record copied forward from last year waits to be confirmed
    confirmed: bool,
    created_at: String,
    created_by: String,
    updated_at: String,
    updated_by: String,
}

pub(crate) fn record_json(r: &StoredRecord) -> RecordJson {
    RecordJson {
        id: r.id,
        kind: r.data.kind.as_str().to_string(),
        unit: r.unit.to_string(),
        year: r.year,
        fields: r.data.to_text_map(),
        record_ref: r.record_ref.clone(),
        standard: r.standard_id.clone(),
        confirmed: r.confirmed,
        created_at: r.created_at.clone(),
        created_by: r.created_by.clone(),
        updated_at: r.updated_at.clone(),
        updated_by: r.updated_by.clone(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct RecordPageJson {
    items: Vec<RecordJson>,
    /// records matching the filters, over all pages
    total: i64,
    /// cursor of the next page, or null on the last page
    next: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordParams {
    /// a community's code, or a higher unit's for everything below it (default: your scope)
    unit: Option<String>,
    kind: Option<String>,
    year: Option<i16>,
    month: Option<i8>,
    /// activity or incident type, dispute category, organisation type, or delivery mode
    #[serde(rename = "type")]
    category: Option<String>,
    /// service item number
    item: Option<i64>,
    /// resident group name
    group: Option<String>,
    cursor: Option<String>,
}

fn query_of(params: RecordParams) -> Result<RecordQuery, AppError> {
    let blank = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    Ok(RecordQuery {
        kind: blank(params.kind).map(|k| kind_param(&k)).transpose()?,
        unit: blank(params.unit),
        year: params.year,
        month: params.month,
        category: blank(params.category),
        item: params.item,
        group: blank(params.group),
        cursor: blank(params.cursor),
    })
}

/// Records in ledger order (by date, or by name for groups and organisations), 50 a page.
#[utoipa::path(get, path = "/api/v1/records", params(RecordParams), responses(
    (status = 200, body = RecordPageJson),
    (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody, description = "the unit is outside your scope")
))]
pub async fn list(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Query(params): Query<RecordParams>,
) -> Result<Json<RecordPageJson>, WebError> {
    let query = query_of(params).map_err(WebError::Api)?;
    let page = state
        .app
        .list_records(&session.caller, &query)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(RecordPageJson {
        items: page.items.iter().map(record_json).collect(),
        total: page.total,
        next: page.next,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    /// required when adding; a record's kind never changes
    kind: Option<String>,
    /// values by field key (text, numbers or booleans); blank or absent optional fields are empty
    #[schema(value_type = Object)]
    fields: BTreeMap<String, serde_json::Value>,
}

fn field_texts(
    fields: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<(String, String)>, AppError> {
    fields
        .iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(true) => "是".into(),
                serde_json::Value::Bool(false) => "否".into(),
                _ => {
                    return Err(AppError::BadRequest(format!(
                        "字段“{}”的值应为文字、数字或是否",
                        shequ_app::domain::text::excerpt(k, 30)
                    )));
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct CreatedJson {
    id: i64,
}

/// Adds a record. Community workers add to their own community only.
#[utoipa::path(post, path = "/api/v1/records", request_body = RecordBody, responses(
    (status = 201, body = CreatedJson),
    (status = 400, body = ErrorBody, description = "a value is missing or invalid (the message names the field)"),
    (status = 403, body = ErrorBody, description = "not your community, or its year is locked")
))]
pub async fn create(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Json(body): Json<RecordBody>,
) -> Result<Response, WebError> {
    let kind = body
        .kind
        .as_deref()
        .map(kind_param)
        .transpose()
        .map_err(WebError::Api)?
        .ok_or_else(|| WebError::Api(AppError::BadRequest("缺少 kind（台账类型）".into())))?;
    let fields = field_texts(&body.fields).map_err(WebError::Api)?;
    let id = state
        .app
        .create_record(
            &session.caller,
            kind,
            fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .await
        .map_err(WebError::Api)?;
    Ok((StatusCode::CREATED, Json(CreatedJson { id })).into_response())
}

/// One record.
#[utoipa::path(get, path = "/api/v1/records/{id}", params(("id" = i64, Path)), responses(
    (status = 200, body = RecordJson),
    (status = 404, body = ErrorBody)
))]
pub async fn get_one(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<i64>,
) -> Result<Json<RecordJson>, WebError> {
    let view = state
        .app
        .record(&session.caller, id)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(record_json(&view.record)))
}

/// Replaces a record's values (send every field you want kept).
#[utoipa::path(put, path = "/api/v1/records/{id}", params(("id" = i64, Path)), request_body = RecordBody, responses(
    (status = 200, body = RecordJson),
    (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)
))]
pub async fn update(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<i64>,
    Json(body): Json<RecordBody>,
) -> Result<Json<RecordJson>, WebError> {
    let fields = field_texts(&body.fields).map_err(WebError::Api)?;
    state
        .app
        .update_record(
            &session.caller,
            id,
            fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .await
        .map_err(WebError::Api)?;
    let view = state
        .app
        .record(&session.caller, id)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(record_json(&view.record)))
}

/// Deletes a record and its evidence files.
#[utoipa::path(delete, path = "/api/v1/records/{id}", params(("id" = i64, Path)), responses(
    (status = 204, description = "deleted"),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)
))]
pub async fn delete(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<i64>,
) -> Result<StatusCode, WebError> {
    state
        .app
        .delete_record(&session.caller, id)
        .await
        .map_err(WebError::Api)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct FieldJson {
    key: &'static str,
    /// the spreadsheet column header and form label
    header: &'static str,
    required: bool,
    /// unit, year, date, count, decimal, percent, text, choice, yes_no, item, group or links
    #[serde(rename = "type")]
    ty: &'static str,
    /// the values a choice field takes
    options: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct KindJson {
    kind: &'static str,
    label: &'static str,
    /// kept once a year (profile, groups, organisations, health) rather than as dated entries
    yearly: bool,
    fields: Vec<FieldJson>,
}

#[derive(Serialize, ToSchema)]
pub struct KindList {
    items: Vec<KindJson>,
}

pub(crate) fn type_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Unit => "unit",
        FieldType::Year => "year",
        FieldType::Date => "date",
        FieldType::Count { .. } => "count",
        FieldType::Hundredths { .. } => "decimal",
        FieldType::Percent => "percent",
        FieldType::Text { .. } => "text",
        FieldType::Choice(_) => "choice",
        FieldType::YesNo => "yes_no",
        FieldType::Item => "item",
        FieldType::Group => "group",
        FieldType::Links => "links",
    }
}

/// The record kinds with their fields: what the API, forms and spreadsheets accept.
#[utoipa::path(get, path = "/api/v1/record-kinds", responses((status = 200, body = KindList)))]
pub async fn kinds() -> Json<KindList> {
    Json(KindList {
        items: RecordKind::ALL
            .iter()
            .map(|k| KindJson {
                kind: k.as_str(),
                label: k.label_zh(),
                yearly: k.is_yearly(),
                fields: k
                    .fields()
                    .iter()
                    .map(|f| FieldJson {
                        key: f.key,
                        header: f.header,
                        required: f.required,
                        ty: type_name(f.ty),
                        options: match f.ty {
                            FieldType::Choice(options) => options.to_vec(),
                            FieldType::YesNo => vec!["是", "否"],
                            _ => Vec::new(),
                        },
                    })
                    .collect(),
            })
            .collect(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct KindCountJson {
    kind: &'static str,
    label: &'static str,
    records: i64,
    /// copied forward from last year and not yet confirmed
    unconfirmed: i64,
}

#[derive(Serialize, ToSchema)]
pub struct MonthJson {
    month: u8,
    records: i64,
    people: i64,
}

#[derive(Serialize, ToSchema)]
pub struct YearJson {
    unit: String,
    name: String,
    year: i16,
    /// locked while the year's self-assessment is under review
    locked: bool,
    counts: Vec<KindCountJson>,
    services_by_month: Vec<MonthJson>,
    /// [type, count] pairs
    activities_by_type: Vec<(String, i64)>,
}

/// A community's year at a glance.
#[utoipa::path(get, path = "/api/v1/units/{code}/years/{year}",
    params(("code" = String, Path), ("year" = i16, Path)),
    responses((status = 200, body = YearJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn year(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year)): Path<(String, i16)>,
) -> Result<Json<YearJson>, WebError> {
    let o = state
        .app
        .year_overview(&session.caller, &code, year)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(YearJson {
        unit: o.unit.code.to_string(),
        name: o.unit.name.clone(),
        year: o.year,
        locked: o.locked,
        counts: o
            .counts
            .iter()
            .map(|c| KindCountJson {
                kind: c.kind.as_str(),
                label: c.kind.label_zh(),
                records: c.records,
                unconfirmed: c.unconfirmed,
            })
            .collect(),
        services_by_month: o
            .services_by_month
            .iter()
            .enumerate()
            .map(|(i, (records, people))| MonthJson {
                month: i as u8 + 1,
                records: *records,
                people: *people,
            })
            .collect(),
        activities_by_type: o.activities_by_type.clone(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CopiedJson {
    /// records copied, by kind label
    copied: BTreeMap<String, usize>,
}

/// Starts a year from the year before: profile, resident groups and organisations are copied
/// forward unconfirmed (kinds the year already has are left alone).
#[utoipa::path(post, path = "/api/v1/units/{code}/years/{year}/start",
    params(("code" = String, Path), ("year" = i16, Path)),
    responses((status = 200, body = CopiedJson), (status = 403, body = ErrorBody)))]
pub async fn start_year(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year)): Path<(String, i16)>,
) -> Result<Json<CopiedJson>, WebError> {
    let summary = state
        .app
        .start_year(&session.caller, &code, year)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(CopiedJson {
        copied: summary
            .copied
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ConfirmedJson {
    confirmed: usize,
}

/// Confirms the records copied forward into a year.
#[utoipa::path(post, path = "/api/v1/units/{code}/years/{year}/confirm",
    params(("code" = String, Path), ("year" = i16, Path)),
    responses((status = 200, body = ConfirmedJson), (status = 403, body = ErrorBody)))]
pub async fn confirm_year(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((code, year)): Path<(String, i16)>,
) -> Result<Json<ConfirmedJson>, WebError> {
    let confirmed = state
        .app
        .confirm_year(&session.caller, &code, year)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(ConfirmedJson { confirmed }))
}

#[derive(Serialize, ToSchema)]
pub struct RowErrorJson {
    /// the spreadsheet row (the header is row 1; 0 for the whole file)
    row: u64,
    column: String,
    value: String,
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImportJson {
    new: usize,
    unchanged: usize,
    changed: usize,
    errors: Vec<RowErrorJson>,
}

pub(crate) fn import_json(report: &ImportReport) -> ImportJson {
    ImportJson {
        new: report.new,
        unchanged: report.unchanged,
        changed: report.changed,
        errors: report
            .errors
            .iter()
            .map(|e| RowErrorJson {
                row: e.row,
                column: e.column.clone(),
                value: e.value.clone(),
                reason: e.reason.clone(),
            })
            .collect(),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// the file's name, for messages and the audit log
    filename: Option<String>,
}

/// Imports a records file sent as the request body (xlsx, xls, ods or CSV; the kind is
/// recognised from the headers). All rows or none: 422 with every bad row listed.
#[utoipa::path(post, path = "/api/v1/records/import", params(ImportParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 200, body = ImportJson, description = "imported (errors empty)"),
        (status = 422, body = ImportJson, description = "nothing imported; errors lists every bad row")
    ))]
pub async fn import(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Query(params): Query<ImportParams>,
    body: Bytes,
) -> Result<Response, WebError> {
    let file = shequ_app::SourceFile {
        name: params
            .filename
            .filter(|n| !n.trim().is_empty())
            .map(|n| shequ_app::domain::text::excerpt(&n, 100))
            .unwrap_or_else(|| "上传的文件".into()),
        bytes: body.to_vec(),
    };
    let report = state
        .app
        .import_records(&session.caller, &file)
        .await
        .map_err(WebError::Api)?;
    let status = if report.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(import_json(&report))).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// a community's code, or a higher unit's for everything below it
    unit: String,
    year: i16,
    kind: String,
    /// xlsx (default) or csv
    format: Option<String>,
}

/// Records of one kind and year as xlsx (typed cells) or CSV (UTF-8 with BOM), streamed.
#[utoipa::path(get, path = "/api/v1/records/export", params(ExportParams), responses(
    (status = 200, description = "the file"),
    (status = 403, body = ErrorBody)
))]
pub async fn export(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Query(params): Query<ExportParams>,
) -> Result<Response, WebError> {
    let request = ExportRequest {
        unit: params.unit,
        year: params.year,
        kind: kind_param(&params.kind).map_err(WebError::Api)?,
        format: format_param(params.format.as_deref()).map_err(WebError::Api)?,
    };
    export_response(&state, &session.caller, &request)
        .await
        .map_err(WebError::Api)
}

#[derive(Serialize, ToSchema)]
pub struct FileJson {
    id: i64,
    record_id: i64,
    file_name: String,
    content_type: String,
    size_bytes: i64,
    sha256: String,
    uploaded_at: String,
    uploaded_by: String,
}

#[derive(Serialize, ToSchema)]
pub struct FileList {
    items: Vec<FileJson>,
}

fn file_json(f: &StoredFile) -> FileJson {
    FileJson {
        id: f.id,
        record_id: f.record_id,
        file_name: f.file_name.clone(),
        content_type: f.content_type.clone(),
        size_bytes: f.size_bytes,
        sha256: f.sha256.clone(),
        uploaded_at: f.uploaded_at.clone(),
        uploaded_by: f.uploaded_by.clone(),
    }
}

/// A record's evidence files.
#[utoipa::path(get, path = "/api/v1/records/{id}/files", params(("id" = i64, Path)),
    responses((status = 200, body = FileList), (status = 404, body = ErrorBody)))]
pub async fn files(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<i64>,
) -> Result<Json<FileList>, WebError> {
    let files = state
        .app
        .record_files(&session.caller, id)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(FileList {
        items: files.iter().map(file_json).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// the file's name; its extension must match its content (jpg, png, gif, webp, pdf, doc,
    /// docx, xls, xlsx)
    filename: String,
}

/// Attaches an evidence file (the request body, at most 10 MB) to a record.
#[utoipa::path(post, path = "/api/v1/records/{id}/files", params(("id" = i64, Path), UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = CreatedJson), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<i64>,
    Query(params): Query<UploadParams>,
    body: Bytes,
) -> Result<Response, WebError> {
    let file_id = state
        .app
        .add_record_file(&session.caller, id, &params.filename, body.to_vec())
        .await
        .map_err(WebError::Api)?;
    Ok((StatusCode::CREATED, Json(CreatedJson { id: file_id })).into_response())
}

/// Downloads an evidence file.
#[utoipa::path(get, path = "/api/v1/files/{id}", params(("id" = i64, Path)),
    responses((status = 200, description = "the file"), (status = 404, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    evidence_response(&state, &session.caller, id)
        .await
        .map_err(WebError::Api)
}

/// Deletes an evidence file.
#[utoipa::path(delete, path = "/api/v1/files/{id}", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_file(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<i64>,
) -> Result<StatusCode, WebError> {
    state
        .app
        .delete_record_file(&session.caller, id)
        .await
        .map_err(WebError::Api)?;
    Ok(StatusCode::NO_CONTENT)
}
