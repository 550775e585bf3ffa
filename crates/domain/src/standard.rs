//! The standard: the catalogue of services (附件1) and the evaluation indicators (附件2), held as
//! versioned data so that a province can publish a new version without a programmer.

use serde::{Deserialize, Serialize};

use crate::numerals;

/// One version of the standard, as written in a `data/standards/*.toml` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standard {
    /// Stable version id such as `hlj-2010`; records name the version they were kept under.
    pub id: String,
    pub title: String,
    /// The document the version comes from.
    pub source: String,
    /// Date the version was issued, `YYYY-MM-DD`.
    pub issued_on: jiff::civil::Date,
    pub categories: Vec<Category>,
    pub indicator_groups: Vec<IndicatorGroup>,
    /// The residents' surveys, where a version changes the notice's defaults.
    #[serde(default)]
    pub surveys: Vec<crate::surveys::SurveySpec>,
    /// Indicators whose rule this version sets (`[[rules]]`); the others keep the shipped
    /// defaults of `data/standards/rules-default.toml`.
    #[serde(default)]
    pub rules: Vec<crate::evaluation::IndicatorRule>,
    /// Who gets the award, where this version changes the default.
    #[serde(default)]
    pub award: Option<crate::evaluation::AwardRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub number: u32,
    pub name: String,
    /// The count as the notice writes it, such as "三项".
    pub declared: String,
    pub items: Vec<ServiceItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceItem {
    pub number: u32,
    pub text: String,
}

/// A named group of indicators (特色突出, 组织健全 ...), either distinctive or common.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorGroup {
    pub name: String,
    /// true for 特色考评指标, false for 共性考评指标
    pub distinctive: bool,
    pub indicators: Vec<Indicator>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub number: u32,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StandardError {
    #[error("标准文件格式错误：{0}")]
    Syntax(String),
    #[error("标准版本号不能为空，只能含字母、数字、“-”“_”“.”，且不超过 64 个字符：“{0}”")]
    BadId(String),
    #[error("服务类别 {category}（{name}）声明的项数“{declared}”无法识别")]
    UnreadableCount {
        category: u32,
        name: String,
        declared: String,
    },
    #[error("服务类别 {category}（{name}）声明 {declared} 项，实际列出 {actual} 项")]
    CountMismatch {
        category: u32,
        name: String,
        declared: u32,
        actual: u32,
    },
    #[error("{what}编号应从 1 连续编到 {expected_last}，第 {position} 个却是 {found}")]
    Numbering {
        what: &'static str,
        position: usize,
        found: u32,
        expected_last: usize,
    },
    #[error("{what} {number} 含有控制字符或不可见字符")]
    HiddenCharacters { what: &'static str, number: u32 },
    #[error("{what} {number} 的文字为空")]
    EmptyText { what: &'static str, number: u32 },
    #[error("民主测评定义有误：{0}")]
    Survey(String),
    #[error("考评规则有误：{0}")]
    Rules(String),
}

impl Standard {
    /// Reads and checks a standard file.
    pub fn from_toml(text: &str) -> Result<Standard, StandardError> {
        let standard: Standard =
            toml::from_str(text).map_err(|e| StandardError::Syntax(e.to_string()))?;
        standard.validate()?;
        Ok(standard)
    }

    /// Checks what a file must hold to be a usable standard: declared counts agree with the
    /// items, and categories, items and indicators are numbered 1..n without gaps.
    pub fn validate(&self) -> Result<(), StandardError> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !id_ok {
            return Err(StandardError::BadId(self.id.clone()));
        }
        for (i, spec) in self.surveys.iter().enumerate() {
            spec.check().map_err(StandardError::Survey)?;
            if self.surveys[..i].iter().any(|s| s.kind == spec.kind) {
                return Err(StandardError::Survey(format!(
                    "{} 定义了两次",
                    spec.kind.label_zh()
                )));
            }
        }
        for category in &self.categories {
            let declared =
                category
                    .declared_count()
                    .ok_or_else(|| StandardError::UnreadableCount {
                        category: category.number,
                        name: category.name.clone(),
                        declared: category.declared.clone(),
                    })?;
            let actual = category.items.len() as u32;
            if declared != actual {
                return Err(StandardError::CountMismatch {
                    category: category.number,
                    name: category.name.clone(),
                    declared,
                    actual,
                });
            }
        }
        check_numbering("服务类别", self.categories.iter().map(|c| c.number))?;
        check_numbering("服务项目", self.items().map(|(_, i)| i.number))?;
        check_numbering("考评指标", self.indicators().map(|(_, i)| i.number))?;
        crate::evaluation::rules::validate_rules(self).map_err(StandardError::Rules)?;
        let texts = std::iter::once(("标准名称", 0, &self.title))
            .chain(
                self.categories
                    .iter()
                    .map(|c| ("服务类别", c.number, &c.name)),
            )
            .chain(self.items().map(|(_, i)| ("服务项目", i.number, &i.text)))
            .chain(
                self.indicator_groups
                    .iter()
                    .map(|g| ("指标分组", 0, &g.name)),
            )
            .chain(
                self.indicators()
                    .map(|(_, i)| ("考评指标", i.number, &i.text)),
            );
        for (what, number, text) in texts {
            if text.chars().any(crate::text::is_hidden) {
                return Err(StandardError::HiddenCharacters { what, number });
            }
        }
        for (_, item) in self.items() {
            if item.text.trim().is_empty() {
                return Err(StandardError::EmptyText {
                    what: "服务项目",
                    number: item.number,
                });
            }
        }
        for (_, indicator) in self.indicators() {
            if indicator.text.trim().is_empty() {
                return Err(StandardError::EmptyText {
                    what: "考评指标",
                    number: indicator.number,
                });
            }
        }
        Ok(())
    }

    /// Every service item with its category, in number order.
    pub fn items(&self) -> impl Iterator<Item = (&Category, &ServiceItem)> {
        self.categories
            .iter()
            .flat_map(|c| c.items.iter().map(move |i| (c, i)))
    }

    /// Every indicator with its group, in number order.
    pub fn indicators(&self) -> impl Iterator<Item = (&IndicatorGroup, &Indicator)> {
        self.indicator_groups
            .iter()
            .flat_map(|g| g.indicators.iter().map(move |i| (g, i)))
    }

    pub fn item(&self, number: u32) -> Option<(&Category, &ServiceItem)> {
        self.items().find(|(_, i)| i.number == number)
    }
}

impl Standard {
    /// A survey's questions, scale and threshold in this version.
    pub fn survey(&self, kind: crate::surveys::SurveyKind) -> crate::surveys::SurveySpec {
        self.surveys
            .iter()
            .find(|s| s.kind == kind)
            .cloned()
            .unwrap_or_else(|| crate::surveys::SurveySpec::default_for(kind))
    }
}

impl Standard {
    /// The rule an indicator is evaluated by: this version's, or the shipped default.
    pub fn rule(&self, indicator: u32) -> Option<&crate::evaluation::IndicatorRule> {
        self.rules
            .iter()
            .find(|r| r.indicator == indicator)
            .or_else(|| crate::evaluation::rules::default_rule(indicator))
    }

    pub fn award_rule(&self) -> crate::evaluation::AwardRule {
        self.award
            .clone()
            .unwrap_or_else(crate::evaluation::rules::default_award)
    }

    /// The category a service item belongs to.
    pub fn category_of(&self, item: u32) -> Option<u32> {
        self.item(item).map(|(c, _)| c.number)
    }
}

impl Category {
    /// The declared count read from its Chinese numeral.
    pub fn declared_count(&self) -> Option<u32> {
        numerals::parse_count(&self.declared)
    }
}

fn check_numbering(
    what: &'static str,
    numbers: impl Iterator<Item = u32>,
) -> Result<(), StandardError> {
    let numbers: Vec<u32> = numbers.collect();
    for (position, found) in numbers.iter().enumerate() {
        if *found as usize != position + 1 {
            return Err(StandardError::Numbering {
                what,
                position: position + 1,
                found: *found,
                expected_last: numbers.len(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
id = "test-1"
title = "测试"
source = "测试文件"
issued_on = "2010-01-20"

[[categories]]
number = 1
name = "党建服务"
declared = "二项"
items = [{ number = 1, text = "甲" }, { number = 2, text = "乙" }]

[[indicator_groups]]
name = "特色突出"
distinctive = true
indicators = [{ number = 1, text = "丙" }]
"#;

    #[test]
    fn a_consistent_file_loads() {
        let s = Standard::from_toml(SMALL).unwrap();
        assert_eq!(s.items().count(), 2);
        assert_eq!(s.categories[0].declared_count(), Some(2));
        assert_eq!(s.item(2).unwrap().1.text, "乙");
    }

    #[test]
    fn a_declared_count_that_disagrees_is_refused() {
        let bad = SMALL.replace("二项", "三项");
        assert_eq!(
            Standard::from_toml(&bad),
            Err(StandardError::CountMismatch {
                category: 1,
                name: "党建服务".into(),
                declared: 3,
                actual: 2
            })
        );
    }

    #[test]
    fn a_gap_in_numbering_is_refused() {
        let bad = SMALL.replace("number = 2,", "number = 3,");
        assert!(matches!(
            Standard::from_toml(&bad),
            Err(StandardError::Numbering {
                what: "服务项目",
                position: 2,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn hidden_characters_are_refused() {
        let bad = SMALL.replace("text = \"乙\"", "text = \"乙\\u001b\"");
        assert_eq!(
            Standard::from_toml(&bad),
            Err(StandardError::HiddenCharacters {
                what: "服务项目",
                number: 2
            })
        );
    }

    #[test]
    fn unknown_keys_and_bad_ids_are_refused() {
        assert!(matches!(
            Standard::from_toml(&format!("extra = 1\n{SMALL}")),
            Err(StandardError::Syntax(_))
        ));
        let bad = SMALL.replace("test-1", "a b");
        assert!(matches!(
            Standard::from_toml(&bad),
            Err(StandardError::BadId(_))
        ));
    }
}
