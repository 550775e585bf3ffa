//! The browser harness: Debian's headless chromium through its chromedriver, a `shequ serve` of
//! our own on a free loopback port with a fresh data directory, and a journey that names each step,
//! writes a screenshot of it under `target/e2e/<journey>/`, and on a failure leaves the page's
//! screenshot and HTML beside the message that names the step and the element.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long an element may take to appear before the step fails.
const FIND_TIMEOUT: Duration = Duration::from_secs(10);
/// WebDriver's codes for the keys a keyboard user presses.
pub const TAB: &str = "\u{e004}";
pub const ENTER: &str = "\u{e007}";
pub const SPACE: &str = "\u{e00d}";

/// How long a submitted form may take to answer with its page.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// What fails a journey: the step, what was wanted, and where its evidence is.
#[derive(Debug)]
pub struct JourneyError(pub String);

impl fmt::Display for JourneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Step<T = ()> = Result<T, JourneyError>;

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Whether the browser tests can run here. `.ci/run` installs chromium and chromium-driver and
/// sets SHEQU_REQUIRE_BROWSER=1, so there a missing browser fails instead of skipping.
pub fn browser_available() -> bool {
    let present = on_path("chromedriver") && (on_path("chromium") || on_path("chromium-browser"));
    if !present {
        assert!(
            std::env::var("SHEQU_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "SHEQU_REQUIRE_BROWSER=1 but chromium or chromedriver is not installed \
             (apt-get install chromium chromium-driver)"
        );
        eprintln!("browser tests skipped: chromium and chromium-driver are not installed");
    }
    present
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The repository's `target/e2e/<name>/`, emptied for this run.
fn evidence_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/e2e")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `shequ serve` on a fresh data directory and a free loopback port.
pub struct Server {
    pub base: String,
    child: Child,
    log: PathBuf,
    _data: tempfile::TempDir,
}

impl Server {
    pub async fn start() -> Server {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = data.path().join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_shequ"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("SHEQU_DATA_DIR", data.path().join("data"))
            .env_remove("SHEQU_DATABASE_URL")
            .env_remove("SHEQU_CONFIG")
            .env("SHEQU_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut server = Server {
            base: format!("http://127.0.0.1:{port}"),
            child,
            log,
            _data: data,
        };
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client.get(server.url("/healthz")).send().await
                && r.status() == 200
            {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("shequ serve exited with {status}: {}", server.log_text());
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "shequ serve did not answer /healthz: {}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The one-time link the first start prints for creating the first province admin.
    pub async fn setup_link(&self) -> String {
        let started = Instant::now();
        loop {
            let log = self.log_text();
            if let Some(at) = log.find("/setup/") {
                let start = log[..at]
                    .rfind("http://")
                    .expect("setup link without address");
                let end = log[at..]
                    .find(char::is_whitespace)
                    .map_or(log.len(), |n| at + n);
                return log[start..end].to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no setup link in the log: {log}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chromedriver of its own on a free port and a headless chromium session with a fresh profile.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A desktop window of the given size.
    pub async fn start(width: u32, height: u32) -> Browser {
        Browser::launch(width, height, None).await
    }

    /// A phone's viewport: chromium will not make a window narrower than 500 px, so the phone's
    /// 360 × 740 CSS pixels (at twice the density) come from chromedriver's device emulation.
    pub async fn phone(width: u32, height: u32) -> Browser {
        let metrics =
            json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0}});
        Browser::launch(width, height, Some(metrics)).await
    }

    async fn launch(width: u32, height: u32, mobile: Option<Value>) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let binary = if on_path("chromium") {
            "/usr/bin/chromium"
        } else {
            "/usr/bin/chromium-browser"
        };
        let mut capabilities = Capabilities::new();
        let mut options = json!({
            "binary": binary,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.path().display()),
                format!("--window-size={width},{height}"),
                "--lang=zh-CN",
            ],
        });
        if let Some(mobile) = mobile {
            options["mobileEmulation"] = mobile;
        }
        capabilities.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(e) => {
                    assert!(
                        started.elapsed() < Duration::from_secs(30),
                        "chromedriver did not start a session: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A person's way through the pages, one named step at a time.
pub struct Journey {
    pub browser: Browser,
    base: String,
    dir: PathBuf,
    step: String,
    steps: usize,
}

impl Journey {
    pub fn new(name: &str, browser: Browser, base: &str) -> Journey {
        Journey {
            browser,
            base: base.to_string(),
            dir: evidence_dir(name),
            step: "start".into(),
            steps: 0,
        }
    }

    /// Goes on in another browser (a phone, say); hands back the one used so far.
    pub fn swap_browser(&mut self, other: Browser) -> Browser {
        std::mem::replace(&mut self.browser, other)
    }

    pub fn evidence(&self) -> &Path {
        &self.dir
    }

    fn client(&self) -> &Client {
        &self.browser.client
    }

    fn file_stem(&self) -> String {
        let name: String = self
            .step
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
        format!("{:02}-{name}", self.steps)
    }

    /// Begins a step; the previous step's screenshot was taken when it finished.
    pub fn step(&mut self, name: &str) {
        self.steps += 1;
        self.step = name.to_string();
    }

    /// The screenshot of the step as it stands.
    pub async fn shot(&self) -> Step {
        let png = self.client().screenshot().await.map_err(|e| {
            JourneyError(format!(
                "step {} 「{}」: screenshot failed: {e}",
                self.steps, self.step
            ))
        })?;
        std::fs::write(self.dir.join(format!("{}.png", self.file_stem())), png).unwrap();
        Ok(())
    }

    /// Fails the step: the page's screenshot and HTML are written beside the message.
    pub async fn fail(&self, what: &str) -> JourneyError {
        let stem = format!("{}.failed", self.file_stem());
        if let Ok(png) = self.client().screenshot().await {
            std::fs::write(self.dir.join(format!("{stem}.png")), png).unwrap();
        }
        let html = self.client().source().await.unwrap_or_default();
        std::fs::write(self.dir.join(format!("{stem}.html")), html).unwrap();
        let url = self
            .client()
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        JourneyError(format!(
            "step {} 「{}」 failed at {url}: {what} (screenshot and HTML: {})",
            self.steps,
            self.step,
            self.dir.join(&stem).display()
        ))
    }

    pub async fn goto(&self, path: &str) -> Step {
        let url = format!("{}{path}", self.base);
        match self.client().goto(&url).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(&format!("could not open {url}: {e}")).await),
        }
    }

    /// The element a CSS selector names, waited for.
    pub async fn find(&self, css: &str) -> Step<Element> {
        let found = self
            .client()
            .wait()
            .at_most(FIND_TIMEOUT)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => Ok(element),
            Err(_) => Err(self.fail(&format!("element `{css}` not found")).await),
        }
    }

    pub async fn fill(&self, css: &str, text: &str) -> Step {
        let element = self.find(css).await?;
        element.clear().await.ok();
        match element.send_keys(text).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self
                .fail(&format!("could not type into `{css}`: {e}"))
                .await),
        }
    }

    pub async fn click(&self, css: &str) -> Step {
        let element = self.find(css).await?;
        match element.click().await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(&format!("could not click `{css}`: {e}")).await),
        }
    }

    /// Clicks the button (or submit input) whose text contains `label`, inside `scope`.
    pub async fn press(&self, scope: &str, label: &str) -> Step {
        let xpath = format!(
            "//*[self::button or self::input[@type='submit']][contains(normalize-space(.), '{label}') or contains(@value, '{label}')]"
        );
        let within = self.find(scope).await?;
        let button = match within.find(Locator::XPath(&format!(".{xpath}"))).await {
            Ok(button) => button,
            Err(_) => {
                return Err(self
                    .fail(&format!("button 「{label}」 not found in `{scope}`"))
                    .await);
            }
        };
        self.mark_page().await?;
        if let Err(e) = button.click().await {
            return Err(self
                .fail(&format!("could not press 「{label}」 in `{scope}`: {e}"))
                .await);
        }
        self.wait_for_new_page(&format!("pressing 「{label}」"))
            .await
    }

    /// Marks the page shown, so that [`Journey::wait_for_new_page`] can tell when the next one
    /// has replaced it.
    pub async fn mark_page(&self) -> Step {
        self.script("window.__journeyPage = true; return true;")
            .await
            .map(|_| ())
    }

    /// Waits until a new page has replaced the marked one and finished loading: every form here
    /// answers with a page, so a press that changes nothing (a required field left empty, say)
    /// fails the step.
    pub async fn wait_for_new_page(&self, after: &str) -> Step {
        let started = Instant::now();
        loop {
            let loaded = self
                .client()
                .execute(
                    "return window.__journeyPage === undefined && document.readyState === 'complete';",
                    Vec::new(),
                )
                .await;
            if matches!(loaded, Ok(Value::Bool(true))) {
                return Ok(());
            }
            if started.elapsed() > PAGE_TIMEOUT {
                return Err(self.fail(&format!("no new page after {after}")).await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Chooses an option of a select by its value.
    pub async fn select(&self, css: &str, value: &str) -> Step {
        let element = self.find(css).await?;
        match element.select_by_value(value).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self
                .fail(&format!("no option `{value}` in `{css}`: {e}"))
                .await),
        }
    }

    /// The visible text of the page.
    pub async fn text(&self) -> Step<String> {
        let body = self.find("body").await?;
        body.text()
            .await
            .map_err(|e| JourneyError(format!("could not read the page: {e}")))
    }

    /// Waits until the page's text holds `needle`.
    pub async fn expect_text(&self, needle: &str) -> Step {
        let started = Instant::now();
        loop {
            if self.text().await?.contains(needle) {
                return Ok(());
            }
            if started.elapsed() > FIND_TIMEOUT {
                return Err(self
                    .fail(&format!("text 「{needle}」 not on the page"))
                    .await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn path(&self) -> String {
        self.client()
            .current_url()
            .await
            .map(|u| u.path().to_string())
            .unwrap_or_default()
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, js: &str) -> Step<Value> {
        match self.client().execute(js, Vec::new()).await {
            Ok(value) => Ok(value),
            Err(e) => Err(self.fail(&format!("script failed: {e}")).await),
        }
    }

    /// Presses keys on the keyboard: they go to whatever has the focus, as a person's do.
    pub async fn keys(&self, text: &str) -> Step {
        let mut keyboard = KeyActions::new("keyboard".into());
        for value in text.chars() {
            keyboard = keyboard
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        match self.client().perform_actions(keyboard).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(&format!("could not type: {e}")).await),
        }
    }

    /// Presses Tab (from the top of the page) until the focused element satisfies a script
    /// condition on `e`, as a person at the keyboard moves through a page.
    pub async fn tab_to(&self, condition: &str, what: &str) -> Step {
        self.script("document.activeElement && document.activeElement.blur(); return true;")
            .await?;
        let check = format!("const e = document.activeElement; return !!(e && ({condition}));");
        for _ in 0..40 {
            self.keys(TAB).await?;
            if self.script(&check).await? == Value::Bool(true) {
                return Ok(());
            }
        }
        Err(self.fail(&format!("Tab never reaches {what}")).await)
    }

    /// The `id` (or `name`) of the element with the focus.
    pub async fn focused(&self) -> Step<String> {
        let value = self
            .script(
                "const e = document.activeElement; return e ? (e.id || e.name || e.tagName) : '';",
            )
            .await?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// The basic accessibility check of the page as it stands: fails the step naming every
    /// problem found.
    pub async fn check_accessibility(&self) -> Step {
        let problems = self.script(ACCESSIBILITY_CHECK).await?;
        let problems: Vec<String> = problems
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(self
                .fail(&format!("accessibility: {}", problems.join("; ")))
                .await)
        }
    }

    /// Ends the step: its screenshot, then the accessibility check of the page it left.
    pub async fn done(&self) -> Step {
        self.shot().await?;
        self.check_accessibility().await
    }
}

/// Every form field has a label (a `<label for>`, a wrapping label, aria-label or
/// aria-labelledby), ids are unique (a `for` must point at one field), every image has alt text,
/// every button and link has a name, the page has a language and a title, and an inline chart
/// says what it shows.
const ACCESSIBILITY_CHECK: &str = r#"
const problems = [];
const short = (e) => e.outerHTML.slice(0, 120);
const named = (e) => (e.textContent || '').trim() || e.getAttribute('aria-label')
    || e.getAttribute('aria-labelledby') || e.getAttribute('title')
    || (e.querySelector('img[alt]') && e.querySelector('img[alt]').alt);
for (const e of document.querySelectorAll('input, select, textarea')) {
    if (['hidden', 'submit', 'button', 'reset', 'image'].includes(e.type)) continue;
    const byFor = e.id && document.querySelector('label[for="' + CSS.escape(e.id) + '"]');
    if (!(byFor || e.closest('label') || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby'))) {
        problems.push('field without a label: ' + short(e));
    }
}
const ids = {};
for (const e of document.querySelectorAll('[id]')) {
    if (ids[e.id]) problems.push('duplicate id: ' + e.id);
    ids[e.id] = true;
}
for (const l of document.querySelectorAll('label[for]')) {
    if (!document.getElementById(l.htmlFor)) problems.push('label for a missing field: ' + short(l));
}
for (const img of document.querySelectorAll('img')) {
    if (!img.hasAttribute('alt')) problems.push('image without alt: ' + short(img));
}
for (const e of document.querySelectorAll('button, a[href]')) {
    if (!named(e)) problems.push('button or link without a name: ' + short(e));
}
for (const svg of document.querySelectorAll('svg')) {
    if (!(svg.getAttribute('aria-label') || svg.getAttribute('aria-labelledby') || svg.querySelector('title')
          || svg.getAttribute('aria-hidden') === 'true')) {
        problems.push('chart without a title: ' + short(svg));
    }
}
if (!document.documentElement.lang) problems.push('page without lang');
if (!document.title.trim()) problems.push('page without a title');
return problems;
"#;
