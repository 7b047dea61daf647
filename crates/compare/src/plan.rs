//! What a run measures: the modes (tokens or sessions, per store), the
//! stores given, and the instances each mode starts.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::proxy::{self, Proxy};
use crate::{Instance, Options};

/// Authentication model of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Stateless access tokens and rotating refresh tokens.
    Token,
    /// Server-side sessions in a cookie.
    Session,
}

/// Where a mode keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
    Redis,
}

/// One column of the table.
pub(crate) struct Plan {
    pub(crate) label: String,
    pub(crate) mode: Mode,
    pub(crate) backend: Backend,
}

/// A network store: its URL, and a proxy in front of it for the outage, or
/// why there cannot be one.
pub(crate) struct NetStore {
    pub(crate) url: String,
    pub(crate) proxy: Result<(Proxy, String), String>,
}

/// The network stores given.
pub(crate) struct Stores {
    postgres: Option<NetStore>,
    redis: Option<NetStore>,
}

impl Stores {
    /// Checks that the stores given answer, and puts proxies in front.
    pub(crate) async fn open(options: &Options) -> anyhow::Result<Self> {
        Ok(Self {
            postgres: match &options.postgres {
                Some(url) => Some(proxied(url, 5432).await.context("--postgres")?),
                None => None,
            },
            redis: match &options.redis {
                Some(url) => Some(proxied(url, 6379).await.context("--redis")?),
                None => None,
            },
        })
    }

    /// The network store a backend uses (None for SQLite).
    pub(crate) fn of(&self, backend: Backend) -> Option<&NetStore> {
        match backend {
            Backend::Sqlite => None,
            Backend::Postgres => self.postgres.as_ref(),
            Backend::Redis => self.redis.as_ref(),
        }
    }

    /// The modes to measure: both models on SQLite, and on each store given.
    pub(crate) fn plans(&self) -> Vec<Plan> {
        let plan = |label: &str, mode, backend| Plan {
            label: label.to_owned(),
            mode,
            backend,
        };
        let mut plans = vec![
            plan("tokens · SQLite", Mode::Token, Backend::Sqlite),
            plan("sessions · SQLite", Mode::Session, Backend::Sqlite),
        ];
        if self.postgres.is_some() {
            plans.push(plan("tokens · PostgreSQL", Mode::Token, Backend::Postgres));
            plans.push(plan(
                "sessions · PostgreSQL",
                Mode::Session,
                Backend::Postgres,
            ));
        }
        if self.redis.is_some() {
            plans.push(plan("sessions · Redis", Mode::Session, Backend::Redis));
        }
        plans
    }
}

/// The store at `url`, which must answer; a proxy in front of it where
/// the URL allows one.
async fn proxied(url: &str, default_port: u16) -> anyhow::Result<NetStore> {
    let parsed = reqwest::Url::parse(url).context("not a URL")?;
    let proxy = match proxy::unproxyable(&parsed) {
        Some(why) => Err(why.to_owned()),
        None => {
            let proxy = Proxy::start(proxy::target(&parsed, default_port).await?).await?;
            let through = proxy::through(url, proxy.addr)?;
            Ok((proxy, through))
        }
    };
    Ok(NetStore {
        url: url.to_owned(),
        proxy,
    })
}

/// Which store an instance uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Uses {
    /// The mode's store, directly (the measured instances).
    Shared,
    /// The mode's store through its proxy (the instance the outage hits).
    SharedViaProxy,
    /// A SQLite file of its own.
    Own,
}

/// Where one mode's instances keep their files.
pub(crate) struct Place<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) key_file: &'a Path,
    /// Unique per run and mode, for the Redis key prefix.
    pub(crate) tag: String,
}

/// An instance of `plan` named `name`.
pub(crate) fn instance(
    stores: &Stores,
    plan: &Plan,
    place: &Place<'_>,
    name: &str,
    uses: Uses,
) -> Instance {
    let mut instance = Instance {
        mode: plan.mode,
        data_dir: place.dir.join(name),
        database_url: None,
        session_store: None,
        session_prefix: format!("passcard-compare-{}", place.tag),
        key_file: PathBuf::from(place.key_file),
    };
    if uses != Uses::Own {
        let url = stores.of(plan.backend).map(|s| match (uses, &s.proxy) {
            (Uses::SharedViaProxy, Ok((_, through))) => through.clone(),
            _ => s.url.clone(),
        });
        let (database, sessions) = match plan.backend {
            Backend::Postgres => (url, None),
            Backend::Sqlite | Backend::Redis => (None, url),
        };
        instance.database_url =
            Some(database.unwrap_or_else(|| format!("sqlite://{}/shared.db", place.dir.display())));
        instance.session_store = sessions;
    }
    instance
}
