//! Lists a dropped event leaves for the next record read on its thread.
//!
//! An event's field list and the nodes of its nested values are each a
//! few kilobytes: past what glibc serves from its per-thread cache, so
//! allocating and freeing them per record took its slow paths (~500
//! instructions a list, and a copy of the list each time one grew). A
//! thread reads records one after another, so the lists of the event it
//! just dropped fit the next one.

use std::cell::RefCell;
use std::thread::LocalKey;

/// The lists kept on one thread, for one kind of element.
pub(crate) struct SpareLists<T>(RefCell<Vec<Vec<T>>>);

/// Lists kept per thread and kind.
const LISTS_KEPT: usize = 64;

impl<T> SpareLists<T> {
    pub(crate) const fn new() -> SpareLists<T> {
        SpareLists(RefCell::new(Vec::new()))
    }
}

/// An empty list with room for `n`: a kept one when there is.
#[inline]
pub(crate) fn take<T: 'static>(spares: &'static LocalKey<SpareLists<T>>, n: usize) -> Vec<T> {
    let kept = spares
        .try_with(|s| s.0.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten();
    match kept {
        Some(mut list) => {
            list.reserve(n);
            list
        }
        None => Vec::with_capacity(n),
    }
}

/// Keeps `list` (emptied) for [`take`], unless it has no room or more
/// than `max_room`: memory stays bounded whatever a record held.
#[inline]
pub(crate) fn give<T: 'static>(
    spares: &'static LocalKey<SpareLists<T>>,
    mut list: Vec<T>,
    max_room: usize,
) {
    let room = list.capacity();
    if room == 0 || room > max_room {
        return;
    }
    list.clear();
    // Not during the thread's teardown, nor from inside a borrow.
    let _ = spares.try_with(|s| {
        if let Ok(mut lists) = s.0.try_borrow_mut() {
            if lists.len() < LISTS_KEPT {
                lists.push(list);
            }
        }
    });
}

/// How many lists `spares` keeps on this thread (for tests).
#[cfg(test)]
pub(crate) fn kept<T: 'static>(spares: &'static LocalKey<SpareLists<T>>) -> usize {
    spares.with(|s| s.0.borrow().len())
}
