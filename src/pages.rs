//! Page templates: minijinja, embedded at build time or read from `--templates DIR`.
//!
//! Embedded templates are parsed once at start-up. From a directory they are read
//! again on every render, so editing a template shows on the next reload without a
//! rebuild (that mode is for customising and UI work, not for speed).

use minijinja::{Environment, Value};
use std::fmt;
use std::path::PathBuf;

const EMBEDDED: &[(&str, &str)] = &[
    ("index.html", include_str!("../templates/index.html")),
    ("login.html", include_str!("../templates/login.html")),
];

/// Renders the server's pages.
pub struct Pages {
    embedded: Environment<'static>,
    dir: Option<PathBuf>,
}

/// A template that failed to load or render.
#[derive(Debug)]
pub struct PageError(minijinja::Error);

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "template error: {:#}", self.0)
    }
}

impl Pages {
    /// Parses the embedded templates. A broken embedded template is a build defect,
    /// caught by the tests; it is reported here rather than panicking.
    pub fn new(dir: Option<PathBuf>) -> Result<Pages, PageError> {
        let mut embedded = Environment::new();
        for (name, source) in EMBEDDED {
            embedded.add_template(name, source).map_err(PageError)?;
        }
        Ok(Pages { embedded, dir })
    }

    /// Renders one page.
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, PageError> {
        match &self.dir {
            None => self
                .embedded
                .get_template(name)
                .and_then(|t| t.render(ctx))
                .map_err(PageError),
            Some(dir) => {
                let mut env = Environment::new();
                env.set_loader(minijinja::path_loader(dir));
                env.get_template(name)
                    .and_then(|t| t.render(ctx))
                    .map_err(PageError)
            }
        }
    }
}
