//! homeclaude: wiring only (filled in by the core issue).
#![forbid(unsafe_code)]

#[allow(dead_code)]
mod child;
#[allow(dead_code)]
mod protocol;
#[allow(dead_code)]
mod runner;
#[allow(dead_code)]
mod stream_json;
#[allow(dead_code)]
mod translate;

fn main() {}
