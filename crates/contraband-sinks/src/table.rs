//! A human-readable, streamed table: one row per alert as it arrives, so a
//! long hunt or a live watch shows findings immediately.

use std::io::{self, BufWriter, Write};

use contraband_engine::{Alert, Level};
use serde_json::Value;

use crate::Sink;

#[derive(Clone, Copy, Debug)]
pub struct TableOptions {
    /// ANSI colour for levels (off when `NO_COLOR` is set or not a terminal).
    pub color: bool,
    /// Total row width to fit; the detail column takes what is left.
    pub width: usize,
}

impl Default for TableOptions {
    fn default() -> TableOptions {
        TableOptions {
            color: false,
            width: 160,
        }
    }
}

const TIME_W: usize = 20;
const LEVEL_W: usize = 8;
const RULE_W: usize = 44;
const CONTAINER_W: usize = 16;

pub struct TableSink {
    out: BufWriter<Box<dyn Write + Send>>,
    options: TableOptions,
    header_written: bool,
}

impl TableSink {
    pub fn new(out: Box<dyn Write + Send>, options: TableOptions) -> TableSink {
        TableSink {
            out: crate::buffered(out),
            options,
            header_written: false,
        }
    }

    fn detail_width(&self) -> usize {
        let fixed = TIME_W + LEVEL_W + RULE_W + CONTAINER_W + 4;
        self.options.width.saturating_sub(fixed).max(20)
    }
}

impl Sink for TableSink {
    fn write(&mut self, a: &Alert) -> io::Result<()> {
        if !self.header_written {
            writeln!(
                self.out,
                "{:<TIME_W$} {:<LEVEL_W$} {:<RULE_W$} {:<CONTAINER_W$} DETAIL",
                "TIME", "LEVEL", "RULE", "CONTAINER"
            )?;
            self.header_written = true;
        }
        let time = a.time.to_rfc3339();
        let time = clip(&time, TIME_W);
        let level = a.rule.level.as_str();
        let level_cell = format!("{:<LEVEL_W$}", level);
        let level_cell = if self.options.color {
            format!("{}{}\x1b[0m", color(a.rule.level), level_cell)
        } else {
            level_cell
        };
        let container = a
            .container
            .as_ref()
            .and_then(|c| {
                c.name
                    .clone()
                    .or_else(|| c.id.as_ref().map(|id| id.chars().take(12).collect()))
            })
            .unwrap_or_else(|| "-".into());
        let detail = detail(a);
        writeln!(
            self.out,
            "{:<TIME_W$} {} {:<RULE_W$} {:<CONTAINER_W$} {}",
            time,
            level_cell,
            clip(&a.rule.title, RULE_W),
            clip(&container, CONTAINER_W),
            clip(&detail, self.detail_width()),
        )?;
        // Live output: a row is useless if it sits in a buffer.
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// What most explains the alert: the command line, else the matched fields.
fn detail(a: &Alert) -> String {
    if let Some(cmd) = a.process.as_ref().and_then(|p| p.command_line.as_deref()) {
        return sanitize(cmd);
    }
    let parts: Vec<String> = a
        .matched
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    sanitize(&parts.join(" "))
}

/// Telemetry is attacker-controlled: never let it write control sequences
/// to the analyst's terminal.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn clip(s: &str, width: usize) -> String {
    let s = sanitize(s);
    if s.chars().count() <= width {
        return s;
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn color(level: Level) -> &'static str {
    match level {
        Level::Critical => "\x1b[1;37;41m",
        Level::High => "\x1b[1;31m",
        Level::Medium => "\x1b[33m",
        Level::Low => "\x1b[36m",
        Level::Informational => "\x1b[2m",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(sanitize("a\x1b[31mb\nc"), "a [31mb c");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
