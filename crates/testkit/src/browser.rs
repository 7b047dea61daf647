//! A real browser: Debian's Chromium, headless, driven over WebDriver
//! (chromedriver) with fantoccini.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::env;
use crate::poll::poll_until;

/// How long a page may take to show something.
const WAIT: Duration = Duration::from_secs(10);
/// How often it is looked at meanwhile.
const STEP: Duration = Duration::from_millis(50);

/// A chromedriver of the test's own; each [`session`](Self::session) is a
/// browser with a fresh profile (its own cookies and storage).
pub struct Browser {
    driver: Child,
    url: String,
    chromium: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free loopback port, or `None` (said
    /// loudly) when this machine has no Chromium.
    pub async fn start(what: &str) -> Option<Self> {
        let (driver, chromium) = env::chromium(what)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let browser = Self {
            driver: child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
        };
        let status = format!("{}/status", browser.url);
        let ready = poll_until(Duration::from_secs(20), || async {
            reqwest::get(&status)
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(ready.is_some(), "chromedriver did not start");
        Some(browser)
    }

    /// A new browser: headless Chromium with a profile of its own.
    pub async fn session(&self) -> Page {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": self.chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--password-store=basic",
                    "--window-size=1100,820",
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session");
        Page { client }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One browser, on one page at a time.
pub struct Page {
    /// The WebDriver client, for what the helpers do not cover.
    pub client: Client,
}

impl Page {
    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Waits (at most 10 s) until the element `css` is displayed.
    pub async fn visible(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if e.is_displayed().await.unwrap_or(false) {
                    return e;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} never showed; the page says: {}",
                self.text("body").await
            );
            tokio::time::sleep(STEP).await;
        }
    }

    /// Whether `css` is displayed right now.
    pub async fn shows(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Waits (at most 10 s) until the element `css` shows `text`.
    pub async fn wait_text(&self, css: &str, text: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = self.text(css).await;
            if now.contains(text) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} never said {text:?}; it says {now:?}"
            );
            tokio::time::sleep(STEP).await;
        }
    }

    /// The text of `css` (empty when there is none).
    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Types `text` into the field `css` (emptied first).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.visible(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks `css`.
    pub async fn click(&self, css: &str) {
        self.visible(css).await.click().await.unwrap();
    }

    /// Runs a script in the page and returns its result.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap()
    }

    /// The browser's cookies for the current page, as WebDriver sees them
    /// (HttpOnly ones included): `(name, value, http_only, secure,
    /// same_site, path)`.
    pub async fn cookies(&self) -> Vec<fantoccini::cookies::Cookie<'static>> {
        self.client.get_all_cookies().await.unwrap()
    }

    /// Saves a screenshot as `<name>.png` in [`screenshots`] and returns
    /// its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshots();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Ends the browser.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Where screenshots go: `target/screenshots` of the workspace (or
/// `PASSCARD_TEST_SCREENSHOTS`).
pub fn screenshots() -> PathBuf {
    std::env::var_os("PASSCARD_TEST_SCREENSHOTS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots"),
        PathBuf::from,
    )
}
