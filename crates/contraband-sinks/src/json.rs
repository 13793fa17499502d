use std::io::{self, BufWriter, Write};

use contraband_engine::Alert;
use serde_json::Value;

use crate::Sink;

type ToValue = fn(&Alert) -> serde_json::Result<Value>;

/// One JSON document per line: the alert itself, or whichever shape
/// `to_value` makes of it.
pub struct JsonLines {
    out: BufWriter<Box<dyn Write + Send>>,
    to_value: Option<ToValue>,
}

impl JsonLines {
    /// Each alert as it serializes, written straight out (an alert's raw
    /// record is kept on one line, see `RawEvent::of`).
    pub fn alerts(out: Box<dyn Write + Send>) -> JsonLines {
        JsonLines {
            out: crate::buffered(out),
            to_value: None,
        }
    }

    /// Each alert in another shape (OCSF, Falco), built as a JSON value.
    pub fn shaped(out: Box<dyn Write + Send>, to_value: ToValue) -> JsonLines {
        JsonLines {
            out: crate::buffered(out),
            to_value: Some(to_value),
        }
    }
}

impl Sink for JsonLines {
    fn write(&mut self, alert: &Alert) -> io::Result<()> {
        match self.to_value {
            Some(to_value) => serde_json::to_writer(&mut self.out, &to_value(alert)?)?,
            None => serde_json::to_writer(&mut self.out, alert)?,
        }
        self.out.write_all(b"\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A single JSON array, streamed: `[` before the first alert, `]` at the end.
pub struct JsonArray {
    out: BufWriter<Box<dyn Write + Send>>,
    written: usize,
}

impl JsonArray {
    pub fn new(out: Box<dyn Write + Send>) -> JsonArray {
        JsonArray {
            out: crate::buffered(out),
            written: 0,
        }
    }
}

impl Sink for JsonArray {
    fn write(&mut self, alert: &Alert) -> io::Result<()> {
        self.out
            .write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
        serde_json::to_writer(&mut self.out, alert)?;
        self.written += 1;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out
            .write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
        self.out.flush()
    }
}
