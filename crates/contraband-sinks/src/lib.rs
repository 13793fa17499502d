//! Alert sinks: every output format is a view of [`Alert`].
//!
//! A sink is written to one alert at a time and finished once, so output
//! streams (a `json` array is opened on the first alert and closed at the end).

mod csv_sink;
mod falco;
mod json;
mod ocsf;
mod table;

use std::io::{self, BufWriter, Write};
use std::str::FromStr;

use contraband_engine::Alert;

pub use falco::falco_priority;
pub use table::TableOptions;

/// Something alerts are written to.
pub trait Sink: Send {
    fn write(&mut self, alert: &Alert) -> io::Result<()>;
    /// Push what was written so far to the output without closing it
    /// (live output: an alert must not sit in a buffer).
    fn flush(&mut self) -> io::Result<()>;
    /// Flush and close the output; called once after the last alert.
    fn finish(&mut self) -> io::Result<()>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Jsonl,
    Json,
    Csv,
    Ocsf,
    Falco,
}

impl Format {
    pub const ALL: [&'static str; 6] = ["table", "jsonl", "json", "csv", "ocsf", "falco"];
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Ok(match s {
            "table" => Format::Table,
            "jsonl" => Format::Jsonl,
            "json" => Format::Json,
            "csv" => Format::Csv,
            "ocsf" => Format::Ocsf,
            "falco" => Format::Falco,
            _ => {
                return Err(format!(
                    "unknown format {s:?} (expected one of {})",
                    Format::ALL.join(", ")
                ))
            }
        })
    }
}

/// The buffer in front of a sink's output. Standard output is line-buffered
/// behind it, so each full buffer costs about two `write` calls: at the
/// default 8 KiB a hunt writing 82 MB of JSON Lines made ~20,000 of them.
fn buffered(out: Box<dyn Write + Send>) -> BufWriter<Box<dyn Write + Send>> {
    BufWriter::with_capacity(64 * 1024, out)
}

/// Build the sink for `format` writing to `out`.
pub fn sink(format: Format, out: Box<dyn Write + Send>, table: TableOptions) -> Box<dyn Sink> {
    match format {
        Format::Table => Box::new(table::TableSink::new(out, table)),
        Format::Jsonl => Box::new(json::JsonLines::alerts(out)),
        Format::Json => Box::new(json::JsonArray::new(out)),
        Format::Csv => Box::new(csv_sink::CsvSink::new(out)),
        Format::Ocsf => Box::new(json::JsonLines::shaped(out, |a| {
            Ok(ocsf::detection_finding(a))
        })),
        Format::Falco => Box::new(json::JsonLines::shaped(out, |a| Ok(falco::falco_event(a)))),
    }
}
