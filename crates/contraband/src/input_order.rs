//! Puts a parallel hunt's messages back in input order.
//!
//! Workers finish chunks and files in whatever order the scheduler allows;
//! dedup keeps the first of two alerts for one finding, and correlation
//! counts in order, so what the collector sees must not depend on timing.
//! Messages are released file by file (in the order the files were named)
//! and, within a file, chunk by chunk.

use std::collections::{BTreeMap, HashMap};

/// Messages held for later files past this many are released early, in
/// file order but ahead of their turn: memory stays bounded when one long
/// file keeps a worker busy while the others finish many short ones.
const HELD_MAX: usize = 65_536;

/// Where a message stands in its chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// Part of a chunk.
    Within,
    /// Ends a chunk.
    ChunkEnd,
    /// Ends the file's last chunk.
    FileEnd,
}

pub(crate) struct InputOrder<M> {
    /// The file whose messages are released as they come.
    current: usize,
    files: HashMap<usize, FileQueue<M>>,
    held: usize,
}

struct FileQueue<M> {
    next_seq: u64,
    /// Chunks that arrived ahead of their turn.
    early: BTreeMap<u64, Vec<M>>,
    /// In order, waiting for the file's turn.
    waiting: Vec<M>,
    finished: bool,
}

impl<M> Default for FileQueue<M> {
    fn default() -> Self {
        FileQueue {
            next_seq: 0,
            early: BTreeMap::new(),
            waiting: Vec::new(),
            finished: false,
        }
    }
}

impl<M> InputOrder<M> {
    pub(crate) fn new() -> InputOrder<M> {
        InputOrder {
            current: 0,
            files: HashMap::new(),
            held: 0,
        }
    }

    /// Takes message `m` of chunk `seq` of file `file`; appends to `out`
    /// every message now due, in input order.
    pub(crate) fn push(
        &mut self,
        file: usize,
        seq: u64,
        m: M,
        place: impl Fn(&M) -> Place,
        out: &mut Vec<M>,
    ) {
        let queue = self.files.entry(file).or_default();
        if seq != queue.next_seq {
            queue.early.entry(seq).or_default().push(m);
            self.held += 1;
            return;
        }
        // In sequence: it, and the chunks it lets through, are in order.
        let mut in_order = vec![m];
        let mut i = 0;
        while i < in_order.len() {
            let at = place(&in_order[i]);
            if at != Place::Within {
                queue.finished |= at == Place::FileEnd;
                queue.next_seq += 1;
                if let Some(more) = queue.early.remove(&queue.next_seq) {
                    self.held -= more.len();
                    in_order.extend(more);
                }
            }
            i += 1;
        }
        if file == self.current {
            out.append(&mut in_order);
            self.advance(out);
        } else {
            self.held += in_order.len();
            queue.waiting.append(&mut in_order);
            if self.held > HELD_MAX {
                self.release_all(out);
            }
        }
    }

    /// Moves past finished files, releasing what the next ones hold.
    fn advance(&mut self, out: &mut Vec<M>) {
        while self.files.get(&self.current).is_some_and(|q| q.finished) {
            self.files.remove(&self.current);
            self.current += 1;
            if let Some(next) = self.files.get_mut(&self.current) {
                self.held -= next.waiting.len();
                out.append(&mut next.waiting);
            }
        }
    }

    /// Releases every waiting message, in file order, ahead of its turn.
    fn release_all(&mut self, out: &mut Vec<M>) {
        let mut files: Vec<usize> = self.files.keys().copied().collect();
        files.sort_unstable();
        for f in files {
            if let Some(q) = self.files.get_mut(&f) {
                self.held -= q.waiting.len();
                out.append(&mut q.waiting);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (file, seq, label, place)
    type Msg = (usize, u64, &'static str, Place);

    fn run(arrivals: &[Msg]) -> Vec<&'static str> {
        let mut order = InputOrder::new();
        let mut out = Vec::new();
        for &m in arrivals {
            order.push(m.0, m.1, m, |m: &Msg| m.3, &mut out);
        }
        out.iter().map(|m| m.2).collect()
    }

    use Place::*;

    #[test]
    fn files_are_released_in_order_whatever_finishes_first() {
        let got = run(&[
            (1, 0, "b-alert", Within),
            (1, 0, "b-end", FileEnd),
            (2, 0, "c-end", FileEnd),
            (0, 1, "a1-alert", Within),
            (0, 1, "a1-end", FileEnd),
            (0, 0, "a0-alert", Within),
            (0, 0, "a0-end", ChunkEnd),
        ]);
        assert_eq!(
            got,
            ["a0-alert", "a0-end", "a1-alert", "a1-end", "b-alert", "b-end", "c-end"]
        );
    }

    #[test]
    fn the_current_file_streams_without_waiting() {
        let mut order = InputOrder::new();
        let mut out = Vec::new();
        let m: Msg = (0, 0, "first", Within);
        order.push(0, 0, m, |m: &Msg| m.3, &mut out);
        assert_eq!(out.len(), 1, "released at once");
    }

    #[test]
    fn held_messages_stay_bounded() {
        let mut order = InputOrder::new();
        let mut out = Vec::new();
        // File 0 never finishes; file 1 produces more than the bound.
        for i in 0..(HELD_MAX as u64 + 10) {
            let m: Msg = (1, i, "b", ChunkEnd);
            order.push(1, i, m, |m: &Msg| m.3, &mut out);
            assert!(order.held <= HELD_MAX);
        }
        assert!(out.len() > HELD_MAX, "released ahead of their turn");
        assert!(out.iter().all(|m| m.0 == 1));
    }
}
