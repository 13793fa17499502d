use std::io::{self, BufWriter, Write};

use contraband_engine::Alert;
use contraband_event::json_writer;
use serde_json::Value;

use crate::Sink;

type ToValue = fn(&Alert) -> serde_json::Result<Value>;

/// One JSON document per line: the alert itself, or whichever shape
/// `to_value` makes of it.
pub struct JsonLines {
    out: BufWriter<Box<dyn Write + Send>>,
    to_value: Option<ToValue>,
    text: AlertText,
}

impl JsonLines {
    /// Each alert as it serializes, written straight out (an alert's raw
    /// record is kept on one line, see `RawEvent::of`).
    pub fn alerts(out: Box<dyn Write + Send>) -> JsonLines {
        JsonLines {
            out: crate::buffered(out),
            to_value: None,
            text: AlertText::default(),
        }
    }

    /// Each alert in another shape (OCSF, Falco), built as a JSON value.
    pub fn shaped(out: Box<dyn Write + Send>, to_value: ToValue) -> JsonLines {
        JsonLines {
            out: crate::buffered(out),
            to_value: Some(to_value),
            text: AlertText::default(),
        }
    }
}

impl Sink for JsonLines {
    fn write(&mut self, alert: &Alert) -> io::Result<()> {
        match self.to_value {
            Some(to_value) => {
                serde_json::to_writer(&mut self.out, &to_value(alert)?)?;
                self.out.write_all(b"\n")
            }
            None => self.text.write(&mut self.out, b"", alert, b"\n"),
        }
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
    text: AlertText,
}

impl JsonArray {
    pub fn new(out: Box<dyn Write + Send>) -> JsonArray {
        JsonArray {
            out: crate::buffered(out),
            written: 0,
            text: AlertText::default(),
        }
    }
}

impl Sink for JsonArray {
    fn write(&mut self, alert: &Alert) -> io::Result<()> {
        let before = if self.written == 0 { b"[\n" } else { b",\n" };
        self.text.write(&mut self.out, before, alert, b"")?;
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

/// An alert's JSON text, made in a buffer kept from one alert to the next
/// and written out whole: an alert that fails to serialize writes nothing.
/// `json_writer` writes what serde_json would, in about half the
/// instructions.
#[derive(Default)]
struct AlertText(Vec<u8>);

impl AlertText {
    /// Writes `alert` to `out` as JSON, between `before` and `after`.
    fn write(
        &mut self,
        out: &mut impl Write,
        before: &[u8],
        alert: &Alert,
        after: &[u8],
    ) -> io::Result<()> {
        self.0.clear();
        self.0.extend_from_slice(before);
        json_writer::append(&mut self.0, alert)?;
        self.0.extend_from_slice(after);
        out.write_all(&self.0)
    }
}
