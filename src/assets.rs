//! Static files embedded in the binary at build time, served under `/static/`.
//!
//! Each file is addressed by its name and a short content hash (`?v=`), so pages can
//! let browsers cache it for a year and still pick up a new build at once. With
//! `--templates DIR` the same names are read from `DIR/static/` instead, for UI work;
//! only names in the table are served either way, so no request path reaches the
//! file system.
//!
//! `app.js` is not one file: it is the page's parts in `templates/static/js/`
//! (strings, connection, chat, runs, ...), joined in [`APP_JS_PARTS`] order inside
//! one strict function, so they share one scope and the page loads one script.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// Declares the parts of `app.js`, in order: [`APP_JS_PARTS`] and the joined,
/// embedded [`APP_JS`] (the head and tail literals are [`JS_HEAD`] and [`JS_TAIL`]'s).
macro_rules! page_js {
    ($($part:literal),+ $(,)?) => {
        /// The files of `templates/static/js/` that make `app.js`, in order.
        pub const APP_JS_PARTS: &[&str] = &[$($part),+];
        /// `app.js` as embedded: every part, in order, inside one strict function.
        pub const APP_JS: &str = concat!(
            "// homeclaude page: templates/static/js/*.js joined by src/assets.rs\n\"use strict\";\n(function () {\n",
            $(include_str!(concat!("../templates/static/js/", $part)), "\n",)+
            "})();\n"
        );
    };
}

page_js!(
    "strings.js",
    "base.js",
    "chat.js",
    "outbox.js",
    "runs.js",
    "queue.js",
    "busy.js",
    "usage.js",
    "connection.js",
    "events.js",
    "composer.js",
    "sessions.js",
    "settings.js",
    "boxes.js",
    "approvals.js",
    "terminal.js",
    "changes.js",
    "files.js",
    "notices.js",
    "people.js",
    "main.js",
);
/// What comes before the parts in `app.js` (the same as in `page_js!`).
const JS_HEAD: &str = "// homeclaude page: templates/static/js/*.js joined by src/assets.rs\n\"use strict\";\n(function () {\n";
/// What comes after them.
const JS_TAIL: &str = "})();\n";

/// Joins `app.js` from the parts read by `read` (the override directory's files).
fn join_js(mut read: impl FnMut(&str) -> std::io::Result<Vec<u8>>) -> std::io::Result<Vec<u8>> {
    let mut out = JS_HEAD.as_bytes().to_vec();
    for part in APP_JS_PARTS {
        out.extend(read(part)?);
        out.push(b'\n');
    }
    out.extend(JS_TAIL.as_bytes());
    Ok(out)
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../templates/static/", $name)),
        }
    };
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: APP_JS.as_bytes(),
    },
    asset!("app.css", "text/css; charset=utf-8"),
    // The PWA: served at the root by `routes` (a service worker's scope is its own
    // path), and the icons the manifest names.
    asset!("sw.js", "text/javascript; charset=utf-8"),
    asset!("manifest.webmanifest", "application/manifest+json"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("icon-192.png", "image/png"),
    asset!("icon-512.png", "image/png"),
    asset!("icon-maskable-512.png", "image/png"),
];

/// Where asset bytes come from.
#[derive(Debug, Clone)]
pub struct Assets {
    dir: Option<PathBuf>,
}

/// A file ready to serve.
pub struct Found {
    pub content_type: &'static str,
    pub body: Body,
    /// Whether the bytes are the embedded ones (and so immutable for this build).
    pub immutable: bool,
}

/// Asset bytes: embedded, or read from the override directory.
pub enum Body {
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl Assets {
    pub fn new(templates_dir: Option<&Path>) -> Assets {
        Assets {
            dir: templates_dir.map(|d| d.join("static")),
        }
    }

    /// Looks a file up by name.
    pub fn get(&self, name: &str) -> Option<Found> {
        let asset = ASSETS.iter().find(|a| a.name == name)?;
        let body = match &self.dir {
            Some(dir) => match if asset.name == "app.js" {
                join_js(|part| std::fs::read(dir.join("js").join(part)))
            } else {
                std::fs::read(dir.join(asset.name))
            } {
                Ok(bytes) => Body::Owned(bytes),
                Err(e) => {
                    log::warn!(
                        "assets: cannot read {} from {}: {e}",
                        asset.name,
                        dir.display()
                    );
                    return None;
                }
            },
            None => Body::Static(asset.body),
        };
        Some(Found {
            content_type: asset.content_type,
            immutable: self.dir.is_none(),
            body,
        })
    }

    /// The URL a page should use for an asset: versioned by content when embedded.
    pub fn url(&self, name: &str) -> String {
        match (&self.dir, version(name)) {
            (None, Some(v)) => format!("/static/{name}?v={v}"),
            _ => format!("/static/{name}"),
        }
    }
}

/// A short hash of an embedded asset's bytes.
pub fn version(name: &str) -> Option<&'static str> {
    static VERSIONS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let table = VERSIONS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| (a.name, format!("{:08x}", fnv1a(a.body) as u32)))
            .collect()
    });
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

/// FNV-1a: a cache-busting fingerprint, not a security hash.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_names_are_served() {
        let assets = Assets::new(None);
        assert!(assets.get("app.js").is_some());
        for pwa in [
            "sw.js",
            "manifest.webmanifest",
            "icon.svg",
            "icon-192.png",
            "icon-512.png",
            "icon-maskable-512.png",
        ] {
            assert!(assets.get(pwa).is_some(), "{pwa}");
        }
        assert!(assets.get("../Cargo.toml").is_none());
        assert!(assets.get("nope.js").is_none());
    }

    #[test]
    fn app_js_joins_every_part_in_order() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/static/js");
        let joined = join_js(|part| std::fs::read(dir.join(part))).unwrap();
        assert_eq!(joined, APP_JS.as_bytes(), "JS_HEAD/JS_TAIL match page_js!");
        // Every file in js/ is a part: none is left out by mistake.
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut parts: Vec<String> = APP_JS_PARTS.iter().map(|p| p.to_string()).collect();
        parts.sort();
        assert_eq!(files, parts);
        let from_dir = Assets::new(Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("templates")
                .as_path(),
        ));
        match from_dir.get("app.js").map(|f| f.body) {
            Some(Body::Owned(b)) => assert_eq!(b, APP_JS.as_bytes()),
            _ => panic!("app.js from --templates"),
        }
    }

    #[test]
    fn urls_carry_the_content_version() {
        let assets = Assets::new(None);
        let url = assets.url("app.css");
        assert!(url.starts_with("/static/app.css?v="), "{url}");
        assert_eq!(url.len(), "/static/app.css?v=".len() + 8);
    }
}
