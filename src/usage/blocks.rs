//! The 5-hour billing block rules (ccusage's): where the current block
//! starts, whether it is active, and its cost, burn rate and projection.
//! Pure functions over the ledger's hour bounds and recent entries.
//!
//! The rules, over entries in time order: a block starts at the hour its
//! first entry falls in; an entry more than 5 h after the block's start, or
//! more than 5 h after the previous entry, starts a new block at its own
//! hour. A block is active while the last entry is less than 5 h old and its
//! end has not passed. The time between blocks is a gap, never a block.

use std::collections::BTreeMap;

use super::ledger::{NO_MODEL, Slot};
use super::time::{MS_PER_HOUR, MS_PER_MINUTE};

pub const BLOCK_MS: i64 = 5 * MS_PER_HOUR;

/// Where the chain of blocks ends: the last block's start and last entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainEnd {
    pub start_ms: i64,
    pub last_ms: i64,
    /// Entries at exactly this instant belong to the block before: they sit
    /// on its 5-hour boundary, and only a later entry opened this block.
    pub excluded_ms: Option<i64>,
}

/// Replays the block chain over per-hour first/last entry times. Within an
/// hour only the first entry can open a block by a gap (entries after it are
/// less than an hour apart), and a block's end is always on an hour, so the
/// first and last instant of each hour decide every boundary.
pub fn chain_end(hours: &BTreeMap<i64, (u32, u32)>) -> Option<ChainEnd> {
    let mut state: Option<ChainEnd> = None;
    for (&hour, &(first, last)) in hours {
        let hour_ms = hour * MS_PER_HOUR;
        let (first, last) = (hour_ms + i64::from(first), hour_ms + i64::from(last));
        state = Some(match state {
            None => ChainEnd {
                start_ms: hour_ms,
                last_ms: last,
                excluded_ms: None,
            },
            Some(block) => {
                let end = block.start_ms + BLOCK_MS;
                if first - block.last_ms > BLOCK_MS || first > end {
                    ChainEnd {
                        start_ms: hour_ms,
                        last_ms: last,
                        excluded_ms: None,
                    }
                } else if last > end {
                    // first == end == hour_ms: the boundary entries stay in
                    // the old block, the next one opens a block at this hour.
                    ChainEnd {
                        start_ms: hour_ms,
                        last_ms: last,
                        excluded_ms: Some(end),
                    }
                } else {
                    ChainEnd {
                        last_ms: last,
                        ..block
                    }
                }
            }
        });
    }
    state
}

/// The active block's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveBlock {
    pub start_ms: i64,
    pub end_ms: i64,
    pub cost: f64,
    pub tokens: u64,
    /// Model ids in order of first use within the block.
    pub models: Vec<u16>,
    /// Rounded minutes to the block's end, as ccusage's projection has it.
    pub remaining_minutes: u64,
    /// `None` when the block's entries span no time (a single entry).
    pub cost_per_hour: Option<f64>,
    /// Cost at the end of the block at the current burn rate, to the cent.
    pub projected_cost: Option<f64>,
}

/// The block active at `now`, if any, summed from the recent entries.
pub fn active_block<'a>(
    hours: &BTreeMap<i64, (u32, u32)>,
    recent: impl Iterator<Item = &'a Slot>,
    now_ms: i64,
) -> Option<ActiveBlock> {
    let chain = chain_end(hours)?;
    let end_ms = chain.start_ms + BLOCK_MS;
    if now_ms - chain.last_ms >= BLOCK_MS || now_ms >= end_ms {
        return None;
    }
    let mut entries: Vec<&Slot> = recent
        .filter(|slot| slot.ts_ms >= chain.start_ms && Some(slot.ts_ms) != chain.excluded_ms)
        .collect();
    // A total order, so that the float sums do not depend on hash order.
    entries.sort_by(|a, b| {
        (a.ts_ms, a.model, a.tokens.total())
            .cmp(&(b.ts_ms, b.model, b.tokens.total()))
            .then(a.cost.total_cmp(&b.cost))
    });
    let (first, last) = (entries.first()?.ts_ms, entries.last()?.ts_ms);
    let mut cost = 0.0;
    let mut tokens = 0u64;
    let mut models = Vec::new();
    for slot in &entries {
        cost += slot.cost;
        tokens = tokens.saturating_add(slot.tokens.total());
        if slot.model != NO_MODEL && !models.contains(&slot.model) {
            models.push(slot.model);
        }
    }
    let remaining_minutes = ((end_ms - now_ms) as f64 / MS_PER_MINUTE as f64)
        .max(0.0)
        .round();
    let duration_minutes = (last - first) as f64 / MS_PER_MINUTE as f64;
    let cost_per_hour = (duration_minutes > 0.0).then(|| cost / duration_minutes * 60.0);
    let projected_cost = cost_per_hour
        .map(|per_hour| ((cost + per_hour / 60.0 * remaining_minutes) * 100.0).round() / 100.0);
    Some(ActiveBlock {
        start_ms: chain.start_ms,
        end_ms,
        cost,
        tokens,
        models,
        remaining_minutes: remaining_minutes as u64,
        cost_per_hour,
        projected_cost,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::pricing::Tokens;
    use crate::usage::time::{format_iso_ms, parse_timestamp};

    fn ms(text: &str) -> i64 {
        parse_timestamp(text).unwrap_or(i64::MIN)
    }

    fn hours_of(times: &[&str]) -> BTreeMap<i64, (u32, u32)> {
        let mut hours = BTreeMap::new();
        for t in times {
            let t = ms(t);
            let within = t.rem_euclid(MS_PER_HOUR) as u32;
            let b = hours
                .entry(t.div_euclid(MS_PER_HOUR))
                .or_insert((within, within));
            b.0 = b.0.min(within);
            b.1 = b.1.max(within);
        }
        hours
    }

    /// Where the chain ends, pinned against ccusage 20.0.24's `blocks`.
    fn check(times: &[&str], expect_start: &str, expect_excluded: Option<&str>) {
        let end = chain_end(&hours_of(times));
        assert_eq!(
            end.map(|e| (format_iso_ms(e.start_ms), e.excluded_ms.map(format_iso_ms))),
            Some((
                expect_start.to_string(),
                expect_excluded.map(str::to_string)
            )),
            "{times:?}"
        );
    }

    #[test]
    fn block_starts() {
        // Floored to the hour of the first entry.
        check(
            &["2026-01-05T10:30:00.000Z"],
            "2026-01-05T10:00:00.000Z",
            None,
        );
        // Exactly 5 h after the start stays in; a millisecond more does not.
        check(
            &["2026-01-05T10:00:00.000Z", "2026-01-05T15:00:00.000Z"],
            "2026-01-05T10:00:00.000Z",
            None,
        );
        check(
            &[
                "2026-01-05T10:30:00.000Z",
                "2026-01-05T14:59:59.000Z",
                "2026-01-05T15:00:00.000Z",
                "2026-01-05T15:00:01.000Z",
            ],
            "2026-01-05T15:00:00.000Z",
            Some("2026-01-05T15:00:00.000Z"),
        );
        // A 5 h gap exactly is not a gap; the block still ends at 15:00.
        check(
            &[
                "2026-01-05T10:30:00.000Z",
                "2026-01-05T15:30:00.000Z",
                "2026-01-05T15:30:00.001Z",
            ],
            "2026-01-05T15:00:00.000Z",
            None,
        );
        // More than 5 h without activity opens a block at the new hour.
        check(
            &["2026-01-05T10:59:00.000Z", "2026-01-05T16:30:00.000Z"],
            "2026-01-05T16:00:00.000Z",
            None,
        );
        // Continuous activity chains blocks back to back: 10, 15, 20.
        check(
            &[
                "2026-01-05T10:10:00.000Z",
                "2026-01-05T13:00:00.000Z",
                "2026-01-05T15:20:00.000Z",
                "2026-01-05T18:00:00.000Z",
                "2026-01-05T20:05:00.000Z",
            ],
            "2026-01-05T20:00:00.000Z",
            None,
        );
        // Order of arrival does not matter.
        check(
            &["2026-01-05T12:00:00.000Z", "2026-01-05T10:30:00.000Z"],
            "2026-01-05T10:00:00.000Z",
            None,
        );
    }

    fn slot(ts: &str, model: u16, output: u64, cost: f64) -> Slot {
        Slot {
            ts_ms: ms(ts),
            day: 0,
            model,
            tokens: Tokens {
                input: 1000,
                output,
                ..Tokens::default()
            },
            cost,
            sidechain: false,
        }
    }

    #[test]
    fn active_block_figures() {
        // The shape of ccusage's own example: entries 90 min apart, now
        // 10 min after the last one, 195.49 min before the block's end.
        let slots = [
            slot("2026-11-23T15:04:30.400Z", 1, 2000, 0.033),
            slot("2026-11-23T16:34:30.400Z", 0, 2000, 0.0575),
            slot("2026-11-23T16:34:30.400Z", NO_MODEL, 0, 0.0),
        ];
        let hours = hours_of(&["2026-11-23T15:04:30.400Z", "2026-11-23T16:34:30.400Z"]);
        let now = ms("2026-11-23T16:44:30.400Z");
        let block = active_block(&hours, slots.iter(), now);
        let Some(block) = block else {
            panic!("no active block")
        };
        assert_eq!(format_iso_ms(block.start_ms), "2026-11-23T15:00:00.000Z");
        assert_eq!(format_iso_ms(block.end_ms), "2026-11-23T20:00:00.000Z");
        assert_eq!(block.models, vec![1, 0]);
        assert_eq!(block.tokens, 7000);
        assert_eq!(block.remaining_minutes, 195);
        assert!((block.cost - 0.0905).abs() < 1e-12);
        assert!(
            block
                .cost_per_hour
                .is_some_and(|c| (c - 0.060_333_333).abs() < 1e-6)
        );
        assert_eq!(block.projected_cost, Some(0.29));
    }

    #[test]
    fn inactive_or_single_entry() {
        let slots = [slot("2026-11-23T15:04:30.400Z", 0, 10, 1.0)];
        let hours = hours_of(&["2026-11-23T15:04:30.400Z"]);
        // Five hours after the last entry: over, even though 15:00+5h = 20:00.
        assert_eq!(
            active_block(&hours, slots.iter(), ms("2026-11-23T20:04:30.400Z")),
            None
        );
        assert_eq!(
            active_block(&hours, slots.iter(), ms("2026-11-23T20:00:00.000Z")),
            None
        );
        let one = active_block(&hours, slots.iter(), ms("2026-11-23T16:00:00.000Z"));
        assert_eq!(one.as_ref().map(|b| b.cost_per_hour), Some(None));
        assert_eq!(one.as_ref().map(|b| b.projected_cost), Some(None));
        assert_eq!(one.map(|b| b.remaining_minutes), Some(240));
        assert_eq!(active_block(&BTreeMap::new(), [].iter(), 0), None);
    }
}
