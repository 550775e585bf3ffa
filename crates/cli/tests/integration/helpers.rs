use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use shequ_app::{App, Bundled, Caller, UserRequest};
use shequ_store::testing::TestDatabase;
use shequ_web::AppState;

/// A running server with its own database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub app: Arc<App>,
    pub state: AppState,
    /// The database the server uses, for the command line to open too.
    pub database_url: String,
    /// Kept so the database lives as long as the server.
    _db: TestDatabase,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
        (status, response.json().await.unwrap())
    }

    pub async fn get_page(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

/// Starts a server on a fresh SQLite database without loading anything yet.
pub async fn spawn_uninitialised(db: TestDatabase) -> TestApp {
    spawn_with(db, Vec::new()).await
}

async fn spawn_with(db: TestDatabase, trusted_proxies: Vec<std::net::IpAddr>) -> TestApp {
    let app = Arc::new(App::open(&db.url).await.unwrap());
    let state = AppState::new(app.clone()).with_trusted_proxies(trusted_proxies);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(shequ_web::serve(
        listener,
        state.clone(),
        std::future::pending(),
    ));
    TestApp {
        address,
        client: reqwest::Client::new(),
        app,
        state,
        database_url: db.url.clone(),
        _db: db,
    }
}

/// Starts a server on the given database after loading the bundled data, as `shequ serve` does.
pub async fn spawn_app_on(db: TestDatabase) -> TestApp {
    let test_app = spawn_uninitialised(db).await;
    test_app
        .app
        .initialise_if_empty(&Bundled::HEILONGJIANG, &shequ_app::Caller::operator())
        .await
        .unwrap();
    test_app.state.set_ready();
    test_app
}

/// A server behind a reverse proxy at 127.0.0.1 (the test client's address).
pub async fn spawn_app_behind_proxy() -> TestApp {
    let test_app = spawn_with(TestDatabase::sqlite(), vec!["127.0.0.1".parse().unwrap()]).await;
    test_app
        .app
        .initialise_if_empty(&Bundled::HEILONGJIANG, &shequ_app::Caller::operator())
        .await
        .unwrap();
    test_app.state.set_ready();
    test_app
}

pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestDatabase::sqlite()).await
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// The password test users get.
pub const PASSWORD: &str = "shequ2010hlj";

pub async fn create(
    app: &TestApp,
    caller: &Caller,
    username: &str,
    role: &str,
    unit: &str,
) -> Result<(), String> {
    app.app
        .create_user(
            caller,
            UserRequest {
                username: username.into(),
                display_name: format!("{username} 姓名"),
                role: role.into(),
                unit: unit.into(),
                password: PASSWORD.into(),
                must_change_password: false,
            },
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

pub async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

pub async fn token(app: &TestApp, username: &str) -> String {
    let response = login(app, username, PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf_token\" value=\"").unwrap() + 25;
    html[at..at + 64].to_string()
}

/// The `name=value` part of a response's session cookie.
pub fn session_cookie_of(response: &reqwest::Response) -> String {
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Decodes every QR code of a print sheet (the SVGs shequ writes: one `M x y h1v1h-1z` square per
/// dark module), as a phone would the printed page.
pub fn decode_sheet(html: &str) -> Vec<String> {
    html.split("<svg").skip(1).map(decode_svg).collect()
}

fn decode_svg(svg: &str) -> String {
    let size: usize = svg
        .split("viewBox=\"0 0 ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    let path = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut dark = vec![false; size * size];
    for square in path.split('M').filter(|s| !s.is_empty()) {
        let mut parts = square.split('h').next().unwrap().split(' ');
        let x: usize = parts.next().unwrap().parse().unwrap();
        let y: usize = parts.next().unwrap().parse().unwrap();
        dark[y * size + x] = true;
    }
    let scale = 4;
    let pixels = size * scale;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(pixels, pixels, |x, y| {
        if dark[(y / scale) * size + x / scale] {
            0
        } else {
            255
        }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code per card");
    grids[0].decode().unwrap().1
}

/// A JSON API call with a bearer token: (status, body, or null when the body is not JSON).
pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A GET with a bearer token.
pub async fn get_as(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    send(app, reqwest::Method::GET, token, path, None).await
}
