//! Schemathesis (property-based testing from an OpenAPI document, software
//! nobody here wrote) against a real server and the document it serves at
//! /openapi.json: every check, in the coverage, fuzzing and stateful
//! phases, as a user, as an admin and as a service, in token and in
//! session mode. Any answer the document does not describe (a status, a
//! content type, a body, a header), any server error, any valid request
//! refused or invalid one accepted fails the test. Skipped (loudly)
//! without Schemathesis; `.ci/run` installs it
//! (`scripts/schemathesis-setup.sh`), and `scripts/schemathesis.sh` runs
//! it longer.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use passcard::config::Secret;
use passcard_testkit::{Cred, Kind, PASSWORD, Setup, TempDir, TestServer, env};
use serde_json::Value;

const SERVICE_TOKEN: &str = "service-token-0123456789abcdef0123456789";
/// Test cases per operation and phase: enough to finish in a minute or two
/// on two cores. `PASSCARD_TEST_SCHEMATHESIS_EXAMPLES` asks for more.
const EXAMPLES: u32 = 25;
/// Fixed, so that a run is repeatable; `PASSCARD_TEST_SCHEMATHESIS_SEED`
/// picks another.
const SEED: u64 = 14;

/// How the run authenticates as a user (the `bearer` scheme in token mode,
/// `sessionCookie` in session mode).
enum Credential {
    /// Logs in as this user, and again whenever a logout (or "log out
    /// everywhere") revoked what it had.
    Login(&'static str),
    /// This token or session id, throughout: the run may ban or demote its
    /// own admin, after which 401 and 403 are the right answers (and
    /// logging in again would fail).
    Fixed(String),
}

/// What Schemathesis is told besides the command line: the credentials of
/// each security scheme of the document, and what passcard answers by
/// design.
fn config(kind: Kind, credential: &Credential) -> String {
    let (scheme, extract) = if kind.is_session() {
        (
            "sessionCookie",
            "extract_from = \"cookie\"\nextract_selector = \"__Host-passcard_session\"",
        )
    } else {
        ("bearer", "extract_selector = \"/access_token\"")
    };
    let user = match credential {
        Credential::Login(user) => format!(
            "[auth.dynamic.openapi.{scheme}]\npath = \"/v1/login\"\n\
             payload = {{ username = \"{user}\", password = \"{PASSWORD}\" }}\n{extract}\n"
        ),
        Credential::Fixed(value) if kind.is_session() => {
            format!("[auth.openapi.{scheme}]\napi_key = \"{value}\"\n")
        }
        Credential::Fixed(value) => format!("[auth.openapi.{scheme}]\nbearer = \"{value}\"\n"),
    };
    let session = if kind.is_session() {
        "
# RFC 7009 section 2.2.1: a server that issues no tokens (session mode)
# revokes none, and says so with 400 unsupported_token_type.
[[operations]]
include-path = \"/oauth/revoke\"
checks.positive_data_acceptance.expected-statuses = [\"2xx\", 400]
"
    } else {
        ""
    };
    format!(
        r#"# An unsafe request by cookie needs a same-site proof (without it: 403);
# /v1/verify by cookie needs the method a proxy asks about (nginx sends
# X-Original-Method; without it: 400).
headers = {{ X-Passcard-CSRF = "1", X-Original-Method = "GET" }}

{user}
# The service credential, for the revocation feed and introspection.
[auth.openapi.feed]
bearer = "{SERVICE_TOKEN}"

[auth.openapi.serviceBasic]
username = "passcard-service"
password = "{SERVICE_TOKEN}"

# The feed's stream never ends: read what is there, then move on.
[[operations]]
include-path = "/v1/revocations/stream"
request-timeout = 0.5

# RFC 6749 section 5.2: a well-formed grant that is wrong (an unknown
# refresh token, a wrong password) is 400 invalid_grant.
[[operations]]
include-path = "/oauth/token"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 429]
{session}"#
    )
}

/// Runs Schemathesis from `dir` with `config` and `args` after the common
/// ones; fails the test, showing its output, unless it found nothing.
/// Returns the number of test cases.
fn run(bin: &Path, dir: &Path, name: &str, config: &str, schema: &str, args: &[&str]) -> u64 {
    let examples = std::env::var("PASSCARD_TEST_SCHEMATHESIS_EXAMPLES")
        .unwrap_or_else(|_| EXAMPLES.to_string());
    let seed =
        std::env::var("PASSCARD_TEST_SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.to_string());
    std::fs::write(dir.join(format!("{name}.toml")), config).unwrap();
    let report = dir.join(format!("{name}.json"));
    let out = Command::new(bin)
        .current_dir(dir)
        .args(["--config-file", &format!("{name}.toml"), "run", schema])
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", &examples, "--seed", &seed])
        .args(["--generation-database", "none", "--no-color"])
        .args(["--report", "json", "--report-json-path"])
        .arg(&report)
        .args(args)
        .output()
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis ({name}) found failures or errors (exit {:?}):\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    // What the exit status says, the report says too.
    assert_eq!(r["failures"], serde_json::json!([]), "{stdout}");
    assert_eq!(r["errors"], serde_json::json!([]), "{stdout}");
    assert_eq!(r["test_cases"]["with_failures"], 0, "{stdout}");
    assert_eq!(r["operations"]["errored"], 0, "{stdout}");
    let cases = r["test_cases"]["generated"].as_u64().unwrap();
    assert!(cases > 0, "no test case ran:\n{stdout}");
    say(&format!(
        "schemathesis ({name}): {cases} cases, 0 failures, {:.0} s (seed {seed}, {examples} examples)",
        r["running_time"].as_f64().unwrap_or(0.0)
    ));
    cases
}

/// Prints past the harness's capture, so a passing run shows its size too.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A server on a loopback port with every endpoint on: the feed and
/// introspection (the service credential) and, in token mode, the
/// password grant. The limits on failed logins and registrations per
/// address are raised: they would soon answer everything from here with
/// 429 (documented, but then nothing else is tested).
async fn server(kind: Kind) -> TestServer {
    let s = Setup::new(kind)
        .real_time()
        .config(|c| {
            c.services.token = Some(Secret(SERVICE_TOKEN.into()));
            c.accounts.password_grant = true;
            c.accounts.login_max_failures = 1_000_000;
            c.accounts.registrations_per_address = 1_000_000;
            c.accounts.login_writes_per_minute = 1_000_000;
            // Where passcard lives: the metadata is served only then.
            c.http.public_url = Some("https://auth.example.com".parse().unwrap());
        })
        .server()
        .await
        .unwrap();
    s.seed("alice", "user").await;
    s.seed("root", "admin").await;
    s
}

/// The answers the server counted, by route and status.
async fn answers(s: &TestServer) -> BTreeMap<String, BTreeMap<u16, u64>> {
    let metrics = s.get("/metrics").send().await.text;
    let mut seen: BTreeMap<String, BTreeMap<u16, u64>> = BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("passcard_http_requests_total{route=\"") else {
            continue;
        };
        let (route, rest) = rest.split_once("\",status=\"").unwrap();
        let (status, count) = rest.split_once("\"} ").unwrap();
        *seen
            .entry(route.to_owned())
            .or_default()
            .entry(status.parse().unwrap())
            .or_default() += count.parse::<u64>().unwrap();
    }
    seen
}

/// Runs Schemathesis against a server of `kind`: everything as a user,
/// then the admin operations as an admin. Then holds the server's own
/// counts against the document: no server error, and a success on every
/// path it documents (so the run got past authentication everywhere).
async fn check(kind: Kind, name: &'static str) {
    let Some(bin) = env::schemathesis("the Schemathesis run against /openapi.json") else {
        return;
    };
    let s = server(kind).await;
    let admin = match s.login("root").await.cred {
        Cred::Bearer(token) => token,
        Cred::Cookie(cookie) => cookie.split_once('=').unwrap().1.to_owned(),
    };
    let dir = TempDir::new("schemathesis");
    let (work, schema): (PathBuf, String) = (dir.to_path_buf(), s.url("/openapi.json"));
    let cases = tokio::task::spawn_blocking(move || {
        let user = run(
            &bin,
            &work,
            &format!("{name}-user"),
            &config(kind, &Credential::Login("alice")),
            &schema,
            &[],
        );
        let admin = run(
            &bin,
            &work,
            &format!("{name}-admin"),
            &config(kind, &Credential::Fixed(admin)),
            &schema,
            &["--include-path-regex", "^/v1/users"],
        );
        user + admin
    })
    .await
    .unwrap();

    let seen = answers(&s).await;
    let errors: Vec<_> = seen
        .iter()
        .filter(|(_, statuses)| statuses.keys().any(|s| *s >= 500))
        .collect();
    assert!(errors.is_empty(), "server errors: {errors:?}");
    let spec = s.get("/openapi.json").send().await.body;
    // A refresh succeeds only with a live refresh token, which a short run
    // seldom carries over from a login (the document's links lead there;
    // the contract suite refreshes). Session mode has no tokens: nothing
    // to refresh or revoke.
    let never = |path: &str| {
        ["/v1/refresh", "/oauth/token"].contains(&path)
            || (kind.is_session() && path == "/oauth/revoke")
    };
    let unsuccessful: Vec<_> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|path| !never(path))
        .filter(|path| {
            !seen
                .get(path.as_str())
                .is_some_and(|statuses| statuses.keys().any(|s| (200..300).contains(s)))
        })
        .collect();
    assert!(
        unsuccessful.is_empty(),
        "no request succeeded on {unsuccessful:?}: {seen:?}"
    );
    let statuses: std::collections::BTreeSet<_> = seen.values().flat_map(|s| s.keys()).collect();
    say(&format!(
        "schemathesis ({name}): {cases} cases in all; the server answered {statuses:?}"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_undocumented_in_token_mode() {
    check(Kind::SqliteToken, "token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_undocumented_in_session_mode() {
    check(Kind::SqliteSession, "session").await;
}
