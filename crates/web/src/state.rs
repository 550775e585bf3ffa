use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use shequ_app::App;

/// What every handler gets: the app and whether first-start loading has finished.
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    ready: Arc<AtomicBool>,
    /// Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed.
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// The address residents reach the server at, for the voting links in QR codes.
    pub public_url: Arc<str>,
    /// Longest a request may take before it is answered 408.
    pub request_timeout: std::time::Duration,
}

impl AppState {
    pub fn new(app: Arc<App>) -> AppState {
        AppState {
            app,
            ready: Arc::new(AtomicBool::new(false)),
            trusted_proxies: Arc::new(Vec::new()),
            public_url: Arc::from("http://127.0.0.1:8080"),
            request_timeout: std::time::Duration::from_secs(60),
        }
    }

    /// Marks every page as showing demo data.
    pub fn with_demo(self, on: bool) -> AppState {
        crate::ui::set_demo(on);
        self
    }

    pub fn with_request_timeout(mut self, timeout: std::time::Duration) -> AppState {
        self.request_timeout = timeout;
        self
    }

    pub fn with_public_url(mut self, url: &str) -> AppState {
        self.public_url = Arc::from(url.trim_end_matches('/'));
        self
    }

    pub fn with_trusted_proxies(mut self, proxies: Vec<std::net::IpAddr>) -> AppState {
        self.trusted_proxies = Arc::new(proxies);
        self
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// Until the database is migrated and the first-start data is loaded, everything but the health
/// check, the OpenAPI document and static files answers 503.
pub async fn wait_until_ready(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let always = path == "/healthz" || path == "/api/openapi.json" || path.starts_with("/static/");
    if always || state.is_ready() {
        next.run(request).await
    } else if path.starts_with("/api/") {
        crate::error::WebError::Api(shequ_app::AppError::NotReady).into_response_now()
    } else {
        crate::error::WebError::Page(shequ_app::AppError::NotReady).into_response_now()
    }
}
