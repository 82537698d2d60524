//! Typed positions for the runtime's per-instance, per-group and per-socket
//! state.
//!
//! The core names instances and sync groups by [`InstanceId`] and
//! [`GroupId`], their positions in the [`Node`](crate::protocol::Node). The
//! runtime keeps its own part of each (sockets, workers, counters) in a
//! [`ById`] indexed by the same id, so `instances[id]` is always the edge of
//! `node.instance(id)`; the two are rebuilt together in one place
//! (`Daemon::regroup`) and nowhere else.

use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

use crate::protocol::{GroupId, InstanceId};

/// A position in a [`ById`].
pub(super) trait Id: Copy {
    fn from_index(index: usize) -> Self;
    fn index(self) -> usize;
}

impl Id for InstanceId {
    fn from_index(index: usize) -> Self {
        InstanceId(index)
    }
    fn index(self) -> usize {
        self.0
    }
}

impl Id for GroupId {
    fn from_index(index: usize) -> Self {
        GroupId(index)
    }
    fn index(self) -> usize {
        self.0
    }
}

/// Names one of the edge's VRRP sockets (one per interface and family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct SocketId(usize);

impl Id for SocketId {
    fn from_index(index: usize) -> Self {
        SocketId(index)
    }
    fn index(self) -> usize {
        self.0
    }
}

/// A vector indexed by one kind of id only.
pub(super) struct ById<I, T> {
    items: Vec<T>,
    id: PhantomData<fn(I) -> I>,
}

impl<I: Id, T> ById<I, T> {
    /// Appends `item` and returns its id.
    pub(super) fn push(&mut self, item: T) -> I {
        self.items.push(item);
        I::from_index(self.items.len() - 1)
    }

    /// Every id, in order. Collected first so the caller may borrow `self`
    /// mutably while it goes through them.
    pub(super) fn ids(&self) -> Vec<I> {
        (0..self.items.len()).map(I::from_index).collect()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (I, &T)> {
        self.items
            .iter()
            .enumerate()
            .map(|(i, t)| (I::from_index(i), t))
    }

    pub(super) fn values(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub(super) fn values_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.items.iter_mut()
    }

    /// The first id whose item satisfies `pred`.
    pub(super) fn find(&self, pred: impl Fn(&T) -> bool) -> Option<I> {
        self.items.iter().position(pred).map(I::from_index)
    }

    pub(super) fn into_vec(self) -> Vec<T> {
        self.items
    }
}

impl<I, T> Default for ById<I, T> {
    fn default() -> Self {
        ById {
            items: Vec::new(),
            id: PhantomData,
        }
    }
}

impl<I, T> From<Vec<T>> for ById<I, T> {
    fn from(items: Vec<T>) -> Self {
        ById {
            items,
            id: PhantomData,
        }
    }
}

impl<I: Id, T> Index<I> for ById<I, T> {
    type Output = T;
    fn index(&self, id: I) -> &T {
        &self.items[id.index()]
    }
}

impl<I: Id, T> IndexMut<I> for ById<I, T> {
    fn index_mut(&mut self, id: I) -> &mut T {
        &mut self.items[id.index()]
    }
}
