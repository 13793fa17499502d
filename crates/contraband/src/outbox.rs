//! A worker's messages to the collector, handed over in batches.
//!
//! Every hand-over through the channel can wake the collector, and on one
//! core a wake-up is two context switches: a hunt over 1M events with
//! 12,469 alerts spent about 6% of its wall time switching. A batch costs
//! one hand-over for up to [`BATCH_MESSAGES`] messages.
//!
//! `hunt` reads files, but a pipe on standard input may pause: a message
//! never waits in a batch for more than [`BATCH_AGE`] once the next event
//! arrives, and a batch is handed over at the end of every file and when
//! the worker stops. At the end of a chunk of a file split between
//! workers, only a batch of at least [`CHUNK_END_MESSAGES`]: two workers
//! handing over every chunk did so about 4,000 times for 1M events, each
//! waking the collector onto a core a worker was using (~6,700 voluntary
//! and ~5,400 involuntary context switches), and handing over only full
//! batches kept more alerts waiting (+2.5 MB peak with the whole SigmaHQ
//! corpus). (`watch` is the live command; it does not batch.)

use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

/// Messages per batch at most.
pub const BATCH_MESSAGES: usize = 256;
/// A batch this large is handed over at the end of a chunk.
pub const CHUNK_END_MESSAGES: usize = 32;
/// How long a message may wait in a batch, checked as events arrive.
pub const BATCH_AGE: Duration = Duration::from_millis(100);
/// Events between two looks at the clock while a batch waits: reading it
/// per event would cost more than the batching saves.
const EVENTS_PER_CLOCK_CHECK: u32 = 64;

/// Batches of `T` for one receiver. Dropping it hands over what is left.
pub struct Outbox<'a, T> {
    tx: &'a SyncSender<Vec<T>>,
    batch: Vec<T>,
    /// When the oldest message of `batch` was put there.
    since: Option<Instant>,
    /// Events seen since the clock was last read.
    events: u32,
}

/// The receiver is gone: the hunt is over.
#[derive(Debug)]
pub struct Closed;

impl<'a, T> Outbox<'a, T> {
    pub fn new(tx: &'a SyncSender<Vec<T>>) -> Outbox<'a, T> {
        Outbox {
            tx,
            batch: Vec::new(),
            since: None,
            events: 0,
        }
    }

    /// Adds `message` to the batch, handing the batch over when full.
    pub fn send(&mut self, message: T) -> Result<(), Closed> {
        if self.batch.is_empty() {
            self.since = Some(Instant::now());
        }
        self.batch.push(message);
        if self.batch.len() >= BATCH_MESSAGES {
            return self.flush();
        }
        Ok(())
    }

    /// Notes that one more event arrived: a batch older than
    /// [`BATCH_AGE`] is handed over.
    #[inline]
    pub fn tick(&mut self) -> Result<(), Closed> {
        let Some(since) = self.since else {
            return Ok(());
        };
        self.events += 1;
        if self.events < EVENTS_PER_CLOCK_CHECK {
            return Ok(());
        }
        self.events = 0;
        if since.elapsed() >= BATCH_AGE {
            return self.flush();
        }
        Ok(())
    }

    /// Hands the batch over if it holds at least `messages`.
    pub fn flush_at(&mut self, messages: usize) -> Result<(), Closed> {
        if self.batch.len() >= messages {
            return self.flush();
        }
        Ok(())
    }

    /// Hands the batch over now (if there is one).
    pub fn flush(&mut self) -> Result<(), Closed> {
        self.since = None;
        self.events = 0;
        if self.batch.is_empty() {
            return Ok(());
        }
        let room = self.batch.capacity();
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(room));
        self.tx.send(batch).map_err(|_| Closed)
    }
}

impl<T> Drop for Outbox<'_, T> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn messages_arrive_in_order_in_full_batches_then_the_rest_on_flush() {
        let (tx, rx) = mpsc::sync_channel(64);
        let mut outbox = Outbox::new(&tx);
        for i in 0..BATCH_MESSAGES + 3 {
            outbox.send(i).unwrap();
        }
        let first: Vec<usize> = rx.try_recv().unwrap();
        assert_eq!(first, (0..BATCH_MESSAGES).collect::<Vec<_>>());
        assert!(rx.try_recv().is_err(), "the rest waits for a flush");
        outbox.flush().unwrap();
        let rest: Vec<usize> = rx.try_recv().unwrap();
        assert_eq!(
            rest,
            [BATCH_MESSAGES, BATCH_MESSAGES + 1, BATCH_MESSAGES + 2]
        );
        outbox.flush().unwrap();
        assert!(rx.try_recv().is_err(), "an empty batch is not sent");
    }

    #[test]
    fn a_batch_goes_at_a_chunk_end_only_when_large_enough() {
        let (tx, rx) = mpsc::sync_channel(4);
        let mut outbox = Outbox::new(&tx);
        for i in 0..CHUNK_END_MESSAGES - 1 {
            outbox.send(i).unwrap();
        }
        outbox.flush_at(CHUNK_END_MESSAGES).unwrap();
        assert!(rx.try_recv().is_err(), "small: kept");
        outbox.send(CHUNK_END_MESSAGES - 1).unwrap();
        outbox.flush_at(CHUNK_END_MESSAGES).unwrap();
        assert_eq!(rx.try_recv().unwrap().len(), CHUNK_END_MESSAGES);
    }

    #[test]
    fn dropping_hands_over_what_is_left() {
        let (tx, rx) = mpsc::sync_channel(4);
        {
            let mut outbox = Outbox::new(&tx);
            outbox.send("strict error").unwrap();
        }
        assert_eq!(rx.try_recv().unwrap(), ["strict error"]);
    }

    #[test]
    fn an_old_batch_goes_when_events_keep_coming() {
        let (tx, rx) = mpsc::sync_channel(4);
        let mut outbox = Outbox::new(&tx);
        outbox.send(1).unwrap();
        for _ in 0..EVENTS_PER_CLOCK_CHECK {
            outbox.tick().unwrap();
        }
        assert!(rx.try_recv().is_err(), "young: kept");
        std::thread::sleep(BATCH_AGE);
        for _ in 0..EVENTS_PER_CLOCK_CHECK {
            outbox.tick().unwrap();
        }
        assert_eq!(rx.try_recv().unwrap(), [1]);
    }

    #[test]
    fn a_gone_receiver_is_reported() {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4);
        drop(rx);
        let mut outbox = Outbox::new(&tx);
        outbox.send(1).unwrap();
        assert!(outbox.flush().is_err());
    }
}
