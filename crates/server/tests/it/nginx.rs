//! Real nginx (Debian's; `.ci/run` installs it and sets
//! PASSCARD_TEST_NGINX, so there the test cannot skip) in front of a
//! backend, asking passcard's /v1/verify through `auth_request`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use passcard_testkit::{Kind, Setup, TempDir, env, poll_until};

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn nginx_auth_request_in_front_of_a_backend() {
    let Some(nginx) = env::nginx("the nginx test") else {
        return;
    };
    // nginx connects to passcard from 127.0.0.2 (proxy_bind below), the
    // one address passcard trusts to name the client.
    let s = Setup::new(Kind::SqliteToken)
        .config(|c| {
            c.accounts.login_max_failures = 3;
            c.http.trusted_proxies = passcard::config::parse_list("127.0.0.2").unwrap();
        })
        .server()
        .await
        .unwrap();

    // The backend sees who the caller is from the headers nginx sets.
    let backend = axum::Router::new().route(
        "/api/hello",
        axum::routing::get(|headers: axum::http::HeaderMap| async move {
            let h = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_owned()
            };
            format!("user {} role {}", h("x-user"), h("x-role"))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, backend).await.unwrap() });

    let dir = TempDir::new("nginx");
    let port = free_port();
    let conf = include_str!("../../../../docs/nginx.conf")
        .replace("PASSCARD_UPSTREAM", &s.base)
        .replace("BACKEND_UPSTREAM", &format!("http://{backend_addr}"))
        .replace("listen 8000", &format!("listen 127.0.0.1:{port}"));
    let conf = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\n{conf}",
        d = dir.display()
    )
    .replace(
        "http {",
        &format!(
            "http {{\n    proxy_bind 127.0.0.2;\n    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;",
            d = dir.display()
        ),
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(&nginx)
        .arg("-p")
        .arg(&*dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _nginx = Nginx(child);
    let front = format!("http://127.0.0.1:{port}");
    let up = poll_until(Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    assert!(
        up.is_some(),
        "nginx did not start: {}",
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );

    let id = s.seed("alice", "user").await;
    let login = s.login("alice").await;
    let access = login.cred.token().to_owned();
    let get = |token: Option<String>| {
        let mut req = s.client.get(format!("{front}/api/hello"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let none = get(None).await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(
        none.headers().get("www-authenticate").is_some(),
        "the challenge passes through"
    );
    let ok = get(Some(access.clone())).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.text().await.unwrap(), format!("user {id} role user"));
    assert_eq!(
        get(Some("forged.token.here".into()))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(s.logout(&login.cred).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        get(Some(access)).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // passcard's own API through nginx: each client keeps its own limit.
    // One client (from 127.0.0.3) guesses until it is locked out...
    s.seed("admin", "admin").await;
    let client_from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let login_via_nginx = |client: reqwest::Client, user: &'static str, password: &'static str| {
        let url = format!("{front}/v1/login");
        async move {
            client
                .post(url)
                .json(&serde_json::json!({"username": user, "password": password}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let guesser = client_from([127, 0, 0, 3]);
    for _ in 0..3 {
        let status = login_via_nginx(guesser.clone(), "alice", "wrong password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login_via_nginx(guesser, "admin", passcard_testkit::PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...while another (from 127.0.0.4) still logs in through the same
    // nginx.
    assert_eq!(
        login_via_nginx(
            client_from([127, 0, 0, 4]),
            "admin",
            passcard_testkit::PASSWORD
        )
        .await,
        StatusCode::OK
    );
}
