//! Who is asking: the session from a bearer token or the session cookie, the client address,
//! and the cross-site request forgery check for cookie-authenticated writes.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use shequ_app::{AppError, Session};

use crate::error::WebError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "shequ_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The client's address: the socket's peer, or, when the peer is a trusted proxy, the nearest
/// address in X-Forwarded-For that is not a trusted proxy itself.
pub fn client_address(parts: &Parts, state: &AppState) -> String {
    let Some(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return "unknown".to_string();
    };
    if !state.trusted_proxies.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<std::net::IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|a| !state.trusted_proxies.contains(a))
        .unwrap_or(&peer)
        .to_string()
}

/// Whether the browser reached us over HTTPS (as a trusted proxy says), so cookies get Secure.
pub fn over_https(parts: &Parts, state: &AppState) -> bool {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    peer.is_some_and(|p| state.trusted_proxies.contains(&p))
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    // The scheme is case-insensitive (RFC 9110).
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The signed-in user of an API request; 401 without a current session.
pub struct ApiSession(pub Session);

impl FromRequestParts<AppState> for ApiSession {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = client_address(parts, state);
        let (token, by_cookie) = match bearer(&parts.headers) {
            Some(token) => (token, false),
            None => match cookie(&parts.headers, SESSION_COOKIE) {
                Some(token) => (token, true),
                None => {
                    return Err(WebError::Api(AppError::Unauthenticated("请先登录".into())));
                }
            },
        };
        let session = state
            .app
            .session(token, &client)
            .await
            .map_err(WebError::Api)?;
        // A cookie rides along on cross-site requests; a write made with one must carry the
        // session's token too, unless it is JSON (which no cross-site form can send, as shequ
        // enables no CORS).
        let writes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if by_cookie && writes && !is_json(&parts.headers) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent != Some(session.csrf_token.as_str()) {
                return Err(WebError::Api(AppError::Forbidden(
                    "请求缺少有效的防伪令牌（CSRF）".into(),
                )));
            }
        }
        // A handed-out password must be changed before anything else.
        let allowed = ["/api/v1/me", "/api/v1/me/password", "/api/v1/auth/logout"];
        if session.user.must_change_password && !allowed.contains(&parts.uri.path()) {
            return Err(WebError::Api(AppError::Forbidden(
                "首次登录，请先修改密码（POST /api/v1/me/password）".into(),
            )));
        }
        Ok(ApiSession(session))
    }
}

/// The client address, and whether it came over HTTPS, as an extractor.
pub struct ClientAddress(pub String, pub bool);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            client_address(parts, state),
            over_https(parts, state),
        ))
    }
}

/// The Set-Cookie value for a new session; Secure when served over HTTPS. No Max-Age: the
/// cookie lasts until the browser closes and the server ends the session after idle time, so an
/// active user is not signed out at a fixed time after signing in.
pub fn session_cookie(token: &str, https: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/{}",
        if https { "; Secure" } else { "" }
    )
}

pub fn cleared_cookie() -> String {
    format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0")
}
