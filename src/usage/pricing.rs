//! The per-model price table and the cost of one usage entry. The table is
//! embedded (`prices.json`) and can be overridden per model by
//! `<data_dir>/prices.json`; this file does no I/O beyond reading that one
//! override file in [`load_prices`].

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::UsageError;

const EMBEDDED: &str = include_str!("prices.json");

/// LiteLLM's `*_above_200k_tokens` rates apply to the part of one entry's
/// token bucket above this many tokens (ccusage prices each bucket this way).
const TIER_THRESHOLD: u64 = 200_000;

/// One model's rates in USD per token, in LiteLLM's field names so that a
/// LiteLLM row can be pasted into an override file as it is.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct ModelPrice {
    pub input_cost_per_token: f64,
    pub output_cost_per_token: f64,
    /// 5-minute cache writes; LiteLLM's default is 1.25 × input.
    pub cache_creation_input_token_cost: Option<f64>,
    /// 1-hour cache writes; Anthropic bills them at 2 × input, which is what
    /// ccusage 20 uses since LiteLLM has no field for them.
    pub cache_creation_input_token_cost_1h: Option<f64>,
    pub cache_read_input_token_cost: Option<f64>,
    pub input_cost_per_token_above_200k_tokens: Option<f64>,
    pub output_cost_per_token_above_200k_tokens: Option<f64>,
    pub cache_creation_input_token_cost_above_200k_tokens: Option<f64>,
    pub cache_read_input_token_cost_above_200k_tokens: Option<f64>,
    /// Multiplier for `usage.speed == "fast"` requests.
    pub fast_multiplier: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct PriceFile {
    #[serde(default)]
    models: HashMap<String, ModelPrice>,
    #[serde(default)]
    aliases: HashMap<String, String>,
}

/// The price table in effect: embedded rows with any overrides applied.
#[derive(Debug, Clone)]
pub struct Prices {
    models: HashMap<String, ModelPrice>,
    aliases: HashMap<String, String>,
    /// A hash of the table's sources; a persisted cache holds costs computed
    /// with one table and is discarded when this changes.
    pub fingerprint: u64,
}

/// Token counts of one entry, split the way prices are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_5m: u64,
    pub cache_1h: u64,
    pub cache_read: u64,
}

impl Tokens {
    pub fn cache_creation(&self) -> u64 {
        self.cache_5m.saturating_add(self.cache_1h)
    }

    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_creation())
            .saturating_add(self.cache_read)
    }
}

impl Default for Prices {
    fn default() -> Self {
        Prices::embedded()
    }
}

impl Prices {
    /// The table compiled into the binary.
    pub fn embedded() -> Self {
        // The embedded file is checked by a unit test, so failing here would
        // be a build defect; an empty table (everything costs 0) is the
        // least surprising way to degrade if it ever happened anyway.
        let file: PriceFile = serde_json::from_str(EMBEDDED).unwrap_or_default();
        Prices {
            models: file.models,
            aliases: file.aliases,
            fingerprint: super::ledger::fnv1a(&[EMBEDDED.as_bytes()]),
        }
    }

    /// Applies an override file's rows and aliases on top of this table.
    fn apply_override(&mut self, text: &str) -> Result<(), serde_json::Error> {
        let file: PriceFile = serde_json::from_str(text)?;
        self.models.extend(file.models);
        self.aliases.extend(file.aliases);
        self.fingerprint =
            super::ledger::fnv1a(&[&self.fingerprint.to_le_bytes(), text.as_bytes()]);
        Ok(())
    }

    /// Finds the row for a model name as it appears in a transcript: the
    /// name itself, then without a provider prefix (`anthropic/`, Bedrock's
    /// `us.anthropic.`), a `[1m]` or `-v1:0` suffix, then without a
    /// `-YYYYMMDD` date, then through the alias table (`sonnet`).
    pub fn find(&self, model: &str) -> Option<&ModelPrice> {
        if let Some(price) = self.models.get(model) {
            return Some(price);
        }
        let mut name = model;
        for prefix in [
            "anthropic/",
            "us.anthropic.",
            "eu.anthropic.",
            "jp.anthropic.",
            "au.anthropic.",
            "apac.anthropic.",
            "global.anthropic.",
            "anthropic.",
        ] {
            if let Some(rest) = name.strip_prefix(prefix) {
                name = rest;
                break;
            }
        }
        for suffix in ["[1m]", "-v1:0", "-v1"] {
            if let Some(rest) = name.strip_suffix(suffix) {
                name = rest;
            }
        }
        if let Some(price) = self.models.get(name) {
            return Some(price);
        }
        let undated = strip_date_suffix(name);
        if let Some(price) = self.models.get(undated) {
            return Some(price);
        }
        let target = self.aliases.get(undated)?;
        self.models.get(target.as_str())
    }
}

/// `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`; other names unchanged.
fn strip_date_suffix(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((head, date)) if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => name,
    }
}

/// Reads `<data_dir>/prices.json` over the embedded table. A missing file is
/// not an error; an unreadable or malformed one is, so a typo in a price
/// override is reported instead of silently ignored.
pub fn load_prices(data_dir: &Path) -> Result<Prices, UsageError> {
    let mut prices = Prices::embedded();
    let path = data_dir.join("prices.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => prices
            .apply_override(&text)
            .map_err(|err| UsageError::Prices(path, err.to_string()))?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(UsageError::Prices(path, err.to_string())),
    }
    Ok(prices)
}

fn tiered(tokens: u64, base: f64, above: Option<f64>) -> f64 {
    match above {
        Some(above) if tokens > TIER_THRESHOLD => {
            TIER_THRESHOLD as f64 * base + (tokens - TIER_THRESHOLD) as f64 * above
        }
        _ => tokens as f64 * base,
    }
}

/// The cost of one entry from its tokens, the way ccusage 20 computes it:
/// every bucket priced on its own, the part of a bucket above 200k tokens at
/// the `above_200k` rate when the model has one, 1-hour cache writes at
/// 2 × input, then the fast-mode multiplier.
pub fn cost_of(price: &ModelPrice, tokens: &Tokens, fast: bool) -> f64 {
    let input = price.input_cost_per_token;
    let input_above = price.input_cost_per_token_above_200k_tokens;
    let write_5m = price
        .cache_creation_input_token_cost
        .unwrap_or(input * 1.25);
    let write_1h = price
        .cache_creation_input_token_cost_1h
        .unwrap_or(input * 2.0);
    let read = price.cache_read_input_token_cost.unwrap_or(input * 0.1);
    let cost = tiered(tokens.input, input, input_above)
        + tiered(
            tokens.output,
            price.output_cost_per_token,
            price.output_cost_per_token_above_200k_tokens,
        )
        + tiered(
            tokens.cache_5m,
            write_5m,
            price.cache_creation_input_token_cost_above_200k_tokens,
        )
        + tiered(
            tokens.cache_1h,
            write_1h,
            input_above.map(|rate| rate * 2.0),
        )
        + tiered(
            tokens.cache_read,
            read,
            price.cache_read_input_token_cost_above_200k_tokens,
        );
    if fast {
        cost * price.fast_multiplier.unwrap_or(1.0)
    } else {
        cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: u64, output: u64, cache_5m: u64, cache_1h: u64, cache_read: u64) -> Tokens {
        Tokens {
            input,
            output,
            cache_5m,
            cache_1h,
            cache_read,
        }
    }

    /// Costs pinned against ccusage 20.0.24 run on the same single entry.
    fn check(model: &str, t: Tokens, fast: bool, expect: Option<f64>) {
        let prices = Prices::embedded();
        let got = prices.find(model).map(|p| cost_of(p, &t, fast));
        match (got, expect) {
            (Some(got), Some(want)) => {
                assert!((got - want).abs() < 1e-9, "{model}: {got} != {want}")
            }
            (got, want) => assert_eq!(got, want, "{model}"),
        }
    }

    #[test]
    fn embedded_table_parses() {
        let file: Result<PriceFile, _> = serde_json::from_str(EMBEDDED);
        assert!(file.is_ok_and(|f| f.models.len() > 20));
    }

    #[test]
    fn price_arithmetic() {
        let sonnet = "claude-sonnet-4-5-20250929";
        check(sonnet, tokens(1, 500, 0, 0, 0), false, Some(0.007503));
        // 1-hour writes at 2 × input, tiered above 200k at 2 × input_above.
        check(sonnet, tokens(0, 0, 0, 1_000_000, 0), false, Some(10.8));
        check(sonnet, tokens(0, 0, 1_000_000, 0, 0), false, Some(6.75));
        check(sonnet, tokens(0, 0, 10, 20, 0), false, Some(0.000_157_5));
        // Each bucket is tiered on its own, not the request as a whole.
        check(sonnet, tokens(0, 0, 0, 0, 300_000), false, Some(0.12));
        check(sonnet, tokens(100_000, 0, 0, 0, 200_000), false, Some(0.36));
        check(
            "claude-opus-4-6",
            tokens(1_000_000, 1_000_000, 0, 0, 1_000_000),
            false,
            Some(30.5),
        );
        check(
            "claude-opus-4-6",
            tokens(1_000_000, 0, 0, 0, 0),
            true,
            Some(30.0),
        );
        check(
            "claude-opus-4-8",
            tokens(1_000_000, 0, 0, 0, 0),
            true,
            Some(10.0),
        );
        check(
            "claude-3-5-haiku-20241022",
            tokens(1_000_000, 1_000_000, 0, 0, 1_000_000),
            false,
            Some(4.88),
        );
    }

    #[test]
    fn model_names() {
        let big = tokens(1_000_000, 1_000_000, 0, 0, 1_000_000);
        check("claude-sonnet-4-6-20260301", big, false, Some(18.3));
        check("anthropic/claude-sonnet-4-5", big, false, Some(26.94));
        check("claude-opus-4-6[1m]", big, false, Some(30.5));
        check("sonnet", big, false, Some(26.94));
        check("opus", big, false, Some(30.5));
        check("claude-3-opus-20240229", big, false, Some(91.5));
        // Unknown models have no row: the caller prices them at 0.
        check("claude-haiku-5", big, false, None);
        check("<synthetic>", big, false, None);
        check("gpt-4o", big, false, None);
    }

    #[test]
    fn overrides() {
        let mut prices = Prices::embedded();
        let before = prices.fingerprint;
        let text = r#"{"models":{"my-model":{"input_cost_per_token":1e-6,"output_cost_per_token":2e-6}},
                       "aliases":{"mine":"my-model"}}"#;
        assert!(prices.apply_override(text).is_ok());
        assert_ne!(prices.fingerprint, before);
        let cost = prices
            .find("mine")
            .map(|p| cost_of(p, &tokens(10, 10, 0, 0, 0), false));
        assert!(cost.is_some_and(|c| (c - 3e-5).abs() < 1e-15), "{cost:?}");
        assert!(prices.apply_override("{\"models\":{\"x\":{}}}").is_err());
    }
}
