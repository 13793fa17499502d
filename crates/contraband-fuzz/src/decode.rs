//! The `decode` target: bytes through every decoder.

use std::io::{Read, Write};

use contraband_event::Event;
use contraband_sources::{read, DecodeError, Decoder, ErrorKind, Format, Options};

const NAME: &str = "fuzz-input";

/// What one decode produced, reduced to what must be equal between the plain
/// and the gzip-wrapped input: per item, event or error kind, and position.
type Summary = Vec<(bool, Option<u64>, Option<u64>, Option<u64>, String)>;

/// Decode `data` auto-detected and forced through every [`Format`], plain
/// and gzip-wrapped (whole and truncated), with a generous record cap and
/// two tight ones, and line by line through the live [`Decoder`].
///
/// Invariants, for any input:
/// - nothing panics;
/// - every error names the input and carries a position (line or byte offset);
/// - every event's origin names the input;
/// - events + errors ≤ a bound linear in the (decompressed) input size;
/// - no event's raw text is longer than the record cap;
/// - gzip-wrapping the input changes nothing: same events and errors at
///   the same positions;
/// - a truncated gzip stream never ends silently: it yields an error.
pub fn decode(data: &[u8]) -> Result<(), String> {
    // Caps that let every record in, let only some in, and cut most.
    let caps = [1 << 20, data.len().max(16), 16.max(data.len() / 2 + 1)];
    let gzipped = gzip(data);
    let already_gzip = data.starts_with(&[0x1f, 0x8b]);
    let plain_len = if already_gzip {
        // Input that is gzip itself: bound by what it inflates to, capped so
        // a gzip bomb cannot make the check itself unbounded.
        inflated_len(data, 1 << 20)
    } else {
        data.len()
    };
    for cap in caps {
        for format in std::iter::once(None).chain(Format::ALL.map(Some)) {
            let opts = Options {
                format,
                max_record_size: cap,
                auditd_max_pending: 8,
                ..Options::default()
            };
            let what = format!(
                "format {}, cap {cap}",
                format.map_or("auto".into(), |f| f.to_string())
            );
            let plain = run(data, plain_len, &opts).map_err(|e| format!("{what}: {e}"))?;
            if already_gzip {
                continue;
            }
            let wrapped =
                run(&gzipped, plain_len, &opts).map_err(|e| format!("{what}, gzip: {e}"))?;
            if plain != wrapped {
                return Err(format!(
                    "{what}: gzip-wrapping changed the result:\n plain {plain:?}\n gzip  {wrapped:?}"
                ));
            }
            // Cut the gzip stream at a point chosen by the data.
            if !data.iter().all(u8::is_ascii_whitespace) {
                let cut = 1 + data.len() % (gzipped.len() - 1);
                let cut_sum = run(&gzipped[..cut], plain_len, &opts)
                    .map_err(|e| format!("{what}, gzip cut at {cut}: {e}"))?;
                if cut_sum.iter().all(|(ok, ..)| *ok) {
                    return Err(format!(
                        "{what}: gzip cut at {cut} of {} decoded without an error: {cut_sum:?}",
                        gzipped.len()
                    ));
                }
            }
        }
        for format in Format::ALL {
            live(data, format, cap)?;
        }
    }
    Ok(())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}

fn inflated_len(data: &[u8], cap: u64) -> usize {
    let mut sink = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(data)
        .take(cap)
        .read_to_end(&mut sink);
    sink.len()
}

/// Most items a decode of `len` input bytes may yield: a record needs at
/// least one byte and a separator, and yields an event and at most two
/// errors (auditd: "too many pending" and "too many records"); plus a final
/// read or truncation error.
fn item_bound(len: usize) -> usize {
    3 * (len / 2 + 1) + 2
}

fn run(bytes: &[u8], plain_len: usize, opts: &Options) -> Result<Summary, String> {
    let bound = item_bound(plain_len);
    let events = read(NAME, Box::new(std::io::Cursor::new(bytes.to_vec())), opts);
    let mut out = Summary::new();
    // Take one more than allowed so an unbounded stream is caught, not run.
    for item in events.take(bound + 1) {
        out.push(match item {
            Ok(ev) => {
                check_event(&ev, opts.max_record_size)?;
                (
                    true,
                    ev.origin.line,
                    ev.origin.offset,
                    ev.origin.index,
                    String::new(),
                )
            }
            Err(e) => {
                check_error(&e, true)?;
                (false, e.line, e.offset, e.index, kind(&e.kind))
            }
        });
    }
    if out.len() > bound {
        return Err(format!(
            "more than {bound} items from {plain_len} input bytes"
        ));
    }
    Ok(out)
}

fn kind(k: &ErrorKind) -> String {
    match k {
        // An I/O error's text says nothing about the input's content.
        ErrorKind::Io(_) => "io".into(),
        other => other.to_string(),
    }
}

fn check_event(ev: &Event, cap: usize) -> Result<(), String> {
    if &*ev.origin.source != NAME {
        return Err(format!("event origin names {:?}", ev.origin.source));
    }
    if let Some(raw) = &ev.raw {
        if raw.len() > cap {
            return Err(format!(
                "event raw text is {} bytes, over the {cap}-byte record cap: {:?}",
                raw.len(),
                truncate(raw)
            ));
        }
    }
    Ok(())
}

fn check_error(e: &DecodeError, positioned: bool) -> Result<(), String> {
    let shown = e.to_string();
    if &*e.file != NAME || !shown.starts_with(NAME) {
        return Err(format!("error does not name the input: {shown}"));
    }
    if positioned && e.line.is_none() && e.offset.is_none() {
        return Err(format!("error without a position: {shown}"));
    }
    Ok(())
}

/// The live path: line by line, positions given, then flushed.
fn live(data: &[u8], format: Format, cap: usize) -> Result<(), String> {
    let opts = Options {
        max_record_size: cap,
        auditd_max_pending: 8,
        ..Options::default()
    };
    let text = String::from_utf8_lossy(data);
    let mut d = Decoder::new(format, NAME, &opts);
    let mut items = Vec::new();
    let mut offset = 0u64;
    for (i, line) in text.split('\n').enumerate() {
        items.extend(d.feed(line, Some(i as u64 + 1), Some(offset)));
        offset += line.len() as u64 + 1;
    }
    items.extend(d.flush());
    let bound = item_bound(text.len());
    if items.len() > bound {
        return Err(format!(
            "live {format}: {} items from {} bytes",
            items.len(),
            text.len()
        ));
    }
    for item in &items {
        match item {
            Ok(ev) => check_event(ev, cap),
            Err(e) => check_error(e, true),
        }
        .map_err(|e| format!("live {format}, cap {cap}: {e}"))?;
    }
    Ok(())
}

pub(crate) fn truncate(s: &str) -> &str {
    let mut end = s.len().min(200);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
