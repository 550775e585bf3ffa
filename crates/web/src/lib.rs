//! The HTTP face of shequ: server-rendered Chinese pages (`ui`) and the JSON API (`api`), over the
//! app layer. Handlers extract, call the app, map the error and render; no rules live here.

mod api;
mod auth;
mod charts;
mod download;
mod error;
mod state;
mod ui;

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use api::openapi_json;
pub use error::WebError;
pub use state::AppState;

/// Largest request body accepted by default; record imports and evidence uploads have their own.
const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// A records spreadsheet: a province's year of one ledger fits.
pub(crate) const IMPORT_LIMIT: usize = 64 * 1024 * 1024;
/// An evidence file (10 MB) with room for the multipart envelope.
pub(crate) const UPLOAD_LIMIT: usize = 11 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let security_headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    let mut router = Router::new()
        .merge(api::routes())
        .merge(ui::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            state::wait_until_ready,
        ));
    for (name, value) in security_headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router
        .layer(CompressionLayer::new())
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ))
        // Outermost, so refusals made by the layers above (413, 408) get the same form too.
        .layer(axum::middleware::from_fn(error::normalise_errors))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    let id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        request_id = %id,
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                })
                // One access line per request, at info, inside its span.
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
        // Outside the trace layer, so every log line of a request carries its id; the id goes
        // back in the response for the office to quote.
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds::default()))
        .layer(axum::middleware::map_request(drop_unusable_request_id))
        .with_state(state)
}

/// A client's request id is kept only when it is short and plain; anything else (empty, long,
/// spaces, non-ASCII, braces that could forge log fields) is replaced by a generated one.
async fn drop_unusable_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let usable = request.headers().get(REQUEST_ID).is_some_and(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 64
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    });
    if !usable {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

const REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

/// Request ids: this process's random prefix and a counter, short enough to read aloud. An id
/// a client sent is kept.
#[derive(Clone)]
struct RequestIds {
    prefix: std::sync::Arc<str>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        RequestIds {
            prefix: format!(
                "{:08x}",
                (started as u64 ^ u64::from(std::process::id())) & 0xffff_ffff
            )
            .into(),
            next: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Unknown addresses: JSON under /api, a page elsewhere.
async fn not_found(uri: axum::http::Uri) -> WebError {
    let error = shequ_app::AppError::NotFound("页面不存在".into());
    if uri.path().starts_with("/api/") {
        WebError::Api(error)
    } else {
        WebError::Page(error)
    }
}

/// Serves until the shutdown future resolves; requests in flight are finished first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
