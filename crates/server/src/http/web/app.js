// passcard's web page: sign up, sign in, your account, and for admins the
// users. The tokens live in HttpOnly cookies, which this script never sees;
// it only calls the API (same origin, with the X-Passcard-CSRF header that
// unsafe cookie-authenticated requests need).
"use strict";

const mode = document.body.dataset.mode; // "token" or "session"
const registrationOpen = document.body.dataset.registration === "open";
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- the API

async function api(method, path, body) {
  const headers = { "X-Passcard-CSRF": "1" };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (_) {
    return { status: 0, data: null, headers: new Headers() };
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
  }
  return { status: response.status, data, headers: response.headers };
}

// What went wrong, in words.
function explain(r, context) {
  const type = (r.data && r.data.type) || "";
  if (r.status === 0) return "Cannot reach the server. Check your connection and try again.";
  if (r.status === 429) {
    const wait = Number(r.headers.get("Retry-After")) || 0;
    const what = context === "signup" ? "Too many accounts were created from your address." : "Too many failed attempts.";
    return `${what} Try again in ${humanWait(wait)}.`;
  }
  if (type.endsWith(":invalid-credentials")) return "Wrong username or password.";
  if (type.endsWith(":username-taken")) return "That username is taken. Choose another one.";
  if (type.endsWith(":registration-closed")) return "Registration is closed on this server.";
  if (type.endsWith(":cross-site")) return "The request was refused as cross-site.";
  if (r.status === 403) return "You are not allowed to do that.";
  if (r.status === 503) return "The server is busy or cannot reach its store. Try again in a moment.";
  if (r.status === 400 && r.data && r.data.detail) {
    const d = String(r.data.detail);
    return d.charAt(0).toUpperCase() + d.slice(1) + ".";
  }
  return `Something went wrong (HTTP ${r.status}). Try again.`;
}

function humanWait(seconds) {
  if (seconds <= 1) return "a second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? "a minute" : `${minutes} minutes`;
}

// ----------------------------------------------------- signed in or not

let me = null; // the claims of /v1/me
let clockOffset = 0; // server time - local time, in seconds
let lastQueries = null;
let renewTimer = null;
let checkTimer = null;
let renewing = null;

// One renewal at a time: the refresh cookie rotates.
function renew() {
  if (mode !== "token") return Promise.resolve(false);
  if (!renewing) {
    renewing = api("POST", "/v1/refresh").then((r) => {
      renewing = null;
      if (r.status === 200) {
        scheduleRenewal(r.data.expires_in);
        return true;
      }
      return false;
    });
  }
  return renewing;
}

// Renews when two thirds of the access token's life have passed, so the
// cookie never expires while the page is open.
function scheduleRenewal(lifetimeSeconds) {
  clearTimeout(renewTimer);
  if (mode !== "token") return;
  const delay = Math.max(300, lifetimeSeconds * 1000 * (2 / 3));
  renewTimer = setTimeout(async () => {
    if (await renew()) {
      await check();
    } else {
      signedOut("Your sign-in has ended. Sign in again.");
    }
  }, delay);
}

// Asks who we are; on a refused token, renews once and asks again.
async function whoami() {
  let r = await api("GET", "/v1/me");
  if (r.status === 401 && (await renew())) r = await api("GET", "/v1/me");
  if (r.status !== 200) return r;
  me = r.data;
  const date = Date.parse(r.headers.get("Date") || "");
  if (!Number.isNaN(date)) clockOffset = date / 1000 - Date.now() / 1000;
  const q = r.headers.get("X-Passcard-Store-Queries");
  lastQueries = q === null ? null : Number(q);
  return r;
}

// The account's next request: a revoked login shows the sign-in form.
async function check() {
  const r = await whoami();
  if (r.status === 200) {
    if (renewTimer === null && mode === "token") {
      scheduleRenewal(Math.max(1, me.exp - (Date.now() / 1000 + clockOffset)));
    }
    render();
    return true;
  }
  if (r.status === 401) {
    signedOut("You were signed out: the sign-in ended here or everywhere, or your account changed. Sign in again.");
  } else {
    show($("account-error"), explain(r));
  }
  return false;
}

function signedOut(message) {
  me = null;
  clearTimeout(renewTimer);
  renewTimer = null;
  clearInterval(checkTimer);
  checkTimer = null;
  notice(message);
  go("#/signin");
}

// --------------------------------------------------------------- views

const views = ["loading", "signin", "signup", "account", "users"];

function showNav() {
  $("nav").hidden = !me;
  $("nav-users").hidden = !(me && me.role === "admin");
}

function showView(name) {
  for (const v of views) $(`view-${v}`).hidden = v !== name;
  showNav();
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const h = $(`view-${name}`).querySelector("h1");
  if (h) h.focus();
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  const hash = location.hash || "#/";
  if (!me) {
    if (hash === "#/signup" && registrationOpen) {
      showView("signup");
    } else {
      $("signup-link").hidden = !registrationOpen;
      showView("signin");
    }
    return;
  }
  if (hash === "#/users" && me.role === "admin") {
    showView("users");
    loadUsers(0);
    return;
  }
  if (hash !== "#/account") {
    history.replaceState(null, "", "#/account");
  }
  render();
  showView("account");
}

function notice(text) {
  const n = $("notice");
  n.textContent = text || "";
  n.hidden = !text;
}

function show(el, text) {
  el.textContent = text || "";
  el.hidden = !text;
}

// ------------------------------------------------------------- account

function render() {
  if (!me) return;
  showNav();
  $("me-sub").textContent = me.sub;
  $("me-role").textContent = me.role;
  const exp = new Date(me.exp * 1000);
  $("me-exp").textContent = `(at ${exp.toLocaleTimeString()})`;
  tick();
  if (lastQueries === null) {
    $("me-queries").textContent = "GET /v1/me answered.";
  } else {
    const s = lastQueries === 1 ? "query" : "queries";
    $("me-queries").textContent = `GET /v1/me was authorised with ${lastQueries} store ${s}.`;
    $("me-queries").className = lastQueries === 0 ? "ok" : "";
  }
  $("me-explain").textContent =
    mode === "token"
      ? "This page is authorised by a signed access token in an HttpOnly cookie: the server checks its signature and the revocations it keeps in memory, without asking its database. The page renews the token before it expires."
      : "This server runs in session mode: every request looks the session up in the store.";
  if (!checkTimer) checkTimer = setInterval(() => { if (!document.hidden) check(); }, 5000);
}

function tick() {
  if (!me) return;
  const left = Math.round(me.exp - (Date.now() / 1000 + clockOffset));
  let text;
  if (left <= 0) text = "now (renewing)";
  else if (left < 60) text = `in ${left} s`;
  else text = `in ${Math.floor(left / 60)} min ${String(left % 60).padStart(2, "0")} s`;
  $("me-countdown").textContent = text;
}
setInterval(tick, 1000);

async function signInWith(username, password, errorEl, context) {
  const r = await api("POST", "/v1/login", { username, password, transport: "cookie" });
  if (r.status !== 200) {
    show(errorEl, explain(r, context));
    return false;
  }
  if (mode === "token") scheduleRenewal(r.data.expires_in);
  const w = await whoami();
  if (w.status !== 200) {
    show(errorEl, explain(w, context));
    return false;
  }
  notice("");
  go("#/account");
  return true;
}

function busy(form, on) {
  for (const b of form.querySelectorAll("button")) b.disabled = on;
}

$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  show($("signin-error"), "");
  const username = $("signin-username").value.trim();
  const password = $("signin-password").value;
  if (!username || !password) {
    show($("signin-error"), "Enter your username and your password.");
    (username ? $("signin-password") : $("signin-username")).focus();
    return;
  }
  busy(form, true);
  const ok = await signInWith(username, password, $("signin-error"), "signin");
  busy(form, false);
  if (ok) form.reset();
  else $("signin-password").focus();
});

$("signup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  show($("signup-error"), "");
  const username = $("signup-username").value.trim();
  const password = $("signup-password").value;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{2,31}$/.test(username)) {
    show($("signup-error"), "The username must be 3 to 32 of a–z, 0–9, “.”, “_” or “-”, starting with a letter or digit.");
    $("signup-username").focus();
    return;
  }
  if (password.length < 8) {
    show($("signup-error"), "The password must be at least 8 characters.");
    $("signup-password").focus();
    return;
  }
  busy(form, true);
  const r = await api("POST", "/v1/users", { username, password });
  if (r.status !== 201) {
    busy(form, false);
    show($("signup-error"), explain(r, "signup"));
    $("signup-username").focus();
    return;
  }
  const ok = await signInWith(username, password, $("signup-error"), "signin");
  busy(form, false);
  if (ok) form.reset();
});

$("check").addEventListener("click", () => check());

$("signout").addEventListener("click", () => signOut("/v1/logout", "You signed out."));
$("signout-all").addEventListener("click", () =>
  signOut("/v1/logout-all", "You signed out everywhere: every sign-in of your account has ended."));

async function signOut(path, message) {
  let r = await api("POST", path);
  if (r.status === 401 && (await renew())) r = await api("POST", path);
  if (r.status === 204 || r.status === 401) {
    signedOut(r.status === 204 ? message : "Your sign-in had already ended.");
  } else {
    show($("account-error"), explain(r));
  }
}

// --------------------------------------------------------------- users

let usersAfter = 0;
let usersNext = null;

async function loadUsers(after) {
  usersAfter = after;
  show($("users-error"), "");
  const q = new URLSearchParams({ after: String(after), limit: "20" });
  const search = $("search").value.trim();
  if (search) q.set("search", search);
  let r = await api("GET", `/v1/users?${q}`);
  if (r.status === 401 && (await renew())) r = await api("GET", `/v1/users?${q}`);
  if (r.status === 401) return signedOut("Your sign-in has ended. Sign in again.");
  if (r.status !== 200) return show($("users-error"), explain(r));
  const body = $("users-body");
  body.replaceChildren();
  for (const u of r.data.users) body.append(userRow(u));
  if (r.data.users.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 5;
    td.textContent = search ? "No user matches." : "No users.";
    tr.append(td);
    body.append(tr);
  }
  usersNext = r.data.next_after;
  $("users-next").hidden = usersNext === null;
  $("users-first").hidden = after === 0;
}

function userRow(u) {
  const row = $("user-row").content.firstElementChild.cloneNode(true);
  row.querySelector(".id").textContent = u.id;
  row.querySelector(".name").textContent = u.username;
  const select = row.querySelector(".role");
  select.value = u.role;
  select.setAttribute("aria-label", `Role of ${u.username}`);
  const state = row.querySelector(".state");
  state.textContent = u.disabled ? "banned" : "active";
  if (u.disabled) state.classList.add("banned");
  const save = row.querySelector(".save-role");
  save.setAttribute("aria-label", `Change the role of ${u.username}`);
  save.addEventListener("click", async () => {
    const role = select.value;
    const r = await api("PUT", `/v1/users/${u.id}/role`, { role });
    if (r.status !== 200) return show($("users-error"), explain(r));
    notice(`${u.username} is now ${role}. Their access tokens issued before this are refused from their next request; their page renews its token and shows the new role.`);
    if (String(u.id) === me.sub) await check();
    loadUsers(usersAfter);
  });
  const ban = row.querySelector(".ban");
  ban.setAttribute("aria-label", `Ban ${u.username}`);
  ban.disabled = u.disabled;
  ban.addEventListener("click", async () => {
    const r = await api("POST", `/v1/users/${u.id}/ban`);
    if (r.status !== 204) return show($("users-error"), explain(r));
    notice(`${u.username} is banned: their next request is refused, every sign-in of theirs has ended, and they cannot sign in again.`);
    loadUsers(usersAfter);
  });
  return row;
}

$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  loadUsers(0);
});
$("users-next").addEventListener("click", () => usersNext !== null && loadUsers(usersNext));
$("users-first").addEventListener("click", () => loadUsers(0));

// ---------------------------------------------------------------- start

window.addEventListener("hashchange", route);
document.addEventListener("visibilitychange", () => { if (!document.hidden && me) check(); });

(async () => {
  const r = await whoami();
  if (r.status === 200 && mode === "token") {
    scheduleRenewal(Math.max(1, me.exp - (Date.now() / 1000 + clockOffset)));
  }
  route();
})();
