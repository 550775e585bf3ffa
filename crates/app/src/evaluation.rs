//! Evaluation: every community under a unit assessed on the standard's indicators from its
//! year's small records and aggregate counts (never the raw ledgers), on-site checklists and
//! overrides entered by evaluators, the review chain up to the province, rankings and awards.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use shequ_domain::access::{may_assess, review_level};
use shequ_domain::codes::{DivisionCode, Level};
use shequ_domain::evaluation::{
    CommunityInputs, Evaluation, Inspection, Override, ReviewAction, ReviewChain, ReviewState,
    Status, SurveyInput, Yearly, evaluate, review::level_label,
};
use shequ_domain::records::RecordKind;
use shequ_domain::standard::Standard;
use shequ_domain::surveys::{SurveyKind, Tally};
use shequ_domain::units::Unit;
use shequ_interchange::export::{Cell, xlsx_table};
use shequ_store::{AssessmentEntry, RecordFilter, ReviewEvent, StoreError, StoredSurvey};

use crate::records::{scope_filter, unit_path};
use crate::surveys::{paper_tally, state_of};
use crate::{App, AppError, Caller, today};

/// A community's year as evaluated, with its place in the review chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunityEvaluation {
    pub unit: Unit,
    pub evaluation: Evaluation,
    pub review_state: ReviewState,
    /// Each survey kind as the evaluation counts it.
    pub surveys: Vec<(SurveyKind, SurveyInput)>,
}

impl CommunityEvaluation {
    /// Named a distinctive community: meets the award rule, and the province has finalised.
    pub fn award(&self) -> bool {
        self.evaluation.award_eligible && self.review_state == ReviewState::Final
    }

    pub fn report(&self) -> EvaluationReport {
        EvaluationReport {
            unit: self.unit.code.as_str().to_string(),
            name: self.unit.name.clone(),
            year: self.evaluation.year,
            score: self.evaluation.score,
            max_score: self.evaluation.max_score,
            award: self.award(),
            award_eligible: self.evaluation.award_eligible,
            award_reason: self.evaluation.award_reason.clone(),
            vetoed: self.evaluation.vetoed,
            review_state: self.review_state.as_str(),
            indicators: self
                .evaluation
                .indicators
                .iter()
                .map(|r| IndicatorReport {
                    number: r.number,
                    status: r.status.as_str(),
                    detail: r.detail.clone(),
                    weight: r.weight,
                    automatic_status: r.automatic.as_str(),
                    overridden: r.overridden.is_some(),
                    vetoed: r.vetoed,
                })
                .collect(),
        }
    }
}

/// The JSON of `shequ evaluate --json` and `GET /api/v1/units/{code}/evaluations/{year}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EvaluationReport {
    pub unit: String,
    pub name: String,
    pub year: i16,
    pub score: u32,
    pub max_score: u32,
    /// Named 特色型社区: meets the award rule and the province has finalised its review.
    pub award: bool,
    /// Meets the award rule on the results as they stand.
    pub award_eligible: bool,
    pub award_reason: String,
    pub vetoed: bool,
    pub review_state: &'static str,
    pub indicators: Vec<IndicatorReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IndicatorReport {
    pub number: u32,
    /// met, not_met, not_applicable, missing or awaiting_assessment
    pub status: &'static str,
    pub detail: String,
    pub weight: u32,
    /// What the rule computed, when a person has overridden it.
    pub automatic_status: &'static str,
    pub overridden: bool,
    pub vetoed: bool,
}

/// A community year's review: where it stands, who acts next, what the caller may do, and
/// every step so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewView {
    pub state: ReviewState,
    pub chain: Vec<Level>,
    pub awaiting: Option<Level>,
    pub allowed: Vec<ReviewAction>,
    pub history: Vec<ReviewEvent>,
}

impl ReviewView {
    pub fn awaiting_label(&self) -> &'static str {
        self.awaiting.map_or("无（已终审）", level_label)
    }
}

/// One line of a ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RankRow {
    /// Shared by equal scores (1, 1, 3).
    pub rank: usize,
    pub unit: String,
    pub name: String,
    pub score: u32,
    pub max_score: u32,
    /// Indicators met (or not applicable).
    pub met: usize,
    pub indicators: usize,
    pub review_state: &'static str,
    pub award: bool,
}

pub(crate) fn check_year(year: i16) -> Result<(), AppError> {
    if (2000..=2100).contains(&year) {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "年度 {year} 不在 2000 至 2100 之间"
        )))
    }
}

/// A written reason as kept in the history and the audit log.
fn check_reason(reason: &str) -> Result<(), AppError> {
    if reason.chars().count() > 500 || reason.chars().any(shequ_domain::text::is_hidden) {
        return Err(AppError::BadRequest(
            "理由最多 500 个字，且不能含换行、控制字符或不可见字符".into(),
        ));
    }
    Ok(())
}

/// Whether a unit was open at some time during the year.
fn open_in(unit: &Unit, year: i16) -> bool {
    unit.opened_on.is_none_or(|d| d.year() <= year)
        && unit.closed_on.is_none_or(|d| d.year() >= year)
}

fn review_error(e: StoreError) -> AppError {
    match e {
        StoreError::Conflict => AppError::Conflict("考评审核状态已被他人改变，请刷新后重试".into()),
        StoreError::ReviewFinal => AppError::Forbidden(e.to_string()),
        other => AppError::Store(other),
    }
}

/// One kind's survey as the evaluation counts it.
fn survey_input(
    online: Option<&StoredSurvey>,
    paper: Option<&Yearly>,
    standard: &Standard,
    kind: SurveyKind,
) -> SurveyInput {
    if online.is_none() && paper.is_none() {
        return SurveyInput::NotHeld;
    }
    if paper.is_some_and(|p| !p.confirmed) {
        return SurveyInput::Pending("的纸质计票尚待第二人确认".into());
    }
    let mut tally = Tally::default();
    if let Some(survey) = online {
        if !state_of(survey, today()).is_closed() {
            return SurveyInput::Pending("尚未结束，结束后计入".into());
        }
        tally = tally + survey.online;
    }
    if let Some(p) = paper {
        let spec = online.map_or_else(|| standard.survey(kind), |s| s.spec.clone());
        tally = tally + paper_tally(&p.data, &spec);
    }
    SurveyInput::Counted(tally)
}

impl App {
    async fn evaluation_community(
        &self,
        caller: &Caller,
        code_text: &str,
    ) -> Result<Unit, AppError> {
        let unit = self.readable_unit(caller, code_text).await?;
        if !unit.kind.is_community() {
            return Err(AppError::BadRequest(format!(
                "{}不是社区；考评以社区为单位",
                unit.name
            )));
        }
        Ok(unit)
    }

    /// Every community under a unit (or the community itself) evaluated for a year, in code
    /// order. Reads the year's yearly records, aggregate counts, surveys, assessments and
    /// review states of the subtree in a handful of queries.
    pub async fn evaluate(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
    ) -> Result<(Unit, Vec<CommunityEvaluation>), AppError> {
        check_year(year)?;
        let unit = self.readable_unit(caller, code_text).await?;
        let results = self.evaluate_within(&unit, year).await?;
        Ok((unit, results))
    }

    pub(crate) async fn evaluate_within(
        &self,
        unit: &Unit,
        year: i16,
    ) -> Result<Vec<CommunityEvaluation>, AppError> {
        let counts = self
            .store
            .record_facts(&unit.code, year, shequ_store::FactSet::Evaluation)
            .await?;
        Ok(self.evaluate_with_counts(unit, year, counts).await?.0)
    }

    /// Evaluates with the subtree's aggregate counts already read (reports read them once for
    /// both), and hands the counts back by community.
    pub(crate) async fn evaluate_with_counts(
        &self,
        unit: &Unit,
        year: i16,
        mut counts: HashMap<DivisionCode, BTreeMap<String, i64>>,
    ) -> Result<
        (
            Vec<CommunityEvaluation>,
            HashMap<DivisionCode, BTreeMap<String, i64>>,
        ),
        AppError,
    > {
        let standard = self.current_standard().await?;
        let code = &unit.code;
        let communities: Vec<Unit> = if unit.level == Level::Committee {
            if unit.kind.is_community() {
                vec![unit.clone()]
            } else {
                Vec::new()
            }
        } else {
            self.store
                .committees_within(code)
                .await?
                .into_iter()
                .filter(|u| u.kind.is_community() && open_in(u, year))
                .collect()
        };
        let mut inputs: HashMap<DivisionCode, CommunityInputs> = communities
            .iter()
            .map(|u| {
                (
                    u.code.clone(),
                    CommunityInputs {
                        year,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut tallies: HashMap<(DivisionCode, SurveyKind), Yearly> = HashMap::new();
        for kind in [
            RecordKind::Profile,
            RecordKind::Groups,
            RecordKind::Organisations,
            RecordKind::Health,
            RecordKind::Tallies,
        ] {
            let filter = RecordFilter {
                kind: Some(kind),
                year: Some(year),
                ..scope_filter(code)
            };
            for record in self.all_records(&filter).await? {
                let yearly = Yearly {
                    data: record.data,
                    confirmed: record.confirmed,
                };
                if kind == RecordKind::Tallies {
                    if let Some(k) = yearly.data.text("survey").and_then(SurveyKind::parse) {
                        tallies.insert((record.unit, k), yearly);
                    }
                    continue;
                }
                let Some(input) = inputs.get_mut(&record.unit) else {
                    continue;
                };
                match kind {
                    RecordKind::Profile => input.profile = Some(yearly),
                    RecordKind::Groups => input.groups.push(yearly),
                    RecordKind::Organisations => input.organisations.push(yearly),
                    _ => input.health = Some(yearly),
                }
            }
        }
        for (unit_code, input) in inputs.iter_mut() {
            if let Some(facts) = counts.remove(unit_code) {
                input.facts = facts;
            }
        }
        let surveys: HashMap<(DivisionCode, SurveyKind), StoredSurvey> = self
            .store
            .surveys_within(code, year)
            .await?
            .into_iter()
            .map(|s| ((s.unit.clone(), s.kind), s))
            .collect();
        for (unit_code, input) in inputs.iter_mut() {
            for kind in SurveyKind::ALL {
                let key = (unit_code.clone(), kind);
                input.surveys.insert(
                    kind,
                    survey_input(surveys.get(&key), tallies.get(&key), &standard, kind),
                );
            }
        }
        for a in self.store.assessments(code, year).await? {
            let Some(input) = inputs.get_mut(&a.unit) else {
                continue;
            };
            match a.entry {
                AssessmentEntry::Inspection(items) => {
                    input.inspections.insert(
                        a.indicator,
                        Inspection {
                            items,
                            by: a.entered_by,
                            at: short_time(&a.entered_at),
                        },
                    );
                }
                AssessmentEntry::Override { status, reason } => {
                    input.overrides.insert(
                        a.indicator,
                        Override {
                            status,
                            reason,
                            by: a.entered_by,
                            at: short_time(&a.entered_at),
                        },
                    );
                }
            }
        }
        let states = self.store.review_states(code, year).await?;
        let results = communities
            .into_iter()
            .map(|u| {
                let input = &inputs[&u.code];
                let evaluation = evaluate(&standard, input);
                let review_state = states.get(&u.code).copied().unwrap_or(ReviewState::Draft);
                CommunityEvaluation {
                    unit: u,
                    evaluation,
                    review_state,
                    surveys: input.surveys.iter().map(|(k, v)| (*k, v.clone())).collect(),
                }
            })
            .collect();
        let counts = inputs
            .into_iter()
            .map(|(code, input)| (code, input.facts))
            .collect();
        Ok((results, counts))
    }

    /// A community year's review chain as the caller sees it.
    pub async fn review(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
    ) -> Result<ReviewView, AppError> {
        check_year(year)?;
        let unit = self.evaluation_community(caller, code_text).await?;
        let chain = self.chain_of(&unit)?;
        let state = self
            .store
            .review_states(&unit.code, year)
            .await?
            .get(&unit.code)
            .copied()
            .unwrap_or(ReviewState::Draft);
        let allowed = ReviewAction::ALL
            .into_iter()
            .filter(|a| {
                let level = self.acting_level(caller, &unit, &chain, state, Some(*a));
                level.is_some_and(|l| chain.apply(state, *a, l).is_ok())
            })
            .collect();
        Ok(ReviewView {
            state,
            chain: chain.levels().to_vec(),
            awaiting: chain.awaiting(state),
            allowed,
            history: self.store.review_history(&unit.code, year).await?,
        })
    }

    pub(crate) fn chain_of(&self, unit: &Unit) -> Result<ReviewChain, AppError> {
        ReviewChain::new(unit.ancestors.codes().map(DivisionCode::level)).ok_or_else(|| {
            AppError::BadRequest(format!("{}不在任何省级单位之下，无法逐级审核", unit.name))
        })
    }

    /// The level the caller acts at; the operator acts at whichever step the action needs.
    fn acting_level(
        &self,
        caller: &Caller,
        unit: &Unit,
        chain: &ReviewChain,
        state: ReviewState,
        action: Option<ReviewAction>,
    ) -> Option<Level> {
        match &caller.actor {
            shequ_domain::access::Actor::Operator { .. } => match action {
                Some(ReviewAction::Submit) => Some(Level::Committee),
                Some(ReviewAction::Reopen) => Some(Level::Province),
                Some(ReviewAction::Withdraw) => match state {
                    ReviewState::Submitted => Some(Level::Committee),
                    ReviewState::Approved(l) => Some(l),
                    _ => None,
                },
                _ => chain.awaiting(state),
            },
            actor => review_level(actor, &unit_path(unit)),
        }
    }

    /// Takes a review step for a community's year; returns the new state. The store moves the
    /// state only if it is still the one the step was decided on, and sets the records' lock in
    /// the same transaction.
    pub async fn review_action(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
        action: ReviewAction,
        reason: &str,
    ) -> Result<ReviewState, AppError> {
        check_year(year)?;
        let unit = self.evaluation_community(caller, code_text).await?;
        let chain = self.chain_of(&unit)?;
        let reason = reason.trim();
        if action.needs_reason() && reason.is_empty() {
            return Err(AppError::BadRequest(format!(
                "{}须填写理由",
                action.label_zh()
            )));
        }
        check_reason(reason)?;
        let state = self
            .store
            .review_states(&unit.code, year)
            .await?
            .get(&unit.code)
            .copied()
            .unwrap_or(ReviewState::Draft);
        let level = self
            .acting_level(caller, &unit, &chain, state, Some(action))
            .ok_or_else(|| {
                AppError::Forbidden(format!("您无权审核{}（{}）的考评", unit.name, unit.code))
            })?;
        let to = chain
            .apply(state, action, level)
            .map_err(|e| AppError::Forbidden(e.to_string()))?;
        let actor = caller.actor.audit_name();
        let event = ReviewEvent {
            action: action.as_str().to_string(),
            from_state: state,
            to_state: to,
            level: level.as_str().to_string(),
            reason: reason.to_string(),
            actor,
            at: jiff::Timestamp::now().to_string(),
        };
        let audit = caller.audit(
            &format!("review.{}", action.as_str()),
            Some(&unit.code),
            &format!("{year}"),
            &format!(
                "{}{} {year} 年考评：{} → {}{}",
                level_label(level),
                action.label_zh(),
                state.label_zh(),
                to.label_zh(),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!("（理由：{reason}）")
                }
            ),
        );
        self.store
            .transition_review(&unit.code, year, &event, &audit)
            .await
            .map_err(review_error)?;
        Ok(to)
    }

    /// The indicator's rule in the current standard, if it has one.
    async fn ruled_indicator(
        &self,
        indicator: u32,
    ) -> Result<shequ_domain::evaluation::IndicatorRule, AppError> {
        let standard = self.current_standard().await?;
        standard
            .rule(indicator)
            .cloned()
            .ok_or_else(|| AppError::NotFound(format!("没有第 {indicator} 项考评指标")))
    }

    async fn assessable_community(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
    ) -> Result<Unit, AppError> {
        check_year(year)?;
        let unit = self.evaluation_community(caller, code_text).await?;
        if !may_assess(&caller.actor, &unit_path(&unit)) {
            return Err(AppError::Forbidden(format!(
                "只有考评人员和上级民政工作人员可以评估{}的指标",
                unit.name
            )));
        }
        Ok(unit)
    }

    /// Enters an on-site checklist: every item of the indicator's rule, each holding or not.
    pub async fn enter_inspection(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
        indicator: u32,
        items: &BTreeMap<String, bool>,
    ) -> Result<(), AppError> {
        let unit = self.assessable_community(caller, code_text, year).await?;
        let rule = self.ruled_indicator(indicator).await?;
        let expected = rule.inspection_items();
        if expected.is_empty() {
            return Err(AppError::BadRequest(format!(
                "第 {indicator} 项指标按台账自动评估，没有现场检查项目；如需改变结果请人工认定并说明理由"
            )));
        }
        let unknown: Vec<&String> = items.keys().filter(|k| !expected.contains(k)).collect();
        if !unknown.is_empty() {
            return Err(AppError::BadRequest(format!(
                "未知的检查项目：{}（应为：{}）",
                unknown
                    .iter()
                    .map(|s| shequ_domain::text::excerpt(s, 20))
                    .collect::<Vec<_>>()
                    .join("、"),
                expected.join("、")
            )));
        }
        let absent: Vec<&String> = expected
            .iter()
            .filter(|k| !items.contains_key(*k))
            .collect();
        if !absent.is_empty() {
            return Err(AppError::BadRequest(format!(
                "每个检查项目都要填写，缺少：{}",
                absent
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            )));
        }
        let failed: Vec<&str> = expected
            .iter()
            .filter(|k| items.get(*k) != Some(&true))
            .map(String::as_str)
            .collect();
        let audit = caller.audit(
            "evaluation.inspection",
            Some(&unit.code),
            &format!("{year}/{indicator}"),
            &format!(
                "录入第 {indicator} 项现场检查：{}",
                if failed.is_empty() {
                    "全部符合".to_string()
                } else {
                    format!("不符合 {}", failed.join("、"))
                }
            ),
        );
        self.store
            .put_assessment(
                &unit.code,
                year,
                indicator,
                &AssessmentEntry::Inspection(items.clone()),
                &caller.actor.audit_name(),
                &audit,
            )
            .await
            .map_err(review_error)
    }

    /// Sets a result in place of the automatic one, with a written reason; the automatic
    /// result stays visible beside it.
    pub async fn set_override(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
        indicator: u32,
        status: Status,
        reason: &str,
    ) -> Result<(), AppError> {
        let unit = self.assessable_community(caller, code_text, year).await?;
        self.ruled_indicator(indicator).await?;
        if !status.may_override_to() {
            return Err(AppError::BadRequest(
                "人工认定的结果只能是 met（达标）、not_met（未达标）或 not_applicable（不适用）"
                    .into(),
            ));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AppError::BadRequest("人工认定须填写理由".into()));
        }
        check_reason(reason)?;
        let audit = caller.audit(
            "evaluation.override",
            Some(&unit.code),
            &format!("{year}/{indicator}"),
            &format!(
                "第 {indicator} 项人工认定为{}（理由：{reason}）",
                status.label_zh()
            ),
        );
        self.store
            .put_assessment(
                &unit.code,
                year,
                indicator,
                &AssessmentEntry::Override {
                    status,
                    reason: reason.to_string(),
                },
                &caller.actor.audit_name(),
                &audit,
            )
            .await
            .map_err(review_error)
    }

    /// Removes an override: the automatic result counts again.
    pub async fn clear_override(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
        indicator: u32,
    ) -> Result<(), AppError> {
        let unit = self.assessable_community(caller, code_text, year).await?;
        let audit = caller.audit(
            "evaluation.override.clear",
            Some(&unit.code),
            &format!("{year}/{indicator}"),
            &format!("撤销第 {indicator} 项人工认定，恢复自动结果"),
        );
        if self
            .store
            .delete_override(&unit.code, year, indicator, &audit)
            .await
            .map_err(review_error)?
        {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("第 {indicator} 项没有人工认定")))
        }
    }

    /// Whether the caller may enter assessments for the community (for showing the forms).
    pub fn may_assess(&self, caller: &Caller, unit: &Unit) -> bool {
        may_assess(&caller.actor, &unit_path(unit))
    }

    /// The communities under a unit ranked by score (ties share a rank, then more indicators
    /// met, then code).
    pub async fn rankings(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
    ) -> Result<(Unit, Vec<RankRow>), AppError> {
        let (unit, results) = self.evaluate(caller, code_text, year).await?;
        Ok((unit, rank(&results)))
    }

    /// The ranking as a spreadsheet: (ASCII file name, file name, bytes).
    pub async fn rankings_file(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
    ) -> Result<(String, String, Vec<u8>), AppError> {
        let (unit, rows) = self.rankings(caller, code_text, year).await?;
        Ok((
            format!("rankings-{}-{year}.xlsx", unit.code),
            format!("{}{year}年考评排名.xlsx", unit.name),
            rankings_xlsx(year, &rows)?,
        ))
    }
}

/// The ranking as a spreadsheet.
fn rankings_xlsx(year: i16, rows: &[RankRow]) -> Result<Vec<u8>, AppError> {
    let headers = [
        "名次",
        "区划代码",
        "社区",
        "得分",
        "满分",
        "达标指标数",
        "指标数",
        "审核状态",
        "特色型社区",
    ];
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            vec![
                Cell::Number(r.rank as f64),
                Cell::Text(r.unit.clone()),
                Cell::Text(r.name.clone()),
                Cell::Number(f64::from(r.score)),
                Cell::Number(f64::from(r.max_score)),
                Cell::Number(r.met as f64),
                Cell::Number(r.indicators as f64),
                Cell::Text(
                    ReviewState::parse(r.review_state)
                        .map_or(r.review_state, ReviewState::label_zh)
                        .to_string(),
                ),
                Cell::Text(if r.award { "是" } else { "" }.to_string()),
            ]
        })
        .collect();
    let sheet = format!("{year}年考评排名");
    xlsx_table(&sheet, &headers, &cells).map_err(AppError::Internal)
}

/// Competition ranking by score: equal scores share a rank.
pub fn rank(results: &[CommunityEvaluation]) -> Vec<RankRow> {
    let mut sorted: Vec<&CommunityEvaluation> = results.iter().collect();
    sorted.sort_by(|a, b| {
        b.evaluation
            .score
            .cmp(&a.evaluation.score)
            .then(b.evaluation.met.cmp(&a.evaluation.met))
            .then(a.unit.code.cmp(&b.unit.code))
    });
    let mut rows: Vec<RankRow> = Vec::with_capacity(sorted.len());
    for (i, r) in sorted.iter().enumerate() {
        let rank = match rows.last() {
            Some(prev) if prev.score == r.evaluation.score => prev.rank,
            _ => i + 1,
        };
        rows.push(RankRow {
            rank,
            unit: r.unit.code.as_str().to_string(),
            name: r.unit.name.clone(),
            score: r.evaluation.score,
            max_score: r.evaluation.max_score,
            met: r.evaluation.met,
            indicators: r.evaluation.indicators.len(),
            review_state: r.review_state.as_str(),
            award: r.award(),
        });
    }
    rows
}

/// An instant as people read it: the date and minute in China.
/// An RFC 3339 instant as a minute in 北京时间, as pages show times.
pub fn short_time(at: &str) -> String {
    at.parse::<jiff::Timestamp>()
        .map(|t| {
            t.to_zoned_datetime(crate::shanghai())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| at.to_string())
}
