//! The services a test run may use, from the environment. A test that
//! needs one that is not configured skips, and says so loudly (past the
//! test harness's output capture, once per service and process); one that
//! is configured but unreachable fails. With [`REQUIRE_ALL`] set to `1`
//! (as `.ci/run` sets it), nothing may skip: a skip fails the test, since
//! a skipped test reports `ok`.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

/// The PostgreSQL server tests may create schemas on.
pub const DATABASE_URL: &str = "PASSCARD_TEST_DATABASE_URL";
/// The Redis server tests may keep keys on.
pub const REDIS_URL: &str = "PASSCARD_TEST_REDIS_URL";
/// The `redis-server` binary, for tests that run Redis servers of their
/// own; when set, a missing binary fails the test instead of skipping it.
pub const REDIS_SERVER: &str = "PASSCARD_TEST_REDIS_SERVER";
/// The folder of PostgreSQL's server binaries (`initdb`, `postgres`; on
/// Debian `/usr/lib/postgresql/15/bin`), for tests that run PostgreSQL
/// servers of their own and stop, pause and restart them. When set, the
/// binaries must be there.
pub const PG_BIN: &str = "PASSCARD_TEST_PG_BIN";
/// A log filter (tracing env-filter syntax): when set, the servers tests
/// start log to the test's output.
pub const LOG: &str = "PASSCARD_TEST_LOG";
/// The nginx binary; when set, a missing binary fails the test instead of
/// skipping it (CI sets it after installing nginx).
pub const NGINX: &str = "PASSCARD_TEST_NGINX";

/// The chromedriver binary; when set, a missing binary fails the browser
/// tests instead of skipping them (CI sets it after installing Debian's
/// chromium-driver).
pub const CHROMEDRIVER: &str = "PASSCARD_TEST_CHROMEDRIVER";
/// The Chromium binary chromedriver starts (default: `chromium` on the
/// PATH).
pub const CHROMIUM: &str = "PASSCARD_TEST_CHROMIUM";

/// A Python with authlib, requests and PyJWT (`scripts/interop-setup.sh`
/// makes one); when set, it must exist.
pub const PYTHON: &str = "PASSCARD_TEST_PYTHON";
/// A folder whose `node_modules` holds node's `jose`
/// (`scripts/interop-setup.sh`); when set, it must exist.
pub const NODE_DIR: &str = "PASSCARD_TEST_NODE_DIR";
/// The `schemathesis` command (`scripts/schemathesis-setup.sh` installs
/// one); when set, it must exist.
pub const SCHEMATHESIS: &str = "PASSCARD_TEST_SCHEMATHESIS";

/// When `1`, a test that would skip fails instead.
pub const REQUIRE_ALL: &str = "PASSCARD_TEST_REQUIRE_ALL";

static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Says, once per process, that tests needing `what` are skipped; with
/// [`REQUIRE_ALL`] set to `1`, fails the test instead.
pub fn skipped(what: &str, how: &str) {
    assert!(
        var(REQUIRE_ALL).as_deref() != Some("1"),
        "{what} would be skipped ({how}), and {REQUIRE_ALL}=1 says no test may skip"
    );
    let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
    if said
        .get_or_insert_with(HashSet::new)
        .insert(what.to_owned())
    {
        let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {what} ({how}) ***\n");
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The PostgreSQL URL, or `None` after saying that `what` is skipped.
pub fn postgres(what: &str) -> Option<String> {
    let url = var(DATABASE_URL);
    if url.is_none() {
        skipped(
            what,
            "set PASSCARD_TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test",
        );
    }
    url
}

/// The Redis URL, or `None` after saying that `what` is skipped.
pub fn redis(what: &str) -> Option<String> {
    let url = var(REDIS_URL);
    if url.is_none() {
        skipped(
            what,
            "set PASSCARD_TEST_REDIS_URL, e.g. redis://127.0.0.1:6379",
        );
    }
    url
}

/// The nginx binary: [`NGINX`] (which must exist), else one on the PATH or
/// in the sbin folders; `None` after saying that `what` is skipped.
pub fn nginx(what: &str) -> Option<PathBuf> {
    binary(
        NGINX,
        "nginx",
        what,
        "install Debian's nginx-light or nginx, or set PASSCARD_TEST_NGINX",
    )
}

/// chromedriver and Chromium: [`CHROMEDRIVER`] and [`CHROMIUM`] (which
/// must exist when set), else on the PATH; `None` after saying that `what`
/// is skipped.
pub fn chromium(what: &str) -> Option<(PathBuf, PathBuf)> {
    let how = "install Debian's chromium and chromium-driver, or set PASSCARD_TEST_CHROMEDRIVER";
    let driver = binary(CHROMEDRIVER, "chromedriver", what, how)?;
    let browser = binary(CHROMIUM, "chromium", what, how)?;
    Some((driver, browser))
}

/// The Python of the interop tests ([`PYTHON`]), or `None` after saying
/// that `what` is skipped.
pub fn python(what: &str) -> Option<PathBuf> {
    let Some(path) = var(PYTHON) else {
        skipped(
            what,
            "run `eval \"$(scripts/interop-setup.sh)\"` to install authlib and PyJWT",
        );
        return None;
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{PYTHON} is {}, which does not exist",
        path.display()
    );
    Some(path)
}

/// The `schemathesis` command ([`SCHEMATHESIS`]), or `None` after saying
/// that `what` is skipped.
pub fn schemathesis(what: &str) -> Option<PathBuf> {
    let Some(path) = var(SCHEMATHESIS) else {
        skipped(
            what,
            "run `eval \"$(scripts/schemathesis-setup.sh)\"` to install Schemathesis",
        );
        return None;
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{SCHEMATHESIS} is {}, which does not exist",
        path.display()
    );
    Some(path)
}

/// The folder with node's `jose` ([`NODE_DIR`]) and the `node` binary, or
/// `None` after saying that `what` is skipped.
pub fn node(what: &str) -> Option<(PathBuf, PathBuf)> {
    let Some(dir) = var(NODE_DIR) else {
        skipped(
            what,
            "run `eval \"$(scripts/interop-setup.sh)\"` to install node's jose",
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("node_modules/jose").is_dir(),
        "{NODE_DIR} is {}, which has no node_modules/jose",
        dir.display()
    );
    let node = binary(
        "PASSCARD_TEST_NODE",
        "node",
        what,
        "install Debian's nodejs",
    )?;
    Some((node, dir))
}

/// Sends the servers' logs to the test output when [`LOG`] is set (once
/// per process).
pub fn logs() {
    if let Some(filter) = var(LOG) {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// A binary: `var` (which must exist), else `name` on the PATH or in the
/// sbin folders; `None` after saying that `what` is skipped.
fn binary(var_name: &str, name: &str, what: &str, how: &str) -> Option<PathBuf> {
    if let Some(path) = var(var_name) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{var_name} is {}, which does not exist",
            path.display()
        );
        return Some(path);
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([
            "/usr/sbin".into(),
            "/usr/local/sbin".into(),
            "/usr/bin".into(),
        ])
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        skipped(what, how);
    }
    found
}

/// The `redis-server` binary: [`REDIS_SERVER`], else one on the PATH;
/// `None` after saying that `what` is skipped.
pub fn redis_server(what: &str) -> Option<PathBuf> {
    binary(
        REDIS_SERVER,
        "redis-server",
        what,
        "install Debian's redis-server, or set PASSCARD_TEST_REDIS_SERVER",
    )
}

/// The folder of PostgreSQL's server binaries ([`PG_BIN`]), or `None`
/// after saying that `what` is skipped.
pub fn pg_bin(what: &str) -> Option<PathBuf> {
    let Some(dir) = var(PG_BIN) else {
        skipped(
            what,
            "set PASSCARD_TEST_PG_BIN to the folder of initdb and postgres, e.g. /usr/lib/postgresql/15/bin",
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    for name in ["initdb", "postgres"] {
        assert!(
            dir.join(name).is_file(),
            "{PG_BIN} is {}, which has no {name}",
            dir.display()
        );
    }
    Some(dir)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    /// What the probe does when run by the test below: asks for a
    /// PostgreSQL the run does not have (a skip).
    #[test]
    fn probe() {
        if std::env::var_os("PASSCARD_TEST_SKIP_PROBE").is_some() {
            assert!(super::postgres("the skip probe").is_none());
        }
    }

    /// The probe, in a process of its own with `require_all` as
    /// PASSCARD_TEST_REQUIRE_ALL: whether it passed.
    fn probe_passes(require_all: Option<&str>) -> bool {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "env::tests::probe", "--test-threads", "1"])
            .env("PASSCARD_TEST_SKIP_PROBE", "1")
            .env_remove(super::DATABASE_URL)
            .env_remove(super::REQUIRE_ALL);
        if let Some(v) = require_all {
            cmd.env(super::REQUIRE_ALL, v);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("1 passed") || stdout.contains("1 failed"),
            "{stdout}"
        );
        out.status.success()
    }

    /// Issue 19: a skipped test reports `ok`. With REQUIRE_ALL=1 it fails.
    #[test]
    fn a_skip_fails_the_test_when_every_test_must_run() {
        assert!(probe_passes(None), "a plain run skips and passes");
        assert!(probe_passes(Some("0")));
        assert!(!probe_passes(Some("1")), "with REQUIRE_ALL=1 a skip fails");
    }
}
