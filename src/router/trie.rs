//! Subscriptions by subject in a token trie: literal children by token,
//! one `*` child and one `>` child per node.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tern_jetstream::subject::SEP;

use super::{MatchResult, Subscription};

#[derive(Default)]
struct Node {
    literal: HashMap<Box<[u8]>, Node>,
    pwc: Option<Box<Node>>,
    fwc: Option<Box<Node>>,
    plain: Vec<Arc<Subscription>>,
    queues: Vec<(Bytes, Vec<Arc<Subscription>>)>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.literal.is_empty()
            && self.pwc.is_none()
            && self.fwc.is_none()
            && self.plain.is_empty()
            && self.queues.is_empty()
    }

    fn child_mut(&mut self, token: &[u8]) -> &mut Node {
        match token {
            b"*" => self.pwc.get_or_insert_with(Box::default),
            b">" => self.fwc.get_or_insert_with(Box::default),
            _ => {
                if !self.literal.contains_key(token) {
                    self.literal.insert(token.into(), Node::default());
                }
                self.literal.get_mut(token).expect("inserted above")
            }
        }
    }

    fn add_subs_to(&self, out: &mut MatchResult) {
        out.plain.extend(self.plain.iter().cloned());
        for (name, members) in &self.queues {
            for m in members {
                out.add_queue_member(name, m);
            }
        }
    }

    fn remove_sub(&mut self, sub: &Arc<Subscription>) -> bool {
        let same = |s: &Arc<Subscription>| Arc::ptr_eq(s, sub);
        match &sub.queue {
            None => match self.plain.iter().position(same) {
                Some(i) => {
                    self.plain.swap_remove(i);
                    true
                }
                None => false,
            },
            Some(q) => {
                let Some(gi) = self.queues.iter().position(|(n, _)| n == q) else {
                    return false;
                };
                let members = &mut self.queues[gi].1;
                let Some(i) = members.iter().position(same) else {
                    return false;
                };
                members.swap_remove(i);
                if members.is_empty() {
                    self.queues.swap_remove(gi);
                }
                true
            }
        }
    }
}

#[derive(Default)]
pub struct Trie {
    root: Node,
    count: usize,
}

impl Trie {
    pub fn count(&self) -> usize {
        self.count
    }

    pub fn insert(&mut self, sub: Arc<Subscription>) {
        let mut node = &mut self.root;
        for token in sub.subject.split(|&b| b == SEP) {
            node = node.child_mut(token);
        }
        match &sub.queue {
            None => node.plain.push(sub),
            Some(q) => match node.queues.iter_mut().find(|(n, _)| n == q) {
                Some((_, members)) => members.push(sub),
                None => node.queues.push((q.clone(), vec![sub])),
            },
        }
        self.count += 1;
    }

    pub fn remove(&mut self, sub: &Arc<Subscription>) -> bool {
        let tokens: Vec<&[u8]> = sub.subject.split(|&b| b == SEP).collect();
        let removed = remove_at(&mut self.root, &tokens, sub);
        if removed {
            self.count -= 1;
        }
        removed
    }

    /// Calls `f` with every subscription, depth first.
    pub fn for_each(&self, mut f: impl FnMut(&Arc<Subscription>)) {
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            node.plain.iter().for_each(&mut f);
            node.queues.iter().flat_map(|(_, m)| m).for_each(&mut f);
            stack.extend(node.literal.values());
            stack.extend(node.pwc.as_deref());
            stack.extend(node.fwc.as_deref());
        }
    }

    pub fn matches(&self, subject: &[u8]) -> MatchResult {
        let mut out = MatchResult::default();
        let tokens = Tokens::new(subject);
        // A subject with an empty token (`a..b`) reaches nobody, not even
        // `>`, as in the reference.
        if tokens.as_slice().iter().any(|t| t.is_empty()) {
            return out;
        }
        collect(&self.root, tokens.as_slice(), &mut out);
        out
    }
}

/// Removes `sub` below `node` along `tokens`, pruning emptied nodes.
fn remove_at(node: &mut Node, tokens: &[&[u8]], sub: &Arc<Subscription>) -> bool {
    let Some((&token, rest)) = tokens.split_first() else {
        return node.remove_sub(sub);
    };
    match token {
        b"*" | b">" => {
            let slot = if token == b"*" {
                &mut node.pwc
            } else {
                &mut node.fwc
            };
            let Some(child) = slot.as_deref_mut() else {
                return false;
            };
            let removed = remove_at(child, rest, sub);
            if child.is_empty() {
                *slot = None;
            }
            removed
        }
        _ => {
            let Some(child) = node.literal.get_mut(token) else {
                return false;
            };
            let removed = remove_at(child, rest, sub);
            if child.is_empty() {
                node.literal.remove(token);
            }
            removed
        }
    }
}

fn collect(node: &Node, tokens: &[&[u8]], out: &mut MatchResult) {
    let Some((&token, rest)) = tokens.split_first() else {
        node.add_subs_to(out);
        return;
    };
    if let Some(fwc) = &node.fwc {
        fwc.add_subs_to(out);
    }
    if let Some(pwc) = &node.pwc {
        collect(pwc, rest, out);
    }
    if let Some(child) = node.literal.get(token) {
        collect(child, rest, out);
    }
}

/// A subject split into tokens, on the stack for ordinary subjects.
struct Tokens<'a> {
    inline: [&'a [u8]; 16],
    len: usize,
    spill: Vec<&'a [u8]>,
}

impl<'a> Tokens<'a> {
    fn new(subject: &'a [u8]) -> Self {
        let mut t = Tokens {
            inline: [&[][..]; 16],
            len: 0,
            spill: Vec::new(),
        };
        for token in subject.split(|&b| b == SEP) {
            if t.len < t.inline.len() {
                t.inline[t.len] = token;
                t.len += 1;
            } else {
                if t.spill.is_empty() {
                    t.spill.extend_from_slice(&t.inline);
                }
                t.spill.push(token);
            }
        }
        t
    }

    fn as_slice(&self) -> &[&'a [u8]] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }
}
