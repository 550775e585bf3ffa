//! Residents' democratic evaluations: the four surveys a community holds each year, their
//! questions and answer scale, one-time ballot codes, and the exact satisfaction rule.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    /// 党组织和居委会干部民主评议 (indicator 8)
    Cadres,
    /// 特色社区创建民主测评 (indicator 9)
    Building,
    /// 社区服务民主评议 (indicator 10)
    Services,
    /// 治安满意度 (indicator 21)
    Security,
}

impl SurveyKind {
    pub const ALL: [SurveyKind; 4] = [
        SurveyKind::Cadres,
        SurveyKind::Building,
        SurveyKind::Services,
        SurveyKind::Security,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SurveyKind::Cadres => "cadres",
            SurveyKind::Building => "building",
            SurveyKind::Services => "services",
            SurveyKind::Security => "security",
        }
    }

    /// Accepts the API name or the Chinese label (as spreadsheets write it).
    pub fn parse(text: &str) -> Option<SurveyKind> {
        let t = text.trim();
        SurveyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == t || k.label_zh() == t || k.short_zh() == t)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            SurveyKind::Cadres => "干部民主评议",
            SurveyKind::Building => "特色社区创建测评",
            SurveyKind::Services => "社区服务评议",
            SurveyKind::Security => "治安满意度测评",
        }
    }

    pub fn short_zh(self) -> &'static str {
        match self {
            SurveyKind::Cadres => "干部",
            SurveyKind::Building => "创建",
            SurveyKind::Services => "服务",
            SurveyKind::Security => "治安",
        }
    }

    /// The indicator of the standard this survey feeds.
    pub fn indicator(self) -> u32 {
        match self {
            SurveyKind::Cadres => 8,
            SurveyKind::Building => 9,
            SurveyKind::Services => 10,
            SurveyKind::Security => 21,
        }
    }

    /// The notice's thresholds: satisfaction of at least 80%, security satisfaction of at
    /// least 95%.
    fn default_threshold(self) -> u32 {
        match self {
            SurveyKind::Security => 95,
            _ => 80,
        }
    }

    fn default_question(self) -> &'static str {
        match self {
            SurveyKind::Cadres => "您对本社区党组织和居委会干部的工作是否满意？",
            SurveyKind::Building => "您对本社区“特色型社区”创建工作是否满意？",
            SurveyKind::Services => "您对本社区提供的各项服务是否满意？",
            SurveyKind::Security => "您对本社区的治安状况是否满意？",
        }
    }
}

impl fmt::Display for SurveyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One answer of the scale and whether it counts as satisfied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub label: String,
    pub satisfied: bool,
}

/// A survey as the standard defines it (`[[surveys]]` in the standard's TOML; without one, the
/// notice's single question on the 满意 / 基本满意 / 不满意 scale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveySpec {
    pub kind: SurveyKind,
    pub questions: Vec<String>,
    pub answers: Vec<Answer>,
    /// Satisfaction needed, in percent ("at least").
    pub threshold_percent: u32,
}

impl SurveySpec {
    pub fn default_for(kind: SurveyKind) -> SurveySpec {
        SurveySpec {
            kind,
            questions: vec![kind.default_question().to_string()],
            answers: ["满意", "基本满意", "不满意"]
                .iter()
                .enumerate()
                .map(|(i, label)| Answer {
                    label: (*label).to_string(),
                    satisfied: i < 2,
                })
                .collect(),
            threshold_percent: kind.default_threshold(),
        }
    }

    pub fn check(&self) -> Result<(), String> {
        if self.questions.is_empty() || self.questions.iter().any(|q| q.trim().is_empty()) {
            return Err(format!("{}：问题不能为空", self.kind.label_zh()));
        }
        if self.answers.len() < 2 || self.answers.iter().all(|a| !a.satisfied) {
            return Err(format!(
                "{}：至少要有两个选项，且至少一个计为满意",
                self.kind.label_zh()
            ));
        }
        if self.threshold_percent == 0 || self.threshold_percent > 100 {
            return Err(format!(
                "{}：满意率标准应在 1 至 100 之间",
                self.kind.label_zh()
            ));
        }
        Ok(())
    }
}

/// Counts of one survey (or of many, added up): answers given, and how many counted as
/// satisfied. With one question, answers are ballots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub ballots: i64,
    pub answers: i64,
    pub satisfied: i64,
}

impl std::ops::Add for Tally {
    type Output = Tally;
    fn add(self, other: Tally) -> Tally {
        Tally {
            ballots: self.ballots + other.ballots,
            answers: self.answers + other.answers,
            satisfied: self.satisfied + other.satisfied,
        }
    }
}

impl Tally {
    /// Whether satisfaction reaches `threshold_percent`, compared exactly; None when no answer
    /// was given (a rate of nothing is not applicable, not 0%).
    pub fn meets(&self, threshold_percent: u32) -> Option<bool> {
        (self.answers > 0).then(|| {
            i128::from(self.satisfied) * 100
                >= i128::from(threshold_percent) * i128::from(self.answers)
        })
    }

    /// The rate in percent to two decimals, for display only. Rounded down, so that a rate
    /// short of a threshold never displays as reaching it (79.999% shows 79.99%).
    pub fn rate_hundredths(&self) -> Option<i64> {
        (self.answers > 0)
            .then(|| (i128::from(self.satisfied) * 10_000 / i128::from(self.answers)) as i64)
    }
}

/// Letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L).
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// 14 characters of a 31-letter alphabet: 69 bits.
pub const CODE_LENGTH: usize = 14;

/// A ballot code from random bytes (at least [`CODE_LENGTH`] of them): each character from one
/// byte by rejection sampling, so every letter is equally likely. Returns None when the bytes
/// run out before the code is complete (the caller draws more).
pub fn code_from_random(bytes: &[u8]) -> Option<String> {
    // 248 = 8 * 31: bytes at or above it would favour the first letters.
    let limit = (256 / CODE_ALPHABET.len() * CODE_ALPHABET.len()) as u8;
    let code: String = bytes
        .iter()
        .filter(|b| **b < limit)
        .take(CODE_LENGTH)
        .map(|b| CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()] as char)
        .collect();
    (code.len() == CODE_LENGTH).then_some(code)
}

/// A code as people type it: case, spaces and dashes ignored, look-alikes mapped (O→0 is not
/// in the alphabet, so O and 0 both fail rather than guess).
pub fn normalise_code(text: &str) -> Option<String> {
    let code: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LENGTH && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

/// A code grouped for reading aloud and typing: ABCD-EFGH-JKMN-PQ.
pub fn display_code(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rates_compare_exactly() {
        let t = Tally {
            ballots: 10_000,
            answers: 10_000,
            satisfied: 7_995,
        };
        // 79.95% does not meet "at least 80%", though it displays as 79.95.
        assert_eq!(t.meets(80), Some(false));
        assert_eq!(t.rate_hundredths(), Some(7995));
        let t = Tally {
            ballots: 5,
            answers: 5,
            satisfied: 4,
        };
        assert_eq!(t.meets(80), Some(true));
        assert_eq!(Tally::default().meets(80), None);
        assert_eq!(Tally::default().rate_hundredths(), None);
        let third = Tally {
            ballots: 3,
            answers: 3,
            satisfied: 2,
        };
        assert_eq!(third.rate_hundredths(), Some(6666));
        let almost = Tally {
            ballots: 100_000,
            answers: 100_000,
            satisfied: 79_999,
        };
        assert_eq!(
            (almost.rate_hundredths(), almost.meets(80)),
            (Some(7999), Some(false))
        );
    }

    #[test]
    fn codes_use_the_plain_alphabet() {
        let code = code_from_random(&[0u8; 14]).unwrap();
        assert_eq!(code, "22222222222222");
        assert_eq!(code_from_random(&[255u8; 40]), None);
        assert_eq!(
            normalise_code(" abcd-efgh-jkmn-pq "),
            Some("ABCDEFGHJKMNPQ".into())
        );
        assert_eq!(normalise_code("ABCDEFGHJKMNP0"), None);
        assert_eq!(display_code("ABCDEFGHJKMNPQ"), "ABCD-EFGH-JKMN-PQ");
        assert!((CODE_LENGTH as f64) * (CODE_ALPHABET.len() as f64).log2() >= 64.0);
    }

    #[test]
    fn the_default_surveys_follow_the_notice() {
        let s = SurveySpec::default_for(SurveyKind::Security);
        assert_eq!(s.threshold_percent, 95);
        assert_eq!(s.answers.iter().filter(|a| a.satisfied).count(), 2);
        s.check().unwrap();
        assert_eq!(SurveyKind::parse("治安"), Some(SurveyKind::Security));
        assert_eq!(SurveyKind::parse("cadres"), Some(SurveyKind::Cadres));
    }

    proptest! {
        #[test]
        fn meeting_agrees_with_rational_arithmetic(satisfied in 0i64..10_000, extra in 0i64..10_000, threshold in 1u32..=100) {
            let answers = satisfied + extra;
            prop_assume!(answers > 0);
            let t = Tally { ballots: answers, answers, satisfied };
            let exact = (satisfied as f64 / answers as f64) * 100.0;
            // Far from the threshold, floating point agrees with the exact rule.
            if (exact - f64::from(threshold)).abs() > 1e-6 {
                prop_assert_eq!(t.meets(threshold), Some(exact > f64::from(threshold)));
            }
        }

        #[test]
        fn codes_are_well_formed(bytes in proptest::collection::vec(any::<u8>(), 40)) {
            if let Some(code) = code_from_random(&bytes) {
                prop_assert_eq!(normalise_code(&code.to_lowercase()), Some(code.clone()));
                prop_assert_eq!(normalise_code(&display_code(&code)), Some(code));
            }
        }
    }
}
