//! homeclaude: wiring only (filled in by the core issue).
#![forbid(unsafe_code)]

#[allow(dead_code)]
mod protocol;

fn main() {}
