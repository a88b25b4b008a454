//! The streams' subjects by token, for the overlap check of a stream
//! create or update: a walk of the tokens a new subject can collide with,
//! not a comparison with every subject of every stream (10,000 KV buckets
//! made that check most of a create's time).

use std::collections::HashMap;

#[derive(Default)]
struct Node {
    literal: HashMap<String, Node>,
    /// `*` at this position.
    pwc: Option<Box<Node>>,
    /// `>` at this position: it ends there.
    fwc_owners: Vec<String>,
    /// Streams with a subject ending at this node.
    owners: Vec<String>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.literal.is_empty()
            && self.pwc.is_none()
            && self.fwc_owners.is_empty()
            && self.owners.is_empty()
    }

    /// Whether a stream other than `except` owns anything in this subtree
    /// below this node (a `>` in the query at this depth).
    fn any_below(&self, except: &str) -> bool {
        let other = |v: &Vec<String>| v.iter().any(|o| o != except);
        other(&self.fwc_owners)
            || self.literal.values().any(|n| n.any_here_or_below(except))
            || self
                .pwc
                .as_ref()
                .is_some_and(|n| n.any_here_or_below(except))
    }

    fn any_here_or_below(&self, except: &str) -> bool {
        self.owners.iter().any(|o| o != except) || self.any_below(except)
    }

    fn collides(&self, tokens: &[&str], except: &str) -> bool {
        let other = |v: &Vec<String>| v.iter().any(|o| o != except);
        let Some((&first, rest)) = tokens.split_first() else {
            return other(&self.owners);
        };
        if first == ">" {
            return self.any_below(except);
        }
        // A stored `>` here takes any token the query has here.
        if other(&self.fwc_owners) {
            return true;
        }
        let pwc = self.pwc.as_ref().is_some_and(|n| n.collides(rest, except));
        if pwc {
            return true;
        }
        if first == "*" {
            self.literal.values().any(|n| n.collides(rest, except))
        } else {
            self.literal
                .get(first)
                .is_some_and(|n| n.collides(rest, except))
        }
    }
}

/// Subject filters of every stream, each owned by its stream's name.
#[derive(Default)]
pub(crate) struct SubjectIndex {
    root: Node,
}

impl SubjectIndex {
    pub(crate) fn insert(&mut self, subject: &str, stream: &str) {
        let mut node = &mut self.root;
        let tokens: Vec<&str> = subject.split('.').collect();
        for (i, token) in tokens.iter().enumerate() {
            match *token {
                ">" if i + 1 == tokens.len() => {
                    node.fwc_owners.push(stream.to_string());
                    return;
                }
                "*" => node = node.pwc.get_or_insert_with(Box::default),
                t => node = node.literal.entry(t.to_string()).or_default(),
            }
        }
        node.owners.push(stream.to_string());
    }

    pub(crate) fn remove(&mut self, subject: &str, stream: &str) {
        let tokens: Vec<&str> = subject.split('.').collect();
        remove_in(&mut self.root, &tokens, stream);
    }

    /// Whether a stream other than `except` has a subject that some
    /// literal subject matches together with `subject`.
    pub(crate) fn collides(&self, subject: &str, except: &str) -> bool {
        let tokens: Vec<&str> = subject.split('.').collect();
        self.root.collides(&tokens, except)
    }
}

/// Removes one ownership; prunes nodes left empty.
fn remove_in(node: &mut Node, tokens: &[&str], stream: &str) {
    let drop_one = |v: &mut Vec<String>| {
        if let Some(i) = v.iter().position(|o| o == stream) {
            v.swap_remove(i);
        }
    };
    let Some((&first, rest)) = tokens.split_first() else {
        return drop_one(&mut node.owners);
    };
    match first {
        ">" if rest.is_empty() => drop_one(&mut node.fwc_owners),
        "*" => {
            if let Some(child) = node.pwc.as_mut() {
                remove_in(child, rest, stream);
                if child.is_empty() {
                    node.pwc = None;
                }
            }
        }
        t => {
            if let Some(child) = node.literal.get_mut(t) {
                remove_in(child, rest, stream);
                if child.is_empty() {
                    node.literal.remove(t);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SubjectIndex;
    use crate::subject::subjects_overlap;

    /// Every pair of a small subject alphabet, against the pairwise rule.
    #[test]
    fn agrees_with_the_pairwise_overlap_rule() {
        let tokens = ["a", "b", "*", ">"];
        let mut subjects = Vec::new();
        for n in 1..=3 {
            let mut idx = vec![0usize; n];
            loop {
                let toks: Vec<&str> = idx.iter().map(|&i| tokens[i]).collect();
                // `>` only last, as subject validation requires.
                if !toks[..n - 1].contains(&">") {
                    subjects.push(toks.join("."));
                }
                let mut k = 0;
                while k < n {
                    idx[k] += 1;
                    if idx[k] < tokens.len() {
                        break;
                    }
                    idx[k] = 0;
                    k += 1;
                }
                if k == n {
                    break;
                }
            }
        }
        for stored in &subjects {
            let mut index = SubjectIndex::default();
            index.insert(stored, "S");
            for query in &subjects {
                assert_eq!(
                    index.collides(query, "T"),
                    subjects_overlap(query, stored),
                    "{query} vs {stored}"
                );
                assert!(!index.collides(query, "S"), "own subjects never collide");
            }
            index.remove(stored, "S");
            assert!(index.root.is_empty(), "{stored} removed");
        }
    }

    #[test]
    fn many_streams_and_removal() {
        let mut index = SubjectIndex::default();
        for i in 0..100 {
            index.insert(&format!("$KV.B{i}.>"), &format!("KV_B{i}"));
        }
        assert!(index.collides("$KV.B7.key", "X"));
        assert!(!index.collides("$KV.B7.key", "KV_B7"));
        assert!(!index.collides("$KV.C.>", "X"));
        assert!(index.collides("$KV.*.x", "X"));
        assert!(index.collides(">", "X"));
        index.remove("$KV.B7.>", "KV_B7");
        assert!(!index.collides("$KV.B7.key", "X"));
    }
}
