//! Exact thresholds: "不低于 80%" and "高于 80%" compared with integers, never floats, and rates
//! rounded (half up) only when they are shown.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a value is compared with its threshold: 不低于 / 以上 (at least) or 高于 (strictly more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    #[default]
    AtLeast,
    MoreThan,
}

impl Comparison {
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::AtLeast => "≥",
            Comparison::MoreThan => ">",
        }
    }
}

/// A non-negative rational threshold such as 80% (4/5) or 20 m² (20/1), read from text like
/// "80%", "95.5%", "20" or "0.25" and kept as numerator over denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Threshold {
    num: i64,
    den: i64,
    percent: bool,
}

impl Threshold {
    pub fn percent(whole: i64) -> Threshold {
        let g = gcd(whole, 100);
        Threshold {
            num: whole / g,
            den: 100 / g,
            percent: true,
        }
    }

    pub fn number(whole: i64) -> Threshold {
        Threshold {
            num: whole,
            den: 1,
            percent: false,
        }
    }

    pub fn parse(text: &str) -> Result<Threshold, String> {
        let t = text.trim();
        let (digits, percent) = match t.strip_suffix('%') {
            Some(d) => (d.trim(), true),
            None => (t, false),
        };
        let bad = || format!("阈值“{t}”应为数字或百分数，如 80% 或 20");
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty()
            || whole.len() > 9
            || frac.len() > 4
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let scale = 10i64.pow(frac.len() as u32);
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        let num = whole * scale + frac;
        let den = scale * if percent { 100 } else { 1 };
        if percent && num > den {
            return Err(format!("百分数阈值“{t}”超过 100%"));
        }
        let g = gcd(num, den);
        Ok(Threshold {
            num: num / g,
            den: den / g,
            percent,
        })
    }

    /// Whether `value_num / value_den` reaches the threshold; None when the denominator is zero
    /// (a rate of nothing is not applicable).
    pub fn check(&self, value_num: i64, value_den: i64, comparison: Comparison) -> Option<bool> {
        if value_den <= 0 {
            return None;
        }
        let left = i128::from(value_num) * i128::from(self.den);
        let right = i128::from(self.num) * i128::from(value_den);
        Some(match comparison {
            Comparison::AtLeast => left >= right,
            Comparison::MoreThan => left > right,
        })
    }

    pub fn is_percent(&self) -> bool {
        self.percent
    }
}

impl TryFrom<String> for Threshold {
    type Error = String;
    fn try_from(value: String) -> Result<Threshold, String> {
        Threshold::parse(&value)
    }
}

impl From<Threshold> for String {
    fn from(t: Threshold) -> String {
        t.to_string()
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (num, den) = if self.percent {
            (self.num * 100, self.den)
        } else {
            (self.num, self.den)
        };
        let whole = num / den;
        let mut rest = num % den;
        write!(f, "{whole}")?;
        if rest != 0 {
            f.write_str(".")?;
            while rest != 0 {
                rest *= 10;
                write!(f, "{}", rest / den)?;
                rest %= den;
            }
        }
        if self.percent {
            f.write_str("%")?;
        }
        Ok(())
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// `num / den` as a percentage with two decimals, rounded half up: for display only.
pub fn percent_display(num: i64, den: i64) -> String {
    if den <= 0 {
        return "—".into();
    }
    let scaled = (i128::from(num) * 20_000 / i128::from(den) + 1) / 2;
    format!("{}.{:02}%", scaled / 100, scaled % 100)
}

/// `num / den` with two decimals, rounded half up: for display only.
pub fn decimal_display(num: i64, den: i64) -> String {
    if den <= 0 {
        return "—".into();
    }
    let scaled = (i128::from(num) * 200 / i128::from(den) + 1) / 2;
    format!("{}.{:02}", scaled / 100, scaled % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn thresholds_compare_exactly() {
        let eighty = Threshold::parse("80%").unwrap();
        // 1599 of 2000 is 79.95%: shown rounded as 79.95%, and short of "at least 80%".
        assert_eq!(eighty.check(1599, 2000, Comparison::AtLeast), Some(false));
        assert_eq!(percent_display(1599, 2000), "79.95%");
        // 800 of 1000 meets "at least 80%" but not "strictly more than 80%".
        assert_eq!(eighty.check(800, 1000, Comparison::AtLeast), Some(true));
        assert_eq!(eighty.check(800, 1000, Comparison::MoreThan), Some(false));
        assert_eq!(eighty.check(0, 0, Comparison::AtLeast), None);
        // 79.996% displays as 80.00% (half up) yet does not meet 80%.
        assert_eq!(percent_display(79_996, 100_000), "80.00%");
        assert_eq!(
            eighty.check(79_996, 100_000, Comparison::AtLeast),
            Some(false)
        );
        assert_eq!(percent_display(44, 47), "93.62%");
        assert_eq!(percent_display(1, 8), "12.50%");
        assert_eq!(decimal_display(2005, 100), "20.05");
    }

    #[test]
    fn thresholds_read_and_print() {
        assert_eq!(Threshold::parse("95.5%").unwrap().to_string(), "95.5%");
        assert_eq!(Threshold::parse(" 20 ").unwrap().to_string(), "20");
        assert_eq!(Threshold::parse("0.25").unwrap().to_string(), "0.25");
        assert_eq!(Threshold::parse("100%").unwrap().to_string(), "100%");
        for bad in ["", "%", "abc", "-5%", "101%", "1e3", "80 %%", "1.23456"] {
            assert!(Threshold::parse(bad).is_err(), "{bad}");
        }
        let t = Threshold::parse("95.5%").unwrap();
        assert_eq!(t.check(955, 1000, Comparison::AtLeast), Some(true));
        assert_eq!(t.check(954, 1000, Comparison::AtLeast), Some(false));
    }

    proptest! {
        #[test]
        fn comparison_agrees_with_cross_multiplication(n in 0i64..100_000, d in 1i64..100_000, t in 0i64..=100) {
            let threshold = Threshold::percent(t);
            let at_least = n * 100 >= t * d;
            let more = n * 100 > t * d;
            prop_assert_eq!(threshold.check(n, d, Comparison::AtLeast), Some(at_least));
            prop_assert_eq!(threshold.check(n, d, Comparison::MoreThan), Some(more));
            // What is shown never differs from the exact value by more than half a hundredth.
            let shown: f64 = percent_display(n, d).trim_end_matches('%').parse().unwrap();
            let exact = n as f64 * 100.0 / d as f64;
            prop_assert!((shown - exact).abs() <= 0.005 + 1e-9);
        }

        #[test]
        fn printed_thresholds_read_back(whole in 0i64..100, frac in 0i64..100) {
            let text = format!("{whole}.{frac:02}%");
            let t = Threshold::parse(&text).unwrap();
            prop_assert_eq!(Threshold::parse(&t.to_string()).unwrap(), t);
        }
    }
}
