//! Rules for text people type and read: names, titles, search words.

/// Characters that do not show but change what text means or how it sorts: control characters
/// and Unicode format characters (zero-width spaces and joiners, direction overrides, BOM).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}')
}

/// Shortens what a person typed for an error message, so a huge input is not echoed whole.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(max_chars).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters() {
        for c in ['\n', '\u{1b}', '\u{0}', '\u{200B}', '\u{202E}', '\u{FEFF}'] {
            assert!(is_hidden(c), "{c:?}");
        }
        for c in ['a', '社', '·', '（', ' ', '　'] {
            assert!(!is_hidden(c), "{c:?}");
        }
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt("12345", 10), "12345");
        assert_eq!(excerpt(&"9".repeat(10_000), 5), "99999…");
    }
}
