//! Progress output, and the only module that touches indicatif: bars on a
//! terminal, plain log lines otherwise, nothing with `--quiet`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Bars,
    Lines,
    Quiet,
}

impl ProgressMode {
    /// Bars when stderr is a terminal, lines otherwise; quiet when asked.
    pub fn detect(quiet: bool) -> ProgressMode {
        if quiet {
            ProgressMode::Quiet
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bars
        } else {
            ProgressMode::Lines
        }
    }
}

struct LineState {
    last: Instant,
    rows: HashMap<usize, u64>,
}

pub struct Progress {
    mode: ProgressMode,
    multi: MultiProgress,
    overall: ProgressBar,
    bars: Mutex<HashMap<usize, ProgressBar>>,
    /// Estimated rows per table, for bar lengths and percentages.
    estimates: Vec<u64>,
    lines: Mutex<LineState>,
}

const LINE_INTERVAL: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new(mode: ProgressMode, estimates: Vec<u64>) -> Progress {
        let multi = MultiProgress::with_draw_target(match mode {
            ProgressMode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        let total: u64 = estimates.iter().sum();
        let overall = multi.add(ProgressBar::new(total.max(1)));
        overall.set_style(
            ProgressStyle::with_template(
                "{prefix:>24.bold} [{bar:30}] {human_pos}/~{human_len} rows  {rate}  ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", rate)
            .progress_chars("=> "),
        );
        overall.set_prefix("all tables");
        Progress {
            mode,
            multi,
            overall,
            bars: Mutex::new(HashMap::new()),
            estimates,
            lines: Mutex::new(LineState {
                last: Instant::now(),
                rows: HashMap::new(),
            }),
        }
    }

    /// A progress object that shows nothing (tests, internal runs).
    pub fn hidden() -> Progress {
        Progress::new(ProgressMode::Quiet, Vec::new())
    }

    fn log(&self, msg: &str) {
        if self.mode == ProgressMode::Lines {
            eprintln!("pg2sqlite: {msg}");
        }
    }

    pub fn rows_written(&self, table: usize, name: &str, n: u64) {
        match self.mode {
            ProgressMode::Quiet => {}
            ProgressMode::Bars => {
                self.overall.inc(n);
                let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
                let bar = bars.entry(table).or_insert_with(|| {
                    let est = self.estimates.get(table).copied().unwrap_or(0).max(1);
                    let bar = self
                        .multi
                        .insert_before(&self.overall, ProgressBar::new(est));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix:>24} [{bar:30}] {human_pos}/~{human_len} rows  {rate}  ETA {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .with_key("rate", rate)
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(truncate(name, 24));
                    bar
                });
                bar.inc(n);
            }
            ProgressMode::Lines => {
                let mut st = self.lines.lock().unwrap_or_else(|e| e.into_inner());
                *st.rows.entry(table).or_default() += n;
                if st.last.elapsed() >= LINE_INTERVAL {
                    st.last = Instant::now();
                    let rows = st.rows.get(&table).copied().unwrap_or(0);
                    let est = self.estimates.get(table).copied().unwrap_or(0);
                    drop(st);
                    if est > 0 {
                        self.log(&format!("{name}: {rows} of ~{est} rows"));
                    } else {
                        self.log(&format!("{name}: {rows} rows"));
                    }
                }
            }
        }
    }

    pub fn table_done(&self, table: usize, name: &str, rows: u64, seconds: f64) {
        match self.mode {
            ProgressMode::Quiet => {}
            ProgressMode::Bars => {
                if let Some(bar) = self
                    .bars
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&table)
                {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                let _ = self
                    .multi
                    .println(format!("  done  {name}: {rows} rows in {seconds:.1}s"));
            }
            ProgressMode::Lines => self.log(&format!("{name}: done, {rows} rows in {seconds:.1}s")),
        }
    }

    /// A step with no row count (creating indexes, verifying, ...).
    pub fn phase(&self, msg: &str) {
        match self.mode {
            ProgressMode::Quiet => {}
            ProgressMode::Bars => self.overall.set_message(msg.to_owned()),
            ProgressMode::Lines => self.log(msg),
        }
    }

    /// A message the user should see even with bars on screen.
    pub fn note(&self, msg: &str) {
        match self.mode {
            ProgressMode::Quiet => {}
            ProgressMode::Bars => {
                let _ = self.multi.println(format!("pg2sqlite: {msg}"));
            }
            ProgressMode::Lines => self.log(msg),
        }
    }

    pub fn finish(&self) {
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// Rows per second without the fraction indicatif would print.
fn rate(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.0} rows/s", state.per_sec());
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
