//! A progress bar on a terminal; one line per step elsewhere (CI logs).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The steps of one mode, for the progress bar.
pub(crate) const STEPS: [&str; 7] = [
    "starting instances",
    "counting store queries",
    "load",
    "across servers",
    "logout propagation",
    "role change",
    "store outage",
];

pub(crate) struct Progress {
    bar: ProgressBar,
    mode: String,
}

impl Progress {
    pub(crate) fn new(modes: usize) -> Self {
        let bar = ProgressBar::new((modes * STEPS.len()) as u64);
        bar.set_style(
            ProgressStyle::with_template("{elapsed:>4} [{bar:32}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            mode: String::new(),
        }
    }

    pub(crate) fn mode(&mut self, label: &str) {
        label.clone_into(&mut self.mode);
    }

    pub(crate) fn step(&self, index: usize) {
        let msg = format!("{}: {}", self.mode, STEPS[index]);
        if self.bar.is_hidden() {
            eprintln!("{msg}");
        }
        self.bar.set_message(msg);
    }

    pub(crate) fn done_step(&self) {
        self.bar.inc(1);
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
