use std::fmt;
use std::sync::Arc;

/// What went wrong with one record (or with the whole input).
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// Reading failed (including a truncated or corrupt gzip stream). Ends the input.
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    /// The record is not valid JSON (including nesting deeper than the parser allows).
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The record is not valid UTF-8.
    #[error("invalid UTF-8 at byte {valid_up_to} of the record")]
    InvalidUtf8 { valid_up_to: usize },
    /// The record is longer than the configured cap; it was skipped.
    #[error("record longer than the {limit}-byte limit; skipped")]
    TooLong { limit: usize },
    /// The input ended in the middle of a record.
    #[error("input ends inside a record: {0}")]
    Truncated(String),
    /// The record parsed but is not what the format requires.
    #[error("{0}")]
    Invalid(String),
}

/// A decoding problem, naming the input and the position in it.
#[derive(Debug, thiserror::Error)]
pub struct DecodeError {
    /// The path as given, `-` for stdin, or a live source name.
    pub file: Arc<str>,
    /// 1-based line where the record starts.
    pub line: Option<u64>,
    /// Byte offset of the record in the (decompressed) input.
    pub offset: Option<u64>,
    /// 0-based index within a JSON array or list.
    pub index: Option<u64>,
    #[source]
    pub kind: ErrorKind,
}

impl DecodeError {
    pub fn new(file: &Arc<str>, kind: ErrorKind) -> DecodeError {
        DecodeError {
            file: file.clone(),
            line: None,
            offset: None,
            index: None,
            kind,
        }
    }

    pub(crate) fn at(mut self, line: Option<u64>, offset: Option<u64>, index: Option<u64>) -> Self {
        self.line = line;
        self.offset = offset;
        self.index = index;
        self
    }

    /// True when the input cannot be read further (the iterator ends after it).
    pub fn is_fatal(&self) -> bool {
        matches!(self.kind, ErrorKind::Io(_) | ErrorKind::Truncated(_))
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " (byte {offset})")?;
        }
        if let Some(index) = self.index {
            write!(f, " [item {index}]")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// A mapping file could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("{path}: {error}")]
    Io {
        path: String,
        #[source]
        error: std::io::Error,
    },
    #[error("{path}: {error}")]
    Parse { path: String, error: String },
}
