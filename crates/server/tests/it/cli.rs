use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use passcard_testkit::TempDir;

/// Runs `passcard` with a clean PASSCARD_* environment plus `env`.
fn passcard(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_passcard"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("PASSCARD_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    // A command that should fail but serves instead would never end: give
    // up after two minutes (compare takes seconds).
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut v);
        v
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            panic!("passcard {args:?} still running after 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn secret() -> String {
    let o = passcard(&["keygen"], &[], None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let line = stdout(&o);
    let value = line
        .trim()
        .strip_prefix("PASSCARD_SECRET=")
        .unwrap()
        .to_owned();
    assert_eq!(value.len(), 43, "32 bytes in base64url");
    value
}

fn issue(env: &[(&str, &str)], extra: &[&str]) -> String {
    let mut args = vec!["token", "issue", "--sub", "42", "--role", "user"];
    args.extend_from_slice(extra);
    let o = passcard(&args, env, None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    stdout(&o).trim().to_owned()
}

#[test]
fn keygen_makes_distinct_strong_secrets_and_says_nothing_secret_on_stderr() {
    let a = secret();
    let b = secret();
    assert_ne!(a, b);
    let o = passcard(&["keygen"], &[], None);
    assert!(!stderr(&o).contains(stdout(&o).trim().trim_start_matches("PASSCARD_SECRET=")));
}

#[test]
fn keygen_writes_private_jwks_for_every_algorithm() {
    for alg in ["HS256", "HS384", "HS512", "EdDSA", "ES256", "RS256"] {
        let o = passcard(
            &["keygen", "--alg", alg, "--format", "jwk", "--kid", "k-1"],
            &[],
            None,
        );
        assert_eq!(code(&o), 0, "{alg}: {}", stderr(&o));
        let jwk: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(jwk["alg"], alg);
        assert_eq!(jwk["kid"], "k-1");
        assert!(
            jwk.get("d").is_some() || jwk.get("k").is_some(),
            "{alg}: private"
        );
    }
    let o = passcard(&["keygen", "--alg", "HS512"], &[], None);
    let out = stdout(&o);
    assert!(
        out.contains("PASSCARD_SECRET=") && out.contains("PASSCARD_SECRET_ALG=HS512"),
        "{out}"
    );
    // A kid a verifier's size limit could not carry is refused, in a sentence.
    let long = "k".repeat(257);
    let o = passcard(&["keygen", "--kid", &long], &[], None);
    assert_ne!(code(&o), 0);
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("--kid is longer than 256 bytes"),
        "{}",
        stderr(&o)
    );
    let o = passcard(&["keygen", "--kid", &long[1..]], &[], None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Asymmetric keys default to JWK and refuse the env format.
    let o = passcard(&["keygen", "--alg", "EdDSA"], &[], None);
    assert!(stdout(&o).contains("\"OKP\""));
    let o = passcard(&["keygen", "--alg", "EdDSA", "--format", "env"], &[], None);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--format jwk"), "{}", stderr(&o));
    let o = passcard(&["keygen", "--alg", "none"], &[], None);
    assert_eq!(code(&o), 2);
}

#[test]
fn issue_inspect_verify_with_a_secret() {
    let s = secret();
    let env = [("PASSCARD_SECRET", s.as_str())];
    let token = issue(
        &env,
        &["--claim", "ver=3", "--claim", "team=blue", "--ttl", "10m"],
    );
    assert_eq!(token.split('.').count(), 3);

    let o = passcard(&["token", "verify", &token], &env, None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("valid: HS256 key "), "{out}");
    assert!(
        out.contains("expires in 10m") || out.contains("expires in 9m"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(out.split_once('\n').unwrap().1).unwrap();
    assert_eq!(json["sub"], "42");
    assert_eq!(json["role"], "user");
    assert_eq!(json["ver"], 3);
    assert_eq!(json["team"], "blue");
    assert_eq!(json["iss"], "passcard");
    assert!(json["jti"].as_str().unwrap().len() >= 22);

    // From standard input, so it stays out of shell history.
    let o = passcard(&["token", "verify", "-"], &env, Some(&format!("{token}\n")));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = passcard(&["token", "verify"], &env, Some(&token));
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let o = passcard(&["token", "inspect", "-"], &[], Some(&token));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.lines().next().unwrap().contains("NOT checked"), "{out}");
    assert!(out.contains("\"typ\": \"at+jwt\""), "{out}");
    assert!(
        out.contains("exp: 20") && out.contains("expires in"),
        "{out}"
    );
    assert!(out.contains("iat: ") && out.contains("ago"), "{out}");
}

#[test]
fn verify_says_precisely_why_a_token_is_invalid() {
    let s = secret();
    let env = [("PASSCARD_SECRET", s.as_str())];
    let token = issue(&env, &[]);
    let check = |args: &[&str], env: &[(&str, &str)], expect: &str| {
        let mut all = vec!["token", "verify"];
        all.extend_from_slice(args);
        let o = passcard(&all, env, None);
        assert_eq!(code(&o), 1, "{args:?}: {}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(expect), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty());
    };
    check(&["--aud", "billing", &token], &env, "wrong audience");
    check(&["--iss", "someone-else", &token], &env, "wrong issuer");
    check(&["--typ", "JWT", &token], &env, "wrong token type");
    check(
        &["--at", "2100-01-01T00:00:00Z", &token],
        &env,
        "token expired at",
    );
    check(
        &["--at", "1000000000", &token],
        &env,
        "issued in the future",
    );
    let other = secret();
    check(
        &[&token],
        &[("PASSCARD_SECRET", other.as_str())],
        "unknown key id",
    );
    let (head, _) = token.rsplit_once('.').unwrap();
    check(&[&format!("{head}.AAAA")], &env, "bad signature");
    check(&["not-a-token"], &env, "malformed token");
    // Looser policy passes, explicitly.
    let o = passcard(
        &[
            "token",
            "verify",
            "--any-aud",
            "--any-iss",
            "--typ",
            "AT+JWT",
            &token,
        ],
        &env,
        None,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // --at as of a moment when the token was valid, as a Unix time.
    let o = passcard(&["token", "inspect", &token], &[], None);
    let iat: u64 = stdout(&o)
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"iat\": "))
        .unwrap()
        .trim_end_matches(',')
        .parse()
        .unwrap();
    let at = (iat + 60).to_string();
    let o = passcard(&["token", "verify", "--at", &at, &token], &env, None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Issue 19's settings: a value that cannot work is refused at start,
/// naming the setting.
#[test]
fn serve_refuses_edge_settings_that_cannot_work() {
    let dir = TempDir::new("serve-settings");
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    let cases: [(&[&str], Vec<(&str, &str)>, &str); 7] = [
        (
            &["--refresh-reuse-interval", "0s"],
            vec![],
            "PASSCARD_REFRESH_REUSE_INTERVAL must be at least 1s",
        ),
        (&["--body-timeout", "0s"], vec![], "PASSCARD_BODY_TIMEOUT"),
        (
            &["--body-timeout", "40s", "--request-timeout", "30s"],
            vec![],
            "PASSCARD_REQUEST_TIMEOUT must be at least PASSCARD_BODY_TIMEOUT",
        ),
        (&["--hsts", "0"], vec![], "PASSCARD_HSTS"),
        (
            &["--max-logins-per-user", "0"],
            vec![],
            "PASSCARD_MAX_LOGINS_PER_USER",
        ),
        (
            &[],
            vec![("PASSCARD_METRICS_TOKEN", "short")],
            "PASSCARD_METRICS_TOKEN must be at least 32",
        ),
        (&["--metrics-listen", "nowhere"], vec![], "--metrics-listen"),
    ];
    for (args, env, expect) in cases {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", data];
        all.extend_from_slice(args);
        let o = passcard(&all, &env, None);
        assert_eq!(code(&o), 2, "{args:?}");
        let err = stderr(&o);
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn configuration_errors_exit_2_with_one_clear_sentence() {
    let token = "a.b.c";
    let cases: [(&[&str], Vec<(&str, &str)>, &str); 6] = [
        (&["token", "verify", token], vec![], "no key configured"),
        (
            &["token", "verify", token],
            vec![("PASSCARD_SECRET", "c2hvcnQ")],
            "at least 32",
        ),
        (
            &["token", "verify", token],
            vec![("PASSCARD_SECRET", "not base64!")],
            "not base64url",
        ),
        (
            &[
                "token",
                "verify",
                "--key-file",
                "/nonexistent/key.json",
                token,
            ],
            vec![],
            "cannot read key file",
        ),
        (
            &["token", "verify", "--key-file", "/nonexistent", token],
            vec![(
                "PASSCARD_SECRET",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )],
            "both",
        ),
        (
            &["token", "verify", "--leeway", "soon", token],
            vec![],
            "duration",
        ),
    ];
    for (args, env, expect) in cases {
        let o = passcard(args, &env, None);
        assert_eq!(code(&o), 2, "{args:?}");
        let err = stderr(&o);
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
    }
    let s = secret();
    let o = passcard(
        &["token", "issue", "--sub", "1", "--claim", "exp=1"],
        &[("PASSCARD_SECRET", &s)],
        None,
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--ttl"), "{}", stderr(&o));
}

fn write_key_file(dir: &Path, name: &str, alg: &str) -> String {
    let o = passcard(
        &["keygen", "--alg", alg, "--format", "jwk", "--kid", name],
        &[],
        None,
    );
    assert_eq!(code(&o), 0);
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, stdout(&o)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path.to_str().unwrap().to_owned()
}

#[test]
fn key_files_hold_jwks_and_jwk_sets() {
    let dir = tempdir();
    for alg in ["EdDSA", "ES256", "RS256", "HS384"] {
        let file = write_key_file(&dir, &format!("key-{alg}"), alg);
        let env = [("PASSCARD_KEY_FILE", file.as_str())];
        let token = issue(&env, &[]);
        let o = passcard(&["token", "verify", &token], &env, None);
        assert_eq!(code(&o), 0, "{alg}: {}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!("valid: {alg} key key-{alg}")),
            "{}",
            stdout(&o)
        );
        assert!(
            stderr(&o).is_empty(),
            "no permission warning for a 0600 file"
        );
    }
    // A JWK Set: the first private key signs; a verifier holding only the
    // public half of the set accepts its tokens.
    let a: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("key-EdDSA.json")).unwrap())
            .unwrap();
    let b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("key-ES256.json")).unwrap())
            .unwrap();
    let set = dir.join("set.json");
    std::fs::write(&set, serde_json::json!({"keys": [b, a]}).to_string()).unwrap();
    let set = set.to_str().unwrap();
    let token = issue(&[("PASSCARD_KEY_FILE", set)], &[]);
    let o = passcard(&["token", "inspect", &token], &[], None);
    assert!(
        stdout(&o).contains("\"kid\": \"key-ES256\""),
        "{}",
        stdout(&o)
    );
    let mut public_a = a;
    public_a.as_object_mut().unwrap().remove("d");
    let mut public_b = b;
    public_b.as_object_mut().unwrap().remove("d");
    let public = dir.join("public.json");
    std::fs::write(
        &public,
        serde_json::json!({"keys": [public_a, public_b]}).to_string(),
    )
    .unwrap();
    let o = passcard(
        &[
            "token",
            "verify",
            "--key-file",
            public.to_str().unwrap(),
            &token,
        ],
        &[],
        None,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // ...but cannot sign.
    let o = passcard(
        &[
            "token",
            "issue",
            "--sub",
            "1",
            "--key-file",
            public.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no private key"), "{}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn a_private_key_file_readable_by_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempdir();
    let file = write_key_file(&dir, "open", "EdDSA");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = passcard(
        &["token", "issue", "--sub", "1", "--key-file", &file],
        &[],
        None,
    );
    assert_eq!(code(&o), 0);
    assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
}

fn tempdir() -> TempDir {
    TempDir::new("cli")
}

#[test]
fn serve_refuses_bad_settings_before_listening() {
    let dir = tempdir();
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    let cases: [(&[&str], Vec<(&str, &str)>, &str); 8] = [
        (&["serve", "--access-ttl", "0s"], vec![], "ACCESS_TTL"),
        (
            &["serve", "--access-ttl", "1h", "--refresh-ttl", "30m"],
            vec![],
            "REFRESH_TTL",
        ),
        (
            &["serve", "--login-max-failures", "0"],
            vec![],
            "LOGIN_MAX_FAILURES",
        ),
        (
            &["serve"],
            vec![("PASSCARD_SERVICE_TOKEN", "short")],
            "SERVICE_TOKEN",
        ),
        (
            &["serve", "--session-idle", "1h", "--session-ttl", "1m"],
            vec![],
            "SESSION_TTL",
        ),
        (&["serve", "--listen", "not-an-address"], vec![], "listen"),
        (
            &["serve", "--redis-connections", "0"],
            vec![],
            "redis-connections",
        ),
        (
            &["serve"],
            vec![("PASSCARD_REDIS_CONNECTIONS", "65")],
            "redis-connections",
        ),
    ];
    for (args, env, expect) in cases {
        let mut all = args.to_vec();
        all.extend(["--data-dir", data]);
        let o = passcard(&all, &env, None);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expect), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    // A weak secret stops the start with a clear reason.
    let o = passcard(
        &["serve", "--data-dir", data],
        &[("PASSCARD_SECRET", "c2hvcnQ")],
        None,
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("at least 32"), "{}", stderr(&o));
}

#[test]
fn compare_measures_tokens_against_sessions_and_writes_the_table() {
    let dir = tempdir();
    let out = dir.join("out");
    let o = passcard(
        &[
            "compare",
            "--duration",
            "300ms",
            "--concurrency",
            "2",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let table = stdout(&o);
    for row in [
        "store queries per authenticated request",
        "GET /v1/me throughput",
        "GET /v1/me latency p50 / p99",
        "calling an instance with a store of its own",
        "logout seen by the other instance after",
        "role change enforced after",
        "store down: what each request gets",
    ] {
        assert!(table.contains(row), "{row} missing:\n{table}");
    }
    // Without a terminal the progress bar is one line per step.
    assert!(
        stderr(&o).contains("tokens · SQLite: load"),
        "progress: {}",
        stderr(&o)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let (tokens, sessions) = (&json[0], &json[1]);
    // The seed's table, as measured: tokens need no store query and work on
    // an instance with a store of its own; sessions need one and do not.
    // Besides the 500 counted requests, the instance's background poll of
    // the revocation log reads once a second, so the counts may hold that
    // many more queries (and no more) over the time the requests took.
    let queries = |row: &serde_json::Value| {
        let per_request = row["store_queries_per_request"].as_f64().unwrap();
        let window = row["store_queries_window_ms"].as_f64().unwrap();
        (per_request * 500.0, (window / 1000.0).ceil() + 1.0)
    };
    let (tokens_q, background) = queries(tokens);
    assert!(
        tokens_q <= background,
        "{tokens_q} queries for 500 requests"
    );
    let (sessions_q, background) = queries(sessions);
    assert!(
        (500.0..=500.0 + background).contains(&sessions_q),
        "{sessions_q} queries for 500 requests"
    );
    assert_eq!(tokens["works_across_servers_no_shared_store"], true);
    assert_eq!(sessions["works_across_servers_no_shared_store"], false);
    assert_eq!(sessions["works_across_servers_shared_store"], true);
    assert!(tokens["requests_per_second"].as_f64().unwrap() > 0.0);
    // With the store down, a token still authenticates and a session does
    // not; nothing that writes works in either mode, and what fails says
    // 503 (retry), not 500 or 401.
    let down = |row: &serde_json::Value, what: &str| row["store_outage"][what].clone();
    assert_eq!(down(tokens, "me")["works"], true);
    for what in ["login", "refresh", "logout"] {
        assert_eq!(down(tokens, what)["status"], 503, "tokens, {what}");
    }
    for what in ["me", "login", "logout"] {
        assert_eq!(down(sessions, what)["status"], 503, "sessions, {what}");
    }
    assert_eq!(down(sessions, "refresh"), serde_json::Value::Null);
    assert!(
        std::fs::read_to_string(out.join("compare.svg"))
            .unwrap()
            .starts_with("<svg")
    );
    assert!(out.join("compare.md").exists());
    // Bad arguments: one sentence, exit 2.
    for args in [
        &["compare", "--concurrency", "0"][..],
        &["compare", "--duration", "soon"],
        &["compare", "--duration", "1ms", "--redis", "not a url"],
        &[
            "compare",
            "--duration",
            "1ms",
            "--redis",
            "redis://127.0.0.1:1",
        ],
    ] {
        let o = passcard(args, &[], None);
        assert_eq!(code(&o), 2, "{args:?}");
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
}

/// With Redis, the outage is real: compare cuts the connections to Redis
/// under the instances and restores them.
#[test]
fn compare_cuts_redis_under_sessions_and_sees_them_recover() {
    let Some(redis) = passcard_testkit::env::redis("compare with Redis") else {
        return;
    };
    let dir = tempdir();
    let out = dir.join("out");
    let o = passcard(
        &[
            "compare",
            "--duration",
            "200ms",
            "--concurrency",
            "2",
            "--redis",
            &redis,
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let redis_row = json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["mode"] == "sessions · Redis")
        .expect("a Redis row");
    let q = redis_row["store_queries_per_request"].as_f64().unwrap() * 500.0;
    let background = (redis_row["store_queries_window_ms"].as_f64().unwrap() / 1000.0).ceil() + 1.0;
    assert!(
        (1000.0..=1000.0 + background).contains(&q),
        "session and user: {q} queries for 500 requests"
    );
    let down = &redis_row["store_outage"];
    for what in ["me", "login", "logout"] {
        assert_eq!(down[what]["status"], 503, "{what}: {down}");
    }
    assert_eq!(down["restored"], true, "{down}");
    assert!(down["recovered_ms"].as_f64().is_some(), "{down}");
}
