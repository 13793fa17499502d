//! Byte-level input: gzip detection, bounded line reading and splitting a
//! stream of JSON documents (JSON Lines, pretty-printed objects one after
//! another, or a top-level array) into records without holding more than one
//! record in memory.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

use crate::error::{DecodeError, ErrorKind};

/// One record cut from the input: a line, a JSON document or an array element.
#[derive(Debug, Clone)]
pub struct Record {
    /// Shared, so an event keeps it as its raw text without a copy.
    pub text: Arc<str>,
    /// 1-based line where the record starts.
    pub line: Option<u64>,
    /// Byte offset of the record's first byte.
    pub offset: Option<u64>,
    /// Index within a top-level JSON array.
    pub index: Option<u64>,
}

/// How many bytes are looked at to detect gzip and the format.
pub const PREFIX_LEN: usize = 64 * 1024;

/// Read up to `PREFIX_LEN` bytes, then return them with a reader that yields
/// the whole stream again (prefix first).
pub(crate) fn peek(
    mut reader: Box<dyn Read + Send>,
) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut prefix = Vec::with_capacity(4096);
    (&mut reader)
        .take(PREFIX_LEN as u64)
        .read_to_end(&mut prefix)?;
    let rest: Box<dyn Read + Send> = Box::new(io::Cursor::new(prefix.clone()).chain(reader));
    Ok((prefix, rest))
}

pub(crate) fn is_gzip(prefix: &[u8]) -> bool {
    prefix.starts_with(&[0x1f, 0x8b])
}

/// Wraps a reader in a gzip decoder (all members of a multi-member file).
pub(crate) fn gunzip(reader: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
    Box::new(flate2::read::MultiGzDecoder::new(reader))
}

/// `bytes` as text, or how many of them are valid UTF-8. Every record
/// passes through here, so the check is the vectorised one; only a failing
/// record takes the standard library's slower pass for the position.
fn utf8(bytes: &[u8]) -> Result<&str, usize> {
    simdutf8::basic::from_utf8(bytes)
        .or_else(|_| std::str::from_utf8(bytes).map_err(|e| e.valid_up_to()))
}

/// The record of `bytes`, read from `file` at `line` and `offset` (and
/// `index` within an array), or the error naming where its UTF-8 breaks.
fn record(
    file: &Arc<str>,
    bytes: &[u8],
    line: u64,
    offset: u64,
    index: Option<u64>,
) -> Result<Record, DecodeError> {
    match utf8(bytes) {
        Ok(text) => Ok(Record {
            text: Arc::from(text),
            line: Some(line),
            offset: Some(offset),
            index,
        }),
        Err(valid_up_to) => Err(
            DecodeError::new(file, ErrorKind::InvalidUtf8 { valid_up_to }).at(
                Some(line),
                Some(offset),
                index,
            ),
        ),
    }
}

/// Reads `\n`-terminated lines with a length cap: an overlong line is
/// reported and skipped while memory stays at the cap.
pub(crate) struct LineReader {
    inner: BufReader<Box<dyn Read + Send>>,
    file: Arc<str>,
    max: usize,
    line: u64,
    offset: u64,
    done: bool,
    buf: Vec<u8>,
}

impl LineReader {
    pub fn new(reader: Box<dyn Read + Send>, file: Arc<str>, max: usize) -> LineReader {
        LineReader {
            inner: BufReader::with_capacity(64 * 1024, reader),
            file,
            max,
            line: 0,
            offset: 0,
            done: false,
            buf: Vec::new(),
        }
    }
}

impl Iterator for LineReader {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            self.buf.clear();
            let start = self.offset;
            self.line += 1;
            let line = self.line;
            match self.buffered_line(line, start) {
                Some(Some(record)) => return Some(record),
                Some(None) => continue,
                None => {}
            }
            let mut too_long = false;
            let mut saw_any = false;
            loop {
                let chunk = match self.inner.fill_buf() {
                    Ok(c) => c,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.done = true;
                        return Some(Err(DecodeError::new(&self.file, ErrorKind::Io(e)).at(
                            Some(line),
                            Some(self.offset),
                            None,
                        )));
                    }
                };
                if chunk.is_empty() {
                    self.done = true;
                    break;
                }
                saw_any = true;
                let (take, end) = match memchr::memchr(b'\n', chunk) {
                    Some(i) => (i + 1, true),
                    None => (chunk.len(), false),
                };
                if !too_long {
                    let room = self.max.saturating_sub(self.buf.len());
                    let content = if end { take - 1 } else { take };
                    if content > room {
                        too_long = true;
                        self.buf.clear();
                        self.buf.shrink_to(64 * 1024);
                    } else {
                        self.buf.extend_from_slice(&chunk[..content]);
                    }
                }
                self.inner.consume(take);
                self.offset += take as u64;
                if end {
                    break;
                }
            }
            if !saw_any {
                return None;
            }
            if too_long {
                return Some(Err(DecodeError::new(
                    &self.file,
                    ErrorKind::TooLong { limit: self.max },
                )
                .at(Some(line), Some(start), None)));
            }
            let record = self.record_of(&self.buf, line, start);
            self.buf.shrink_to(64 * 1024);
            match record {
                Some(record) => return Some(record),
                None => continue,
            }
        }
    }
}

impl LineReader {
    /// The next line when the reader's buffer holds all of it (most do):
    /// the record is copied once, from there. `None` when it does not, or
    /// when the line is too long (the caller reads and reports it);
    /// `Some(None)` for a blank line.
    #[inline]
    fn buffered_line(
        &mut self,
        line: u64,
        start: u64,
    ) -> Option<Option<Result<Record, DecodeError>>> {
        let buffered = self.inner.buffer();
        let end = memchr::memchr(b'\n', buffered).filter(|&end| end <= self.max)?;
        let record = self.record_of(&buffered[..end], line, start);
        self.inner.consume(end + 1);
        self.offset += end as u64 + 1;
        Some(record)
    }

    /// The record of line `line` (starting at byte `start`), whose bytes
    /// are `text` without the line break; `None` for a blank line.
    fn record_of(&self, text: &[u8], line: u64, start: u64) -> Option<Result<Record, DecodeError>> {
        let mut text = text.strip_suffix(b"\r").unwrap_or(text);
        if start == 0 {
            // UTF-8 byte order mark
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        if text.iter().all(|b| b.is_ascii_whitespace()) {
            return None;
        }
        Some(record(&self.file, text, line, start, None))
    }
}

/// Splits a byte stream holding JSON documents one after another (any
/// whitespace between them) into one record per document; a top-level array
/// is split into one record per element. Tracks only brace depth and string
/// state, so it never recurses and never holds more than one record.
pub(crate) struct JsonSplitter {
    inner: BufReader<Box<dyn Read + Send>>,
    file: Arc<str>,
    max: usize,
    line: u64,
    offset: u64,
    done: bool,
    in_array: bool,
    index: u64,
}

impl JsonSplitter {
    pub fn new(reader: Box<dyn Read + Send>, file: Arc<str>, max: usize) -> JsonSplitter {
        JsonSplitter {
            inner: BufReader::with_capacity(64 * 1024, reader),
            file,
            max,
            line: 1,
            offset: 0,
            done: false,
            in_array: false,
            index: 0,
        }
    }

    fn err(&self, kind: ErrorKind, line: u64, offset: u64, index: Option<u64>) -> DecodeError {
        DecodeError::new(&self.file, kind).at(Some(line), Some(offset), index)
    }
}

impl Iterator for JsonSplitter {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf: Vec<u8> = Vec::new();
        let mut started = false;
        let mut scalar = false;
        let mut depth: u64 = 0;
        let mut in_str = false;
        let mut esc = false;
        let mut too_long = false;
        let (mut rec_line, mut rec_offset) = (self.line, self.offset);
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    let (l, o) = (self.line, self.offset);
                    return Some(Err(self.err(ErrorKind::Io(e), l, o, None)));
                }
            };
            if chunk.is_empty() {
                self.done = true;
                if started && scalar && !in_str {
                    break;
                }
                if started {
                    let idx = self.in_array.then_some(self.index);
                    return Some(Err(self.err(
                        ErrorKind::Truncated(format!(
                            "JSON value starting at line {rec_line} is not closed"
                        )),
                        rec_line,
                        rec_offset,
                        idx,
                    )));
                }
                if self.in_array {
                    let (l, o) = (self.line, self.offset);
                    return Some(Err(self.err(
                        ErrorKind::Truncated("top-level JSON array is not closed".into()),
                        l,
                        o,
                        None,
                    )));
                }
                return None;
            }
            let mut consumed = 0;
            let mut complete = false;
            for &b in chunk {
                consumed += 1;
                let here = self.offset;
                self.offset += 1;
                if b == b'\n' {
                    self.line += 1;
                }
                if !started {
                    match b {
                        b' ' | b'\t' | b'\r' | b'\n' => continue,
                        0xEF | 0xBB | 0xBF if here < 3 => continue, // UTF-8 BOM
                        b',' if self.in_array => continue,
                        b']' if self.in_array => {
                            self.in_array = false;
                            continue;
                        }
                        b'[' if !self.in_array => {
                            self.in_array = true;
                            self.index = 0;
                            continue;
                        }
                        _ => {
                            started = true;
                            rec_line = if b == b'\n' { self.line - 1 } else { self.line };
                            rec_offset = here;
                            scalar = !matches!(b, b'{' | b'[');
                        }
                    }
                }
                if scalar && !in_str && matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b',' | b']') {
                    // A bare scalar ends at a separator; put back `]` handling.
                    if b == b']' && self.in_array {
                        self.in_array = false;
                    }
                    complete = true;
                    break;
                }
                if !too_long {
                    if buf.len() >= self.max {
                        too_long = true;
                        buf = Vec::new();
                    } else {
                        buf.push(b);
                    }
                }
                if in_str {
                    if esc {
                        esc = false;
                    } else if b == b'\\' {
                        esc = true;
                    } else if b == b'"' {
                        in_str = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 && !scalar {
                            complete = true;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            self.inner.consume(consumed);
            if complete {
                break;
            }
        }
        let index = if self.in_array || (scalar && self.index > 0) {
            let i = self.index;
            self.index += 1;
            Some(i)
        } else {
            None
        };
        if too_long {
            return Some(Err(self.err(
                ErrorKind::TooLong { limit: self.max },
                rec_line,
                rec_offset,
                index,
            )));
        }
        Some(record(&self.file, &buf, rec_line, rec_offset, index))
    }
}

/// True when the input looks like one JSON document per line: the first
/// non-blank line parses on its own (or is longer than the prefix we hold).
pub(crate) fn looks_like_json_lines(prefix: &[u8]) -> bool {
    let start = match prefix.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(s) => s,
        None => return true,
    };
    let rest = &prefix[start..];
    let line = match memchr::memchr(b'\n', rest) {
        Some(end) => &rest[..end],
        None => {
            return prefix.len() >= PREFIX_LEN
                || serde_json::from_slice::<serde::de::IgnoredAny>(rest).is_ok()
                || !rest.starts_with(b"[")
        }
    };
    if line.starts_with(b"[") {
        // A top-level array on one line is handled the same either way; only
        // a pretty-printed array needs the splitter.
        return serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok();
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Gives its bytes at most `step` at a time, so lines straddle the
    /// line reader's buffer as they do at the end of each 64 KB read.
    struct Trickle {
        bytes: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = out.len().min(self.step).min(self.bytes.len() - self.at);
            out[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// What the line reader should give for `lines` (each followed by a
    /// line break), with a cap of `max` bytes: (line, offset, text or error).
    fn expected(lines: &[Vec<u8>], max: usize) -> Vec<(u64, u64, Result<String, String>)> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        for (i, bytes) in lines.iter().enumerate() {
            let start = offset;
            offset += bytes.len() as u64 + 1;
            let item = if bytes.len() > max {
                Err(ErrorKind::TooLong { limit: max }.to_string())
            } else {
                let mut text = bytes.strip_suffix(b"\r").unwrap_or(bytes);
                if start == 0 {
                    text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
                }
                if text.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                std::str::from_utf8(text).map(str::to_string).map_err(|e| {
                    ErrorKind::InvalidUtf8 {
                        valid_up_to: e.valid_up_to(),
                    }
                    .to_string()
                })
            };
            out.push((i as u64 + 1, start, item));
        }
        out
    }

    proptest! {
        /// Lines whole in the buffer and lines read in pieces give the
        /// same records, errors and positions.
        #[test]
        fn lines_read_the_same_however_the_input_arrives(
            lines in proptest::collection::vec(
                prop_oneof![
                    "[a-z{}\":, ]{0,60}".prop_map(String::into_bytes),
                    "[ \t]{0,3}\r?".prop_map(String::into_bytes),
                    "\u{feff}?[a-z]{1,8}é\r?".prop_map(String::into_bytes),
                    proptest::collection::vec(any::<u8>().prop_filter("no break", |b| *b != b'\n'), 1..20),
                ],
                0..20,
            ),
            step in 1usize..200,
        ) {
            let max = 48;
            let mut bytes = Vec::new();
            for line in &lines {
                bytes.extend_from_slice(line);
                bytes.push(b'\n');
            }
            let reader = Trickle { bytes, at: 0, step };
            let got: Vec<_> = LineReader::new(Box::new(reader), Arc::from("t"), max)
                .map(|item| match item {
                    Ok(r) => (r.line.unwrap(), r.offset.unwrap(), Ok(r.text.to_string())),
                    Err(e) => (e.line.unwrap(), e.offset.unwrap(), Err(e.kind.to_string())),
                })
                .collect();
            prop_assert_eq!(got, expected(&lines, max));
        }

        /// The vectorised check accepts and rejects what the standard
        /// library does, and reports the same position. Text with
        /// multi-byte characters and stray bytes, long enough to take the
        /// wide steps.
        #[test]
        fn utf8_agrees_with_std(
            parts in proptest::collection::vec(
                prop_oneof![
                    "[a-z\\\"{}: ]{1,40}".prop_map(String::into_bytes),
                    "[é€𝄞ü]{1,4}".prop_map(String::into_bytes),
                    proptest::collection::vec(any::<u8>(), 1..4),
                ],
                0..12,
            )
        ) {
            let bytes = parts.concat();
            let want = std::str::from_utf8(&bytes).map_err(|e| e.valid_up_to());
            prop_assert_eq!(utf8(&bytes), want);
        }
    }
}
