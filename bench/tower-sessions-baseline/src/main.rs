//! The baseline for passcard's session mode: what a Rust user would build
//! instead, with axum, tower-sessions and its Redis store (fred), and the
//! users in SQLite through sqlx, as axum-login does. It does per request
//! what passcard's session mode does: read the session from Redis, then
//! read its user from SQLite (so a role change or a ban shows at the next
//! request).
//!
//! Set up as tower-sessions' documentation suggests, and in its cheapest
//! configuration: a read-only request writes nothing to Redis (so, unlike
//! passcard, the idle expiry does not slide on reads). Login takes no
//! password: only `GET /me` is measured.
//!
//! Environment: `BIND` (default 127.0.0.1:0; the bound address is printed
//! as `listening on ADDR`), `REDIS_URL` (default redis://127.0.0.1:6379),
//! `DATABASE_URL` (default sqlite://tower-sessions-baseline.db), and two
//! settings passcard tuned on itself, so the baseline can be run either as
//! documented or tuned the same way: `REDIS_CONNECTIONS` (default 6, as in
//! tower-sessions-redis-store's example) and `SQLITE_PING` (default 1:
//! sqlx's default ping at every check-out; 0 turns it off).
//!
//! Used by `scripts/sessions-vs-tower.sh`; not part of passcard.

use std::str::FromStr as _;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{Builder, ClientLike as _, Config, Pool};

const USER: &str = "user";

#[derive(Deserialize)]
struct Login {
    username: String,
}

#[derive(Serialize)]
struct Me {
    sub: String,
    username: String,
    role: String,
}

enum Failure {
    Unauthorized,
    Internal(String),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED.into_response(),
            Self::Internal(e) => {
                eprintln!("internal error: {e}");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(format!("sqlite: {e}"))
    }
}

impl From<tower_sessions::session::Error> for Failure {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Internal(format!("session: {e}"))
    }
}

/// Creates the user if missing, and a new session for it.
async fn login(
    State(db): State<SqlitePool>,
    session: Session,
    Json(body): Json<Login>,
) -> Result<Json<Me>, Failure> {
    let (id, username, role): (i64, String, String) = sqlx::query_as(
        "INSERT INTO users (username, role) VALUES (?1, 'user') \
         ON CONFLICT(username) DO UPDATE SET username = excluded.username \
         RETURNING id, username, role",
    )
    .bind(body.username)
    .fetch_one(&db)
    .await?;
    // A new id at login (session fixation), as tower-sessions advises.
    session.cycle_id().await?;
    session.insert(USER, id).await?;
    Ok(Json(Me {
        sub: id.to_string(),
        username,
        role,
    }))
}

/// The session's user, read from SQLite: one Redis GET, one SQL query.
async fn me(State(db): State<SqlitePool>, session: Session) -> Result<Json<Me>, Failure> {
    let Some(id) = session.get::<i64>(USER).await? else {
        return Err(Failure::Unauthorized);
    };
    let user: Option<(i64, String, String)> =
        sqlx::query_as("SELECT id, username, role FROM users WHERE id = ?1 AND banned = 0")
            .bind(id)
            .fetch_optional(&db)
            .await?;
    let (id, username, role) = user.ok_or(Failure::Unauthorized)?;
    Ok(Json(Me {
        sub: id.to_string(),
        username,
        role,
    }))
}

/// Deletes the session and its cookie.
async fn logout(session: Session) -> Result<StatusCode, Failure> {
    session.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let bind = var("BIND", "127.0.0.1:0");
    let redis_url = var("REDIS_URL", "redis://127.0.0.1:6379");
    let database_url = var("DATABASE_URL", "sqlite://tower-sessions-baseline.db");

    let redis_connections: usize = var("REDIS_CONNECTIONS", "6").parse()?;
    let sqlite_ping = var("SQLITE_PING", "1") != "0";

    let db = SqlitePoolOptions::new()
        .max_connections(4)
        .test_before_acquire(sqlite_ping)
        .connect_with(
            SqliteConnectOptions::from_str(&database_url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal),
        )
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, \
         username TEXT NOT NULL UNIQUE, role TEXT NOT NULL, banned INTEGER NOT NULL DEFAULT 0)",
    )
    .execute(&db)
    .await?;

    // A pool of fred clients, as in tower-sessions-redis-store's example.
    let pool: Pool =
        Builder::from_config(Config::from_url(&redis_url)?).build_pool(redis_connections)?;
    let connection = pool.init().await?;

    let sessions = SessionManagerLayer::new(RedisStore::new(pool.clone()))
        .with_name("sid")
        .with_expiry(Expiry::OnInactivity(Duration::minutes(30)))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(false);
    let app = Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/healthz", get(|| async { "ok" }))
        .layer(sessions)
        .with_state(db);

    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    pool.quit().await?;
    connection.await??;
    Ok(())
}
