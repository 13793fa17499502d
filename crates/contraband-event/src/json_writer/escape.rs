//! JSON string escaping, eight bytes a step.
//!
//! JSON requires `"`, `\` and the control bytes below 0x20 to be escaped.
//! serde_json escapes exactly those and nothing else (not `/`, not DEL, not
//! non-ASCII), so the same set is escaped here, the same way: `\"`, `\\`,
//! `\b`, `\f`, `\n`, `\r`, `\t`, and `\u00XX` in lower-case hex for the
//! other control bytes.

/// A byte repeated in every byte of a word.
const fn splat(byte: u8) -> u64 {
    0x0101_0101_0101_0101 * byte as u64
}

/// Writes `text` as a JSON string, quotes included.
#[inline]
pub(super) fn write_str(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    write_contents(out, text);
    out.push(b'"');
}

/// Writes `text` escaped, without quotes: each clean run is copied whole.
pub(super) fn write_contents(out: &mut Vec<u8>, text: &str) {
    let mut rest = text.as_bytes();
    while let Some(at) = find_escape(rest) {
        out.extend_from_slice(&rest[..at]);
        write_escape(out, rest[at]);
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
}

/// The escape of one byte that [`needs_escape`].
fn write_escape(out: &mut Vec<u8>, byte: u8) {
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let (hi, lo) = (HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]);
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hi, lo]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[inline]
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The position of the first byte of `bytes` that needs escaping.
#[inline]
fn find_escape(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut start = 0;
    for word in &mut words {
        let marks = escape_marks(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        if marks != 0 {
            return Some(start + first_marked(marks));
        }
        start += 8;
    }
    if words.remainder().is_empty() {
        return None;
    }
    // A text of eight bytes or more ends with one more word, overlapping
    // the last whole one: its first bytes are clean, so it has no false
    // mark (see `escape_marks`) before the first true one.
    let Some(last) = bytes.len().checked_sub(8) else {
        return bytes.iter().position(|&b| needs_escape(b));
    };
    let marks = escape_marks(u64::from_le_bytes(
        bytes[last..].try_into().expect("8 bytes"),
    ));
    (marks != 0).then(|| last + first_marked(marks))
}

/// Which byte of a little-endian word the lowest mark is on.
#[inline]
fn first_marked(marks: u64) -> usize {
    (marks.trailing_zeros() / 8) as usize
}

/// Sets the high bit of every byte of `word` (read little-endian) that
/// needs escaping. Only the lowest mark is sure to be right: a borrow out
/// of a marked byte can mark a clean byte above it, never one below.
#[inline]
fn escape_marks(word: u64) -> u64 {
    // A byte below 0x20 borrows when 0x20 is taken from it; a byte with
    // the high bit set is not one, whatever the subtraction left there.
    let control = word.wrapping_sub(splat(0x20)) & !word;
    let quote = zero_bytes(word ^ splat(b'"'));
    let backslash = zero_bytes(word ^ splat(b'\\'));
    (control | quote | backslash) & splat(0x80)
}

/// The high bit of each zero byte of `word` set (and perhaps of bytes above
/// the first zero one), the classic test of a word for a zero byte.
#[inline]
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(splat(0x01)) & !word
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn finds_every_escaped_byte_at_every_place_in_a_word() {
        let escaped_bytes = (0..=0x7f_u8)
            .chain([0x80, 0xff])
            .filter(|&b| needs_escape(b));
        for byte in escaped_bytes {
            for len in 1..=24 {
                for at in 0..len {
                    let mut text = vec![b'a'; len];
                    text[at] = byte;
                    assert_eq!(find_escape(&text), Some(at), "{byte:#x} at {at} of {len}");
                    // A second one after it does not move the first.
                    if at + 1 < len {
                        text[len - 1] = byte;
                        assert_eq!(find_escape(&text), Some(at), "{byte:#x} at {at} of {len}");
                    }
                }
            }
        }
    }

    #[test]
    fn passes_over_every_byte_that_is_not_escaped() {
        let clean: Vec<u8> = (0..=0xff_u8).filter(|&b| !needs_escape(b)).collect();
        assert_eq!(clean.len(), 256 - 34);
        for start in 0..8 {
            assert_eq!(find_escape(&clean[start..]), None);
        }
    }

    #[test]
    fn escapes_as_serde_json_does() {
        assert_eq!(escaped(""), r#""""#);
        assert_eq!(escaped(r#"a"b\c/d"#), r#""a\"b\\c/d""#);
        assert_eq!(escaped("\u{8}\u{c}\n\r\t"), r#""\b\f\n\r\t""#);
        assert_eq!(
            escaped("\0\u{1b}\u{1f}\u{7f}"),
            "\"\\u0000\\u001b\\u001f\u{7f}\""
        );
        assert_eq!(escaped("ü→😀"), "\"ü→😀\"");
    }
}
