//! Pages for officers and admins: users within scope and the audit log.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use shequ_app::{AppError, AuditRecord, Session, UserRequest, UserView};

use super::account::{PageSession, check_csrf};
use super::page;
use crate::error::WebError;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct AuditParams {
    unit: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    unit: String,
    items: Vec<AuditRecord>,
    next: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Query(params): Query<AuditParams>,
) -> Result<Response, WebError> {
    let page_of = state
        .app
        .audit_log(
            &session.caller,
            params.unit.as_deref(),
            params.cursor.as_deref(),
        )
        .await
        .map_err(WebError::Page)?;
    page(AuditPage {
        unit: params.unit.unwrap_or_default(),
        items: page_of.items,
        next: page_of.next,
    })
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    users: Vec<UserView>,
    me: String,
    csrf_token: String,
    message: Option<String>,
    error: Option<String>,
    created: Vec<(String, String)>,
}

async fn users_page(
    state: &AppState,
    session: &Session,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    users_page_with(state, session, message, error, Vec::new()).await
}

async fn users_page_with(
    state: &AppState,
    session: &Session,
    message: Option<String>,
    error: Option<String>,
    created: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let users = state
        .app
        .list_users(&session.caller, None)
        .await
        .map_err(WebError::Page)?;
    page(UsersPage {
        users,
        me: session.user.username.clone(),
        csrf_token: session.csrf_token.clone(),
        message,
        error,
        created,
    })
}

pub async fn users(
    State(state): State<AppState>,
    PageSession(session): PageSession,
) -> Result<Response, WebError> {
    users_page(&state, &session, None, None).await
}

#[derive(Deserialize)]
pub struct NewUserForm {
    csrf_token: String,
    username: String,
    display_name: String,
    role: String,
    unit: String,
}

pub async fn create_user(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Form(form): Form<NewUserForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let password = shequ_app::first_password().map_err(WebError::Page)?;
    let request = UserRequest {
        username: form.username,
        display_name: form.display_name,
        role: form.role,
        unit: form.unit,
        password: password.clone(),
        must_change_password: true,
    };
    match state.app.create_user(&session.caller, request).await {
        Ok(user) => {
            let message = format!(
                "已新建用户 {}，首次密码：{password}（仅显示这一次，请转交本人）",
                user.username
            );
            users_page(&state, &session, Some(message), None).await
        }
        Err(e @ (AppError::BadRequest(_) | AppError::Forbidden(_))) => {
            users_page(&state, &session, None, Some(e.to_string())).await
        }
        Err(e) => Err(WebError::Page(e)),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf_token: String,
}

pub async fn user_action(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Path((username, action)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let outcome = match action.as_str() {
        "deactivate" => state
            .app
            .set_user_active(&session.caller, &username, false)
            .await
            .map(|()| format!("已停用 {username}")),
        "activate" => state
            .app
            .set_user_active(&session.caller, &username, true)
            .await
            .map(|()| format!("已启用 {username}")),
        "reset-password" => state
            .app
            .reset_password(&session.caller, &username)
            .await
            .map(|p| format!("{username} 的新首次密码：{p}（仅显示这一次，请转交本人）")),
        _ => Err(AppError::NotFound("页面不存在".into())),
    };
    match outcome {
        Ok(message) => users_page(&state, &session, Some(message), None).await,
        Err(e @ (AppError::BadRequest(_) | AppError::Forbidden(_) | AppError::NotFound(_))) => {
            users_page(&state, &session, None, Some(e.to_string())).await
        }
        Err(e) => Err(WebError::Page(e)),
    }
}

/// Bulk creation from an uploaded CSV or spreadsheet.
pub async fn import_users(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    mut multipart: axum::extract::Multipart,
) -> Result<Response, WebError> {
    let mut csrf = String::new();
    let mut file = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| WebError::Page(AppError::BadRequest(format!("上传内容无法读取：{e}"))))?
    {
        match field.name() {
            Some("csrf_token") => {
                csrf = field.text().await.map_err(|e| {
                    WebError::Page(AppError::BadRequest(format!("上传内容无法读取：{e}")))
                })?;
            }
            Some("file") => {
                let name = field.file_name().unwrap_or("上传的文件").to_string();
                let bytes = field.bytes().await.map_err(|e| {
                    WebError::Page(AppError::BadRequest(format!("上传文件无法读取：{e}")))
                })?;
                file = Some(shequ_app::SourceFile {
                    name,
                    bytes: bytes.to_vec(),
                });
            }
            _ => {}
        }
    }
    check_csrf(&session, &csrf)?;
    let Some(file) = file.filter(|f| !f.bytes.is_empty()) else {
        return users_page(&state, &session, None, Some("请选择要上传的文件".into())).await;
    };
    match state.app.import_users(&session.caller, &file).await {
        Ok(created) => {
            let message = format!(
                "已新建 {} 个用户；首次密码仅显示这一次，请转交本人",
                created.len()
            );
            users_page_with(&state, &session, Some(message), None, created).await
        }
        Err(e @ (AppError::InvalidFile(_) | AppError::BadRequest(_) | AppError::Forbidden(_))) => {
            users_page(&state, &session, None, Some(e.to_string())).await
        }
        Err(e) => Err(WebError::Page(e)),
    }
}
