//! One error type for the web layer, shown as JSON to the API and as a page to people.

use askama::Template;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use shequ_app::AppError;

pub enum WebError {
    /// For `/api/...`: `{error, message}`.
    Api(AppError),
    /// For pages: an error page in Chinese.
    Page(AppError),
    /// A refusal made before any handler ran (bad method, unreadable query or path, size
    /// limits), shown in the same two forms.
    Refused {
        status: StatusCode,
        api: bool,
        message: String,
    },
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code: not_found, bad_request, invalid_file, not_ready, internal.
    pub error: &'static str,
    /// What went wrong, in Chinese, for people.
    pub message: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: &'static str,
    message: String,
}

fn classify(error: &AppError) -> (StatusCode, &'static str, &'static str) {
    match error {
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "未找到"),
        AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", "请求有误"),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "无权访问"),
        AppError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated", "请先登录"),
        AppError::InvalidFile(_) | AppError::Standard(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_file", "文件有误")
        }
        AppError::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready", "正在初始化"),
        AppError::Store(shequ_app::StoreError::Busy) => {
            (StatusCode::SERVICE_UNAVAILABLE, "busy", "系统繁忙")
        }
        AppError::TooManyAttempts(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "尝试次数过多",
        ),
        AppError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "服务器内部错误",
        ),
        AppError::Conflict(_)
        | AppError::Store(
            shequ_app::StoreError::StandardConflict(_) | shequ_app::StoreError::Conflict,
        ) => (StatusCode::CONFLICT, "conflict", "冲突"),
        AppError::Store(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "服务器内部错误",
        ),
    }
}

fn public_message(error: &AppError) -> String {
    if error.is_client_error()
        || matches!(
            error,
            AppError::NotReady | AppError::Store(shequ_app::StoreError::Busy)
        )
    {
        error.to_string()
    } else {
        // Details of a system fault go to the log, not to the visitor.
        tracing::error!(%error, "request failed");
        "服务器内部错误，请稍后再试或联系管理员".to_string()
    }
}

impl WebError {
    pub fn into_response_now(self) -> Response {
        self.into_response()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Api(error) => {
                let (status, code, _) = classify(&error);
                let body = ErrorBody {
                    error: code,
                    message: public_message(&error),
                };
                let mut response = (status, Json(body)).into_response();
                if status == StatusCode::TOO_MANY_REQUESTS {
                    // The lockout window, in seconds.
                    response.headers_mut().insert(
                        axum::http::header::RETRY_AFTER,
                        axum::http::HeaderValue::from_static("900"),
                    );
                }
                response
            }
            WebError::Page(error) => {
                let (status, _, title) = classify(&error);
                let page = ErrorPage {
                    status: status.as_u16(),
                    title,
                    message: public_message(&error),
                };
                match page.render() {
                    Ok(html) => (status, Html(html)).into_response(),
                    Err(_) => (status, title).into_response(),
                }
            }
            WebError::Refused {
                status,
                api,
                message,
            } => {
                let code = match status {
                    StatusCode::NOT_FOUND => "not_found",
                    StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                    StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                    StatusCode::REQUEST_TIMEOUT => "timeout",
                    s if s.is_server_error() => "internal",
                    _ => "bad_request",
                };
                if api {
                    (
                        status,
                        Json(ErrorBody {
                            error: code,
                            message,
                        }),
                    )
                        .into_response()
                } else {
                    let page = ErrorPage {
                        status: status.as_u16(),
                        title: "请求有误",
                        message,
                    };
                    match page.render() {
                        Ok(html) => (status, Html(html)).into_response(),
                        Err(_) => status.into_response(),
                    }
                }
            }
        }
    }
}

/// Gives error responses that axum or tower made (plain text or empty) the same JSON or page
/// form as every other error.
pub async fn normalise_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") || content_type.starts_with("text/html") {
        return response;
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "不支持该请求方法".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => "请求内容过大".to_string(),
        StatusCode::REQUEST_TIMEOUT => "请求处理超时，请稍后再试".to_string(),
        StatusCode::NOT_FOUND => "页面不存在".to_string(),
        s if s.is_server_error() => "服务器内部错误，请稍后再试或联系管理员".to_string(),
        _ => "请求地址或参数无法识别（请检查编码和重复的参数）".to_string(),
    };
    WebError::Refused {
        status,
        api,
        message,
    }
    .into_response()
}
