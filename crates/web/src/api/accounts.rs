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
    ClientAddress(client): ClientAddress,
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
        [(header::SET_COOKIE, session_cookie(&signed_in.token))],
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
