//! Markdown to safe HTML for Claude's answers; owns nothing else.
//!
//! The page inserts this HTML as is, so everything here is about what it must never
//! contain: raw HTML from the markdown is shown as text (a `<script>` in an answer is
//! something Claude wrote about, not something to run), and links keep only the
//! schemes a person can follow safely (`http`, `https`, `mailto`); any other link,
//! `javascript:` among them, becomes its plain text. Images become links too: the
//! page's Content-Security-Policy would not load a remote image anyway, and a link
//! says where it points. Code blocks carry the class `code` (and `language-X` when
//! the fence names a plain language token) so the page can style them and add a
//! copy button. Rendering is pure: no I/O.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// Renders `md` (CommonMark plus tables, strikethrough and task lists) to HTML that
/// is safe to insert into the page.
pub fn to_html(md: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    // Whether each open link/image was kept, so its end tag matches its start.
    let mut kept: Vec<bool> = Vec::new();
    let events = Parser::new_ext(md, options).filter_map(|event| match event {
        // Raw HTML is text the user should see, never markup.
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::HtmlBlock) => Some(Event::Start(Tag::Paragraph)),
        Event::End(TagEnd::HtmlBlock) => Some(Event::End(TagEnd::Paragraph)),
        Event::Start(Tag::CodeBlock(kind)) => Some(Event::Html(code_block_open(&kind).into())),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let ok = safe_url(&dest_url);
            kept.push(ok);
            ok.then_some(Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }))
        }
        Event::Start(Tag::Image {
            dest_url, title, ..
        }) => {
            let ok = safe_url(&dest_url);
            kept.push(ok);
            ok.then_some(Event::Start(Tag::Link {
                link_type: LinkType::Inline,
                dest_url,
                title,
                id: CowStr::Borrowed(""),
            }))
        }
        Event::End(TagEnd::Link | TagEnd::Image) => kept
            .pop()
            .unwrap_or(false)
            .then_some(Event::End(TagEnd::Link)),
        other => Some(other),
    });
    let mut html = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// The opening tags of a code block. The fence's language is kept only when it is a
/// plain token, so nothing in it needs escaping.
fn code_block_open(kind: &CodeBlockKind) -> String {
    let lang = match kind {
        CodeBlockKind::Fenced(info) => info.split_whitespace().next().unwrap_or(""),
        CodeBlockKind::Indented => "",
    };
    let plain = !lang.is_empty()
        && lang.len() <= 32
        && lang
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.' | '#'));
    if plain {
        format!("<pre class=\"code\"><code class=\"language-{lang}\">")
    } else {
        "<pre class=\"code\"><code>".to_string()
    }
}

/// Whether a link target may be followed: web and mail addresses only.
fn safe_url(url: &str) -> bool {
    let Some((scheme, _)) = url.trim_start().split_once(':') else {
        return false;
    };
    ["http", "https", "mailto"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
}

#[cfg(test)]
mod tests {
    use super::to_html;

    fn check(md: &str, expect: &str) {
        assert_eq!(to_html(md), expect, "markdown: {md:?}");
    }

    fn check_contains(md: &str, expect: &[&str], reject: &[&str]) {
        let html = to_html(md);
        for e in expect {
            assert!(html.contains(e), "{md:?} -> {html:?} lacks {e:?}");
        }
        for r in reject {
            assert!(!html.contains(r), "{md:?} -> {html:?} contains {r:?}");
        }
    }

    #[test]
    fn renders_plain_markdown() {
        check("hello **world**", "<p>hello <strong>world</strong></p>\n");
        check("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n");
        check("`x < y`", "<p><code>x &lt; y</code></p>\n");
        check("~~old~~", "<p><del>old</del></p>\n");
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        check(
            "<script>alert(1)</script>",
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n",
        );
        check(
            "a <img src=x onerror=alert(1)> b",
            "<p>a &lt;img src=x onerror=alert(1)&gt; b</p>\n",
        );
        check(
            "<div onclick=\"x()\">\n*hi*\n</div>",
            "<p>&lt;div onclick=\"x()\"&gt;\n*hi*\n&lt;/div&gt;</p>\n",
        );
        check_contains("<!-- note -->", &["&lt;!-- note --&gt;"], &["<!--"]);
    }

    #[test]
    fn only_web_and_mail_links_are_kept() {
        check(
            "[site](https://example.com/a?b=1&c=2)",
            "<p><a href=\"https://example.com/a?b=1&amp;c=2\">site</a></p>\n",
        );
        check(
            "[mail](mailto:pi@example.com)",
            "<p><a href=\"mailto:pi@example.com\">mail</a></p>\n",
        );
        check("[x](javascript:alert(1))", "<p>x</p>\n");
        check("[x](JavaScript:alert(1))", "<p>x</p>\n");
        check("[x]( javascript:alert(1))", "<p>x</p>\n");
        check("[x](data:text/html,hi)", "<p>x</p>\n");
        check("[x](vbscript:msgbox)", "<p>x</p>\n");
        check("[rel](docs/a.md)", "<p>rel</p>\n");
        check("<javascript:alert(1)>", "<p>javascript:alert(1)</p>\n");
        check(
            "<https://example.com>",
            "<p><a href=\"https://example.com\">https://example.com</a></p>\n",
        );
        // A dropped link keeps its inner formatting; a kept one nested after it
        // still closes correctly.
        check(
            "[**bold**](javascript:x) [ok](http://a.b)",
            "<p><strong>bold</strong> <a href=\"http://a.b\">ok</a></p>\n",
        );
    }

    #[test]
    fn images_become_links_or_text() {
        check(
            "![a cat](https://example.com/cat.png)",
            "<p><a href=\"https://example.com/cat.png\">a cat</a></p>\n",
        );
        check("![a cat](javascript:alert(1))", "<p>a cat</p>\n");
    }

    #[test]
    fn code_blocks_get_a_class() {
        check(
            "```rust\nfn main() {}\n```",
            "<pre class=\"code\"><code class=\"language-rust\">fn main() {}\n</code></pre>\n",
        );
        check(
            "```\n<b>x</b>\n```",
            "<pre class=\"code\"><code>&lt;b&gt;x&lt;/b&gt;\n</code></pre>\n",
        );
        check(
            "    indented\n",
            "<pre class=\"code\"><code>indented\n</code></pre>\n",
        );
        // A language that is not a plain token is dropped, not escaped into a class.
        check(
            "```\"><script>\nx\n```",
            "<pre class=\"code\"><code>x\n</code></pre>\n",
        );
        check(
            "```c++ extra words\nx\n```",
            "<pre class=\"code\"><code class=\"language-c++\">x\n</code></pre>\n",
        );
    }

    #[test]
    fn tables_and_task_lists() {
        check_contains(
            "| a | b |\n|---|---|\n| 1 | 2 |",
            &["<table>", "<th>a</th>", "<td>2</td>"],
            &[],
        );
        check_contains(
            "- [x] done\n- [ ] todo",
            &["checked=\"\"", "type=\"checkbox\""],
            &[],
        );
    }

    #[test]
    fn korean_text_passes_through() {
        check("안녕하세요 *세계*", "<p>안녕하세요 <em>세계</em></p>\n");
    }
}
