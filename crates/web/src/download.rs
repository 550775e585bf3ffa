//! Files sent to the browser: record exports (streamed from a temporary file, so a province's
//! year never sits in memory), templates and evidence files.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use shequ_app::domain::records::RecordKind;
use shequ_app::{AppError, Caller, ExportFormat, ExportRequest};

use crate::state::AppState;

/// `attachment` with an ASCII name and, for other names, the UTF-8 form (RFC 6266).
pub fn attachment(ascii_fallback: &str, name: &str) -> HeaderValue {
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii_fallback}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// Exports records to a temporary file and streams it back.
pub async fn export_response(
    state: &AppState,
    caller: &Caller,
    request: &ExportRequest,
) -> Result<Response, AppError> {
    let temp = tempfile::tempfile().map_err(|e| AppError::Internal(format!("临时文件：{e}")))?;
    let writer = std::io::BufWriter::new(temp);
    let writer = state
        .app
        .export_records(caller, request, writer, |_| {})
        .await?;
    let mut file = writer
        .into_inner()
        .map_err(|e| AppError::Internal(format!("写入失败：{}", e.error())))?;
    use std::io::Seek;
    file.rewind()
        .map_err(|e| AppError::Internal(format!("临时文件：{e}")))?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let name = format!(
        "{}-{}-{}.{}",
        request.kind,
        request.unit,
        request.year,
        request.format.extension()
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(request.format.content_type()),
            ),
            (header::CONTENT_DISPOSITION, attachment(&name, &name)),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// An empty spreadsheet with a kind's Chinese headers.
pub fn template_response(kind: RecordKind, format: ExportFormat) -> Result<Response, AppError> {
    let bytes = shequ_app::record_template(kind, format)?;
    let ascii = format!("template-{kind}.{}", format.extension());
    let name = format!("{}模板.{}", kind.label_zh(), format.extension());
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::CONTENT_DISPOSITION, attachment(&ascii, &name)),
        ],
        bytes,
    )
        .into_response())
}

/// An evidence file, always as a download (never rendered inline as our own page).
pub async fn evidence_response(
    state: &AppState,
    caller: &Caller,
    file_id: i64,
) -> Result<Response, AppError> {
    let (meta, bytes) = state.app.record_file(caller, file_id).await?;
    let extension = meta
        .file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let ascii = format!("file-{}.{extension}", meta.id);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(&meta.content_type)
                    .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
            ),
            (
                header::CONTENT_DISPOSITION,
                attachment(&ascii, &meta.file_name),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Parses `?format=` for downloads (xlsx when absent).
pub fn format_param(text: Option<&str>) -> Result<ExportFormat, AppError> {
    match text {
        None | Some("") => Ok(ExportFormat::Xlsx),
        Some(t) => ExportFormat::parse(t)
            .ok_or_else(|| AppError::BadRequest(format!("未知的格式“{t}”，应为 xlsx 或 csv"))),
    }
}

pub fn kind_param(text: &str) -> Result<RecordKind, AppError> {
    RecordKind::parse(text).ok_or_else(|| {
        AppError::NotFound(format!(
            "未知的台账类型“{}”",
            shequ_app::domain::text::excerpt(text, 30)
        ))
    })
}
