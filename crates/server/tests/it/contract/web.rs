use axum::http::StatusCode;
use passcard_testkit::Setup;

crate::contract::contract!(
    every: [the_page_and_its_assets_come_with_strict_headers],
    tokens: [the_page_knows_whether_registration_is_open],
    sessions: [],
);

async fn the_page_and_its_assets_come_with_strict_headers(setup: Setup) {
    let app = setup.start().await;
    let page = app.get("/").send().await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    let csp = page.header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    let mode = if app.is_session() { "session" } else { "token" };
    assert!(
        page.text.contains(&format!("data-mode=\"{mode}\"")),
        "{}",
        page.text
    );
    for (path, kind) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/icon.svg", "image/svg+xml"),
    ] {
        let a = app.get(path).send().await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert_eq!(a.header("content-type"), kind, "{path}");
        assert_eq!(a.header("content-security-policy"), csp, "{path}");
    }
    app.get("/assets/missing.js")
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.post("/")
        .send()
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
}

async fn the_page_knows_whether_registration_is_open(setup: Setup) {
    let open = Setup::new(setup.kind()).start().await;
    assert!(
        open.get("/")
            .send()
            .await
            .text
            .contains("data-registration=\"open\"")
    );
    let closed = setup
        .config(|c| c.accounts.open_registration = false)
        .start()
        .await;
    assert!(
        closed
            .get("/")
            .send()
            .await
            .text
            .contains("data-registration=\"closed\"")
    );
}
