//! The table (Markdown) and the chart (SVG) of a `compare` run.

use super::{Options, Row};
use crate::outage::Tried;

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "not within 10 s".to_owned(), |v| format!("{v:.1} ms"))
}

pub(crate) fn markdown(rows: &[Row], args: &Options) -> String {
    let mut t = format!(
        "| | {} |\n| --- |{}\n",
        rows.iter()
            .map(|r| r.mode.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        " --- |".repeat(rows.len())
    );
    let mut line = |name: &str, f: &dyn Fn(&Row) -> String| {
        t.push_str(&format!(
            "| {name} | {} |\n",
            rows.iter().map(f).collect::<Vec<_>>().join(" | ")
        ));
    };
    line("store queries per authenticated request", &|r| {
        format!("{:.2}", r.store_queries_per_request)
    });
    line("GET /v1/me throughput", &|r| {
        format!("{:.0} req/s", r.requests_per_second)
    });
    line("GET /v1/me latency p50 / p99", &|r| {
        format!("{:.2} / {:.2} ms", r.p50_ms, r.p99_ms)
    });
    line(
        "log in on one instance, call another sharing the store",
        &|r| yes(r.works_across_servers_shared_store),
    );
    line("... calling an instance with a store of its own", &|r| {
        yes(r.works_across_servers_no_shared_store)
    });
    line("logout seen by the other instance after", &|r| {
        ms(r.logout_seen_by_other_instance_ms)
    });
    line("role change enforced after", &|r| {
        format!("{} ({})", ms(r.role_change_ms), r.role_change_how)
    });
    line("store down: what each request gets", &|r| {
        let Some(o) = &r.store_outage else {
            return format!(
                "not measured: {}",
                r.store_outage_not_measured.as_deref().unwrap_or("?")
            );
        };
        let mut parts = vec![
            format!("GET /v1/me {}", tried(&o.me)),
            format!("login {}", tried(&o.login)),
        ];
        if let Some(refresh) = &o.refresh {
            parts.push(format!("refresh {}", tried(refresh)));
        }
        parts.push(format!("logout {}", tried(&o.logout)));
        parts.join(", ")
    });
    line(
        "store back: requests work again after",
        &|r| match &r.store_outage {
            // What would have been timed worked throughout.
            Some(o) if o.refresh.as_ref().map_or(o.me.works, |r| r.works) => {
                "n/a (worked during the outage)".to_owned()
            }
            Some(o) if o.restored => ms(o.recovered_ms),
            Some(_) => "n/a (pool closed: the instance restarts)".to_owned(),
            None => "not measured".to_owned(),
        },
    );
    t.push_str(&format!(
        "\nLoad: {} concurrent requests for {:?} per mode, loopback, built-in client; two instances per mode share the store.\n\
         Store down: a fourth instance reaches PostgreSQL or Redis through a loopback proxy (the measured instances connect directly) that compare stops, as a stopped server would be: its connections closed and new ones refused; then it listens again. SQLite has no server to stop, so its outage is that instance's connection pool closed. A request counts as working if it succeeds within 7 s; a failed one shows its status and how long it took.\n",
        args.concurrency, args.duration
    ));
    t
}

/// `✓`, or `✗` with the answer and how long it took.
fn tried(t: &Tried) -> String {
    if t.works {
        return "✓".to_owned();
    }
    let took = if t.ms < 1000.0 {
        format!("{:.0} ms", t.ms)
    } else {
        format!("{:.1} s", t.ms / 1000.0)
    };
    match t.status {
        Some(status) => format!("✗ ({status} in {took})"),
        None => format!("✗ (no answer in {took})"),
    }
}

fn yes(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

/// Two bar charts: throughput and p99 latency per mode.
pub(crate) fn svg(rows: &[Row]) -> String {
    let (w, bar_h, gap, left) = (720.0, 22.0, 8.0, 190.0);
    let max_rps = rows
        .iter()
        .map(|r| r.requests_per_second)
        .fold(1.0, f64::max);
    let max_p99 = rows.iter().map(|r| r.p99_ms).fold(0.001, f64::max);
    #[allow(clippy::cast_precision_loss)]
    let n = rows.len() as f64;
    let section = n * (bar_h + gap) + 40.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{}" font-family="sans-serif" font-size="12">"#,
        section * 2.0 + 10.0
    );
    for (k, (title, max, value, unit)) in [
        (
            "GET /v1/me throughput (req/s)",
            max_rps,
            (|r: &Row| r.requests_per_second) as fn(&Row) -> f64,
            "req/s",
        ),
        (
            "GET /v1/me p99 latency (ms)",
            max_p99,
            |r: &Row| r.p99_ms,
            "ms",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        #[allow(clippy::cast_precision_loss)]
        let top = k as f64 * section;
        s.push_str(&format!(
            r#"<text x="10" y="{}" font-weight="bold">{title}</text>"#,
            top + 18.0
        ));
        for (i, r) in rows.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let y = top + 30.0 + i as f64 * (bar_h + gap);
            let len = (w - left - 90.0) * value(r) / max;
            let color = if r.mode.starts_with("tokens") {
                "#2b7bb9"
            } else {
                "#d9822b"
            };
            s.push_str(&format!(
                r#"<text x="10" y="{}">{}</text><rect x="{left}" y="{y}" width="{len:.1}" height="{bar_h}" fill="{color}"/><text x="{:.1}" y="{}">{:.1} {unit}</text>"#,
                y + 15.0,
                r.mode,
                left + len + 6.0,
                y + 15.0,
                value(r)
            ));
        }
    }
    s.push_str("</svg>\n");
    s
}
