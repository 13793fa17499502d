//! JSON string escaping, several bytes a step.
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
    write_framed(out, *b"\"", text, *b"\"");
}

/// Writes `open`, `text` escaped, then `close`: a string with its quotes and
/// the punctuation around it (`,"key":`), in as few writes as it can.
///
/// Most strings of an alert are keys and short values that need no escape.
/// Those of up to 32 bytes are tested as one to four words and written as
/// two pieces of fixed size, the frame in them: each write to the vector is
/// a capacity check and a length update, and a `memcpy` of a few bytes costs
/// more than the whole test.
#[inline(always)]
pub(super) fn write_framed<const O: usize, const C: usize>(
    out: &mut Vec<u8>,
    open: [u8; O],
    text: &str,
    close: [u8; C],
) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let written = match n {
        1..=3 => {
            // The first, middle and last bytes are all of them.
            let [a, b, c] = [bytes[0], bytes[n / 2], bytes[n - 1]];
            let marks = escape_marks(u64::from_le_bytes([a, b, c, b' ', b' ', b' ', b' ', b' ']));
            write_clean(out, marks, &open, &[a, b, c], &[], n, &close)
        }
        4..=7 => {
            let (first, last) = ends::<4>(bytes);
            let word =
                u64::from(u32::from_le_bytes(first)) | u64::from(u32::from_le_bytes(last)) << 32;
            let marks = escape_marks(word);
            write_clean(out, marks, &open, &first, &last, n, &close)
        }
        8..=16 => {
            let (first, last) = ends::<8>(bytes);
            let marks = escape_marks(word(&first)) | escape_marks(word(&last));
            write_clean(out, marks, &open, &first, &last, n, &close)
        }
        17..=32 => {
            let (first, last) = ends::<16>(bytes);
            let marks = escape_marks(word(&first[..8]))
                | escape_marks(word(&first[8..]))
                | escape_marks(word(&last[..8]))
                | escape_marks(word(&last[8..]));
            write_clean(out, marks, &open, &first, &last, n, &close)
        }
        _ => false,
    };
    if !written {
        out.extend_from_slice(&open);
        write_contents(out, text);
        out.extend_from_slice(&close);
    }
}

/// Writes a short text by [`write_ends`] if it has no `marks` of a byte to
/// escape; says whether it did.
#[inline(always)]
fn write_clean<const O: usize, const F: usize, const L: usize, const C: usize>(
    out: &mut Vec<u8>,
    marks: u64,
    open: &[u8; O],
    first: &[u8; F],
    last: &[u8; L],
    len: usize,
    close: &[u8; C],
) -> bool {
    if marks != 0 {
        return false;
    }
    write_ends(out, open, first, last, len, close);
    true
}

/// The first and the last `N` bytes of `bytes`, which has `N` to `2 * N`.
#[inline(always)]
fn ends<const N: usize>(bytes: &[u8]) -> ([u8; N], [u8; N]) {
    let first = bytes[..N].try_into().expect("N bytes");
    let last = bytes[bytes.len() - N..].try_into().expect("N bytes");
    (first, last)
}

/// Writes `open`, the `len` bytes that `first` begins and `last` ends, and
/// `close`, in two pieces: `open` and `first`, then `last` and `close` laid
/// over the end of the first piece, where the text's bytes overlap.
#[inline(always)]
fn write_ends<const O: usize, const F: usize, const L: usize, const C: usize>(
    out: &mut Vec<u8>,
    open: &[u8; O],
    first: &[u8; F],
    last: &[u8; L],
    len: usize,
    close: &[u8; C],
) {
    let mut head = [0; 24];
    head[..O].copy_from_slice(open);
    head[O..O + F].copy_from_slice(first);
    out.extend_from_slice(&head[..O + F]);
    out.truncate(out.len() + len - F - L);
    let mut tail = [0; 24];
    tail[..L].copy_from_slice(last);
    tail[L..L + C].copy_from_slice(close);
    out.extend_from_slice(&tail[..L + C]);
}

/// Writes `text` escaped, without quotes, each clean run copied whole.
pub(super) fn write_contents(out: &mut Vec<u8>, text: &str) {
    let mut bytes = text.as_bytes();
    while let Some(at) = find_escape(bytes) {
        out.extend_from_slice(&bytes[..at]);
        write_escape(out, bytes[at]);
        bytes = &bytes[at + 1..];
    }
    out.extend_from_slice(bytes);
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

/// The position of the first byte of `bytes` that needs escaping, found
/// sixteen bytes a step.
#[inline]
fn find_escape(bytes: &[u8]) -> Option<usize> {
    let mut blocks = bytes.chunks_exact(16);
    let mut start = 0;
    for block in &mut blocks {
        if let Some(at) = first_of_two(word(&block[..8]), word(&block[8..]), 8) {
            return Some(start + at);
        }
        start += 16;
    }
    if blocks.remainder().is_empty() {
        return None;
    }
    // The end as two words, the last sixteen bytes or the first and the
    // last eight: where they overlap bytes already tested, those are clean,
    // so no false mark (see `escape_marks`) comes before a true one.
    let n = bytes.len();
    if n < 8 {
        return bytes.iter().position(|&b| needs_escape(b));
    }
    let (a, b) = (n.saturating_sub(16), n - 8);
    first_of_two(word(&bytes[a..a + 8]), word(&bytes[b..]), b - a).map(|at| a + at)
}

/// Eight bytes as a little-endian word.
#[inline(always)]
fn word(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
}

/// The position of the first byte to escape in word `a` or in word `b`,
/// which stands `offset` bytes after `a` (and overlaps it when less than 8).
#[inline(always)]
fn first_of_two(a: u64, b: u64, offset: usize) -> Option<usize> {
    let (a, b) = (escape_marks(a), escape_marks(b));
    if a | b == 0 {
        return None;
    }
    Some(if a != 0 {
        first_marked(a)
    } else {
        offset + first_marked(b)
    })
}

/// Which byte of a little-endian word the lowest mark is on.
#[inline(always)]
fn first_marked(marks: u64) -> usize {
    (marks.trailing_zeros() / 8) as usize
}

/// Sets the high bit of every byte of `word` (read little-endian) that
/// needs escaping. Only the lowest mark is sure to be right: a borrow out
/// of a marked byte can mark a clean byte above it, never one below.
#[inline(always)]
fn escape_marks(word: u64) -> u64 {
    // Flipping bit 1 takes `"` (0x22) to 0x20 and keeps the control bytes
    // below 0x20: the bytes below 0x21 after it are those two kinds, and
    // they borrow when 0x21 is taken from them.
    let control_or_quote = (word ^ splat(0x02)).wrapping_sub(splat(0x21));
    // A backslash is the zero byte after `\` is xored out; it borrows.
    let backslash = (word ^ splat(b'\\')).wrapping_sub(splat(0x01));
    // A byte with its high bit set is neither, whatever is left in it.
    (control_or_quote | backslash) & !word & splat(0x80)
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
            for len in 1..=40 {
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
