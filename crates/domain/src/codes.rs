//! National statistical division codes (统计用区划代码): the identity of every unit.
//!
//! The code, never the name, says what a unit is: its level comes from the code's length and the
//! kind of a township- or committee-level unit from its last three digits (program.md).

use std::fmt;
use std::str::FromStr;

use unicode_normalization::UnicodeNormalization;

/// The five levels of the tree, province down to village-level committees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Province,
    Prefecture,
    County,
    Township,
    Committee,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Province,
        Level::Prefecture,
        Level::County,
        Level::Township,
        Level::Committee,
    ];

    /// Number of digits a code of this level has.
    pub fn code_len(self) -> usize {
        match self {
            Level::Province => 2,
            Level::Prefecture => 4,
            Level::County => 6,
            Level::Township => 9,
            Level::Committee => 12,
        }
    }

    pub fn from_code_len(len: usize) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.code_len() == len)
    }

    /// 1 for the province down to 5 for committees; stored in the database.
    pub fn depth(self) -> i64 {
        match self {
            Level::Province => 1,
            Level::Prefecture => 2,
            Level::County => 3,
            Level::Township => 4,
            Level::Committee => 5,
        }
    }

    pub fn from_depth(depth: i64) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.depth() == depth)
    }

    /// The stable name used in the API and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::Prefecture => "prefecture",
            Level::County => "county",
            Level::Township => "township",
            Level::Committee => "committee",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Level::Province => "省级",
            Level::Prefecture => "地级",
            Level::County => "县级",
            Level::Township => "乡级",
            Level::Committee => "村级",
        }
    }

    /// The level directly above, if any.
    pub fn parent(self) -> Option<Level> {
        match self {
            Level::Province => None,
            Level::Prefecture => Some(Level::Province),
            Level::County => Some(Level::Prefecture),
            Level::Township => Some(Level::County),
            Level::Committee => Some(Level::Township),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a unit is, read from its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitKind {
    Province,
    Prefecture,
    County,
    /// 街道办事处 (township digits 001-099)
    Street,
    /// 镇 (100-199)
    Town,
    /// 乡 (200-399)
    Township,
    /// 类似乡级单位: farms, forestry bureaus, ... (400-599)
    TownshipLike,
    /// township digits outside the ranges the national rules define
    TownshipOther,
    /// 居民委员会 (committee digits 001-199): a community
    ResidentsCommittee,
    /// 村民委员会 (200-399): a village
    VillagersCommittee,
    /// 类似居委会 (400-599): farm and forestry living areas, counted as communities
    ResidentsLike,
    /// 类似村委会 (600-799)
    VillagersLike,
    /// committee digits outside the ranges the national rules define
    CommitteeOther,
}

impl UnitKind {
    pub const ALL: [UnitKind; 13] = [
        UnitKind::Province,
        UnitKind::Prefecture,
        UnitKind::County,
        UnitKind::Street,
        UnitKind::Town,
        UnitKind::Township,
        UnitKind::TownshipLike,
        UnitKind::TownshipOther,
        UnitKind::ResidentsCommittee,
        UnitKind::VillagersCommittee,
        UnitKind::ResidentsLike,
        UnitKind::VillagersLike,
        UnitKind::CommitteeOther,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Province => "province",
            UnitKind::Prefecture => "prefecture",
            UnitKind::County => "county",
            UnitKind::Street => "street",
            UnitKind::Town => "town",
            UnitKind::Township => "township",
            UnitKind::TownshipLike => "township_like",
            UnitKind::TownshipOther => "township_other",
            UnitKind::ResidentsCommittee => "residents_committee",
            UnitKind::VillagersCommittee => "villagers_committee",
            UnitKind::ResidentsLike => "residents_like",
            UnitKind::VillagersLike => "villagers_like",
            UnitKind::CommitteeOther => "committee_other",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            UnitKind::Province => "省",
            UnitKind::Prefecture => "地市",
            UnitKind::County => "区县",
            UnitKind::Street => "街道",
            UnitKind::Town => "镇",
            UnitKind::Township => "乡",
            UnitKind::TownshipLike => "类似乡级单位",
            UnitKind::TownshipOther => "其他乡级单位",
            UnitKind::ResidentsCommittee => "居委会（社区）",
            UnitKind::VillagersCommittee => "村委会",
            UnitKind::ResidentsLike => "类似居委会（社区）",
            UnitKind::VillagersLike => "类似村委会",
            UnitKind::CommitteeOther => "其他村级单位",
        }
    }

    pub fn parse(s: &str) -> Option<UnitKind> {
        UnitKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A community is a residents' committee or a unit like one (program.md).
    pub fn is_community(self) -> bool {
        matches!(self, UnitKind::ResidentsCommittee | UnitKind::ResidentsLike)
    }
}

impl fmt::Display for UnitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("代码为空")]
    Empty,
    #[error("代码“{0}”含有非数字字符")]
    NotDigits(String),
    #[error("代码“{0}”长度为 {1} 位，应为 2、4、6、9 或 12 位")]
    WrongLength(String, usize),
}

/// A normalised division code: ASCII digits of one of the five lengths.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DivisionCode(String);

impl DivisionCode {
    /// Parses a code as people type it: full-width digits and surrounding spaces are accepted
    /// (NFKC), anything else that is not a digit is refused.
    pub fn parse(input: &str) -> Result<DivisionCode, CodeError> {
        let normalised: String = input.nfkc().collect();
        let trimmed = normalised.trim();
        if trimmed.is_empty() {
            return Err(CodeError::Empty);
        }
        if !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::NotDigits(crate::text::excerpt(trimmed, 20)));
        }
        if Level::from_code_len(trimmed.len()).is_none() {
            return Err(CodeError::WrongLength(
                crate::text::excerpt(trimmed, 20),
                trimmed.chars().count(),
            ));
        }
        Ok(DivisionCode(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> Level {
        // The constructor guarantees one of the five lengths.
        Level::from_code_len(self.0.len()).unwrap_or(Level::Committee)
    }

    pub fn kind(&self) -> UnitKind {
        match self.level() {
            Level::Province => UnitKind::Province,
            Level::Prefecture => UnitKind::Prefecture,
            Level::County => UnitKind::County,
            Level::Township => match self.suffix() {
                1..=99 => UnitKind::Street,
                100..=199 => UnitKind::Town,
                200..=399 => UnitKind::Township,
                400..=599 => UnitKind::TownshipLike,
                _ => UnitKind::TownshipOther,
            },
            Level::Committee => match self.suffix() {
                1..=199 => UnitKind::ResidentsCommittee,
                200..=399 => UnitKind::VillagersCommittee,
                400..=599 => UnitKind::ResidentsLike,
                600..=799 => UnitKind::VillagersLike,
                _ => UnitKind::CommitteeOther,
            },
        }
    }

    /// The number in the last three digits (township and committee codes).
    fn suffix(&self) -> u32 {
        let tail = &self.0[self.0.len().saturating_sub(3)..];
        tail.parse().unwrap_or(0)
    }

    /// The code of the unit one level up that this code names by its digits, if any.
    pub fn parent_by_digits(&self) -> Option<DivisionCode> {
        self.ancestor_at(self.level().parent()?)
    }

    /// The code this code's digits give for a higher level.
    pub fn ancestor_at(&self, level: Level) -> Option<DivisionCode> {
        (level < self.level()).then(|| DivisionCode(self.0[..level.code_len()].to_string()))
    }
}

impl FromStr for DivisionCode {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DivisionCode::parse(s)
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn level_and_kind_come_from_the_code() {
        let c = DivisionCode::parse("230102001001").unwrap();
        assert_eq!(c.level(), Level::Committee);
        assert_eq!(c.kind(), UnitKind::ResidentsCommittee);
        assert!(c.kind().is_community());
        let v = DivisionCode::parse("230123100201").unwrap();
        assert_eq!(v.kind(), UnitKind::VillagersCommittee);
        assert!(!v.kind().is_community());
        assert_eq!(
            DivisionCode::parse("230103500400").unwrap().kind(),
            UnitKind::ResidentsLike
        );
        assert_eq!(
            DivisionCode::parse("230103500600").unwrap().kind(),
            UnitKind::VillagersLike
        );
        assert_eq!(
            DivisionCode::parse("230103500000").unwrap().kind(),
            UnitKind::CommitteeOther
        );
        assert_eq!(
            DivisionCode::parse("230102001").unwrap().kind(),
            UnitKind::Street
        );
        assert_eq!(
            DivisionCode::parse("230123100").unwrap().kind(),
            UnitKind::Town
        );
        assert_eq!(
            DivisionCode::parse("230123200").unwrap().kind(),
            UnitKind::Township
        );
        assert_eq!(
            DivisionCode::parse("230103500").unwrap().kind(),
            UnitKind::TownshipLike
        );
    }

    #[test]
    fn boundaries_of_the_committee_ranges() {
        for (suffix, kind) in [
            ("001", UnitKind::ResidentsCommittee),
            ("199", UnitKind::ResidentsCommittee),
            ("200", UnitKind::VillagersCommittee),
            ("399", UnitKind::VillagersCommittee),
            ("400", UnitKind::ResidentsLike),
            ("599", UnitKind::ResidentsLike),
            ("600", UnitKind::VillagersLike),
            ("799", UnitKind::VillagersLike),
            ("800", UnitKind::CommitteeOther),
        ] {
            let code = DivisionCode::parse(&format!("230102001{suffix}")).unwrap();
            assert_eq!(code.kind(), kind, "{suffix}");
        }
    }

    #[test]
    fn full_width_digits_and_spaces_are_normalised() {
        let c = DivisionCode::parse(" ２３０１ ").unwrap();
        assert_eq!(c.as_str(), "2301");
        assert_eq!(c.level(), Level::Prefecture);
    }

    #[test]
    fn bad_codes_are_refused_with_a_reason() {
        assert_eq!(DivisionCode::parse(""), Err(CodeError::Empty));
        assert!(matches!(
            DivisionCode::parse("23a1"),
            Err(CodeError::NotDigits(_))
        ));
        assert!(matches!(
            DivisionCode::parse("230"),
            Err(CodeError::WrongLength(_, 3))
        ));
    }

    #[test]
    fn parents_by_digits() {
        let c = DivisionCode::parse("230102001001").unwrap();
        assert_eq!(c.parent_by_digits().unwrap().as_str(), "230102001");
        assert_eq!(c.ancestor_at(Level::Prefecture).unwrap().as_str(), "2301");
        assert!(
            DivisionCode::parse("23")
                .unwrap()
                .parent_by_digits()
                .is_none()
        );
    }

    proptest! {
        #[test]
        fn any_digit_string_of_a_valid_length_parses_and_keeps_its_digits(
            len in prop::sample::select(vec![2usize, 4, 6, 9, 12]),
            seed in prop::collection::vec(0u8..10, 12)
        ) {
            let s: String = seed[..len].iter().map(|d| char::from(b'0' + d)).collect();
            let code = DivisionCode::parse(&s).unwrap();
            prop_assert_eq!(code.as_str(), s.as_str());
            prop_assert_eq!(code.level().code_len(), len);
        }

        #[test]
        fn parse_never_panics(s in ".{0,20}") {
            let _ = DivisionCode::parse(&s);
        }
    }
}
