//! The soak's traffic: workers, each owning a few users (so every user's
//! commands have one order), drive logins, refreshes (and replays of
//! rotated tokens inside and after the reuse interval), `/v1/me`,
//! logouts, role changes and bans against any instance, and check every
//! answer against what the user's last accepted command implies.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use passcard_axum::AccessClaims;
use serde_json::{Value, json};

use passcard_testkit::PASSWORD;

/// The servers' token settings, as the soak passes them.
#[derive(Clone, Copy, Debug)]
pub(super) struct Policy {
    pub(super) access_ttl: Duration,
    pub(super) leeway: Duration,
    pub(super) reuse: Duration,
    /// How long after a revocation returned the *other* instance may still
    /// accept a token it revokes: its safety poll of the log (the push is
    /// faster but best effort). Zero on the instance that revoked.
    pub(super) other_instance_bound: Duration,
}

/// Integer seconds on the server's side: a margin for the rounding.
const SECOND: Duration = Duration::from_secs(1);
/// The most a request may wait before the server reads its clock, for a
/// token counted as live (a loaded CI machine delays requests).
const IN_FLIGHT: Duration = Duration::from_secs(3);
/// Live tokens kept per login, and revoked ones kept for probing.
const KEEP_LIVE: usize = 4;
const KEEP_DEAD: usize = 256;

/// One soak run against a deployment: shared by its workers.
pub(super) struct Run {
    pub(super) bases: Vec<String>,
    pub(super) policy: Policy,
    pub(super) deadline: Instant,
    /// Requests per kind and status.
    pub(super) stats: Mutex<BTreeMap<&'static str, BTreeMap<u16, u64>>>,
    pub(super) violations: Mutex<Vec<String>>,
    failed: AtomicBool,
    /// How long after a revocation returned the other instance still
    /// accepted a token it revoked, each time it did.
    pub(super) lags: Mutex<Vec<Duration>>,
    /// Revocations checked right after they returned, on each instance.
    pub(super) checked: Mutex<u64>,
}

/// One answer, with when its request left and its answer came back.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Value,
    pub(super) sent: Instant,
    pub(super) answered: Instant,
}

impl Run {
    pub(super) fn new(bases: Vec<String>, policy: Policy, deadline: Instant) -> Self {
        Self {
            bases,
            policy,
            deadline,
            stats: Mutex::default(),
            violations: Mutex::default(),
            failed: AtomicBool::new(false),
            lags: Mutex::default(),
            checked: Mutex::default(),
        }
    }

    pub(super) fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Records a broken invariant; the run stops.
    pub(super) fn violate(&self, what: String) {
        self.failed.store(true, Ordering::Relaxed);
        let mut v = self.violations.lock().unwrap();
        if v.len() < 50 {
            v.push(what);
        }
    }

    /// Sends `request` to instance `server`, counts it under `kind`; an
    /// answer of 5xx, or none, is a violation.
    pub(super) async fn call(
        &self,
        kind: &'static str,
        server: usize,
        request: reqwest::RequestBuilder,
    ) -> Reply {
        let sent = Instant::now();
        let (status, body) = match request.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(e) => {
                self.violate(format!("{kind} on instance {server}: no answer: {e}"));
                (0, Value::Null)
            }
        };
        let answered = Instant::now();
        *self
            .stats
            .lock()
            .unwrap()
            .entry(kind)
            .or_default()
            .entry(status)
            .or_default() += 1;
        if status >= 500 {
            self.violate(format!(
                "{kind} on instance {server}: {status} {}",
                body["type"]
            ));
        }
        Reply {
            status,
            body,
            sent,
            answered,
        }
    }

    pub(super) fn url(&self, server: usize, path: &str) -> String {
        format!("{}{path}", self.bases[server])
    }
}

/// A small deterministic generator (xorshift64*), one per worker.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        usize::try_from(x >> 33).unwrap() % n.max(1)
    }
}

/// A user as its worker knows it.
pub(super) struct User {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) role: &'static str,
    pub(super) banned: bool,
    logins: Vec<Family>,
}

impl User {
    pub(super) fn new(id: i64, name: String, role: &'static str) -> Self {
        Self {
            id,
            name,
            role,
            banned: false,
            logins: Vec::new(),
        }
    }
}

/// A live login: its refresh family.
struct Family {
    sid: i64,
    tip: String,
    tokens: Vec<Access>,
    /// The token rotated last, with its successor.
    rotated: Option<Rotated>,
}

struct Access {
    token: String,
    /// When the request that got it left and its answer came.
    sent: Instant,
    answered: Instant,
}

struct Rotated {
    old: String,
    successor: String,
    sent: Instant,
    answered: Instant,
}

/// A token that a revocation ended.
struct Dead {
    token: String,
    refresh: bool,
    /// When the revoking answer came, and from which instance.
    since: Instant,
    origin: usize,
    why: &'static str,
    user: i64,
}

/// The claims of an access token (read without verifying: the server
/// signed them), or `None` when it is not one.
fn claims(token: &str) -> Option<AccessClaims> {
    let claims = passcard_jwt::dangerous::decode_unverified(token)
        .ok()?
        .claims;
    serde_json::from_value(Value::Object(claims)).ok()
}

/// The user and family of an access token, and its role.
fn whose(token: &str) -> Option<(i64, i64, String)> {
    claims(token).map(|c| (c.sub, c.sid, c.role))
}

/// A client keeping one idle connection per instance (a second one, for
/// two requests at once, is closed after use).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// One worker: its users, one command at a time each.
pub(super) struct Worker<'a> {
    run: &'a Run,
    tag: usize,
    http: reqwest::Client,
    rng: Rng,
    pub(super) users: Vec<User>,
    pub(super) banned: Vec<User>,
    admin: User,
    dead: VecDeque<Dead>,
    registered: u32,
}

impl<'a> Worker<'a> {
    pub(super) fn new(run: &'a Run, tag: usize, users: Vec<User>, admin: User) -> Self {
        Self {
            run,
            tag,
            http: client(),
            rng: Rng(0x9E37_79B9_7F4A_7C15 ^ (tag as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)),
            users,
            banned: Vec::new(),
            admin,
            dead: VecDeque::new(),
            registered: 0,
        }
    }

    fn server(&mut self) -> usize {
        self.rng.below(self.run.bases.len())
    }

    /// Whether `a` is surely accepted if presented now: more than
    /// [`IN_FLIGHT`] before its expiry, counted from before it was issued.
    fn fresh(&self, a: &Access) -> bool {
        Instant::now() + IN_FLIGHT < a.sent + self.run.policy.access_ttl
    }

    fn expired(&self, a: &Access) -> bool {
        let p = self.run.policy;
        Instant::now() >= a.answered + p.access_ttl + p.leeway + SECOND
    }

    /// Runs until the deadline or the first violation; think time between
    /// commands is 0 to `2 * think`.
    pub(super) async fn drive(&mut self, think: Duration) {
        while Instant::now() < self.run.deadline && !self.run.failed() {
            self.step().await;
            let ms = u64::try_from(think.as_millis()).unwrap_or(0) * 2;
            let pause = self.rng.below(usize::try_from(ms).unwrap_or(0) + 1);
            tokio::time::sleep(Duration::from_millis(pause as u64)).await;
        }
    }

    async fn step(&mut self) {
        // Now and then the client starts over: its connections close and
        // new ones open, so a descriptor kept per connection would show.
        if self.rng.below(200) == 0 {
            self.http = client();
        }
        let u = self.rng.below(self.users.len());
        if self.users[u].banned {
            return self.replace(u).await;
        }
        if self.users[u].logins.is_empty() {
            return self.login(u).await;
        }
        let f = self.rng.below(self.users[u].logins.len());
        match self.rng.below(1000) {
            0..420 => self.me(u, f).await,
            420..580 => self.refresh(u, f).await,
            580..640 => {
                self.refresh(u, f).await;
                self.replay_within(u, f).await;
            }
            640..670 => self.double_refresh(u, f).await,
            670..690 => self.replay_after(u, f).await,
            690..710 => self.logout(u, f).await,
            710..715 => self.logout_all(u).await,
            715..725 if self.users[u].logins.len() < 2 => self.login(u).await,
            725..760 => self.set_role(u).await,
            760..764 => self.ban(u).await,
            764..900 => self.probe_dead().await,
            900..940 => self.check_listed(u).await,
            _ => self.me(u, f).await,
        }
    }

    /// `/v1/me` with one of the login's tokens: a fresh one is accepted
    /// with the user's current role; an expired one is refused.
    async fn me(&mut self, u: usize, f: usize) {
        let n = self.users[u].logins[f].tokens.len();
        if n == 0 {
            return self.refresh(u, f).await;
        }
        let t = self.rng.below(n);
        let a = &self.users[u].logins[f].tokens[t];
        let (fresh, expired) = (self.fresh(a), self.expired(a));
        if !fresh && !expired {
            return self.refresh(u, f).await;
        }
        let token = a.token.clone();
        let s = self.server();
        let r = self
            .run
            .call(
                "me",
                s,
                self.http.get(self.run.url(s, "/v1/me")).bearer_auth(&token),
            )
            .await;
        let user = &self.users[u];
        if fresh {
            if r.status != 200
                || r.body["sub"] != user.id.to_string().as_str()
                || r.body["role"] != user.role
            {
                self.run.violate(format!(
                    "worker {}: user {} logged out: /v1/me on instance {s} with a live token: {} {}",
                    self.tag, user.id, r.status, r.body
                ));
            }
        } else if r.status != 401 {
            self.run.violate(format!(
                "worker {}: user {}: an expired token got {} on instance {s}",
                self.tag, user.id, r.status
            ));
        }
        if expired {
            self.users[u].logins[f].tokens.remove(t);
        }
    }

    async fn login(&mut self, u: usize) {
        let s = self.server();
        let name = self.users[u].name.clone();
        let r = self.login_as(s, &name).await;
        if r.status != 200 {
            return self.run.violate(format!(
                "worker {}: login of user {} on instance {s}: {} {}",
                self.tag, self.users[u].id, r.status, r.body
            ));
        }
        let Some(family) = self.family_from(&r, u) else {
            return;
        };
        self.users[u].logins.push(family);
    }

    async fn login_as(&self, s: usize, name: &str) -> Reply {
        self.run
            .call(
                "login",
                s,
                self.http
                    .post(self.run.url(s, "/v1/login"))
                    .json(&json!({"username": name, "password": PASSWORD})),
            )
            .await
    }

    /// The login a successful login answer starts.
    fn family_from(&self, r: &Reply, u: usize) -> Option<Family> {
        let access = r.body["access_token"].as_str().unwrap_or_default();
        let user = self.user_ref(u);
        let Some((_, sid, _)) =
            whose(access).filter(|(sub, _, role)| *sub == user.id && role == user.role)
        else {
            self.run.violate(format!(
                "worker {}: user {} (role {}) logged in with the claims {:?}",
                self.tag,
                user.id,
                user.role,
                whose(access)
            ));
            return None;
        };
        Some(Family {
            sid,
            tip: r.body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            tokens: vec![Access {
                token: access.to_owned(),
                sent: r.sent,
                answered: r.answered,
            }],
            rotated: None,
        })
    }

    fn user_mut(&mut self, u: usize) -> &mut User {
        if u == usize::MAX {
            &mut self.admin
        } else {
            &mut self.users[u]
        }
    }

    /// Rotates the login's refresh token: the successor and an access
    /// token of the same family with the user's current role.
    async fn refresh(&mut self, u: usize, f: usize) {
        let s = self.server();
        let tip = self.user_mut(u).logins[f].tip.clone();
        let r = self.refresh_call("refresh", s, &tip).await;
        if r.status != 200 {
            let id = self.user_mut(u).id;
            return self.run.violate(format!(
                "worker {}: user {id} logged out: refresh on instance {s}: {} {}",
                self.tag, r.status, r.body
            ));
        }
        self.rotated(u, f, tip, &r, r.sent, r.answered);
    }

    async fn refresh_call(&self, kind: &'static str, s: usize, token: &str) -> Reply {
        self.run
            .call(
                kind,
                s,
                self.http
                    .post(self.run.url(s, "/v1/refresh"))
                    .json(&json!({ "refresh_token": token })),
            )
            .await
    }

    /// Checks a successful rotation of `old` and moves the login on.
    fn rotated(&mut self, u: usize, f: usize, old: String, r: &Reply, sent: Instant, at: Instant) {
        let (tag, run) = (self.tag, self.run);
        let user = self.user_mut(u);
        let (id, role) = (user.id, user.role);
        let family = &mut user.logins[f];
        let successor = r.body["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let access = r.body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if successor == old || successor.len() != 43 {
            return run.violate(format!(
                "worker {tag}: user {id}: a rotation without a new token"
            ));
        }
        let got = whose(&access);
        if got != Some((id, family.sid, role.to_owned())) {
            return run.violate(format!(
                "worker {tag}: user {id}, role {role}: a refresh of family {} gave an access token with (sub, sid, role) {got:?}",
                family.sid
            ));
        }
        family.tip.clone_from(&successor);
        family.rotated = Some(Rotated {
            old,
            successor,
            sent,
            answered: at,
        });
        family.tokens.push(Access {
            token: access,
            sent: r.sent,
            answered: r.answered,
        });
        if family.tokens.len() > KEEP_LIVE {
            family.tokens.remove(0);
        }
    }

    /// The token just rotated, presented again (a retry, a second tab):
    /// within the interval, the same successor; past it, theft.
    async fn replay_within(&mut self, u: usize, f: usize) {
        let Some(family) = self.users[u].logins.get(f) else {
            return;
        };
        let Some(rot) = &family.rotated else { return };
        let (old, successor) = (rot.old.clone(), rot.successor.clone());
        let (sent, answered) = (rot.sent, rot.answered);
        let s = self.server();
        let r = self
            .refresh_call("replay within the interval", s, &old)
            .await;
        // The server's `now - used_at` lies between these two (give or
        // take a second of rounding).
        let least = r.sent.saturating_duration_since(answered);
        let most = r.answered - sent;
        let p = self.run.policy;
        let id = self.users[u].id;
        match r.status {
            200 if r.body["refresh_token"] != successor.as_str() => self.run.violate(format!(
                "worker {}: user {id}: the family forked: a replay got another successor",
                self.tag
            )),
            200 if least >= p.reuse + SECOND => self.run.violate(format!(
                "worker {}: user {id}: a replay at least {least:?} after the rotation was accepted",
                self.tag
            )),
            200 => {
                let access = r.body["access_token"].as_str().unwrap_or_default();
                if whose(access).map(|w| w.1) != Some(self.users[u].logins[f].sid) {
                    return self.run.violate(format!(
                        "worker {}: user {id}: a replay's access token is of another family",
                        self.tag
                    ));
                }
                self.users[u].logins[f].tokens.push(Access {
                    token: access.to_owned(),
                    sent: r.sent,
                    answered: r.answered,
                });
            }
            401 if most + SECOND <= p.reuse => self.run.violate(format!(
                "worker {}: user {id} logged out: a replay at most {most:?} after the rotation was refused on instance {s}",
                self.tag
            )),
            // Late enough to count as theft: the login is over.
            401 => self.end_login(u, f, r.answered, s, "theft").await,
            other => self.run.violate(format!(
                "worker {}: user {id}: replay within the interval: {other} {}",
                self.tag, r.body
            )),
        }
    }

    /// Two refreshes of one token at once (two tabs), on two instances
    /// where there are two: the same successor for both.
    async fn double_refresh(&mut self, u: usize, f: usize) {
        let tip = self.users[u].logins[f].tip.clone();
        let s1 = self.server();
        let s2 = (s1 + 1) % self.run.bases.len();
        let (a, b) = tokio::join!(
            self.refresh_call("double refresh", s1, &tip),
            self.refresh_call("double refresh", s2, &tip)
        );
        let id = self.users[u].id;
        let sent = a.sent.min(b.sent);
        let reuse = self.run.policy.reuse;
        let late = |r: &Reply| r.answered - sent + SECOND > reuse;
        match (a.status, b.status) {
            (200, 200) if a.body["refresh_token"] != b.body["refresh_token"] => {
                self.run.violate(format!(
                    "worker {}: user {id}: the family forked: two refreshes at once got two successors",
                    self.tag
                ));
            }
            (200, 200) => {
                let at = a.answered.max(b.answered);
                self.rotated(u, f, tip.clone(), &a, sent, at);
                let access = b.body["access_token"].as_str().unwrap_or_default();
                self.users[u].logins[f].tokens.push(Access {
                    token: access.to_owned(),
                    sent: b.sent,
                    answered: b.answered,
                });
            }
            (200, 401) | (401, 200) if late(&a) || late(&b) => {
                let at = a.answered.max(b.answered);
                let origin = if a.status == 401 { s1 } else { s2 };
                self.end_login(u, f, at, origin, "theft").await;
            }
            (x, y) => self.run.violate(format!(
                "worker {}: user {id}: two refreshes at once: {x} and {y} ({} / {})",
                self.tag, a.body, b.body
            )),
        }
    }

    /// A rotated token presented once the interval is over: theft, the
    /// whole login is revoked.
    async fn replay_after(&mut self, u: usize, f: usize) {
        let p = self.run.policy;
        let due = self.users[u].logins[f]
            .rotated
            .as_ref()
            .filter(|r| Instant::now() >= r.answered + p.reuse + SECOND)
            .map(|r| r.old.clone());
        let Some(old) = due else {
            return self.me(u, f).await;
        };
        let s = self.server();
        let r = self
            .refresh_call("replay after the interval", s, &old)
            .await;
        if r.status != 401 {
            return self.run.violate(format!(
                "worker {}: user {}: a rotated token replayed after the interval got {} on instance {s}",
                self.tag, self.users[u].id, r.status
            ));
        }
        self.end_login(u, f, r.answered, s, "theft").await;
    }

    /// A fresh access token of the login, refreshing first if none is.
    async fn fresh_token(&mut self, u: usize, f: usize) -> Option<String> {
        let fresh = |w: &Self| {
            let family = &w.user_ref(u).logins[f];
            family
                .tokens
                .iter()
                .rev()
                .find(|a| w.fresh(a))
                .map(|a| a.token.clone())
        };
        if let Some(t) = fresh(self) {
            return Some(t);
        }
        self.refresh(u, f).await;
        if self.run.failed() {
            return None;
        }
        fresh(self)
    }

    fn user_ref(&self, u: usize) -> &User {
        if u == usize::MAX {
            &self.admin
        } else {
            &self.users[u]
        }
    }

    async fn logout(&mut self, u: usize, f: usize) {
        let Some(token) = self.fresh_token(u, f).await else {
            return;
        };
        let s = self.server();
        let r = self
            .run
            .call(
                "logout",
                s,
                self.http
                    .post(self.run.url(s, "/v1/logout"))
                    .bearer_auth(&token),
            )
            .await;
        if r.status != 204 {
            return self.run.violate(format!(
                "worker {}: user {}: logout on instance {s}: {} {}",
                self.tag, self.users[u].id, r.status, r.body
            ));
        }
        self.end_login(u, f, r.answered, s, "logout").await;
    }

    async fn logout_all(&mut self, u: usize) {
        let Some(token) = self.fresh_token(u, 0).await else {
            return;
        };
        let s = self.server();
        let r = self
            .run
            .call(
                "logout-all",
                s,
                self.http
                    .post(self.run.url(s, "/v1/logout-all"))
                    .bearer_auth(&token),
            )
            .await;
        if r.status != 204 {
            return self.run.violate(format!(
                "worker {}: user {}: logout-all on instance {s}: {} {}",
                self.tag, self.users[u].id, r.status, r.body
            ));
        }
        while !self.users[u].logins.is_empty() {
            self.bury(u, 0, r.answered, s, "logout-all", true);
        }
        self.check_revoked(r.answered, s).await;
    }

    /// The admin's fresh token (logging in or refreshing as needed).
    async fn admin_token(&mut self) -> Option<String> {
        if self.admin.logins.is_empty() {
            let s = self.server();
            let name = self.admin.name.clone();
            let r = self.login_as(s, &name).await;
            if r.status != 200 {
                self.run.violate(format!(
                    "worker {}: admin login on instance {s}: {} {}",
                    self.tag, r.status, r.body
                ));
                return None;
            }
            let family = self.family_from(&r, usize::MAX)?;
            self.admin.logins.push(family);
        }
        self.fresh_token(usize::MAX, 0).await
    }

    /// An admin gives the user the other role: the user's tokens are
    /// revoked at once, its logins go on with the new role.
    async fn set_role(&mut self, u: usize) {
        let Some(admin) = self.admin_token().await else {
            return;
        };
        let role = if self.users[u].role == "user" {
            "admin"
        } else {
            "user"
        };
        let s = self.server();
        let id = self.users[u].id;
        let r = self
            .run
            .call(
                "role change",
                s,
                self.http
                    .put(self.run.url(s, &format!("/v1/users/{id}/role")))
                    .bearer_auth(&admin)
                    .json(&json!({ "role": role })),
            )
            .await;
        if r.status != 200 || r.body["role"] != role {
            return self.run.violate(format!(
                "worker {}: role change of user {id} on instance {s}: {} {}",
                self.tag, r.status, r.body
            ));
        }
        self.users[u].role = role;
        for f in 0..self.users[u].logins.len() {
            let tokens = std::mem::take(&mut self.users[u].logins[f].tokens);
            for a in tokens {
                self.mourn(a.token, false, r.answered, s, "role change", id);
            }
        }
        self.check_revoked(r.answered, s).await;
    }

    async fn ban(&mut self, u: usize) {
        let Some(admin) = self.admin_token().await else {
            return;
        };
        let s = self.server();
        let id = self.users[u].id;
        let r = self
            .run
            .call(
                "ban",
                s,
                self.http
                    .post(self.run.url(s, &format!("/v1/users/{id}/ban")))
                    .bearer_auth(&admin),
            )
            .await;
        if r.status != 204 {
            return self.run.violate(format!(
                "worker {}: ban of user {id} on instance {s}: {} {}",
                self.tag, r.status, r.body
            ));
        }
        self.users[u].banned = true;
        while !self.users[u].logins.is_empty() {
            self.bury(u, 0, r.answered, s, "ban", true);
        }
        self.check_revoked(r.answered, s).await;
    }

    /// A banned user cannot log in; a new user takes its place.
    async fn replace(&mut self, u: usize) {
        let s = self.server();
        let name = self.users[u].name.clone();
        let r = self.login_as(s, &name).await;
        if r.status != 401 {
            return self.run.violate(format!(
                "worker {}: banned user {} logging in on instance {s}: {}",
                self.tag, self.users[u].id, r.status
            ));
        }
        self.registered += 1;
        let name = format!("w{}-r{}", self.tag, self.registered);
        let r = self
            .run
            .call(
                "register",
                s,
                self.http
                    .post(self.run.url(s, "/v1/users"))
                    .json(&json!({"username": name, "password": PASSWORD})),
            )
            .await;
        let Some(id) = r.body["id"].as_i64().filter(|_| r.status == 201) else {
            return self.run.violate(format!(
                "worker {}: registration on instance {s}: {} {}",
                self.tag, r.status, r.body
            ));
        };
        let old = std::mem::replace(&mut self.users[u], User::new(id, name, "user"));
        self.banned.push(old);
    }

    /// The admin's user list shows the user as its last command left it.
    async fn check_listed(&mut self, u: usize) {
        let Some(admin) = self.admin_token().await else {
            return;
        };
        let s = self.server();
        let user = &self.users[u];
        let r = self
            .run
            .call(
                "user list",
                s,
                self.http
                    .get(self.run.url(s, "/v1/users"))
                    .query(&[("search", user.name.as_str())])
                    .bearer_auth(&admin),
            )
            .await;
        let listed = r.body["users"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["id"] == user.id));
        let ok = listed.is_some_and(|x| x["role"] == user.role && x["disabled"] == user.banned);
        if r.status != 200 || !ok {
            self.run.violate(format!(
                "worker {}: user {} (role {}, banned {}) listed on instance {s} as {:?} ({})",
                self.tag, user.id, user.role, user.banned, listed, r.status
            ));
        }
    }

    /// Ends a login that the server revoked (logout, theft): its tokens
    /// go to the dead, and are checked at once.
    async fn end_login(
        &mut self,
        u: usize,
        f: usize,
        since: Instant,
        origin: usize,
        why: &'static str,
    ) {
        self.bury(u, f, since, origin, why, true);
        self.check_revoked(since, origin).await;
    }

    /// Moves a login's tokens (and its refresh tokens, if `refresh`) to
    /// the dead.
    fn bury(
        &mut self,
        u: usize,
        f: usize,
        since: Instant,
        origin: usize,
        why: &'static str,
        refresh: bool,
    ) {
        let user = &mut self.users[u];
        let id = user.id;
        let family = user.logins.remove(f);
        for a in family.tokens {
            self.mourn(a.token, false, since, origin, why, id);
        }
        if refresh {
            self.mourn(family.tip, true, since, origin, why, id);
            if let Some(rot) = family.rotated {
                self.mourn(rot.old, true, since, origin, why, id);
            }
        }
    }

    fn mourn(
        &mut self,
        token: String,
        refresh: bool,
        since: Instant,
        origin: usize,
        why: &'static str,
        user: i64,
    ) {
        self.dead.push_back(Dead {
            token,
            refresh,
            since,
            origin,
            why,
            user,
        });
        if self.dead.len() > KEEP_DEAD {
            self.dead.pop_front();
        }
    }

    /// Right after a revocation returned: the newest revoked access token
    /// is refused by the instance that revoked it, and by every other
    /// within the bound (polled until then, the lag recorded).
    async fn check_revoked(&mut self, since: Instant, origin: usize) {
        let Some(i) = self
            .dead
            .iter()
            .rposition(|d| !d.refresh && d.since == since)
        else {
            return;
        };
        let n = self.run.bases.len();
        for k in 0..n {
            let s = (origin + k) % n;
            loop {
                if !self.probe(i, s).await {
                    break;
                }
            }
        }
        *self.run.checked.lock().unwrap() += 1;
    }

    /// Presents a revoked token, now, to instance `s`: whether it was
    /// accepted within the bound (then the caller may ask again).
    async fn probe(&mut self, i: usize, s: usize) -> bool {
        let d = &self.dead[i];
        let r = if d.refresh {
            self.refresh_call("revoked refresh token", s, &d.token)
                .await
        } else {
            self.run
                .call(
                    "revoked access token",
                    s,
                    self.http
                        .get(self.run.url(s, "/v1/me"))
                        .bearer_auth(&d.token),
                )
                .await
        };
        let d = &self.dead[i];
        if r.status == 401 {
            return false;
        }
        let lag = r.sent.saturating_duration_since(d.since);
        let other = s != d.origin && !d.refresh;
        if r.status == 200 && other && lag < self.run.policy.other_instance_bound {
            self.run.lags.lock().unwrap().push(lag);
            tokio::time::sleep(Duration::from_millis(1)).await;
            return true;
        }
        self.run.violate(format!(
            "worker {}: user {}: {} token revoked by {} on instance {} was answered {} on instance {s}, {lag:?} after the revocation returned",
            self.tag,
            d.user,
            if d.refresh { "a refresh" } else { "an access" },
            d.why,
            d.origin,
            r.status
        ));
        false
    }

    /// Presents a random revoked token to a random instance.
    async fn probe_dead(&mut self) {
        if self.dead.is_empty() {
            return;
        }
        let i = self.rng.below(self.dead.len());
        let s = self.server();
        if self.probe(i, s).await {
            // Accepted within the bound by the other instance: the probe
            // right after the revocation polls those.
        }
    }

    /// After the run: every live login still refreshes and its new token
    /// works; the admin list shows every user as its last command left it.
    pub(super) async fn finish(&mut self) {
        for u in 0..self.users.len() {
            for f in 0..self.users[u].logins.len() {
                self.refresh(u, f).await;
                let last = self.users[u].logins[f].tokens.len().saturating_sub(1);
                if !self.run.failed() {
                    // Fresh from the refresh: accepted.
                    let token = self.users[u].logins[f].tokens[last].token.clone();
                    let s = self.server();
                    let r = self
                        .run
                        .call(
                            "me",
                            s,
                            self.http.get(self.run.url(s, "/v1/me")).bearer_auth(&token),
                        )
                        .await;
                    if r.status != 200 || r.body["role"] != self.users[u].role {
                        self.run.violate(format!(
                            "worker {}: user {} at the end: /v1/me {} {}",
                            self.tag, self.users[u].id, r.status, r.body
                        ));
                    }
                }
            }
        }
        for u in 0..self.users.len() {
            self.check_listed(u).await;
        }
    }

    /// Every user this worker drove, with the state it must end in.
    pub(super) fn expected(&self) -> impl Iterator<Item = (i64, &'static str, bool)> + '_ {
        self.users
            .iter()
            .chain(&self.banned)
            .map(|u| (u.id, u.role, u.banned))
    }
}
