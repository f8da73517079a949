//! The one rule for free text (names, reasons, notes, references, descriptions): no
//! control characters and no bidi embedding, override or isolate marks anywhere, and a
//! name must show something once whitespace and invisible format characters are set
//! aside. Every field of free text is checked here; the callers only choose its name.
//!
//! Control characters (Unicode Cc: NUL, ESC and with it ANSI escape sequences, DEL, the C1
//! range) rewrite terminals and break CSV and log readers; the bidi controls U+202A–U+202E
//! and U+2066–U+2069 make a report show text in another order than it is stored ("Trojan
//! Source"). Other scripts, emoji and joiners inside visible text are ordinary text.

use super::field::FieldError;

/// True for a character no free text may hold: Unicode Cc or a bidi embedding, override
/// or isolate (U+202A–U+202E, U+2066–U+2069).
fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// True for a character that shows nothing on its own: whitespace and the invisible format
/// characters (soft hyphen, combining grapheme joiner, Arabic letter mark, Hangul fillers,
/// Mongolian and other variation selectors, zero-width space, ZWNJ, ZWJ, LRM, RLM, word
/// joiner and invisible operators, BOM).
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
        )
}

/// True when `text` shows nothing: empty, or only whitespace and invisible format
/// characters. A required name or reason that is blank is missing.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(is_invisible)
}

/// `invalid_text` for `field` (of line `index`, when on a line) when `text` holds a control
/// character or a bidi embedding, override or isolate; the message names the first one.
pub fn check_chars(index: Option<usize>, field: &str, text: &str) -> Option<FieldError> {
    let bad = text.chars().find(|c| is_forbidden(*c))?;
    let kind = if bad.is_control() {
        "a control character"
    } else {
        "a bidi override or isolate mark"
    };
    Some(FieldError::new(
        index,
        field,
        "invalid_text",
        format!(
            "{field} holds U+{:04X}, {kind}; remove it and send plain text",
            u32::from(bad)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_refused_anywhere() {
        // Proves NUL, ESC (ANSI colours), DEL, a C1 control, tab and newline, and each bidi
        // embedding/override/isolate are refused, and the message names the code point.
        for bad in [
            "a\u{0}b",
            "\u{1b}[31mred\u{1b}[0m",
            "x\u{7f}",
            "x\u{85}",
            "a\tb",
            "a\nb",
            "abc\u{202E}fdp.exe",
            "\u{202A}x",
            "\u{2066}x\u{2069}",
            "\u{2068}x",
        ] {
            let error = check_chars(Some(3), "name", bad).expect(bad);
            assert_eq!(
                (error.index, error.code.as_str()),
                (Some(3), "invalid_text")
            );
        }
        let esc = check_chars(None, "reason", "\u{1b}[2J").unwrap();
        assert!(esc.message.contains("U+001B"), "{}", esc.message);
    }

    #[test]
    fn other_scripts_and_emoji_are_ordinary_text() {
        // Proves Chinese, Arabic, Hebrew, accented Latin and an emoji ZWJ sequence inside a
        // name pass, and are not blank.
        for good in [
            "北京华联超市",
            "شركة الأغذية",
            "חברה בע\"מ",
            "Café Zoë",
            "Team 👨\u{200D}👩\u{200D}👧 North",
            "❤\u{FE0F}",
        ] {
            assert!(check_chars(None, "name", good).is_none(), "{good}");
            assert!(!is_blank(good), "{good}");
        }
    }

    #[test]
    fn names_of_only_invisible_characters_are_blank() {
        // Proves zero-width spaces, joiners, word joiner, BOM, soft hyphen and whitespace
        // alone count as blank.
        for blank in [
            "",
            "   ",
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}",
            "\u{2060}\u{FEFF}",
            " \u{00AD} ",
            "\u{3000}",
        ] {
            assert!(is_blank(blank), "{blank:?}");
        }
    }
}
