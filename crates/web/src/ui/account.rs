//! Sign-in, the one-time setup link, one's own account and sign-out, as pages with forms.

use askama::Template;
use axum::Form;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use shequ_app::{AppError, Session, UserRequest, UserView};

use super::page;
use crate::auth::{ClientAddress, SESSION_COOKIE, cleared_cookie, client_address, session_cookie};
use crate::error::WebError;
use crate::state::AppState;

/// The signed-in user of a page; without one, the visitor is sent to the sign-in page.
pub struct PageSession(pub Session);

impl FromRequestParts<AppState> for PageSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = client_address(parts, state);
        let token = crate::auth::cookie(&parts.headers, SESSION_COOKIE).map(str::to_string);
        let Some(token) = token else {
            return Err(Redirect::to("/login").into_response());
        };
        match state.app.session(&token, &client).await {
            // A handed-out password must be changed before anything else.
            Ok(session)
                if session.user.must_change_password
                    && !matches!(
                        parts.uri.path(),
                        "/account" | "/account/password" | "/logout"
                    ) =>
            {
                Err(Redirect::to("/account").into_response())
            }
            Ok(session) => Ok(PageSession(session)),
            Err(AppError::Unauthenticated(_)) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(WebError::Page(e).into_response()),
        }
    }
}

/// Cookie-authenticated form posts carry the session's token in a hidden field.
pub(super) fn check_csrf(session: &Session, sent: &str) -> Result<(), WebError> {
    if sent == session.csrf_token {
        Ok(())
    } else {
        Err(WebError::Page(AppError::Forbidden(
            "表单已过期或来源不明（防伪令牌不符），请返回重新提交".into(),
        )))
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    username: String,
    error: Option<String>,
}

pub async fn login_form() -> Result<Response, WebError> {
    page(LoginPage {
        username: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddress(client, https): ClientAddress,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    // A sign-in form posted from another site would sign the visitor into someone else's
    // account; a missing Origin alone is no reason to refuse.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if origin_host != host {
            return Err(WebError::Page(AppError::Forbidden(
                "登录请求来自其他网站，已拒绝".into(),
            )));
        }
    }
    match state
        .app
        .sign_in(&form.username, &form.password, &client)
        .await
    {
        Ok(signed_in) => {
            let target = if signed_in.user.must_change_password {
                "/account"
            } else {
                "/dashboard"
            };
            Ok((
                [(header::SET_COOKIE, session_cookie(&signed_in.token, https))],
                Redirect::to(target),
            )
                .into_response())
        }
        Err(e @ (AppError::Unauthenticated(_) | AppError::TooManyAttempts(_))) => {
            let status = if matches!(e, AppError::TooManyAttempts(_)) {
                axum::http::StatusCode::TOO_MANY_REQUESTS
            } else {
                axum::http::StatusCode::UNAUTHORIZED
            };
            let html = page(LoginPage {
                username: shequ_app::domain::text::excerpt(&form.username, 64),
                error: Some(e.to_string()),
            })?;
            Ok((status, html).into_response())
        }
        Err(e) => Err(WebError::Page(e)),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf_token: String,
}

pub async fn logout(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    state.app.sign_out(&session).await.map_err(WebError::Page)?;
    Ok((
        [(header::SET_COOKIE, cleared_cookie())],
        Redirect::to("/login"),
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    user: UserView,
    csrf_token: String,
    message: Option<String>,
    error: Option<String>,
}

pub async fn account(PageSession(session): PageSession) -> Result<Response, WebError> {
    page(AccountPage {
        user: session.user,
        csrf_token: session.csrf_token,
        message: None,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf_token: String,
    current: String,
    new_password: String,
    confirm: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    Form(form): Form<PasswordForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let outcome = if form.new_password != form.confirm {
        Err(AppError::BadRequest("两次输入的新密码不一致".into()))
    } else {
        state
            .app
            .change_own_password(&session, &form.current, &form.new_password)
            .await
    };
    let (message, error) = match outcome {
        Ok(()) => (Some("密码已修改".to_string()), None),
        Err(e @ AppError::BadRequest(_)) => (None, Some(e.to_string())),
        Err(e) => return Err(WebError::Page(e)),
    };
    let mut user = session.user;
    if message.is_some() {
        user.must_change_password = false;
    }
    page(AccountPage {
        user,
        csrf_token: session.csrf_token,
        message,
        error,
    })
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    token: String,
    unit_code: String,
    unit_name: String,
    username: String,
    display_name: String,
    error: Option<String>,
}

async fn setup_unit(state: &AppState) -> Result<(String, String), WebError> {
    let roots = state.app.roots().await.map_err(WebError::Page)?;
    roots
        .first()
        .map(|u| (u.code.to_string(), u.name.clone()))
        .ok_or(WebError::Page(AppError::NotReady))
}

pub async fn setup_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    if !state
        .app
        .setup_token_valid(&token)
        .await
        .map_err(WebError::Page)?
    {
        return Err(WebError::Page(AppError::NotFound(
            "初始化链接无效或已使用".into(),
        )));
    }
    let (unit_code, unit_name) = setup_unit(&state).await?;
    page(SetupPage {
        token,
        unit_code,
        unit_name,
        username: String::new(),
        display_name: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct SetupForm {
    username: String,
    display_name: String,
    password: String,
    confirm: String,
}

pub async fn setup(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientAddress(client, _): ClientAddress,
    Form(form): Form<SetupForm>,
) -> Result<Response, WebError> {
    let (unit_code, unit_name) = setup_unit(&state).await?;
    let outcome = if form.password != form.confirm {
        Err(AppError::BadRequest("两次输入的密码不一致".into()))
    } else {
        let request = UserRequest {
            username: form.username.clone(),
            display_name: form.display_name.clone(),
            role: String::new(),
            unit: unit_code.clone(),
            password: form.password,
            must_change_password: false,
        };
        state
            .app
            .complete_setup(&token, request, &client)
            .await
            .map(|_| ())
    };
    match outcome {
        Ok(()) => Ok(Redirect::to("/login").into_response()),
        Err(e @ AppError::BadRequest(_)) => page(SetupPage {
            token,
            unit_code,
            unit_name,
            username: shequ_app::domain::text::excerpt(&form.username, 32),
            display_name: shequ_app::domain::text::excerpt(&form.display_name, 50),
            error: Some(e.to_string()),
        }),
        Err(e) => Err(WebError::Page(e)),
    }
}
