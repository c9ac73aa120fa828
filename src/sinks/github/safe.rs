//! Log text on GitHub: it must not ping anyone, reference other issues or render links, even in
//! a title (titles render `#12` and `@user`). Outside fences and code spans, a zero-width joiner
//! goes after `@` and `#` and inside `://` and `www.`, which keeps the text readable and inert.

use crate::redact::Inert;

/// `text` with mentions, issue references and autolinks broken, markdown link syntax and HTML
/// tags defused, on one line. For markdown shown outside code. The escaping is the output
/// boundary's ([`Inert`]), so a secret in the text is redacted on the way.
pub fn inert(text: &str) -> String {
    Inert::new(text).markdown()
}

/// For issue titles: GitHub renders references, mentions and code there but no other
/// markdown, so only those are broken (a backslash would show).
pub fn inert_title(text: &str) -> String {
    Inert::new(text).title_text()
}

/// `text` cut to at most `max` characters (on a character boundary), with `…` when cut.
pub fn truncate(text: &str, max: usize) -> (String, bool) {
    if text.chars().count() <= max {
        return (text.to_owned(), false);
    }
    let cut = text
        .char_indices()
        .nth(max.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    (format!("{}…", &text[..cut]), true)
}

/// A GitHub label from log text: at most 50 characters, no commas (the API splits on them).
pub fn label(prefix: &str, value: &str) -> String {
    let clean: String = value
        .chars()
        .map(|c| if c == ',' || c.is_control() { '-' } else { c })
        .collect();
    let (cut, _) = truncate(&format!("{prefix}{clean}"), 50);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    /// U+200D ZERO WIDTH JOINER.
    const ZWJ: char = '\u{200D}';

    #[test]
    fn mentions_references_and_links_do_not_render() {
        let t = inert("@here see #12 and GH-3 at https://evil.example/x www.evil.example [x](y)");
        assert!(!t.contains("@h"), "{t}");
        assert!(!t.contains("#1"), "{t}");
        assert!(!t.contains("://"), "{t}");
        assert!(!t.to_lowercase().contains("www."), "{t}");
        assert!(!t.contains("[x](y)"), "{t}");
        // Still readable once the joiners are taken out.
        let visible: String = t.chars().filter(|&c| c != ZWJ && c != '\\').collect();
        assert_eq!(
            visible,
            "@here see #12 and GH-3 at https://evil.example/x www.evil.example [x](y)"
        );
    }

    #[test]
    fn titles_keep_their_characters_but_not_their_references() {
        let t = inert_title("<*> failed for @bob in #3 see http://x");
        let visible: String = t.chars().filter(|&c| c != ZWJ).collect();
        assert_eq!(visible, "<*> failed for @bob in #3 see http://x");
        assert!(!t.contains("@b") && !t.contains("#3") && !t.contains("://"));
    }

    #[test]
    fn inert_is_one_line() {
        assert_eq!(inert("a\nb\tc"), "a b c");
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("ééééé", 3), ("éé…".to_owned(), true));
        assert_eq!(truncate("abc", 3), ("abc".to_owned(), false));
        assert_eq!(truncate("abcd", 3), ("ab…".to_owned(), true));
        assert_eq!(label("service:", "a,b"), "service:a-b");
        assert_eq!(label("x", &"y".repeat(80)).chars().count(), 50);
    }
}
