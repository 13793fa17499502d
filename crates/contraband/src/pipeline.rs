//! The stages after detection that `hunt` and `watch` share: correlation,
//! dedup, the level filter and the sink.
//!
//! Both commands feed hits and alerts in one ordered view to a [`Collector`];
//! only where events come from differs.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use contraband_engine::{Alert, Correlator, Deduper, Engine, Level};
use contraband_event::Event;
use contraband_sinks::{Format, Sink, TableOptions};

use crate::cli::OutputArgs;

/// Repeats of one finding within this much event time are folded.
const DEDUP_WINDOW_NS: i64 = 3_600 * 1_000_000_000;
/// Dedup keys remembered at most (bounded memory on endless input).
const DEDUP_CAPACITY: usize = 100_000;

/// Open the sink `args` ask for: the format (table on a terminal, else
/// JSON Lines) writing to the output file or standard output.
pub fn open_sink(args: &OutputArgs) -> Result<Box<dyn Sink>> {
    let stdout_is_tty = std::io::stdout().is_terminal() && args.output.is_none();
    let format = match args.format.as_deref() {
        Some(f) => f.parse::<Format>().map_err(anyhow::Error::msg)?,
        None if stdout_is_tty => Format::Table,
        None => Format::Jsonl,
    };
    let out: Box<dyn Write + Send> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create output file {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let table = TableOptions {
        color: stdout_is_tty && std::env::var_os("NO_COLOR").is_none(),
        width: terminal_width(),
    };
    Ok(contraband_sinks::sink(format, out, table))
}

/// Field mappings from a directory (`--mapping`), over the built-in ones.
pub fn load_mappings(
    dir: &std::path::Path,
) -> Result<std::sync::Arc<contraband_sources::Mappings>> {
    let mappings = contraband_sources::Mappings::load_dir(dir)
        .with_context(|| format!("cannot load mappings from {}", dir.display()))?;
    Ok(std::sync::Arc::new(mappings))
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(160)
}

/// Correlation, dedup, level filter and sink, fed in event order.
pub struct Collector<'e> {
    correlator: Correlator<'e>,
    correlated: Vec<Alert>,
    dedup: Option<Deduper>,
    min_level: Level,
    sink: Box<dyn Sink>,
}

impl<'e> Collector<'e> {
    pub fn new(engine: &'e Engine, args: &OutputArgs) -> Result<Collector<'e>> {
        Ok(Collector {
            correlator: engine.correlator(),
            correlated: Vec::new(),
            dedup: (!args.no_dedup).then(|| Deduper::new(DEDUP_WINDOW_NS, DEDUP_CAPACITY)),
            min_level: args.min_level.parse().map_err(anyhow::Error::msg)?,
            sink: open_sink(args)?,
        })
    }

    /// Count a match of `rule` on `event` for the correlation rules; the
    /// alerts of correlations it completes.
    pub fn correlate(&mut self, rule: usize, event: &Event) -> Vec<Alert> {
        self.correlator.feed(rule, event, &mut self.correlated);
        std::mem::take(&mut self.correlated)
    }

    /// True when `alert` is to be written: at or above `--min-level` and not
    /// a repeat folded by dedup.
    pub fn admit(&mut self, alert: &Alert) -> bool {
        if alert.rule.level < self.min_level {
            return false;
        }
        match self.dedup.as_mut() {
            Some(d) => d.admit(&alert.dedup_key, alert.time),
            None => true,
        }
    }

    pub fn write(&mut self, alert: &Alert) -> Result<()> {
        self.sink.write(alert).context("cannot write alert")
    }

    /// Push written alerts out now (live output).
    pub fn flush(&mut self) -> Result<()> {
        self.sink.flush().context("cannot write alert")
    }

    pub fn finish(&mut self) -> Result<()> {
        self.sink.finish().context("cannot finish output")
    }

    /// Alerts folded into an earlier one.
    pub fn suppressed(&self) -> u64 {
        self.dedup.as_ref().map_or(0, Deduper::suppressed)
    }
}
