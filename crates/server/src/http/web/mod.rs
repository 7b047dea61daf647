//! The web page at `/`: sign up, sign in, the account, and the users for
//! admins. Plain HTML, CSS and JavaScript embedded in the binary (no build
//! step), calling the API with the cookie transport. Served with a strict
//! Content-Security-Policy: scripts and styles from this origin only, no
//! inline code, no framing.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::{Config, Mode};

const INDEX: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");
const ICON: &str = include_str!("icon.svg");

/// What the page may load and do: only its own script, style, icon and API.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The page's routes, with their headers.
pub(super) fn router<S: Clone + Send + Sync + 'static>(config: &Config) -> Router<S> {
    let index = page(config);
    let asset = |body: &'static str, kind: &'static str| {
        get(move || async move {
            (
                [
                    (header::CONTENT_TYPE, kind),
                    // Revalidate: a new binary serves new assets at once.
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
                .into_response()
        })
    };
    Router::new()
        .route(
            "/",
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    index.clone(),
                )
            }),
        )
        .route(
            "/assets/app.js",
            asset(APP_JS, "text/javascript; charset=utf-8"),
        )
        .route("/assets/app.css", asset(APP_CSS, "text/css; charset=utf-8"))
        .route("/assets/icon.svg", asset(ICON, "image/svg+xml"))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
}

/// The page, with what the server's settings change in it.
fn page(config: &Config) -> String {
    let registration = if config.accounts.open_registration {
        "open"
    } else {
        "closed"
    };
    let mode = match config.mode {
        Mode::Token => "token",
        Mode::Session(_) => "session",
    };
    INDEX
        .replace("{{registration}}", registration)
        .replace("{{mode}}", mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_no_inline_code_and_names_its_settings() {
        let page = page(&Config::with_data_dir("unused"));
        assert!(page.contains(r#"data-registration="open" data-mode="token""#));
        // The CSP allows no inline script or style: none may be there.
        assert!(!page.contains("<script>"));
        assert!(!page.contains("<style"));
        assert!(!page.contains(" style="));
        // No inline event handler (` onclick=` and the like).
        let handler = page.split(" on").skip(1).any(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(!handler, "no inline event handlers");
        assert_eq!(page.matches("<script ").count(), 1);
        assert!(page.contains(r#"<script src="/assets/app.js" defer></script>"#));
    }
}
