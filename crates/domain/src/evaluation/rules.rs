//! The indicators' rules as data: what each one checks, its thresholds and comparisons, its
//! weight and its vetoes. The defaults ship in `data/standards/rules-default.toml`; a standard
//! version overrides any indicator's rule and the award rule with entries of the same form.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::ratio::{Comparison, Threshold};
use crate::records::{
    ACTIVITY_TYPES, FieldType, INCIDENT_TYPES, ORGANISATION_EVENTS, ORGANISATION_TYPES, RecordKind,
};
use crate::standard::Standard;
use crate::surveys::SurveyKind;

const DEFAULT_RULES_TOML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/standards/rules-default.toml"
));

/// The calendar periods a year is divided into (Asia/Shanghai).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Quarter,
    Month,
}

/// One condition of an indicator's rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// A brand set in the profile, with media report links and photos in the year.
    ThemeEvidence {
        #[serde(default = "one")]
        min_links: i64,
        #[serde(default = "one")]
        min_photos: i64,
    },
    /// The community creation standard, and every resident group's creation method.
    CreationDocuments,
    /// Activities of these types (all types when empty) in every period of the year.
    ActivityEachPeriod {
        #[serde(default)]
        types: Vec<String>,
        period: Period,
        #[serde(default = "one")]
        min: i64,
    },
    /// Activities of these types in the year.
    ActivityCount {
        #[serde(default)]
        types: Vec<String>,
        #[serde(default = "one")]
        min: i64,
    },
    /// An activity of these types for every resident group.
    ActivityPerGroup {
        #[serde(default)]
        types: Vec<String>,
    },
    /// The satisfaction rate of a democratic evaluation.
    Survey {
        survey: SurveyKind,
        threshold: Threshold,
        #[serde(default)]
        comparison: Comparison,
    },
    /// The organisation's last election no longer ago than its term at year end.
    ElectionOnSchedule { organisation: String },
    /// Organisations of these types registered in the year.
    OrganisationsPresent { types: Vec<String> },
    /// Work and service premises per so many households, in m².
    PremisesPerHouseholds {
        area: Threshold,
        #[serde(default = "hundred")]
        per_households: i64,
        #[serde(default)]
        comparison: Comparison,
    },
    /// Facilities of the profile (its yes/no fields by key) all present.
    Facilities { facilities: Vec<String> },
    /// An on-site checklist entered by an evaluator: every item must hold.
    Inspection { items: Vec<String> },
    /// Greening coverage by estate type; a mixed estate's parts each meet their own.
    Greening {
        new_estate: Threshold,
        old_estate: Threshold,
        #[serde(default)]
        comparison: Comparison,
    },
    /// None of these events in the incident register in the year.
    NoIncidents { types: Vec<String> },
    /// None of these events in the organisation register in the year.
    NoOrganisationEvent { events: Vec<String> },
    /// Disputes mediated out of disputes received.
    MediationRate {
        threshold: Threshold,
        #[serde(default)]
        comparison: Comparison,
    },
    /// Mediations that succeeded out of disputes mediated.
    MediationSuccess {
        threshold: Threshold,
        #[serde(default)]
        comparison: Comparison,
    },
    /// Distinct service items with records in the year.
    ServiceCoverage { min_items: i64 },
    /// Service records in each of these categories and for each of these items.
    ServiceCategories {
        #[serde(default)]
        categories: Vec<u32>,
        #[serde(default)]
        items: Vec<u32>,
    },
    /// Resident health records out of the resident population.
    HealthCoverage {
        threshold: Threshold,
        #[serde(default)]
        comparison: Comparison,
    },
}

fn one() -> i64 {
    1
}

fn hundred() -> i64 {
    100
}

fn four() -> u32 {
    4
}

/// An indicator's rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorRule {
    pub indicator: u32,
    #[serde(default = "four")]
    pub weight: u32,
    #[serde(default)]
    pub parts: Vec<Check>,
    /// Conditions that, when not met, make the award impossible whatever the score.
    #[serde(default)]
    pub veto: Vec<Check>,
}

impl IndicatorRule {
    /// Whether someone must enter a result by hand (an on-site checklist).
    pub fn is_manual(&self) -> bool {
        self.parts
            .iter()
            .chain(&self.veto)
            .any(|c| matches!(c, Check::Inspection { .. }))
    }

    pub fn inspection_items(&self) -> Vec<String> {
        self.parts
            .iter()
            .chain(&self.veto)
            .filter_map(|c| match c {
                Check::Inspection { items } => Some(items.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }
}

/// Who gets the award (特色型社区): never with a veto, or with an indicator missing data or
/// awaiting assessment; then either every indicator met or a score threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum AwardRule {
    AllMet,
    Score { min_score: u32 },
}

impl AwardRule {
    pub fn describe_zh(&self) -> String {
        match self {
            AwardRule::AllMet => "全部指标达标且无一票否决".into(),
            AwardRule::Score { min_score } => {
                format!("得分不低于 {min_score} 分且无一票否决、无缺项")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    award: AwardRule,
    rules: Vec<IndicatorRule>,
}

fn defaults() -> &'static Option<RuleFile> {
    static DEFAULTS: OnceLock<Option<RuleFile>> = OnceLock::new();
    // A test proves the shipped file parses and covers all 25 indicators.
    DEFAULTS.get_or_init(|| toml::from_str(DEFAULT_RULES_TOML).ok())
}

/// The shipped rule of an indicator, if there is one.
pub fn default_rule(indicator: u32) -> Option<&'static IndicatorRule> {
    defaults()
        .as_ref()
        .and_then(|f| f.rules.iter().find(|r| r.indicator == indicator))
}

pub fn default_award() -> AwardRule {
    defaults()
        .as_ref()
        .map_or(AwardRule::AllMet, |f| f.award.clone())
}

/// Checks a version's rules against the version itself: indicators that exist, each ruled at
/// most once, names of types, facilities, categories and items that exist.
pub(crate) fn validate_rules(standard: &Standard) -> Result<(), String> {
    let numbers: Vec<u32> = standard.indicators().map(|(_, i)| i.number).collect();
    let mut total_weight = 0u32;
    for (i, rule) in standard.rules.iter().enumerate() {
        let n = rule.indicator;
        if !numbers.contains(&n) {
            return Err(format!("考评规则指向不存在的指标 {n}"));
        }
        if standard.rules[..i].iter().any(|r| r.indicator == n) {
            return Err(format!("指标 {n} 的考评规则写了两次"));
        }
        if rule.parts.is_empty() && rule.veto.is_empty() {
            return Err(format!("指标 {n} 的考评规则没有任何条件"));
        }
        if rule.weight > 100 {
            return Err(format!("指标 {n} 的分值 {} 超过 100", rule.weight));
        }
        for check in rule.parts.iter().chain(&rule.veto) {
            check_names(standard, check).map_err(|e| format!("指标 {n}：{e}"))?;
        }
    }
    for (_, indicator) in standard.indicators() {
        total_weight += standard.rule(indicator.number).map_or(0, |r| r.weight);
    }
    if let Some(AwardRule::Score { min_score }) = &standard.award
        && *min_score > total_weight
    {
        return Err(format!("授牌分数线 {min_score} 高于满分 {total_weight}"));
    }
    Ok(())
}

fn all_known(names: &[String], known: &[&str], what: &str) -> Result<(), String> {
    match names.iter().find(|n| !known.contains(&n.as_str())) {
        Some(bad) => Err(format!("未知的{what}“{bad}”（应为：{}）", known.join("、"))),
        None => Ok(()),
    }
}

fn check_names(standard: &Standard, check: &Check) -> Result<(), String> {
    let positive = |n: i64, what: &str| {
        if n < 1 {
            Err(format!("{what}应至少为 1"))
        } else {
            Ok(())
        }
    };
    match check {
        Check::ThemeEvidence {
            min_links,
            min_photos,
        } => {
            if *min_links < 0 || *min_photos < 0 {
                return Err("媒体报道和照片数量不能为负".into());
            }
            Ok(())
        }
        Check::ActivityEachPeriod { types, min, .. } | Check::ActivityCount { types, min } => {
            positive(*min, "活动次数")?;
            all_known(types, ACTIVITY_TYPES, "活动类型")
        }
        Check::ActivityPerGroup { types } => all_known(types, ACTIVITY_TYPES, "活动类型"),
        Check::ElectionOnSchedule { organisation } => all_known(
            std::slice::from_ref(organisation),
            ORGANISATION_TYPES,
            "组织类型",
        ),
        Check::OrganisationsPresent { types } => all_known(types, ORGANISATION_TYPES, "组织类型"),
        Check::PremisesPerHouseholds { per_households, .. } => positive(*per_households, "户数"),
        Check::Facilities { facilities } => {
            let known: Vec<&str> = RecordKind::Profile
                .fields()
                .iter()
                .filter(|f| f.ty == FieldType::YesNo)
                .map(|f| f.key)
                .collect();
            if facilities.is_empty() {
                return Err("没有列出设施".into());
            }
            all_known(facilities, &known, "设施")
        }
        Check::Inspection { items } => {
            if items.is_empty() || items.iter().any(|i| i.trim().is_empty()) {
                return Err("现场检查项目不能为空".into());
            }
            Ok(())
        }
        Check::NoIncidents { types } => all_known(types, INCIDENT_TYPES, "事件类型"),
        Check::NoOrganisationEvent { events } => all_known(events, ORGANISATION_EVENTS, "组织事件"),
        Check::ServiceCoverage { min_items } => {
            let count = standard.items().count() as i64;
            if *min_items < 1 || *min_items > count {
                return Err(format!("服务覆盖项数应在 1 至 {count} 之间"));
            }
            Ok(())
        }
        Check::ServiceCategories { categories, items } => {
            if categories.is_empty() && items.is_empty() {
                return Err("没有列出服务类别或项目".into());
            }
            if let Some(c) = categories
                .iter()
                .find(|c| !standard.categories.iter().any(|x| x.number == **c))
            {
                return Err(format!("服务类别 {c} 不存在"));
            }
            if let Some(i) = items.iter().find(|i| standard.item(**i).is_none()) {
                return Err(format!("服务项目 {i} 不存在"));
            }
            Ok(())
        }
        Check::CreationDocuments
        | Check::Survey { .. }
        | Check::Greening { .. }
        | Check::MediationRate { .. }
        | Check::MediationSuccess { .. }
        | Check::HealthCoverage { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_defaults_rule_all_25_indicators_with_100_points() {
        let file = defaults().as_ref().expect("rules-default.toml parses");
        let numbers: Vec<u32> = file.rules.iter().map(|r| r.indicator).collect();
        assert_eq!(numbers, (1..=25).collect::<Vec<_>>());
        assert_eq!(file.rules.iter().map(|r| r.weight).sum::<u32>(), 100);
        assert_eq!(file.award, AwardRule::AllMet);
        let r21 = default_rule(21).unwrap();
        assert_eq!(r21.veto.len(), 1);
        assert!(default_rule(18).unwrap().is_manual());
        assert_eq!(default_rule(18).unwrap().inspection_items().len(), 5);
        assert!(matches!(
            default_rule(25).unwrap().parts[0],
            Check::HealthCoverage {
                comparison: Comparison::MoreThan,
                ..
            }
        ));
    }

    #[test]
    fn unknown_checks_and_fields_are_refused() {
        let bad: Result<IndicatorRule, _> =
            toml::from_str("indicator = 1\nparts = [{ check = \"magic\" }]");
        assert!(bad.is_err());
        let bad: Result<IndicatorRule, _> = toml::from_str(
            "indicator = 1\nparts = [{ check = \"service_coverage\", min_items = 5, extra = 1 }]",
        );
        assert!(bad.is_err());
        let bad: Result<IndicatorRule, _> = toml::from_str(
            "indicator = 1\nparts = [{ check = \"health_coverage\", threshold = \"80 percent\" }]",
        );
        assert!(bad.is_err());
    }
}
