use axum::http::StatusCode;
use passcard_testkit::{Answer, PASSWORD, Setup, TestApp};
use serde_json::json;

crate::contract::contract!(
    every: [me_says_how_many_store_queries_it_cost],
    tokens: [
        a_cookie_login_sets_safe_cookies_and_no_token_text,
        without_secure_the_cookies_lose_their_prefixes,
        the_access_cookie_works_wherever_a_bearer_token_does,
        the_header_wins_over_the_cookie,
        unsafe_cookie_requests_need_a_same_site_proof,
        the_public_url_is_the_only_origin_accepted_once_set,
        without_secure_cookies_the_hosts_http_origin_is_the_site,
        a_refresh_by_cookie_rotates_into_fresh_cookies,
        a_refresh_cookie_planted_by_a_sibling_subdomain_signs_nobody_in,
        a_refused_refresh_cookie_is_cleared,
        logout_by_cookie_clears_both_cookies_and_ends_the_login,
        admins_list_users_in_pages_and_search_them,
    ],
    sessions: [a_session_login_is_always_a_cookie],
);

const ACCESS: &str = "__Host-passcard_access";
const REFRESH: &str = "__Host-passcard_refresh";

/// A browser's view of a login by cookie: the `Cookie` header values it
/// would send (both to every path of the host).
struct Jar {
    access: String,
    refresh: String,
}

fn set_cookies(a: &Answer) -> Vec<String> {
    a.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The `name=value` of the Set-Cookie for `name`.
fn cookie_pair(a: &Answer, name: &str) -> String {
    set_cookies(a)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {a:?}"))
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn cookie_login(app: &TestApp, name: &str) -> (Answer, Jar) {
    let a = app
        .post("/v1/login")
        .json(&json!({"username": name, "password": PASSWORD, "transport": "cookie"}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let jar = Jar {
        access: cookie_pair(&a, ACCESS),
        refresh: cookie_pair(&a, REFRESH),
    };
    (a, jar)
}

async fn a_cookie_login_sets_safe_cookies_and_no_token_text(setup: Setup) {
    let app = setup.start().await;
    let id = app.seed("alice", "user").await;
    let (a, jar) = cookie_login(&app, "alice").await;
    // The body says who and for how long, never a token.
    assert_eq!(a.body["user"]["id"], id);
    assert_eq!(a.body["user"]["username"], "alice");
    assert_eq!(a.body["expires_in"], 300);
    assert_eq!(a.body["refresh_expires_in"], 14 * 24 * 3600);
    assert!(a.body.get("access_token").is_none() && a.body.get("refresh_token").is_none());
    let access = jar.access.split_once('=').unwrap().1;
    let refresh = jar.refresh.split_once('=').unwrap().1;
    assert_eq!(access.split('.').count(), 3, "a JWS in the cookie");
    assert!(!a.text.contains(access) && !a.text.contains(refresh));
    assert_eq!(a.header("cache-control"), "no-store");

    // The tokens, and the device credential (see the accounts tests).
    let cookies = set_cookies(&a);
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    assert!(
        cookies[2].starts_with("__Host-passcard_device="),
        "{cookies:?}"
    );
    let attrs = |name: &str| -> Vec<String> {
        let c = cookies.iter().find(|c| c.starts_with(name)).unwrap();
        c.split("; ").skip(1).map(str::to_owned).collect()
    };
    let mut access_attrs = attrs(ACCESS);
    access_attrs.sort();
    assert_eq!(
        access_attrs,
        [
            "HttpOnly",
            "Max-Age=300",
            "Path=/",
            "SameSite=Lax",
            "Secure"
        ]
    );
    let mut refresh_attrs = attrs(REFRESH);
    refresh_attrs.sort();
    assert_eq!(
        refresh_attrs,
        [
            "HttpOnly",
            "Max-Age=1209600",
            "Path=/",
            "SameSite=Strict",
            "Secure"
        ]
    );
    // An explicit body transport is today's answer.
    let body = app
        .post("/v1/login")
        .json(&json!({"username": "alice", "password": PASSWORD, "transport": "body"}))
        .send()
        .await;
    assert!(!body.str("access_token").is_empty());
    // The tokens are in the body; only the device credential is a
    // cookie, and the body carries it too (for API clients).
    let device = set_cookies(&body);
    assert_eq!(device.len(), 1, "{device:?}");
    let value = device[0]
        .strip_prefix("__Host-passcard_device=")
        .and_then(|c| c.split(';').next())
        .unwrap();
    assert_eq!(body.str("device_token"), value);
    let bad = app
        .post("/v1/login")
        .json(&json!({"username": "alice", "password": PASSWORD, "transport": "smoke"}))
        .send()
        .await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
}

async fn without_secure_the_cookies_lose_their_prefixes(setup: Setup) {
    let app = setup.config(|c| c.http.cookie_secure = false).start().await;
    app.seed("alice", "user").await;
    let a = app
        .post("/v1/login")
        .json(&json!({"username": "alice", "password": PASSWORD, "transport": "cookie"}))
        .send()
        .await;
    let cookies = set_cookies(&a);
    assert!(cookies[0].starts_with("passcard_access="), "{cookies:?}");
    assert!(cookies[1].starts_with("passcard_refresh="), "{cookies:?}");
    assert!(cookies.iter().all(|c| !c.contains("Secure")), "{cookies:?}");
    let me = app.get("/v1/me").cookie(&cookies[0]).send().await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
}

async fn the_access_cookie_works_wherever_a_bearer_token_does(setup: Setup) {
    let app = setup.start().await;
    let alice = app.seed("alice", "user").await;
    app.seed("root", "admin").await;
    let (_, jar) = cookie_login(&app, "alice").await;
    let me = app.get("/v1/me").cookie(&jar.access).send().await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["sub"], alice.to_string());
    // nginx auth_request, for browser apps.
    let v = app
        .get("/v1/verify")
        .cookie(&jar.access)
        .header("x-original-method", "GET")
        .send()
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.header("x-passcard-sub"), alice.to_string());
    // An admin by cookie (with the proof an unsafe request needs).
    let (_, root) = cookie_login(&app, "root").await;
    let r = app
        .put(&format!("/v1/users/{alice}/role"))
        .cookie(&root.access)
        .csrf()
        .json(&json!({"role": "admin"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Which refused alice's old cookie, as it would her bearer token.
    app.get("/v1/me")
        .cookie(&jar.access)
        .send()
        .await
        .assert_invalid_token();
    let list = app.get("/v1/users").cookie(&root.access).send().await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    // A forged cookie is refused like a forged header.
    let forged = format!("{ACCESS}=a.b.c");
    app.get("/v1/me")
        .cookie(&forged)
        .send()
        .await
        .assert_invalid_token();
    // So is a cookie sent twice: which one was meant is unknown.
    let twice = format!("{}; {}", root.access, root.access);
    app.get("/v1/me")
        .cookie(&twice)
        .send()
        .await
        .assert_invalid_token();
}

async fn the_header_wins_over_the_cookie(setup: Setup) {
    let app = setup.start().await;
    let alice = app.seed("alice", "user").await;
    let bob = app.seed("bob", "user").await;
    let (_, jar) = cookie_login(&app, "alice").await;
    let bob_token = app.login("bob").await.cred;
    let me = app
        .get("/v1/me")
        .cookie(&jar.access)
        .bearer(bob_token.token())
        .send()
        .await;
    assert_eq!(me.body["sub"], bob.to_string(), "{}", me.text);
    // A broken header is not rescued by the cookie.
    let me = app
        .get("/v1/me")
        .cookie(&jar.access)
        .header("authorization", "Basic YTpi")
        .send()
        .await;
    me.assert_invalid_token();
    assert_ne!(alice, bob);
}

async fn unsafe_cookie_requests_need_a_same_site_proof(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let (_, jar) = cookie_login(&app, "alice").await;
    let logout_all = || {
        app.post("/v1/logout-all")
            .header("host", "127.0.0.1:8080")
            .cookie(&jar.access)
    };
    for call in [
        logout_all(),
        logout_all().header("origin", "null"),
        logout_all().header("origin", "http://127.0.0.1:9999"),
        logout_all().header("origin", "https://evil.example"),
    ] {
        call.send()
            .await
            .assert_problem(StatusCode::FORBIDDEN, "cross-site");
    }
    // Issue 19: with Secure cookies (an https site) and no public URL, a
    // page on http:// the same host is another origin (anyone on the path
    // can write it): refused; loopback hosts, secure for browsers over
    // http, pass (below).
    app.post("/v1/logout-all")
        .header("host", "auth.example.com")
        .header("origin", "http://auth.example.com")
        .cookie(&jar.access)
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "cross-site");
    // nginx asking about a POST by cookie: the same rule.
    app.get("/v1/verify")
        .cookie(&jar.access)
        .header("x-original-method", "POST")
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "cross-site");
    // The login is untouched.
    assert_eq!(
        app.get("/v1/me").cookie(&jar.access).send().await.status,
        StatusCode::OK
    );
    // Bearer requests need no proof: no browser adds them by itself.
    let bearer = app.login("alice").await.cred;
    assert_eq!(
        app.post("/v1/logout")
            .bearer(bearer.token())
            .send()
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // The site's own origin passes, and so does the header.
    let same = logout_all()
        .header("origin", "http://127.0.0.1:8080")
        .send()
        .await;
    assert_eq!(same.status, StatusCode::NO_CONTENT, "{}", same.text);
    let (_, again) = cookie_login(&app, "alice").await;
    let with_header = app
        .post("/v1/logout")
        .cookie(&again.access)
        .csrf()
        .send()
        .await;
    assert_eq!(with_header.status, StatusCode::NO_CONTENT);
    // The https origin of the host passes.
    let (_, third) = cookie_login(&app, "alice").await;
    let https = app
        .post("/v1/logout")
        .header("host", "auth.example.com")
        .header("origin", "https://auth.example.com")
        .cookie(&third.access)
        .send()
        .await;
    assert_eq!(https.status, StatusCode::NO_CONTENT, "{}", https.text);
}

/// Without Secure cookies (plain-HTTP development), the host's http
/// origin is the site's.
async fn without_secure_cookies_the_hosts_http_origin_is_the_site(setup: Setup) {
    let app = setup.config(|c| c.http.cookie_secure = false).start().await;
    app.seed("alice", "user").await;
    let a = app
        .post("/v1/login")
        .json(&json!({"username": "alice", "password": PASSWORD, "transport": "cookie"}))
        .send()
        .await;
    let access = cookie_pair(&a, "passcard_access");
    let ok = app
        .post("/v1/logout")
        .header("host", "dev.example.com:8080")
        .header("origin", "http://dev.example.com:8080")
        .cookie(&access)
        .send()
        .await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
}

/// Issue 19: a sibling subdomain (`evil.example.com`) can set a
/// `__Secure-` cookie for the parent domain, and one without a prefix, but
/// never a `__Host-` one. A victim's browser holding no refresh cookie
/// would send such a planted cookie to `/v1/refresh`; only the `__Host-`
/// name is read, so the attacker's refresh token signs nobody in.
async fn a_refresh_cookie_planted_by_a_sibling_subdomain_signs_nobody_in(setup: Setup) {
    let app = setup.start().await;
    app.seed("mallory", "user").await;
    let planted = app.login("mallory").await.refresh.unwrap();
    for name in ["__Secure-passcard_refresh", "passcard_refresh"] {
        let a = app
            .post("/v1/refresh")
            .cookie(&format!("{name}={planted}"))
            .csrf()
            .send()
            .await;
        a.assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
        assert!(
            set_cookies(&a).iter().all(|c| c.contains("Max-Age=0")),
            "{name}: the victim's browser got a login"
        );
    }
    // The attacker's token was not even used up.
    assert_eq!(app.refresh(&planted).await.status, StatusCode::OK);
}

async fn the_public_url_is_the_only_origin_accepted_once_set(setup: Setup) {
    let app = setup
        .config(|c| c.http.public_url = Some("https://auth.example.com".parse().unwrap()))
        .start()
        .await;
    app.seed("alice", "user").await;
    let (_, jar) = cookie_login(&app, "alice").await;
    // Behind a proxy, Host may be anything: it no longer counts.
    let from = |origin: &str| {
        app.post("/v1/logout")
            .header("host", "10.0.0.5:8080")
            .header("origin", origin)
            .cookie(&jar.access)
    };
    from("http://10.0.0.5:8080")
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "cross-site");
    from("http://auth.example.com")
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "cross-site");
    let ok = from("https://auth.example.com").send().await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
}

async fn a_refresh_by_cookie_rotates_into_fresh_cookies(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let (_, jar) = cookie_login(&app, "alice").await;
    // Cross-site: refused before the token is looked at.
    app.post("/v1/refresh")
        .cookie(&jar.refresh)
        .header("origin", "https://evil.example")
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "cross-site");
    let r = app
        .post("/v1/refresh")
        .cookie(&jar.refresh)
        .csrf()
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["expires_in"], 300);
    assert_eq!(r.header("cache-control"), "no-store");
    let access = cookie_pair(&r, ACCESS);
    let refresh = cookie_pair(&r, REFRESH);
    assert_ne!(access, jar.access);
    assert_ne!(refresh, jar.refresh);
    assert!(!r.text.contains(access.split_once('=').unwrap().1));
    assert!(!r.text.contains(refresh.split_once('=').unwrap().1));
    assert_eq!(
        app.get("/v1/me").cookie(&access).send().await.status,
        StatusCode::OK
    );
    // The rotated cookie replayed later than the reuse interval is theft:
    // the whole login ends.
    app.clock.advance(std::time::Duration::from_secs(11));
    let replay = app
        .post("/v1/refresh")
        .cookie(&jar.refresh)
        .csrf()
        .send()
        .await;
    replay.assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
    app.get("/v1/me")
        .cookie(&access)
        .send()
        .await
        .assert_invalid_token();
    // A body still works as before, and answers in the body.
    let login = app.login("alice").await;
    let body = app.refresh(login.refresh_token()).await;
    assert!(!body.str("refresh_token").is_empty());
    assert!(body.headers.get("set-cookie").is_none());
}

async fn a_refused_refresh_cookie_is_cleared(setup: Setup) {
    let app = setup.start().await;
    for call in [
        app.post("/v1/refresh").csrf(),
        app.post("/v1/refresh")
            .cookie(&format!("{REFRESH}={}", "A".repeat(43)))
            .csrf(),
    ] {
        let a = call.send().await;
        a.assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
        let cookies = set_cookies(&a);
        assert_eq!(cookies.len(), 2, "{cookies:?}");
        assert!(
            cookies.iter().all(|c| c.contains("Max-Age=0")),
            "{cookies:?}"
        );
    }
    assert_eq!(
        app.metric("passcard_refreshes_total{outcome=\"refused\"}")
            .await,
        2.0
    );
}

async fn logout_by_cookie_clears_both_cookies_and_ends_the_login(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let (_, jar) = cookie_login(&app, "alice").await;
    let out = app
        .post("/v1/logout")
        .cookie(&jar.access)
        .csrf()
        .send()
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    let cleared = set_cookies(&out);
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with(&format!("{ACCESS}=;")))
    );
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with(&format!("{REFRESH}=;")) && c.contains("Path=/;"))
    );
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    // A client that kept them gets nothing more from them.
    app.get("/v1/me")
        .cookie(&jar.access)
        .send()
        .await
        .assert_invalid_token();
    app.post("/v1/refresh")
        .cookie(&jar.refresh)
        .csrf()
        .send()
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid-refresh-token");
    // Logout everywhere clears them too.
    let (_, jar) = cookie_login(&app, "alice").await;
    let all = app
        .post("/v1/logout-all")
        .cookie(&jar.access)
        .csrf()
        .send()
        .await;
    assert_eq!(all.status, StatusCode::NO_CONTENT);
    assert_eq!(set_cookies(&all).len(), 2);
}

async fn admins_list_users_in_pages_and_search_them(setup: Setup) {
    let app = setup.start().await;
    let root = app.seed("root", "admin").await;
    let mut ids = vec![root];
    for name in ["alice", "bob", "bobby", "carol"] {
        ids.push(app.seed(name, "user").await);
    }
    let admin = app.login("root").await.cred;
    let page = |query: &str| app.get(&format!("/v1/users{query}")).auth(&admin).send();
    let first = page("?limit=2").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let names = |a: &Answer| -> Vec<String> {
        a.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&first), ["root", "alice"]);
    assert_eq!(first.body["users"][0]["role"], "admin");
    assert_eq!(first.body["users"][1]["disabled"], false);
    let next = first.body["next_after"].as_i64().unwrap();
    assert_eq!(next, ids[1]);
    let second = page(&format!("?limit=2&after={next}")).await;
    assert_eq!(names(&second), ["bob", "bobby"]);
    let third = page(&format!("?limit=2&after={}", ids[3])).await;
    assert_eq!(names(&third), ["carol"]);
    assert!(third.body["next_after"].is_null());
    let found = page("?search=BOB").await;
    assert_eq!(names(&found), ["bob", "bobby"]);
    assert!(found.body["next_after"].is_null());
    // A ban shows.
    let ban = app
        .post(&format!("/v1/users/{}/ban", ids[4]))
        .auth(&admin)
        .send()
        .await;
    assert_eq!(ban.status, StatusCode::NO_CONTENT);
    let carol = page("?search=carol").await;
    assert_eq!(carol.body["users"][0]["disabled"], true);

    // Bad queries are named, never echoed.
    for bad in [
        "?limit=0",
        "?limit=101",
        "?after=-1",
        "?after=zz9",
        "?colour=red",
    ] {
        let a = page(bad).await;
        a.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
        assert!(
            !a.text.contains("zz9") && !a.text.contains("red\""),
            "{}",
            a.text
        );
    }
    let long = format!("?search={}", "a".repeat(33));
    page(&long)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    // Only admins, and who asks is checked before what is asked.
    let user = app.login("alice").await.cred;
    for query in ["", "?limit=0"] {
        let a = app
            .get(&format!("/v1/users{query}"))
            .auth(&user)
            .send()
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
        let a = app.get(&format!("/v1/users{query}")).send().await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    }
}

async fn me_says_how_many_store_queries_it_cost(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let cred = app.login("alice").await.cred;
    let me = app.me(&cred).await;
    assert_eq!(me.status, StatusCode::OK);
    let counted: u64 = me.header("x-passcard-store-queries").parse().unwrap();
    if app.is_session() {
        assert!(counted >= 1, "a session is looked up: {counted}");
    } else {
        assert_eq!(counted, 0, "a token needs no store");
    }
}

async fn a_session_login_is_always_a_cookie(setup: Setup) {
    let app = setup.start().await;
    app.seed("alice", "user").await;
    let login = |transport: &'static str| {
        app.post("/v1/login")
            .json(&json!({"username": "alice", "password": PASSWORD, "transport": transport}))
            .send()
    };
    let a = login("cookie").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(
        a.header("set-cookie")
            .starts_with("__Host-passcard_session=")
    );
    login("body")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "bad-request");
}
