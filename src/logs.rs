//! Earlier session logs, read-only, for the page's sessions sheet: `GET /api/logs`
//! lists homeclaude's own logs (`<data_dir>/history/<key>.jsonl`), `GET
//! /api/logs/<key>` sends one as it is on disk (stamped JSON frames, one a line).
//!
//! Called on the connection's own thread, never the hub's: listing reads the head of
//! every log, which may take a while on an SD card. Keys are the store's (creation
//! time in milliseconds): digits only, so no request reaches another file.

use crate::store;
use serde_json::{Value, json};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::UNIX_EPOCH;

/// Logs listed at most (the store keeps no more than this).
const MAX_LISTED: usize = store::KEEP_SESSIONS;
/// Lines read from a log's head looking for its first prompt.
const HEAD_LINES: usize = 200;
/// Bytes read from a log's head at most, whatever its lines.
const HEAD_BYTES: u64 = 1 << 20;
/// Characters of the first prompt shown in the list.
const PROMPT_CHARS: usize = 160;

/// Whether `key` names a session log: 1 to 20 ASCII digits.
pub fn valid_key(key: &str) -> bool {
    (1..=20).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_digit())
}

/// The logs, newest first: `{"items":[{"key","first","last","size","prompt"}]}`
/// with times in milliseconds since the epoch (`first` from the key, `last` the
/// file's modification time) and `prompt` the first prompt (cut short), if any.
pub fn list(data_dir: &Path) -> Value {
    let dir = data_dir.join("history");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return json!({ "items": [] });
    };
    let mut found: Vec<(String, std::fs::Metadata)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let key = name.strip_suffix(".jsonl")?;
            if !valid_key(key) {
                return None;
            }
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            Some((key.to_string(), meta))
        })
        .collect();
    // Keys are zero-padded times: newest first by length, then text.
    found.sort_by(|a, b| (b.0.len(), &b.0).cmp(&(a.0.len(), &a.0)));
    found.truncate(MAX_LISTED);
    let items: Vec<Value> = found
        .into_iter()
        .map(|(key, meta)| {
            let last = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64);
            json!({
                "first": key.parse::<u64>().ok(),
                "last": last,
                "size": meta.len(),
                "prompt": first_prompt(&store::log_path(data_dir, &key)),
                "key": key,
            })
        })
        .collect();
    json!({ "items": items })
}

/// The text of the first prompt in a log (a `message` not from Claude), cut short.
fn first_prompt(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    let reader = BufReader::new(file.take(HEAD_BYTES));
    reader
        .lines()
        .take(HEAD_LINES)
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
        .find(|v| v["type"] == "message" && v["username"] != "Claude")
        .and_then(|v| {
            v["message"]
                .as_str()
                .map(|m| crate::protocol::excerpt(m, PROMPT_CHARS))
        })
}

/// One log to send: the open file and its size when opened (send no more: the
/// current session's log may grow meanwhile; a line cut there is a torn last line,
/// which readers drop). `None` if there is no such log.
pub fn open(data_dir: &Path, key: &str) -> Option<(File, u64)> {
    if !valid_key(key) {
        return None;
    }
    let path = store::log_path(data_dir, key);
    let file = File::open(&path).ok()?;
    let meta = file.metadata().ok().filter(|m| m.is_file())?;
    Some((file, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_digits_only() {
        for good in ["1", "001733400000000", "12345678901234567890"] {
            assert!(valid_key(good), "{good}");
        }
        for bad in [
            "",
            "../state",
            "12a",
            "1.jsonl",
            "１２",
            "123456789012345678901",
            "1/2",
            "%2e",
        ] {
            assert!(!valid_key(bad), "{bad}");
        }
    }

    #[test]
    fn lists_logs_newest_first_with_their_first_prompt() {
        let dir = std::env::temp_dir().join(format!("hc-logs-{}", std::process::id()));
        let history = dir.join("history");
        std::fs::create_dir_all(&history).unwrap();
        std::fs::write(
            history.join("000000000001000.jsonl"),
            "{\"seq\":1,\"type\":\"system\",\"message\":\"x\"}\n\
             {\"seq\":2,\"type\":\"message\",\"username\":\"User\",\"message\":\"first prompt\"}\n",
        )
        .unwrap();
        std::fs::write(history.join("000000000002000.jsonl"), "{\"seq\":3,\"ty").unwrap();
        std::fs::write(history.join("notes.jsonl"), "{}\n").unwrap();
        std::fs::create_dir_all(history.join("000000000003000.jsonl")).unwrap();
        let v = list(&dir);
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{v}");
        assert_eq!(items[0]["key"], "000000000002000");
        assert_eq!(items[0]["prompt"], Value::Null);
        assert_eq!(items[1]["key"], "000000000001000");
        assert_eq!(items[1]["first"], 1000);
        assert_eq!(items[1]["prompt"], "first prompt");
        assert!(items[1]["size"].as_u64().unwrap() > 0);
        assert!(open(&dir, "000000000001000").is_some());
        assert!(open(&dir, "000000000009000").is_none());
        assert!(open(&dir, "../history/000000000001000").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
