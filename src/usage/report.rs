//! The figures as the browser and scripts see them: the `usage_status` body
//! (ccusage's daily entry shape for today, the totals, the active block) and
//! the human table of `homeclaude usage`. Pure: reads the ledger, writes
//! nothing.

use std::fmt::Write as _;

use serde::Serialize;

use super::blocks::{ActiveBlock, active_block};
use super::ledger::{Counts, Day, Ledger, NO_MODEL};
use super::time::{LocalZone, format_day, format_iso_ms};

/// The body of a `usage_status` event (the hub adds `"type"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageStatus {
    pub today: DailyEntry,
    pub totals: Totals,
    /// Today's local date, `YYYY-MM-DD`.
    pub date: String,
    /// The active 5-hour block, `null` when there is none.
    pub block: Option<Block>,
}

/// One day in ccusage's `daily --json` entry shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyEntry {
    pub date: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cache_read_tokens: u64,
    pub total_tokens: u64,
    pub total_cost: f64,
    pub models_used: Vec<String>,
    pub model_breakdowns: Vec<ModelBreakdown>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelBreakdown {
    pub model_name: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cache_read_tokens: u64,
    pub cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cache_read_tokens: u64,
    pub total_cost: f64,
    pub total_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub start_time: String,
    pub end_time: String,
    #[serde(rename = "costUSD")]
    pub cost_usd: f64,
    pub total_tokens: u64,
    pub remaining_minutes: u64,
    /// `null` while the block's entries span no time (burn rate unknown).
    pub projected_cost: Option<f64>,
    pub cost_per_hour: Option<f64>,
    pub models: Vec<String>,
}

fn model_name(ledger: &Ledger, id: u16) -> String {
    ledger
        .models
        .get(usize::from(id))
        .cloned()
        .unwrap_or_default()
}

/// A day's entry: models listed alphabetically, breakdowns by cost (most
/// expensive first), entries without a model only in the sums — all as
/// ccusage 20 prints them.
pub fn daily_entry(ledger: &Ledger, day: i64, rows: Option<&Day>) -> DailyEntry {
    let mut sum = Counts::default();
    let mut breakdowns = Vec::new();
    for (model, counts) in rows.into_iter().flatten() {
        sum.add(counts);
        if *model != NO_MODEL {
            breakdowns.push(ModelBreakdown {
                model_name: model_name(ledger, *model),
                input_tokens: counts.input,
                output_tokens: counts.output,
                cache_creation_tokens: counts.cache_creation,
                cache_read_tokens: counts.cache_read,
                cost: counts.cost,
            });
        }
    }
    breakdowns.sort_by(|a, b| a.model_name.cmp(&b.model_name));
    let models_used = breakdowns.iter().map(|b| b.model_name.clone()).collect();
    breakdowns.sort_by(|a, b| b.cost.total_cmp(&a.cost));
    DailyEntry {
        date: format_day(day),
        input_tokens: sum.input,
        output_tokens: sum.output,
        cache_creation_tokens: sum.cache_creation,
        cache_read_tokens: sum.cache_read,
        total_tokens: sum.total_tokens(),
        total_cost: sum.cost,
        models_used,
        model_breakdowns: breakdowns,
    }
}

pub fn totals(ledger: &Ledger) -> Totals {
    let mut sum = Counts::default();
    for (_, counts) in ledger.days.values().flatten() {
        sum.add(counts);
    }
    Totals {
        input_tokens: sum.input,
        output_tokens: sum.output,
        cache_creation_tokens: sum.cache_creation,
        cache_read_tokens: sum.cache_read,
        total_cost: sum.cost,
        total_tokens: sum.total_tokens(),
    }
}

fn block_of(ledger: &Ledger, block: ActiveBlock) -> Block {
    Block {
        start_time: format_iso_ms(block.start_ms),
        end_time: format_iso_ms(block.end_ms),
        cost_usd: block.cost,
        total_tokens: block.tokens,
        remaining_minutes: block.remaining_minutes,
        projected_cost: block.projected_cost,
        cost_per_hour: block.cost_per_hour,
        models: block
            .models
            .iter()
            .map(|&m| model_name(ledger, m))
            .collect(),
    }
}

pub fn status(ledger: &Ledger, zone: &LocalZone, now_ms: i64) -> UsageStatus {
    let today = zone.local_day(now_ms);
    UsageStatus {
        today: daily_entry(ledger, today, ledger.days.get(&today)),
        totals: totals(ledger),
        date: format_day(today),
        block: active_block(&ledger.hours, ledger.recent(), now_ms).map(|b| block_of(ledger, b)),
    }
}

/// Every day, oldest first, as ccusage's `daily --json` lists them.
pub fn all_days(ledger: &Ledger) -> Vec<DailyEntry> {
    ledger
        .days
        .iter()
        .map(|(&day, rows)| daily_entry(ledger, day, Some(rows)))
        .collect()
}

fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The table `homeclaude usage` prints for a person.
pub fn human(status: &UsageStatus, unpriced: &[String]) -> String {
    let mut out = String::new();
    let row = |out: &mut String, label: &str, i: u64, o: u64, cw: u64, cr: u64, t: u64, c: f64| {
        let _ = writeln!(
            out,
            "{label:<34} {:>12} {:>12} {:>14} {:>14} {:>14} {:>10}",
            thousands(i),
            thousands(o),
            thousands(cw),
            thousands(cr),
            thousands(t),
            format!("${c:.2}")
        );
    };
    let _ = writeln!(
        out,
        "{:<34} {:>12} {:>12} {:>14} {:>14} {:>14} {:>10}",
        "Claude usage", "Input", "Output", "Cache write", "Cache read", "Total", "Cost"
    );
    let t = &status.today;
    row(
        &mut out,
        &format!("Today {}", status.date),
        t.input_tokens,
        t.output_tokens,
        t.cache_creation_tokens,
        t.cache_read_tokens,
        t.total_tokens,
        t.total_cost,
    );
    for b in &t.model_breakdowns {
        row(
            &mut out,
            &format!("  {}", b.model_name),
            b.input_tokens,
            b.output_tokens,
            b.cache_creation_tokens,
            b.cache_read_tokens,
            b.input_tokens + b.output_tokens + b.cache_creation_tokens + b.cache_read_tokens,
            b.cost,
        );
    }
    let a = &status.totals;
    row(
        &mut out,
        "All days",
        a.input_tokens,
        a.output_tokens,
        a.cache_creation_tokens,
        a.cache_read_tokens,
        a.total_tokens,
        a.total_cost,
    );
    out.push('\n');
    match &status.block {
        None => out.push_str("5-hour block: none active\n"),
        Some(b) => {
            let _ = writeln!(
                out,
                "5-hour block {} to {}: ${:.2}, {} tokens, {}h {:02}m left",
                b.start_time,
                b.end_time,
                b.cost_usd,
                thousands(b.total_tokens),
                b.remaining_minutes / 60,
                b.remaining_minutes % 60
            );
            if let (Some(rate), Some(projected)) = (b.cost_per_hour, b.projected_cost) {
                let _ = writeln!(
                    out,
                    "  burn rate ${rate:.2}/h, projected ${projected:.2} at the block's end"
                );
            }
            let _ = writeln!(out, "  models: {}", b.models.join(", "));
        }
    }
    if !unpriced.is_empty() {
        let _ = writeln!(
            out,
            "\nNo price known for {} (counted at $0; add them to <data_dir>/prices.json)",
            unpriced.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formatting() {
        for (input, expect) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (15_194_340, "15,194,340"),
        ] {
            assert_eq!(thousands(input), expect);
        }
    }

    #[test]
    fn empty_ledger_has_zero_figures_and_no_block() {
        let ledger = Ledger::default();
        let s = status(&ledger, &LocalZone::utc(), 0);
        let json = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(json["date"], "1970-01-01");
        assert_eq!(json["today"]["totalCost"], 0.0);
        assert_eq!(json["today"]["modelsUsed"], serde_json::json!([]));
        assert_eq!(json["block"], serde_json::Value::Null);
        assert_eq!(json["totals"]["totalTokens"], 0);
        assert!(human(&s, &[]).contains("none active"));
    }
}
