//! A quick hash of a text, for caches keyed by what an event holds.

/// A quick hash of a cache key's text, eight bytes a step. Not keyed: it
/// is for caches that confirm a hit by comparing the text, where a
/// collision (even a crafted one) costs only a miss.
pub fn text_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = words.remainder();
    if rest.is_empty() {
        return h;
    }
    // The last bytes as one word: the eight that end the text when it has
    // them (overlapping the last full word), else the few there are.
    let last = match bytes.len().checked_sub(8) {
        Some(at) => u64::from_le_bytes(bytes[at..].try_into().expect("8 bytes")),
        None => rest.iter().rev().fold(0, |w, &b| w << 8 | u64::from(b)),
    };
    (h.rotate_left(5) ^ last).wrapping_mul(K)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_hash_separates_lengths_and_bytes() {
        assert_ne!(text_hash(b""), text_hash(b"\0"));
        assert_ne!(text_hash(b"abcdefgh"), text_hash(b"abcdefgi"));
        assert_ne!(text_hash(b"abcdefghi"), text_hash(b"abcdefghj"));
        assert_eq!(text_hash(b"same text"), text_hash(b"same text"));
    }
}
