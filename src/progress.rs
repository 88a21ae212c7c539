//! Progress output, and the only module that touches indicatif: bars on a
//! terminal, plain log lines otherwise, nothing with `--quiet`. Colour (bold
//! names) only on a terminal and never when `NO_COLOR` is set.
//!
//! Each phase and each finished table is also a `-v` log line
//! ([`crate::logging`]), with how long the phase before it took.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
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

/// Whether output may be coloured: stderr is a terminal and `NO_COLOR` is
/// unset or empty (<https://no-color.org>).
pub fn colours_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The bars on screen, if any, so that log lines can be written above them.
static BARS_ON_SCREEN: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Writes `bytes` to stderr, hiding the progress bars (if any) meanwhile.
pub fn write_above_bars(bytes: &[u8]) -> std::io::Result<()> {
    let bars = BARS_ON_SCREEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match bars {
        Some(multi) => multi.suspend(|| std::io::stderr().write_all(bytes)),
        None => std::io::stderr().write_all(bytes),
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
    /// The phase under way and when it started, for the `-v` log.
    phase: Mutex<Option<(String, Instant)>>,
}

const LINE_INTERVAL: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new(mode: ProgressMode, estimates: Vec<u64>) -> Progress {
        let multi = MultiProgress::with_draw_target(match mode {
            ProgressMode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        if mode == ProgressMode::Bars {
            *BARS_ON_SCREEN.lock().unwrap_or_else(|e| e.into_inner()) = Some(multi.clone());
        }
        let total: u64 = estimates.iter().sum();
        let overall = multi.add(ProgressBar::new(total.max(1)));
        let prefix = if colours_wanted() {
            "{prefix:>24.bold}"
        } else {
            "{prefix:>24}"
        };
        overall.set_style(
            ProgressStyle::with_template(&format!(
                "{prefix} [{{bar:30}}] {{human_pos}}/~{{human_len}} rows  {{rate}}  ETA {{eta}}  {{msg}}"
            ))
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
            phase: Mutex::new(None),
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
        tracing::debug!("copied {name}: {rows} rows in {seconds:.3} s");
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
        self.end_phase();
        tracing::debug!("stage: {msg}");
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((msg.to_owned(), Instant::now()));
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

    /// Logs how long the phase under way took (`-v`).
    fn end_phase(&self) {
        if let Some((msg, started)) = self.phase.lock().unwrap_or_else(|e| e.into_inner()).take() {
            tracing::debug!(
                "stage done: {msg} ({:.3} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }

    pub fn finish(&self) {
        self.end_phase();
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
        if self.mode == ProgressMode::Bars {
            *BARS_ON_SCREEN.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
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
