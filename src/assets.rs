//! Static files embedded in the binary at build time, served under `/static/`.
//!
//! Each file is addressed by its name and a short content hash (`?v=`), so pages can
//! let browsers cache it for a year and still pick up a new build at once. With
//! `--templates DIR` the same names are read from `DIR/static/` instead, for UI work;
//! only names in the table are served either way, so no request path reaches the
//! file system.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
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
    asset!("app.js", "text/javascript; charset=utf-8"),
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
            Some(dir) => match std::fs::read(dir.join(asset.name)) {
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
    fn urls_carry_the_content_version() {
        let assets = Assets::new(None);
        let url = assets.url("app.css");
        assert!(url.starts_with("/static/app.css?v="), "{url}");
        assert_eq!(url.len(), "/static/app.css?v=".len() + 8);
    }
}
