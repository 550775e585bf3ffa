//! Signing in and out, the current user, and the audit log.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shequ_app::UserView;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiSession, ClientAddress, cleared_cookie, session_cookie};
use crate::error::{ErrorBody, WebError};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeJson {
    id: i64,
    username: String,
    display_name: String,
    /// province_admin, officer, community_worker, evaluator or viewer
    role: String,
    /// the code of the unit whose subtree the user works in
    unit: String,
    must_change_password: bool,
}

#[derive(Serialize, ToSchema)]
pub struct LoginJson {
    /// for `Authorization: Bearer` use by API clients
    token: String,
    /// send as the X-CSRF-Token header with cookie-authenticated writes that are not JSON
    csrf_token: String,
    user: MeJson,
}

fn me_json(user: &UserView) -> MeJson {
    MeJson {
        id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: user.role.as_str().to_string(),
        unit: user.scope.to_string(),
        must_change_password: user.must_change_password,
    }
}

/// Signs in; sets the session cookie and returns a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginBody, responses(
    (status = 200, body = LoginJson),
    (status = 401, body = ErrorBody, description = "unknown user or wrong password (one message for both)"),
    (status = 429, body = ErrorBody, description = "too many failures for this username or client")
))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(client, https): ClientAddress,
    Json(body): Json<LoginBody>,
) -> Result<Response, WebError> {
    let signed_in = state
        .app
        .sign_in(&body.username, &body.password, &client)
        .await
        .map_err(WebError::Api)?;
    let body = LoginJson {
        token: signed_in.token.clone(),
        csrf_token: signed_in.csrf_token.clone(),
        user: me_json(&signed_in.user),
    };
    Ok((
        [(header::SET_COOKIE, session_cookie(&signed_in.token, https))],
        Json(body),
    )
        .into_response())
}

/// Ends the session.
#[utoipa::path(post, path = "/api/v1/auth/logout", responses(
    (status = 204, description = "signed out"),
    (status = 401, body = ErrorBody)
))]
pub async fn logout(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Response, WebError> {
    state.app.sign_out(&session).await.map_err(WebError::Api)?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cleared_cookie())],
    )
        .into_response())
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", responses(
    (status = 200, body = MeJson),
    (status = 401, body = ErrorBody)
))]
pub async fn me(ApiSession(session): ApiSession) -> Json<MeJson> {
    Json(me_json(&session.user))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// a unit code: entries for it and everything below it (officers: within their scope)
    unit: Option<String>,
    /// the `next` value of the previous page
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditJson {
    id: i64,
    at: String,
    actor: String,
    role: String,
    action: String,
    unit: Option<String>,
    object: String,
    summary: String,
    client: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditList {
    items: Vec<AuditJson>,
    next: Option<String>,
}

/// The audit log, newest first: province admins everywhere, officers for their scope.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditParams), responses(
    (status = 200, body = AuditList),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody)
))]
pub async fn audit(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Query(params): Query<AuditParams>,
) -> Result<Json<AuditList>, WebError> {
    let page = state
        .app
        .audit_log(
            &session.caller,
            params.unit.as_deref(),
            params.cursor.as_deref(),
        )
        .await
        .map_err(WebError::Api)?;
    Ok(Json(AuditList {
        items: page
            .items
            .into_iter()
            .map(|r| AuditJson {
                id: r.id,
                at: r.at,
                actor: r.entry.actor,
                role: r.entry.role,
                action: r.entry.action,
                unit: r.entry.unit.map(|u| u.to_string()),
                object: r.entry.object,
                summary: r.entry.summary,
                client: r.entry.client,
            })
            .collect(),
        next: page.next,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct UserJson {
    username: String,
    display_name: String,
    role: String,
    unit: String,
    must_change_password: bool,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    items: Vec<UserJson>,
}

fn user_json(user: &UserView) -> UserJson {
    UserJson {
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: user.role.as_str().to_string(),
        unit: user.scope.to_string(),
        must_change_password: user.must_change_password,
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersParams {
    /// a unit code: users whose scope unit is it or below it
    unit: Option<String>,
}

/// The users the caller may manage.
#[utoipa::path(get, path = "/api/v1/users", params(UsersParams), responses(
    (status = 200, body = UserList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)
))]
pub async fn users(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Query(params): Query<UsersParams>,
) -> Result<Json<UserList>, WebError> {
    let users = state
        .app
        .list_users(&session.caller, params.unit.as_deref())
        .await
        .map_err(WebError::Api)?;
    Ok(Json(UserList {
        items: users.iter().map(user_json).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct NewUserBody {
    username: String,
    display_name: String,
    role: String,
    unit: String,
    /// omit to have a first password made, returned once and to be changed at first sign-in
    password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedUserJson {
    user: UserJson,
    /// the first password to hand out, when one was made
    first_password: Option<String>,
}

/// Creates a user within the caller's scope and below its role.
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUserBody, responses(
    (status = 201, body = CreatedUserJson), (status = 400, body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)
))]
pub async fn create_user(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Json(body): Json<NewUserBody>,
) -> Result<Response, WebError> {
    let (password, first_password) = match body.password {
        Some(p) => (p, None),
        None => {
            let p = shequ_app::first_password().map_err(WebError::Api)?;
            (p.clone(), Some(p))
        }
    };
    let user = state
        .app
        .create_user(
            &session.caller,
            shequ_app::UserRequest {
                username: body.username,
                display_name: body.display_name,
                role: body.role,
                unit: body.unit,
                password,
                // A password someone else chose must be replaced by the user's own.
                must_change_password: true,
            },
        )
        .await
        .map_err(WebError::Api)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUserJson {
            user: user_json(&user),
            first_password,
        }),
    )
        .into_response())
}

async fn set_active(
    state: &AppState,
    session: &shequ_app::Session,
    username: &str,
    active: bool,
) -> Result<StatusCode, WebError> {
    state
        .app
        .set_user_active(&session.caller, username, active)
        .await
        .map_err(WebError::Api)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deactivates a user (ending its sessions).
#[utoipa::path(post, path = "/api/v1/users/{username}/deactivate",
    params(("username" = String, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deactivate(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    axum::extract::Path(username): axum::extract::Path<String>,
) -> Result<StatusCode, WebError> {
    set_active(&state, &session, &username, false).await
}

/// Reactivates a user.
#[utoipa::path(post, path = "/api/v1/users/{username}/activate",
    params(("username" = String, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn activate(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    axum::extract::Path(username): axum::extract::Path<String>,
) -> Result<StatusCode, WebError> {
    set_active(&state, &session, &username, true).await
}

#[derive(Serialize, ToSchema)]
pub struct PasswordJson {
    /// the new first password to hand out; it must be changed at first sign-in
    password: String,
}

/// Gives a user a new first password.
#[utoipa::path(post, path = "/api/v1/users/{username}/reset-password",
    params(("username" = String, Path)), responses((status = 200, body = PasswordJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reset_password(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    axum::extract::Path(username): axum::extract::Path<String>,
) -> Result<Json<PasswordJson>, WebError> {
    let password = state
        .app
        .reset_password(&session.caller, &username)
        .await
        .map_err(WebError::Api)?;
    Ok(Json(PasswordJson { password }))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordBody {
    current: String,
    new: String,
}

/// Changes the signed-in user's own password.
#[utoipa::path(post, path = "/api/v1/me/password", request_body = ChangePasswordBody, responses(
    (status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)
))]
pub async fn change_password(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Json(body): Json<ChangePasswordBody>,
) -> Result<StatusCode, WebError> {
    state
        .app
        .change_own_password(&session, &body.current, &body.new)
        .await
        .map_err(WebError::Api)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditExportParams {
    unit: Option<String>,
}

/// The audit log as CSV (UTF-8 with BOM; formula-like cells made inert).
#[utoipa::path(get, path = "/api/v1/audit.csv", params(AuditExportParams), responses(
    (status = 200, content_type = "text/csv"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)
))]
pub async fn audit_csv(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Query(params): Query<AuditExportParams>,
) -> Result<Response, WebError> {
    let bytes = state
        .app
        .audit_csv(&session.caller, params.unit.as_deref())
        .await
        .map_err(WebError::Api)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
        ],
        bytes,
    )
        .into_response())
}
