//! One community's year assessed on the standard's indicators: each result exact, with its
//! numbers and rule in Chinese, from the year's small yearly records (profile, resident groups,
//! organisations, health records), the aggregate counts of its ledgers, its survey results, the
//! on-site checklist and any overrides.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::facts;
use super::rules::{AwardRule, Check, IndicatorRule, Period};
use crate::ratio::{Comparison, Threshold, decimal_display, percent_display};
use crate::records::{RecordData, RecordKind, Value};
use crate::standard::Standard;
use crate::surveys::{SurveyKind, Tally};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Met,
    NotMet,
    NotApplicable,
    Missing,
    AwaitingAssessment,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Met,
        Status::NotMet,
        Status::NotApplicable,
        Status::Missing,
        Status::AwaitingAssessment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotMet => "not_met",
            Status::NotApplicable => "not_applicable",
            Status::Missing => "missing",
            Status::AwaitingAssessment => "awaiting_assessment",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text.trim())
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Met => "达标",
            Status::NotMet => "未达标",
            Status::NotApplicable => "不适用",
            Status::Missing => "缺少数据",
            Status::AwaitingAssessment => "待评估",
        }
    }

    /// Counts for the score (not applicable counts as met).
    pub fn scores(self) -> bool {
        matches!(self, Status::Met | Status::NotApplicable)
    }

    /// Whether the result is one a person may set by override.
    pub fn may_override_to(self) -> bool {
        matches!(self, Status::Met | Status::NotMet | Status::NotApplicable)
    }
}

/// A yearly record with whether the worker has confirmed it (copied-forward ones wait).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Yearly {
    pub data: RecordData,
    pub confirmed: bool,
}

/// Where a survey stands for the evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SurveyInput {
    #[default]
    NotHeld,
    /// Held but not countable yet (open, or a paper tally awaiting confirmation): why.
    Pending(String),
    /// Final counts: online ballots of an ended survey and a confirmed paper tally added.
    Counted(Tally),
}

/// A person's result in place of the automatic one, with the reason written down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub status: Status,
    pub reason: String,
    pub by: String,
    pub at: String,
}

/// An on-site checklist as an evaluator entered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub items: BTreeMap<String, bool>,
    pub by: String,
    pub at: String,
}

/// Everything one community's year is assessed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommunityInputs {
    pub year: i16,
    pub profile: Option<Yearly>,
    pub groups: Vec<Yearly>,
    pub organisations: Vec<Yearly>,
    pub health: Option<Yearly>,
    /// The year's aggregate counts ([`facts`]).
    pub facts: BTreeMap<String, i64>,
    pub surveys: BTreeMap<SurveyKind, SurveyInput>,
    /// On-site checklists by indicator.
    pub inspections: BTreeMap<u32, Inspection>,
    pub overrides: BTreeMap<u32, Override>,
}

/// One part of a rule, assessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartResult {
    pub status: Status,
    pub detail: String,
    pub veto: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorResult {
    pub number: u32,
    pub weight: u32,
    /// The result that counts: the override's if there is one.
    pub status: Status,
    /// The numbers and the rule in Chinese.
    pub detail: String,
    /// What the rule computed, shown beside an override.
    pub automatic: Status,
    pub parts: Vec<PartResult>,
    pub overridden: Option<Override>,
    /// A veto condition failed and the result stands as not met.
    pub vetoed: bool,
    /// The result needs a person's entry (an on-site checklist).
    pub manual: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub year: i16,
    pub score: u32,
    pub max_score: u32,
    pub met: usize,
    pub vetoed: bool,
    /// Meets the award rule on the results as they stand (the award is given only once the
    /// province has finalised the review).
    pub award_eligible: bool,
    pub award_reason: String,
    pub indicators: Vec<IndicatorResult>,
}

/// Assesses a community's year on every indicator of the standard.
pub fn evaluate(standard: &Standard, inputs: &CommunityInputs) -> Evaluation {
    let mut indicators = Vec::new();
    for (_, indicator) in standard.indicators() {
        let number = indicator.number;
        let Some(rule) = standard.rule(number) else {
            let overridden = inputs.overrides.get(&number).cloned();
            indicators.push(IndicatorResult {
                number,
                weight: 0,
                status: overridden
                    .as_ref()
                    .map_or(Status::AwaitingAssessment, |o| o.status),
                detail: "本指标没有考评规则，须人工认定".into(),
                automatic: Status::AwaitingAssessment,
                parts: Vec::new(),
                overridden,
                vetoed: false,
                manual: true,
            });
            continue;
        };
        indicators.push(evaluate_indicator(standard, rule, inputs));
    }
    let max_score = indicators.iter().map(|r| r.weight).sum();
    let score = indicators
        .iter()
        .filter(|r| r.status.scores())
        .map(|r| r.weight)
        .sum();
    let met = indicators.iter().filter(|r| r.status.scores()).count();
    let vetoed = indicators.iter().any(|r| r.vetoed);
    let blocked: Vec<u32> = indicators
        .iter()
        .filter(|r| matches!(r.status, Status::Missing | Status::AwaitingAssessment))
        .map(|r| r.number)
        .collect();
    let (award_eligible, award_reason) = if vetoed {
        let which: Vec<String> = indicators
            .iter()
            .filter(|r| r.vetoed)
            .map(|r| r.number.to_string())
            .collect();
        (false, format!("指标 {} 一票否决", which.join("、")))
    } else if !blocked.is_empty() {
        (
            false,
            format!(
                "指标 {} 缺少数据或待评估",
                blocked
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        )
    } else {
        match standard.award_rule() {
            AwardRule::AllMet => {
                let failed: Vec<String> = indicators
                    .iter()
                    .filter(|r| !r.status.scores())
                    .map(|r| r.number.to_string())
                    .collect();
                if failed.is_empty() {
                    (true, "全部指标达标，无一票否决".into())
                } else {
                    (false, format!("指标 {} 未达标", failed.join("、")))
                }
            }
            AwardRule::Score { min_score } => {
                if score >= min_score {
                    (true, format!("得分 {score}，不低于 {min_score} 分"))
                } else {
                    (false, format!("得分 {score}，低于 {min_score} 分"))
                }
            }
        }
    };
    Evaluation {
        year: inputs.year,
        score,
        max_score,
        met,
        vetoed,
        award_eligible,
        award_reason,
        indicators,
    }
}

fn evaluate_indicator(
    standard: &Standard,
    rule: &IndicatorRule,
    inputs: &CommunityInputs,
) -> IndicatorResult {
    let ctx = Context {
        standard,
        inputs,
        indicator: rule.indicator,
    };
    let mut parts: Vec<PartResult> = rule
        .veto
        .iter()
        .map(|c| {
            let (status, detail) = ctx.check(c);
            PartResult {
                status,
                detail,
                veto: true,
            }
        })
        .collect();
    parts.extend(rule.parts.iter().map(|c| {
        let (status, detail) = ctx.check(c);
        PartResult {
            status,
            detail,
            veto: false,
        }
    }));
    let automatic = combine(parts.iter().map(|p| p.status));
    let mut lines: Vec<String> = Vec::new();
    for p in &parts {
        let line = if p.veto {
            format!("{}（一票否决项）", p.detail)
        } else {
            p.detail.clone()
        };
        // Two parts missing the same input say so once.
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    let detail = lines.join("；");
    let overridden = inputs.overrides.get(&rule.indicator).cloned();
    let status = overridden.as_ref().map_or(automatic, |o| o.status);
    let veto_failed = parts.iter().any(|p| p.veto && p.status == Status::NotMet);
    IndicatorResult {
        number: rule.indicator,
        weight: rule.weight,
        status,
        detail: match &overridden {
            Some(o) => format!(
                "人工认定为{}（{}，理由：{}）；自动结果为{}：{detail}",
                o.status.label_zh(),
                o.by,
                o.reason,
                automatic.label_zh()
            ),
            None => detail,
        },
        automatic,
        parts,
        // An override that finds the indicator met lifts the veto: it says the record was wrong.
        vetoed: veto_failed && status == Status::NotMet,
        overridden,
        manual: rule.is_manual(),
    }
}

/// A rule is met when every part that applies is met and at least one applies; a part not met
/// decides, then missing data, then an assessment still to be made.
pub fn combine(statuses: impl Iterator<Item = Status>) -> Status {
    let all: Vec<Status> = statuses.collect();
    for decisive in [
        Status::NotMet,
        Status::Missing,
        Status::AwaitingAssessment,
        Status::Met,
    ] {
        if all.contains(&decisive) {
            return decisive;
        }
    }
    Status::NotApplicable
}

struct Context<'a> {
    standard: &'a Standard,
    inputs: &'a CommunityInputs,
    indicator: u32,
}

fn verdict(ok: bool) -> Status {
    if ok { Status::Met } else { Status::NotMet }
}

fn ending(status: Status) -> &'static str {
    status.label_zh()
}

fn quarter_label(q: usize) -> &'static str {
    ["一季度", "二季度", "三季度", "四季度"][q]
}

fn threshold_text(t: &Threshold, comparison: Comparison) -> String {
    format!("{} {t}", comparison.symbol())
}

impl Context<'_> {
    fn fact(&self, key: &str) -> i64 {
        self.inputs.facts.get(key).copied().unwrap_or(0)
    }

    /// The confirmed profile, or why there is none to read.
    fn profile(&self) -> Result<&RecordData, String> {
        let year = self.inputs.year;
        match &self.inputs.profile {
            None => Err(format!(
                "缺少 {year} 年的社区基本情况（请在“{}”中填写）",
                RecordKind::Profile.label_zh()
            )),
            Some(p) if !p.confirmed => {
                Err(format!("{year} 年的社区基本情况由上年转入，尚待社区确认"))
            }
            Some(p) => Ok(&p.data),
        }
    }

    fn groups(&self) -> Result<Vec<&RecordData>, String> {
        let year = self.inputs.year;
        if self.inputs.groups.is_empty() {
            return Err(format!(
                "{year} 年没有登记居民小组（请在“{}”中登记）",
                RecordKind::Groups.label_zh()
            ));
        }
        if self.inputs.groups.iter().any(|g| !g.confirmed) {
            return Err(format!("{year} 年的居民小组由上年转入，尚待社区确认"));
        }
        Ok(self.inputs.groups.iter().map(|g| &g.data).collect())
    }

    fn organisations(&self) -> Vec<&RecordData> {
        self.inputs
            .organisations
            .iter()
            .filter(|o| o.confirmed)
            .map(|o| &o.data)
            .collect()
    }

    fn unconfirmed_organisations(&self) -> bool {
        self.inputs.organisations.iter().any(|o| !o.confirmed)
    }

    fn activity_count(&self, types: &[String], months: impl Iterator<Item = i8> + Clone) -> i64 {
        let all: Vec<&str> = if types.is_empty() {
            crate::records::ACTIVITY_TYPES.to_vec()
        } else {
            types.iter().map(String::as_str).collect()
        };
        all.iter()
            .map(|t| {
                months
                    .clone()
                    .map(|m| self.fact(&facts::activity_month(t, m)))
                    .sum::<i64>()
            })
            .sum()
    }

    fn types_label(types: &[String]) -> String {
        if types.is_empty() {
            "活动".into()
        } else {
            types.join("、")
        }
    }

    fn check(&self, check: &Check) -> (Status, String) {
        match self.try_check(check) {
            Ok(result) => result,
            Err(missing) => (Status::Missing, missing),
        }
    }

    /// `Err` is missing data: what is missing and where to enter it.
    fn try_check(&self, check: &Check) -> Result<(Status, String), String> {
        let year = self.inputs.year;
        Ok(match check {
            Check::ThemeEvidence {
                min_links,
                min_photos,
            } => {
                let profile = self.profile()?;
                let brand = profile.text("brand").filter(|b| !b.trim().is_empty());
                let links = self.fact(facts::MEDIA_LINKS);
                let photos = self.fact(facts::PHOTOS);
                let status =
                    verdict(brand.is_some() && links >= *min_links && photos >= *min_photos);
                (
                    status,
                    format!(
                        "特色品牌：{}；媒体报道链接 {links} 条，要求 ≥ {min_links}；照片 {photos} 张，要求 ≥ {min_photos}，{}",
                        brand.map_or("未填写".to_string(), |b| format!("“{b}”")),
                        ending(status)
                    ),
                )
            }
            Check::CreationDocuments => {
                let profile = self.profile()?;
                let groups = self.groups()?;
                let standard_ok = profile
                    .text("creation_standard")
                    .is_some_and(|t| !t.trim().is_empty())
                    || self.fact(facts::PROFILE_DOCUMENT) > 0;
                let without: Vec<&str> = groups
                    .iter()
                    .filter_map(|g| {
                        let name = g.text("name")?;
                        let ok = g.text("method").is_some_and(|t| !t.trim().is_empty())
                            || self.fact(&facts::group_document(name)) > 0;
                        (!ok).then_some(name)
                    })
                    .collect();
                let status = verdict(standard_ok && without.is_empty());
                let groups_text = if without.is_empty() {
                    format!("{} 个居民小组均有创建办法", groups.len())
                } else {
                    format!(
                        "{}/{} 个居民小组没有创建办法：{}",
                        without.len(),
                        groups.len(),
                        without.join("、")
                    )
                };
                (
                    status,
                    format!(
                        "社区创建标准：{}；{groups_text}，{}",
                        if standard_ok { "有" } else { "无" },
                        ending(status)
                    ),
                )
            }
            Check::ActivityEachPeriod { types, period, min } => {
                let label = Self::types_label(types);
                let counts: Vec<(String, i64)> = match period {
                    Period::Quarter => (0..4)
                        .map(|q| {
                            let first = (q * 3 + 1) as i8;
                            (
                                quarter_label(q).to_string(),
                                self.activity_count(types, first..first + 3),
                            )
                        })
                        .collect(),
                    Period::Month => (1..=12i8)
                        .map(|m| (format!("{m}月"), self.activity_count(types, m..m + 1)))
                        .collect(),
                };
                let short: Vec<&str> = counts
                    .iter()
                    .filter(|(_, n)| n < min)
                    .map(|(p, _)| p.as_str())
                    .collect();
                let status = verdict(short.is_empty());
                let per = match period {
                    Period::Quarter => "每季度",
                    Period::Month => "每月",
                };
                let listing = counts
                    .iter()
                    .map(|(p, n)| format!("{p} {n}"))
                    .collect::<Vec<_>>()
                    .join("、");
                let shortfall = if short.is_empty() {
                    String::new()
                } else {
                    format!("；{} 不足", short.join("、"))
                };
                (
                    status,
                    format!(
                        "{label}次数：{listing}，要求{per} ≥ {min}{shortfall}，{}",
                        ending(status)
                    ),
                )
            }
            Check::ActivityCount { types, min } => {
                let n = self.activity_count(types, 1..13);
                let status = verdict(n >= *min);
                (
                    status,
                    format!(
                        "{year} 年{} {n} 次，要求 ≥ {min}，{}",
                        Self::types_label(types),
                        ending(status)
                    ),
                )
            }
            Check::ActivityPerGroup { types } => {
                let groups = self.groups()?;
                let all: Vec<&str> = if types.is_empty() {
                    crate::records::ACTIVITY_TYPES.to_vec()
                } else {
                    types.iter().map(String::as_str).collect()
                };
                let without: Vec<&str> = groups
                    .iter()
                    .filter_map(|g| g.text("name"))
                    .filter(|name| {
                        all.iter()
                            .map(|t| self.fact(&facts::activity_group(t, name)))
                            .sum::<i64>()
                            == 0
                    })
                    .collect();
                let status = verdict(without.is_empty());
                let label = Self::types_label(types);
                let text = if without.is_empty() {
                    format!("{} 个居民小组均有{label}", groups.len())
                } else {
                    format!(
                        "{}/{} 个居民小组没有{label}：{}",
                        without.len(),
                        groups.len(),
                        without.join("、")
                    )
                };
                (status, format!("{text}，{}", ending(status)))
            }
            Check::Survey {
                survey,
                threshold,
                comparison,
            } => {
                let name = survey.label_zh();
                match self
                    .inputs
                    .surveys
                    .get(survey)
                    .unwrap_or(&SurveyInput::NotHeld)
                {
                    SurveyInput::NotHeld => {
                        return Err(format!(
                            "{year} 年尚未开展{name}（请在社区的“民主测评”页开展，或录入并确认纸质计票）"
                        ));
                    }
                    SurveyInput::Pending(why) => return Err(format!("{name}{why}")),
                    SurveyInput::Counted(tally) => {
                        match threshold.check(tally.satisfied, tally.answers, *comparison) {
                            None => {
                                return Err(format!(
                                    "{name}没有有效票，无法计算满意率（请确认测评已开展并计票）"
                                ));
                            }
                            Some(ok) => {
                                let status = verdict(ok);
                                (
                                    status,
                                    format!(
                                        "{name}满意率 {}/{} = {}，要求 {}，{}",
                                        tally.satisfied,
                                        tally.answers,
                                        percent_display(tally.satisfied, tally.answers),
                                        threshold_text(threshold, *comparison),
                                        ending(status)
                                    ),
                                )
                            }
                        }
                    }
                }
            }
            Check::ElectionOnSchedule { organisation } => {
                let found = self
                    .organisations()
                    .into_iter()
                    .find(|o| o.text("org_type") == Some(organisation.as_str()));
                let Some(org) = found else {
                    return Err(if self.unconfirmed_organisations() {
                        format!("{year} 年的组织建设登记由上年转入，尚待社区确认")
                    } else {
                        format!(
                            "{year} 年的组织建设登记中没有{organisation}（请在“{}”中登记）",
                            RecordKind::Organisations.label_zh()
                        )
                    });
                };
                let (Some(elected), Some(term)) = (org.date("elected_on"), org.int("term_years"))
                else {
                    return Err(format!("{organisation}缺少最近换届日期或任期"));
                };
                let year_end = Date::new(year, 12, 31).unwrap_or(elected);
                let due = elected
                    .checked_add(jiff::Span::new().years(term))
                    .unwrap_or(elected);
                let status = verdict(due >= year_end);
                (
                    status,
                    format!(
                        "{organisation}最近换届 {elected}，任期 {term} 年，应于 {due} 前换届；{year} 年末{}，{}",
                        if status == Status::Met {
                            "仍在任期内"
                        } else {
                            "已超过任期"
                        },
                        ending(status)
                    ),
                )
            }
            Check::OrganisationsPresent { types } => {
                let orgs = self.organisations();
                if orgs.is_empty() {
                    return Err(if self.unconfirmed_organisations() {
                        format!("{year} 年的组织建设登记由上年转入，尚待社区确认")
                    } else {
                        format!(
                            "{year} 年没有组织建设登记（请在“{}”中登记）",
                            RecordKind::Organisations.label_zh()
                        )
                    });
                }
                let absent: Vec<&str> = types
                    .iter()
                    .map(String::as_str)
                    .filter(|t| !orgs.iter().any(|o| o.text("org_type") == Some(t)))
                    .collect();
                let status = verdict(absent.is_empty());
                let text = if absent.is_empty() {
                    format!("{} 均已建立", types.join("、"))
                } else {
                    format!("缺少：{}", absent.join("、"))
                };
                (status, format!("{text}，{}", ending(status)))
            }
            Check::PremisesPerHouseholds {
                area,
                per_households,
                comparison,
            } => {
                let profile = self.profile()?;
                let (Some(Value::Hundredths(premises)), Some(households)) =
                    (profile.get("premises"), profile.int("households"))
                else {
                    return Err("社区基本情况缺少用房面积或户数".into());
                };
                // m² per `per_households` households = premises / households * per.
                let num = premises * per_households;
                let den = households * 100;
                match area.check(num, den, *comparison) {
                    None => (
                        Status::NotApplicable,
                        format!("户数为 0，每{per_households}户用房面积不适用"),
                    ),
                    Some(ok) => {
                        let status = verdict(ok);
                        (
                            status,
                            format!(
                                "每{per_households}户用房 {} 平方米 × {per_households} / {households} 户 = {} 平方米，要求 {} 平方米，{}",
                                crate::records::format_hundredths(*premises),
                                decimal_display(num, den),
                                threshold_text(area, *comparison),
                                ending(status)
                            ),
                        )
                    }
                }
            }
            Check::Facilities { facilities } => {
                let profile = self.profile()?;
                let header = |key: &str| {
                    RecordKind::Profile
                        .field(key)
                        .map_or(key.to_string(), |f| f.header.to_string())
                };
                let absent: Vec<String> = facilities
                    .iter()
                    .filter(|k| profile.get(k) != Some(&Value::Bool(true)))
                    .map(|k| header(k))
                    .collect();
                let status = verdict(absent.is_empty());
                let text = if absent.is_empty() {
                    format!(
                        "{}：均有",
                        facilities
                            .iter()
                            .map(|k| header(k))
                            .collect::<Vec<_>>()
                            .join("、")
                    )
                } else {
                    format!("没有：{}", absent.join("、"))
                };
                (status, format!("{text}，{}", ending(status)))
            }
            Check::Inspection { items } => match self.inputs.inspections.get(&self.indicator) {
                None => (
                    Status::AwaitingAssessment,
                    format!("待考评人员现场检查并录入（{}）", items.join("、")),
                ),
                Some(entry) => {
                    let failed: Vec<&str> = items
                        .iter()
                        .map(String::as_str)
                        .filter(|i| entry.items.get(*i) != Some(&true))
                        .collect();
                    let status = verdict(failed.is_empty());
                    let text = if failed.is_empty() {
                        format!("现场检查 {} 项均符合", items.len())
                    } else {
                        format!("现场检查不符合：{}", failed.join("、"))
                    };
                    (
                        status,
                        format!("{text}（{}，{}），{}", entry.by, entry.at, ending(status)),
                    )
                }
            },
            Check::Greening {
                new_estate,
                old_estate,
                comparison,
            } => {
                let profile = self.profile()?;
                let hundredths = |key: &str| match profile.get(key) {
                    Some(Value::Hundredths(h)) => Some(*h),
                    _ => None,
                };
                let part = |label: &str, value: i64, t: &Threshold| {
                    let ok = t.check(value, 10_000, *comparison).unwrap_or(false);
                    (
                        ok,
                        format!(
                            "{label}绿化覆盖率 {}%，要求 {}",
                            crate::records::format_hundredths(value),
                            threshold_text(t, *comparison)
                        ),
                    )
                };
                let parts = match profile.text("estate") {
                    Some("新建小区") => {
                        let v = hundredths("greening").ok_or("社区基本情况缺少绿化覆盖率")?;
                        vec![part("新建小区", v, new_estate)]
                    }
                    Some("老旧小区") => {
                        let v = hundredths("greening").ok_or("社区基本情况缺少绿化覆盖率")?;
                        vec![part("老旧小区", v, old_estate)]
                    }
                    Some("新老混合") => {
                        let (Some(n), Some(o)) =
                            (hundredths("new_greening"), hundredths("old_greening"))
                        else {
                            return Err(
                                "新老混合小区须在社区基本情况中分别填写新建小区部分和老旧小区部分的绿化覆盖率"
                                    .into(),
                            );
                        };
                        vec![
                            part("新建小区部分", n, new_estate),
                            part("老旧小区部分", o, old_estate),
                        ]
                    }
                    _ => return Err("社区基本情况缺少小区类型".into()),
                };
                let status = verdict(parts.iter().all(|(ok, _)| *ok));
                (
                    status,
                    format!(
                        "{}，{}",
                        parts
                            .iter()
                            .map(|(_, t)| t.as_str())
                            .collect::<Vec<_>>()
                            .join("；"),
                        ending(status)
                    ),
                )
            }
            Check::NoIncidents { types } => {
                let found: Vec<String> = types
                    .iter()
                    .filter_map(|t| {
                        let n = self.fact(&facts::incident(t));
                        (n > 0).then(|| format!("{t} {n} 起"))
                    })
                    .collect();
                let status = verdict(found.is_empty());
                let text = if found.is_empty() {
                    format!("{year} 年无{}", types.join("、"))
                } else {
                    format!("{year} 年发生{}", found.join("、"))
                };
                (status, format!("{text}，{}", ending(status)))
            }
            Check::NoOrganisationEvent { events } => {
                if self.unconfirmed_organisations() {
                    return Err(format!("{year} 年的组织建设登记由上年转入，尚待社区确认"));
                }
                let found: Vec<String> = self
                    .organisations()
                    .into_iter()
                    .filter(|o| {
                        o.text("event")
                            .is_some_and(|e| events.iter().any(|x| x == e))
                    })
                    .map(|o| {
                        format!(
                            "{}{}（{}）",
                            o.text("name").unwrap_or_default(),
                            o.text("event").unwrap_or_default(),
                            o.date("event_on")
                                .map(|d| d.to_string())
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                let status = verdict(found.is_empty());
                let text = if found.is_empty() {
                    format!("{year} 年无{}", events.join("、"))
                } else {
                    format!("{year} 年有{}", found.join("、"))
                };
                (status, format!("{text}，{}", ending(status)))
            }
            Check::MediationRate {
                threshold,
                comparison,
            } => {
                let received = self.fact(facts::MEDIATION_RECEIVED);
                let mediated = self.fact(facts::MEDIATION_MEDIATED);
                rate_result(
                    "民事纠纷调解率",
                    mediated,
                    received,
                    threshold,
                    *comparison,
                    &format!("{year} 年没有受理民事纠纷，调解率不适用"),
                )
            }
            Check::MediationSuccess {
                threshold,
                comparison,
            } => {
                let mediated = self.fact(facts::MEDIATION_MEDIATED);
                let succeeded = self.fact(facts::MEDIATION_SUCCEEDED);
                rate_result(
                    "调解成功率",
                    succeeded,
                    mediated,
                    threshold,
                    *comparison,
                    &format!("{year} 年没有调解的纠纷，调解成功率不适用"),
                )
            }
            Check::ServiceCoverage { min_items } => {
                let items: Vec<u32> = self.standard.items().map(|(_, i)| i.number).collect();
                let uncovered: Vec<u32> = items
                    .iter()
                    .copied()
                    .filter(|i| self.fact(&facts::service_item(i64::from(*i))) == 0)
                    .collect();
                let covered = (items.len() - uncovered.len()) as i64;
                let status = verdict(covered >= *min_items);
                let gaps = if uncovered.is_empty() {
                    String::new()
                } else {
                    let shown: Vec<String> =
                        uncovered.iter().take(20).map(u32::to_string).collect();
                    format!(
                        "；没有记录的项目：{}{}",
                        shown.join("、"),
                        if uncovered.len() > 20 {
                            format!(" 等 {} 项", uncovered.len())
                        } else {
                            String::new()
                        }
                    )
                };
                (
                    status,
                    format!(
                        "{year} 年服务记录覆盖 {covered}/{} 项，要求 ≥ {min_items} 项{gaps}，{}",
                        items.len(),
                        ending(status)
                    ),
                )
            }
            Check::ServiceCategories { categories, items } => {
                let mut absent = Vec::new();
                for c in categories {
                    let Some(category) = self.standard.categories.iter().find(|x| x.number == *c)
                    else {
                        continue;
                    };
                    let n: i64 = category
                        .items
                        .iter()
                        .map(|i| self.fact(&facts::service_item(i64::from(i.number))))
                        .sum();
                    if n == 0 {
                        absent.push(format!("{}（第{c}类）", category.name));
                    }
                }
                for i in items {
                    if self.fact(&facts::service_item(i64::from(*i))) == 0 {
                        absent.push(format!("第 {i} 项"));
                    }
                }
                let status = verdict(absent.is_empty());
                let text = if absent.is_empty() {
                    "所列服务类别和项目均有服务记录".to_string()
                } else {
                    format!("没有服务记录：{}", absent.join("、"))
                };
                (status, format!("{text}，{}", ending(status)))
            }
            Check::HealthCoverage {
                threshold,
                comparison,
            } => {
                let profile = self.profile()?;
                let population = profile
                    .int("population")
                    .ok_or("社区基本情况缺少常住人口")?;
                let health = match &self.inputs.health {
                    None => {
                        return Err(format!(
                            "缺少 {year} 年的居民健康档案数（请在“{}”中填写）",
                            RecordKind::Health.label_zh()
                        ));
                    }
                    Some(h) => h.data.int("count").unwrap_or(0),
                };
                rate_result(
                    "居民健康档案覆盖率",
                    health,
                    population,
                    threshold,
                    *comparison,
                    "常住人口为 0，健康档案覆盖率不适用",
                )
            }
        })
    }
}

fn rate_result(
    label: &str,
    num: i64,
    den: i64,
    threshold: &Threshold,
    comparison: Comparison,
    when_empty: &str,
) -> (Status, String) {
    match threshold.check(num, den, comparison) {
        None => (Status::NotApplicable, when_empty.to_string()),
        Some(ok) => {
            let status = verdict(ok);
            (
                status,
                format!(
                    "{label} {num}/{den} = {}，要求 {}，{}",
                    percent_display(num, den),
                    threshold_text(threshold, comparison),
                    ending(status)
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Input;

    fn standard() -> Standard {
        Standard::from_toml(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/standards/hlj-2010.toml"
        )))
        .unwrap()
    }

    fn yearly(kind: RecordKind, fields: &[(&str, &str)]) -> Yearly {
        let mut all = vec![("unit", "230102001001"), ("year", "2010")];
        all.extend_from_slice(fields);
        Yearly {
            data: RecordData::from_inputs(kind, all.iter().map(|(k, v)| (*k, Input::Text(v))))
                .unwrap(),
            confirmed: true,
        }
    }

    fn profile(estate: &str, extra: &[(&str, &str)]) -> Yearly {
        let mut fields = vec![
            ("households", "600"),
            ("population", "1500"),
            ("estate", estate),
            ("premises", "120"),
            ("greening", "30"),
            ("one_stop", "是"),
            ("deliberation", "是"),
            ("indoor_venue", "是"),
            ("outdoor_venue", "是"),
            ("day_care", "是"),
            ("home_care", "是"),
            ("funding", "是"),
        ];
        fields.extend_from_slice(extra);
        yearly(RecordKind::Profile, &fields)
    }

    fn result(inputs: &CommunityInputs, n: u32) -> IndicatorResult {
        evaluate(&standard(), inputs)
            .indicators
            .into_iter()
            .find(|r| r.number == n)
            .unwrap()
    }

    #[test]
    fn parts_combine_not_met_first_then_missing_then_awaiting() {
        use Status::*;
        assert_eq!(combine([Met, NotApplicable].into_iter()), Met);
        assert_eq!(
            combine([NotApplicable, NotApplicable].into_iter()),
            NotApplicable
        );
        assert_eq!(combine([Met, Missing, NotMet].into_iter()), NotMet);
        assert_eq!(
            combine([Met, AwaitingAssessment, Missing].into_iter()),
            Missing
        );
        assert_eq!(
            combine([Met, AwaitingAssessment].into_iter()),
            AwaitingAssessment
        );
    }

    #[test]
    fn premises_are_compared_per_hundred_households_exactly() {
        // 120 m² for 600 households is exactly 20 m² per 100 households.
        let inputs = CommunityInputs {
            year: 2010,
            profile: Some(profile("新建小区", &[])),
            ..Default::default()
        };
        let r = result(&inputs, 14);
        assert_eq!(r.status, Status::Met, "{}", r.detail);
        assert!(r.detail.contains("= 20.00 平方米"), "{}", r.detail);
        let inputs = CommunityInputs {
            profile: Some(profile("新建小区", &[("premises", "119.99")])),
            ..inputs
        };
        let r = result(&inputs, 14);
        assert_eq!(r.status, Status::NotMet, "{}", r.detail);
        // Shown rounded as 20.00, yet short of the threshold.
        assert!(r.detail.contains("= 20.00 平方米"), "{}", r.detail);
    }

    #[test]
    fn a_mixed_estate_holds_each_part_to_its_own_threshold() {
        let mixed = |new: &str, old: &str| CommunityInputs {
            year: 2010,
            profile: Some(profile(
                "新老混合",
                &[
                    ("new_households", "400"),
                    ("old_households", "200"),
                    ("new_greening", new),
                    ("old_greening", old),
                ],
            )),
            ..Default::default()
        };
        assert_eq!(result(&mixed("30", "25"), 19).status, Status::Met);
        assert_eq!(result(&mixed("30", "24.99"), 19).status, Status::NotMet);
        assert_eq!(result(&mixed("29.99", "40"), 19).status, Status::NotMet);
        let without_parts = CommunityInputs {
            year: 2010,
            profile: Some(profile(
                "新老混合",
                &[("new_households", "400"), ("old_households", "200")],
            )),
            ..Default::default()
        };
        let r = result(&without_parts, 19);
        assert_eq!(r.status, Status::Missing);
        assert!(r.detail.contains("分别填写"), "{}", r.detail);
    }

    #[test]
    fn no_disputes_with_legal_education_every_quarter_is_met() {
        let mut facts = BTreeMap::new();
        for m in [1, 4, 7, 10] {
            facts.insert(facts::activity_month("法制宣传教育", m), 1);
        }
        let inputs = CommunityInputs {
            year: 2010,
            facts,
            ..Default::default()
        };
        let r = result(&inputs, 22);
        assert_eq!(r.status, Status::Met, "{}", r.detail);
        assert_eq!(r.parts[0].status, Status::NotApplicable);
        assert!(r.parts[0].detail.contains("没有受理民事纠纷"));
        let mut facts = inputs.facts.clone();
        facts.insert(facts::MEDIATION_RECEIVED.into(), 47);
        facts.insert(facts::MEDIATION_MEDIATED.into(), 47);
        facts.insert(facts::MEDIATION_SUCCEEDED.into(), 44);
        let r = result(&CommunityInputs { facts, ..inputs }, 22);
        assert_eq!(r.status, Status::NotMet);
        assert!(
            r.detail
                .contains("调解成功率 44/47 = 93.62%，要求 ≥ 95%，未达标"),
            "{}",
            r.detail
        );
    }

    #[test]
    fn a_veto_blocks_the_award_and_an_override_keeps_both_results() {
        let mut facts = BTreeMap::new();
        facts.insert(facts::incident("集体上访"), 1);
        let mut surveys = BTreeMap::new();
        surveys.insert(
            SurveyKind::Security,
            SurveyInput::Counted(Tally {
                ballots: 100,
                answers: 100,
                satisfied: 99,
            }),
        );
        let inputs = CommunityInputs {
            year: 2010,
            facts,
            surveys,
            ..Default::default()
        };
        let e = evaluate(&standard(), &inputs);
        let r = &e.indicators[20];
        assert_eq!((r.status, r.vetoed), (Status::NotMet, true));
        assert!(e.vetoed && !e.award_eligible);
        assert!(e.award_reason.contains("21"), "{}", e.award_reason);
        let mut overrides = BTreeMap::new();
        overrides.insert(
            21,
            Override {
                status: Status::Met,
                reason: "上访经核实为误登记".into(),
                by: "eval".into(),
                at: "2010-12-20".into(),
            },
        );
        let r = result(
            &CommunityInputs {
                overrides,
                ..inputs
            },
            21,
        );
        assert_eq!(
            (r.status, r.automatic, r.vetoed),
            (Status::Met, Status::NotMet, false)
        );
        assert!(r.detail.contains("误登记") && r.detail.contains("自动结果为未达标"));
    }

    #[test]
    fn health_coverage_must_be_strictly_more_than_80_percent() {
        let inputs = |count: &str| CommunityInputs {
            year: 2010,
            profile: Some(profile("新建小区", &[("population", "1000")])),
            health: Some(yearly(RecordKind::Health, &[("count", count)])),
            ..Default::default()
        };
        assert_eq!(result(&inputs("800"), 25).status, Status::NotMet);
        assert_eq!(result(&inputs("801"), 25).status, Status::Met);
        let none = CommunityInputs {
            health: None,
            ..inputs("1")
        };
        assert_eq!(result(&none, 25).status, Status::Missing);
    }
}
