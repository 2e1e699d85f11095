//! Parsed documents, kept by their text, so that a document clients send again is parsed (and
//! its history plan compiled) once.
//!
//! Only documents that executed without error are kept (so each is within the cost and alias
//! limits), at most [`CAPACITY`] of them and [`CAPACITY_BYTES`] of text. Which ones stay is
//! decided by how often each is asked for, counted in a small frequency sketch over every
//! request (kept or not) whose counts halve every `AGE_EVERY` requests:
//! - a document is admitted into a full cache only if it is asked for more often than the
//!   least-asked document it would replace;
//! - so a client sending a new document before every request of another user cannot push that
//!   user's document out (before, eviction by fewest hits, counts never decaying, let exactly
//!   that keep another user's document from ever compiling), and documents once hot but no
//!   longer asked for cool down and make room.
//!
//! The sketch's hash is keyed per process, so nobody can choose texts that collide with
//! another's document.

use std::{
    collections::{hash_map::RandomState, HashMap},
    hash::BuildHasher,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, OnceLock,
    },
};

use async_graphql::parser::types::ExecutableDocument;

use super::{
    payments::history_plan::{self, Plan},
    schema_types::SchemaTypes,
};

/// Documents kept.
pub const CAPACITY: usize = 256;
/// Query text kept in all.
pub const CAPACITY_BYTES: usize = 1024 * 1024;

/// Documents parsed once and kept with their plan, keyed by query text.
pub struct DocumentCache {
    entries: Mutex<Entries>,
    /// Keys the frequency sketch's hash.
    hasher: RandomState,
    compile: bool,
}

struct Entries {
    by_query: HashMap<Arc<str>, Vec<Arc<Prepared>>>,
    count: usize,
    bytes: usize,
    asked: Sketch,
}

/// A parsed document, for one operation name, and what was made of it.
pub struct Prepared {
    query: Arc<str>,
    operation_name: Option<String>,
    /// The sketch's key for (text, operation name).
    key: u64,
    pub doc: ExecutableDocument,
    /// The document as the executor runs it: with the hidden `__typename`s completion needs
    /// on abstract types (`completion::with_typenames`); `None` when it runs as parsed.
    executable: OnceLock<Option<ExecutableDocument>>,
    compile: bool,
    /// Compiled on first use once the document is known to be valid.
    plan: OnceLock<Option<Plan>>,
    /// Set once the document executed through async-graphql with no error.
    validated: AtomicBool,
}

impl DocumentCache {
    /// `compile: false` keeps parsed documents but never runs a plan.
    pub fn new(compile: bool) -> Self {
        DocumentCache {
            entries: Mutex::new(Entries {
                by_query: HashMap::new(),
                count: 0,
                bytes: 0,
                asked: Sketch::new(),
            }),
            hasher: RandomState::new(),
            compile,
        }
    }

    fn key_of(&self, query: &str, operation_name: Option<&str>) -> u64 {
        self.hasher.hash_one((query, operation_name))
    }

    /// The kept document for this text and operation, or the text parsed now; either way the
    /// request is counted. Parse errors are the caller's.
    pub fn prepare(
        &self,
        query: &str,
        operation_name: Option<&str>,
    ) -> Result<Arc<Prepared>, async_graphql::parser::Error> {
        let key = self.key_of(query, operation_name);
        if let Some(hit) = self.lookup(query, operation_name, key) {
            return Ok(hit);
        }
        let doc = async_graphql::parser::parse_query(query)?;
        Ok(Arc::new(Prepared {
            query: Arc::from(query),
            operation_name: operation_name.map(str::to_owned),
            key,
            doc,
            executable: OnceLock::new(),
            compile: self.compile,
            plan: OnceLock::new(),
            validated: AtomicBool::new(false),
        }))
    }

    fn lookup(&self, query: &str, operation_name: Option<&str>, key: u64) -> Option<Arc<Prepared>> {
        let mut entries = self.entries.lock().ok()?;
        entries.asked.record(key);
        entries
            .by_query
            .get(query)?
            .iter()
            .find(|p| p.operation_name.as_deref() == operation_name)
            .cloned()
    }

    /// Marks a document that executed without error as valid (so its plan may run) and keeps
    /// it, if it is asked for more often than what it would displace.
    pub fn keep(&self, prepared: &Arc<Prepared>) {
        prepared.validated.store(true, Ordering::Relaxed);
        let size = prepared.query.len();
        if size > CAPACITY_BYTES / 4 {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let kept = entries.by_query.get(&prepared.query).is_some_and(|all| {
            all.iter()
                .any(|p| p.operation_name == prepared.operation_name)
        });
        if kept {
            return;
        }
        let wanted = entries.asked.estimate(prepared.key);
        while entries.count >= CAPACITY || entries.bytes + size > CAPACITY_BYTES {
            if !entries.evict_one_asked_less_than(wanted) {
                return; // not admitted: everything kept is asked for at least as often
            }
        }
        entries.count += 1;
        entries.bytes += size;
        entries
            .by_query
            .entry(prepared.query.clone())
            .or_default()
            .push(prepared.clone());
    }
}

impl Entries {
    /// Drops the least-asked document if it is asked for less often than `wanted`.
    fn evict_one_asked_less_than(&mut self, wanted: u8) -> bool {
        let asked = &self.asked;
        let least = self
            .by_query
            .iter()
            .flat_map(|(query, all)| all.iter().map(move |p| (query, p)))
            .min_by_key(|(_, p)| asked.estimate(p.key))
            .filter(|(_, p)| asked.estimate(p.key) < wanted)
            .map(|(query, p)| (query.clone(), p.operation_name.clone()));
        let Some((query, operation_name)) = least else {
            return false;
        };
        if let Some(all) = self.by_query.get_mut(&query) {
            all.retain(|p| p.operation_name != operation_name);
            if all.is_empty() {
                self.by_query.remove(&query);
            }
        }
        self.count -= 1;
        self.bytes -= query.len();
        true
    }
}

impl Prepared {
    /// The document the executor runs and completion reads (see `executable`).
    pub fn executable(&self, types: &SchemaTypes) -> &ExecutableDocument {
        self.executable
            .get_or_init(|| super::completion::with_typenames(types, &self.doc))
            .as_ref()
            .unwrap_or(&self.doc)
    }

    /// The operation name the document was prepared for.
    pub fn operation_name(&self) -> Option<&str> {
        self.operation_name.as_deref()
    }

    /// The plan, when it may run: the document known to be valid, and compiled.
    pub fn runnable(&self) -> Option<&Plan> {
        if !self.compile || !self.validated.load(Ordering::Relaxed) {
            return None;
        }
        self.plan
            .get_or_init(|| history_plan::compile(&self.doc, self.operation_name.as_deref()))
            .as_ref()
    }
}

/// Counters per sketch row; a power of two.
const WIDTH: usize = 4096;
const DEPTH: usize = 4;
/// Counts saturate here: beyond it, "often" is often enough.
const MAX_COUNT: u8 = 15;
/// Requests between two halvings of every count.
const AGE_EVERY: u32 = 10 * CAPACITY as u32;

/// A count-min sketch of how often each document is asked for, with aging (TinyLFU's
/// frequency filter): 16 KiB whatever the number of distinct documents.
struct Sketch {
    counters: Box<[u8]>,
    recorded: u32,
}

impl Sketch {
    fn new() -> Self {
        Sketch {
            counters: vec![0; WIDTH * DEPTH].into_boxed_slice(),
            recorded: 0,
        }
    }

    fn slots(key: u64) -> impl Iterator<Item = usize> {
        // Double hashing: one keyed 64-bit hash gives each row its own slot.
        let (h1, h2) = (key as u32 as usize, ((key >> 32) as usize) | 1);
        (0..DEPTH).map(move |row| row * WIDTH + (h1.wrapping_add(row.wrapping_mul(h2)) % WIDTH))
    }

    fn record(&mut self, key: u64) {
        for slot in Self::slots(key) {
            let c = &mut self.counters[slot];
            *c = (*c + 1).min(MAX_COUNT);
        }
        self.recorded += 1;
        if self.recorded >= AGE_EVERY {
            self.recorded = 0;
            for c in self.counters.iter_mut() {
                *c /= 2;
            }
        }
    }

    fn estimate(&self, key: u64) -> u8 {
        Self::slots(key)
            .map(|slot| self.counters[slot])
            .min()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a document as the executor would: prepared (counted), then kept as valid.
    fn ask(cache: &DocumentCache, text: &str) -> bool {
        let prepared = cache.prepare(text, None).expect("parses");
        let planned = prepared.runnable().is_some();
        cache.keep(&prepared);
        planned
    }

    #[test]
    fn the_cache_keeps_valid_documents_within_bounds_and_the_used_ones_longest() {
        let cache = DocumentCache::new(true);
        let hot = "{ payments { edges { cursor } } }";
        let prepared = cache.prepare(hot, None).expect("parses");
        assert!(prepared.runnable().is_none(), "not known valid yet");
        let key = cache.key_of(hot, None);
        assert!(
            cache.lookup(hot, None, key).is_none(),
            "kept only once it has run"
        );
        cache.keep(&prepared);
        assert!(prepared.runnable().is_some());
        for _ in 0..3 {
            cache.prepare(hot, None).expect("parses");
        }
        let big = format!(
            "{{ payments {{ edges {{ cursor }} }} }} #{}",
            "x".repeat(30_000)
        );
        for i in 0..1_000 {
            let text = if i % 2 == 0 {
                format!("{big}{i}")
            } else {
                format!("{{ payments {{ edges {{ cursor }} }} }} #{i}")
            };
            ask(&cache, &text);
            let entries = cache.entries.lock().expect("lock");
            assert!(entries.bytes <= CAPACITY_BYTES && entries.count <= CAPACITY);
            assert_eq!(
                entries.count,
                entries.by_query.values().map(Vec::len).sum::<usize>()
            );
        }
        assert!(
            cache.lookup(hot, None, key).is_some(),
            "the document in use stays"
        );
    }

    #[test]
    fn a_client_cannot_keep_another_users_document_from_compiling() {
        let cache = DocumentCache::new(true);
        // The attacker fills the cache with documents asked for a few times each…
        let filler = |i: usize| format!("{{ payments {{ edges {{ cursor }} }} }} # filler {i}");
        for _ in 0..3 {
            for i in 0..CAPACITY {
                ask(&cache, &filler(i));
            }
        }
        // …then sends a new one before each of the victim's requests.
        let victim = "query History { payments(first: 20) { edges { node { id status } } } }";
        let mut planned = 0;
        for round in 0..20 {
            ask(
                &cache,
                &format!("{{ payments {{ edges {{ cursor }} }} }} # new {round}"),
            );
            if ask(&cache, victim) {
                planned += 1;
            }
        }
        // Admitted once asked for more often than the least-asked filler (the 4th request),
        // compiled from the 5th on; eviction by fewest hits gave 0 of 20.
        assert!(
            planned >= 15,
            "the victim's document compiled {planned} of 20 times"
        );
    }

    #[test]
    fn counts_age_so_documents_no_longer_asked_for_make_room() {
        let cache = DocumentCache::new(true);
        let old = |i: usize| format!("{{ payments {{ edges {{ cursor }} }} }} # old {i}");
        for _ in 0..MAX_COUNT {
            for i in 0..CAPACITY {
                ask(&cache, &old(i));
            }
        }
        // Another workload, long enough for several halvings.
        let new = "{ payments { edges { node { id } } } }";
        let mut planned = 0;
        for round in 0..(4 * AGE_EVERY as usize) {
            ask(
                &cache,
                &format!(
                    "{{ payments {{ pageInfo {{ hasNextPage }} }} }} # {}",
                    round % 16
                ),
            );
            if ask(&cache, new) {
                planned += 1;
            }
        }
        assert!(
            planned > 0,
            "the new hot document got in once the old ones cooled"
        );
    }

    #[test]
    fn the_sketch_counts_saturate_and_halve() {
        let mut sketch = Sketch::new();
        for _ in 0..40 {
            sketch.record(7);
        }
        assert_eq!(sketch.estimate(7), MAX_COUNT);
        assert_eq!(sketch.estimate(8), 0);
        for i in 0..AGE_EVERY {
            sketch.record(1_000 + u64::from(i));
        }
        assert!(sketch.estimate(7) <= MAX_COUNT / 2 + 1);
    }
}
