//! The running totals: per-day/per-model aggregates, per-hour activity
//! bounds for the block chain, and the de-duplication state for the recent
//! window. Everything the figures need, nothing per line of history. Pure
//! state: no I/O (the cache file is `cache.rs`'s business).
//!
//! Bounded memory: an entry is folded into its day and hour at once. Only
//! entries newer than the horizon (24 h before the last refresh) are kept,
//! keyed by their de-duplication id, so that a better copy arriving later can
//! replace them and the active 5-hour block can be summed. While one session
//! (a transcript and its sub-agent files) is read, its older entries are kept
//! too, and dropped when the session is done.
//!
//! Of a dropped entry only its keys stay ([`Seen`], 8 bytes each), because a
//! copy of it can still arrive at any time: a resumed session's new file
//! starts with a verbatim copy of the earlier session's lines, written when
//! it is resumed, days or weeks later. A later line with such a key is that
//! copy and is not counted again (ccusage 20 compares every entry ever read).
//! Keys are needed as long as the line they stand for can be copied, i.e.
//! while its file is on disk; when the CLI deletes an old transcript the
//! tracker reads everything again (sums cannot un-count a file) and the set
//! is rebuilt from the files that are left.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::entry::Entry;
use super::pricing::{Prices, Tokens, cost_of};
use super::time::{LocalZone, MS_PER_HOUR};

/// How far back entries are kept for de-duplication and blocks.
pub const WINDOW_MS: i64 = 24 * MS_PER_HOUR;

/// Marks "no model" (absent or `<synthetic>`): counted in day totals, never
/// listed, as ccusage does.
pub const NO_MODEL: u16 = u16::MAX;

/// FNV-1a over parts with a separator byte, for de-duplication keys and
/// cache fingerprints: stable across builds, unlike std's `DefaultHasher`.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for part in parts {
        for &b in *part {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Token and cost sums of some entries.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub input: u64,
    pub output: u64,
    pub cache_creation: u64,
    pub cache_read: u64,
    pub cost: f64,
    pub entries: u64,
}

impl Counts {
    pub fn total_tokens(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_creation)
            .saturating_add(self.cache_read)
    }

    pub fn add(&mut self, other: &Counts) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_creation = self.cache_creation.saturating_add(other.cache_creation);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.cost += other.cost;
        self.entries += other.entries;
    }

    fn apply(&mut self, slot: &Slot, sign: i8) {
        let t = &slot.tokens;
        if sign > 0 {
            self.add(&Counts {
                input: t.input,
                output: t.output,
                cache_creation: t.cache_creation(),
                cache_read: t.cache_read,
                cost: slot.cost,
                entries: 1,
            });
        } else {
            self.input = self.input.saturating_sub(t.input);
            self.output = self.output.saturating_sub(t.output);
            self.cache_creation = self.cache_creation.saturating_sub(t.cache_creation());
            self.cache_read = self.cache_read.saturating_sub(t.cache_read);
            self.cost -= slot.cost;
            self.entries = self.entries.saturating_sub(1);
        }
    }
}

/// One counted entry, as much of it as the figures need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    pub ts_ms: i64,
    pub day: i64,
    pub model: u16,
    pub tokens: Tokens,
    pub cost: f64,
    pub sidechain: bool,
}

/// One day's sums per model (`NO_MODEL` included).
pub type Day = Vec<(u16, Counts)>;

#[derive(Debug, Default)]
pub struct Ledger {
    /// Interned display names (`claude-opus-4-6-fast`), indexed by `u16`.
    pub models: Vec<String>,
    pub(super) model_ids: HashMap<String, u16>,
    /// Local day (days since the epoch) to per-model sums.
    pub days: BTreeMap<i64, Day>,
    /// Hour (since the epoch) to the first and last millisecond in it that
    /// saw an entry: enough to replay ccusage's block chain exactly.
    pub hours: BTreeMap<i64, (u32, u32)>,
    /// De-duplication group id to the entry currently counted for it.
    pub groups: HashMap<u64, Slot>,
    /// Exact and replay keys to their group id.
    pub index: HashMap<u64, u64>,
    /// The keys of groups dropped from the window: their counted entry is
    /// in the sums for good, and a later line with one of these keys is a
    /// copy of it (see the module doc).
    pub seen: Seen,
    /// Recent entries without a message id (never de-duplicated).
    pub keyless: Vec<Slot>,
    /// Models that had tokens but no price and no `costUSD`: counted at $0.
    pub unpriced: BTreeSet<String>,
    pub horizon_ms: i64,
    pub(super) price_cache: HashMap<String, Option<super::pricing::ModelPrice>>,
}

/// A set of 64-bit keys at 8 bytes a key: a sorted vector, plus a small
/// hash set of keys added since it was last merged (merged when that set
/// outgrows an eighth of the vector, so inserting stays amortised
/// O(log n) and the vector is rewritten O(log n) times in all).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Seen {
    sorted: Vec<u64>,
    fresh: HashSet<u64>,
}

impl Seen {
    pub fn contains(&self, key: u64) -> bool {
        self.fresh.contains(&key) || self.sorted.binary_search(&key).is_ok()
    }

    pub fn insert(&mut self, key: u64) {
        if self.contains(key) {
            return;
        }
        self.fresh.insert(key);
        if self.fresh.len() >= (self.sorted.len() / 8).max(1024) {
            self.merge();
        }
    }

    fn merge(&mut self) {
        self.sorted.extend(self.fresh.drain());
        self.sorted.sort_unstable();
        self.sorted.dedup();
        self.fresh = HashSet::new();
    }

    /// Every key, sorted: what the cache stores.
    pub fn to_sorted(&self) -> Vec<u64> {
        let mut all = self.sorted.clone();
        all.extend(self.fresh.iter().copied());
        all.sort_unstable();
        all.dedup();
        all
    }

    pub fn from_sorted(mut keys: Vec<u64>) -> Self {
        // Sorted by whoever wrote them; a hand-edited cache must not break
        // the binary search.
        keys.sort_unstable();
        keys.dedup();
        Seen {
            sorted: keys,
            fresh: HashSet::new(),
        }
    }
}

/// Whether `new` should be counted instead of `old` for the same message:
/// a main-chain copy beats a sidechain replay; otherwise the larger token
/// total wins and, on a tie, the later line (ccusage 20.0.24's rule: the
/// first line of a streamed message carries a provisional output count).
fn replaces(new: &Slot, old: &Slot) -> bool {
    if new.sidechain != old.sidechain {
        return old.sidechain;
    }
    new.tokens.total() >= old.tokens.total()
}

impl Ledger {
    pub fn intern(&mut self, name: &str) -> u16 {
        if let Some(&id) = self.model_ids.get(name) {
            return id;
        }
        let id = self.models.len();
        if id >= usize::from(NO_MODEL) {
            return NO_MODEL;
        }
        let id = id as u16;
        self.models.push(name.to_string());
        self.model_ids.insert(name.to_string(), id);
        id
    }

    /// Folds one parsed entry in, de-duplicated against what is held.
    pub fn admit(&mut self, entry: &Entry<'_>, zone: &LocalZone, prices: &Prices) {
        let cost = match entry.cost_usd {
            Some(cost) => cost,
            None => self.price(entry, prices),
        };
        let model = match entry.display_model() {
            Some(name) => self.intern(&name),
            None => NO_MODEL,
        };
        let slot = Slot {
            ts_ms: entry.ts_ms,
            day: zone.local_day(entry.ts_ms),
            model,
            tokens: entry.tokens,
            cost,
            sidechain: entry.sidechain,
        };
        let Some(message) = entry.message_id.as_deref() else {
            self.count(&slot, 1);
            if slot.ts_ms >= self.horizon_ms {
                self.keyless.push(slot);
            }
            return;
        };
        let session = entry.session.as_deref().unwrap_or("");
        // With a request id the pair is the key, across sessions; without
        // one ccusage narrows it to the session and the exact timestamp.
        let exact = match entry.request_id.as_deref() {
            Some(request) => fnv1a(&[b"k", message.as_bytes(), request.as_bytes()]),
            None => fnv1a(&[
                b"n",
                message.as_bytes(),
                session.as_bytes(),
                &entry.ts_ms.to_le_bytes(),
            ]),
        };
        // A sidechain (`/btw`) replays parent messages under new request ids.
        let replay = fnv1a(&[b"r", message.as_bytes(), session.as_bytes()]);
        if !self.index.contains_key(&exact)
            && (self.seen.contains(exact)
                || (slot.sidechain
                    && !self.index.contains_key(&replay)
                    && self.seen.contains(replay)))
        {
            // A copy of an entry counted before the window (a resumed
            // session's copied prefix). Its counted copy is no longer held,
            // so it cannot be swapped; a verbatim copy has nothing larger to
            // offer. This session's own keys join the set, so that its later
            // sidechain replays of the message are recognised as ccusage
            // recognises them (it aliases both sessions to the group).
            self.seen.insert(exact);
            self.seen.insert(replay);
            return;
        }
        let found = self.index.get(&exact).copied().or_else(|| {
            self.index.get(&replay).copied().filter(|group| {
                slot.sidechain || self.groups.get(group).is_some_and(|old| old.sidechain)
            })
        });
        match found.and_then(|group| Some((group, *self.groups.get(&group)?))) {
            Some((group, old)) => {
                if replaces(&slot, &old) {
                    self.count(&old, -1);
                    self.count(&slot, 1);
                    self.groups.insert(group, slot);
                }
                self.index.insert(exact, group);
                self.index.entry(replay).or_insert(group);
            }
            None => {
                self.count(&slot, 1);
                self.groups.insert(exact, slot);
                self.index.insert(exact, exact);
                self.index.entry(replay).or_insert(exact);
            }
        }
    }

    fn price(&mut self, entry: &Entry<'_>, prices: &Prices) -> f64 {
        let Some(model) = entry.model.as_deref() else {
            return 0.0;
        };
        let price = match self.price_cache.get(model) {
            Some(price) => *price,
            None => {
                let price = prices.find(model).copied();
                self.price_cache.insert(model.to_string(), price);
                price
            }
        };
        match price {
            Some(price) => cost_of(&price, &entry.tokens, entry.fast),
            None => {
                if entry.tokens.total() > 0
                    && model != "<synthetic>"
                    && self.unpriced.insert(model.to_string())
                {
                    log::warn!("usage: no price for model {model:?}; counted at $0");
                }
                0.0
            }
        }
    }

    fn count(&mut self, slot: &Slot, sign: i8) {
        let day = self.days.entry(slot.day).or_default();
        let at = match day.iter().position(|(model, _)| *model == slot.model) {
            Some(at) => at,
            None => {
                day.push((slot.model, Counts::default()));
                day.len() - 1
            }
        };
        day[at].1.apply(slot, sign);
        if day[at].1.entries == 0 {
            day.swap_remove(at);
        }
        if day.is_empty() {
            self.days.remove(&slot.day);
        }
        if sign > 0 {
            // A replaced copy's time stays in its hour: it differs from the
            // copy that replaced it by the seconds one message took to stream.
            let hour = slot.ts_ms.div_euclid(MS_PER_HOUR);
            let within = slot.ts_ms.rem_euclid(MS_PER_HOUR) as u32;
            let bounds = self.hours.entry(hour).or_insert((within, within));
            bounds.0 = bounds.0.min(within);
            bounds.1 = bounds.1.max(within);
        }
    }

    /// Drops de-duplication state older than the horizon. Called between
    /// sessions while reading and after each refresh.
    pub fn prune(&mut self) {
        let horizon = self.horizon_ms;
        let (groups, seen) = (&self.groups, &mut self.seen);
        // Every key of a dropped group (its exact keys and its sessions'
        // replay keys) is remembered: a copy may still arrive.
        self.index.retain(|&key, group| {
            let keep = groups.get(group).is_some_and(|slot| slot.ts_ms >= horizon);
            if !keep {
                seen.insert(key);
            }
            keep
        });
        self.groups.retain(|_, slot| slot.ts_ms >= horizon);
        self.keyless.retain(|slot| slot.ts_ms >= horizon);
        if self.groups.capacity() > 4 * self.groups.len().max(256) {
            self.groups.shrink_to_fit();
            self.index.shrink_to_fit();
        }
    }

    /// The entries held for the recent window.
    pub fn recent(&self) -> impl Iterator<Item = &Slot> {
        self.groups.values().chain(self.keyless.iter())
    }

    /// Rebuilds the name index after the model list was loaded from a cache.
    pub fn reindex_models(&mut self) {
        self.model_ids = self
            .models
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i as u16))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::entry::parse_line;

    fn line(ts: &str, msg: &str, req: &str, input: u64, output: u64, extra: &str) -> String {
        let ids = match (msg, req) {
            ("", _) => String::new(),
            (m, "") => format!(r#""id":"{m}","#),
            (m, _) => format!(r#""id":"{m}","#),
        };
        let req = if req.is_empty() {
            String::new()
        } else {
            format!(r#""requestId":"{req}","#)
        };
        format!(
            r#"{{"timestamp":"{ts}",{req}"sessionId":"s1"{extra},"message":{{{ids}"model":"claude-sonnet-4-5-20250929","usage":{{"input_tokens":{input},"output_tokens":{output}}}}}}}"#
        )
    }

    /// Folds lines in and reports each day as `day in/out entries`.
    fn check(lines: &[String], expect: &[&str]) {
        let mut ledger = Ledger::default();
        let zone = LocalZone::utc();
        let prices = Prices::embedded();
        for text in lines {
            let mut out = Vec::new();
            parse_line(text, "p", &mut out);
            for entry in &out {
                ledger.admit(entry, &zone, &prices);
            }
        }
        let got: Vec<String> = ledger
            .days
            .iter()
            .map(|(day, rows)| {
                let mut sum = Counts::default();
                rows.iter().for_each(|(_, c)| sum.add(c));
                format!(
                    "{} {}/{} {}",
                    super::super::time::format_day(*day),
                    sum.input,
                    sum.output,
                    sum.entries
                )
            })
            .collect();
        assert_eq!(got, expect);
    }

    const T: &str = "2026-01-05T10:00:00.000Z";
    const T2: &str = "2026-01-05T10:00:01.000Z";

    #[test]
    fn duplicates() {
        // The streamed message: the later, larger line counts.
        check(
            &[
                line(T, "m1", "r1", 1, 1, ""),
                line(T2, "m1", "r1", 1, 500, ""),
            ],
            &["2026-01-05 1/500 1"],
        );
        // Larger first: it stays.
        check(
            &[
                line(T, "m1", "r1", 1, 500, ""),
                line(T2, "m1", "r1", 1, 1, ""),
            ],
            &["2026-01-05 1/500 1"],
        );
        // Equal totals: the later line.
        check(
            &[
                line(T, "m1", "r1", 100, 0, ""),
                line(T, "m1", "r1", 0, 100, ""),
            ],
            &["2026-01-05 0/100 1"],
        );
        // A copy on another day moves the entry to that day.
        check(
            &[
                line(T, "m1", "r1", 1, 1, ""),
                line("2026-01-06T10:00:00.000Z", "m1", "r1", 1, 500, ""),
            ],
            &["2026-01-06 1/500 1"],
        );
        // No ids: nothing to de-duplicate on.
        check(
            &[line(T, "", "", 1, 1, ""), line(T, "", "", 1, 1, "")],
            &["2026-01-05 2/2 2"],
        );
        // Message id without request id: same timestamp only.
        check(
            &[line(T, "m1", "", 1, 1, ""), line(T, "m1", "", 1, 7, "")],
            &["2026-01-05 1/7 1"],
        );
        check(
            &[line(T, "m1", "", 1, 1, ""), line(T2, "m1", "", 1, 7, "")],
            &["2026-01-05 2/8 2"],
        );
        // Different request ids of one message are different requests...
        check(
            &[line(T, "m1", "r1", 1, 1, ""), line(T, "m1", "r2", 1, 7, "")],
            &["2026-01-05 2/8 2"],
        );
        // ...unless one is a sidechain replay: the main chain copy wins.
        check(
            &[
                line(T, "m1", "r1", 1, 1, ""),
                line(T, "m1", "r2", 1, 7, r#","isSidechain":true"#),
            ],
            &["2026-01-05 1/1 1"],
        );
        check(
            &[
                line(T, "m1", "r2", 1, 7, r#","isSidechain":true"#),
                line(T, "m1", "r1", 1, 1, ""),
            ],
            &["2026-01-05 1/1 1"],
        );
    }

    #[test]
    fn prune_keeps_only_the_window() {
        let mut ledger = Ledger {
            horizon_ms: super::super::time::parse_timestamp(T2).unwrap_or_default(),
            ..Ledger::default()
        };
        let zone = LocalZone::utc();
        let prices = Prices::embedded();
        for text in [
            line(T, "m1", "r1", 1, 1, ""),
            line(T2, "m2", "r2", 1, 1, ""),
        ] {
            let mut out = Vec::new();
            parse_line(&text, "p", &mut out);
            out.iter().for_each(|e| ledger.admit(e, &zone, &prices));
        }
        ledger.prune();
        assert_eq!(ledger.groups.len(), 1);
        assert_eq!(ledger.recent().count(), 1);
        assert_eq!(
            ledger
                .days
                .values()
                .flatten()
                .map(|(_, c)| c.entries)
                .sum::<u64>(),
            2
        );
    }

    #[test]
    fn seen_keys_survive_merges_and_the_cache_form() {
        let mut seen = Seen::default();
        let keys: Vec<u64> = (0..5000u64).map(|i| fnv1a(&[&i.to_le_bytes()])).collect();
        keys.iter().for_each(|&k| seen.insert(k));
        keys.iter().for_each(|&k| seen.insert(k));
        assert!(keys.iter().all(|&k| seen.contains(k)));
        assert!(!seen.contains(fnv1a(&[b"other"])));
        let sorted = seen.to_sorted();
        assert_eq!(sorted.len(), 5000);
        assert_eq!(Seen::from_sorted(sorted.clone()).to_sorted(), sorted);
    }

    #[test]
    fn prune_remembers_the_keys_of_what_it_drops() {
        let mut ledger = Ledger::default();
        let zone = LocalZone::utc();
        let prices = Prices::embedded();
        let admit = |ledger: &mut Ledger, text: String| {
            let mut out = Vec::new();
            parse_line(&text, "p", &mut out);
            out.iter().for_each(|e| ledger.admit(e, &zone, &prices));
        };
        admit(&mut ledger, line(T, "m1", "r1", 1, 1, ""));
        ledger.horizon_ms = super::super::time::parse_timestamp(T2).unwrap_or_default();
        ledger.prune();
        assert!(ledger.groups.is_empty() && ledger.index.is_empty());
        // The same message again, in another session: a copy, not counted;
        // nor is a sidechain replay of it in that session.
        admit(
            &mut ledger,
            line(T, "m1", "r1", 1, 1, "").replace("s1", "s2"),
        );
        admit(
            &mut ledger,
            line(T, "m1", "r7", 1, 9, r#","isSidechain":true"#).replace("s1", "s2"),
        );
        // Another request id on the main chain is another request.
        admit(&mut ledger, line(T, "m1", "r8", 1, 1, ""));
        let entries: u64 = ledger.days.values().flatten().map(|(_, c)| c.entries).sum();
        assert_eq!(entries, 2);
    }

    #[test]
    fn fingerprints_separate_parts() {
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
        assert_eq!(fnv1a(&[b"x"]), fnv1a(&[b"x"]));
    }
}
