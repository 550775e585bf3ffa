//! Chinese numerals as the notice writes counts and numbers: 三项, 十项, 十二, 一百.

const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

fn digit_value(c: char) -> Option<u32> {
    match c {
        '两' => Some(2),
        '〇' => Some(0),
        _ => DIGITS.iter().position(|d| *d == c).map(|p| p as u32),
    }
}

/// Reads a numeral from 零 to 九千九百九十九 (一百, 十二, 二十, 一百零五 ...).
pub fn parse(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = 0u32;
    let mut pending: Option<u32> = None;
    let mut last_unit = u32::MAX;
    for c in text.chars() {
        let unit = match c {
            '十' => 10,
            '百' => 100,
            '千' => 1000,
            _ => {
                let d = digit_value(c)?;
                if pending.is_some() && d != 0 {
                    return None; // two digits in a row, as in 一二
                }
                pending = if d == 0 { None } else { Some(d) };
                continue;
            }
        };
        if unit >= last_unit {
            return None; // units must fall, as in 一百二十
        }
        // A bare 十 at the start means 一十.
        let multiplier = pending
            .take()
            .unwrap_or(if total == 0 && unit == 10 { 1 } else { 0 });
        if multiplier == 0 {
            return None;
        }
        total += multiplier * unit;
        last_unit = unit;
    }
    if let Some(d) = pending {
        total += d;
    }
    Some(total)
}

/// A declared count such as "三项": the numeral followed by 项.
pub fn parse_count(text: &str) -> Option<u32> {
    parse(text.trim().strip_suffix('项')?)
}

/// Writes 1..=9999 the way the notice does (十二, not 一十二).
pub fn format(n: u32) -> String {
    if n == 0 {
        return "零".into();
    }
    let mut out = String::new();
    let parts = [(1000, '千'), (100, '百'), (10, '十')];
    let mut rest = n;
    let mut zero_gap = false;
    for (unit, name) in parts {
        let d = rest / unit;
        rest %= unit;
        if d > 0 {
            if zero_gap {
                out.push('零');
                zero_gap = false;
            }
            if !(unit == 10 && d == 1 && out.is_empty()) {
                out.push(DIGITS[d as usize]);
            }
            out.push(name);
        } else if !out.is_empty() {
            zero_gap = true;
        }
    }
    if rest > 0 {
        if zero_gap {
            out.push('零');
        }
        out.push(DIGITS[rest as usize]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_notice_numerals() {
        assert_eq!(parse("一"), Some(1));
        assert_eq!(parse("十"), Some(10));
        assert_eq!(parse("十二"), Some(12));
        assert_eq!(parse("十六"), Some(16));
        assert_eq!(parse("二十"), Some(20));
        assert_eq!(parse("一百"), Some(100));
        assert_eq!(parse("一百零五"), Some(105));
        assert_eq!(parse("两"), Some(2));
        assert_eq!(parse_count("三项"), Some(3));
        assert_eq!(parse_count(" 十项"), Some(10));
        assert_eq!(parse_count("二项"), Some(2));
    }

    #[test]
    fn malformed_numerals_are_refused() {
        for bad in ["", "项", "一二", "十百", "abc", "三", "百十百"] {
            assert_eq!(parse_count(bad), None, "{bad}");
        }
        assert_eq!(parse("百十百"), None);
        assert_eq!(parse("一二"), None);
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(n in 0u32..10000) {
            prop_assert_eq!(parse(&format(n)), Some(n));
        }

        #[test]
        fn parse_never_panics(s in "[零一二两三四五六七八九十百千项]{0,8}") {
            let _ = parse(&s);
            let _ = parse_count(&s);
        }
    }
}
