//! Progress reports, completeness, roll-ups and bulletins, all computed from the aggregate
//! counts kept with every record write (never from the raw ledgers), the communities'
//! submitted snapshots and the evaluation preview.

use std::collections::HashMap;

use serde::Serialize;
use shequ_domain::access::{may_set_deadlines, may_write_records};
use shequ_domain::codes::{DivisionCode, Level};
use shequ_domain::evaluation::{ReviewState, Status, SurveyInput};
use shequ_domain::ratio::{decimal_display, percent_display};
use shequ_domain::reports::{
    ActivityFigures, Completeness, DEFAULT_DUE_DAY, EvaluationProgress, Period, RecordFigures,
    ServiceFigures, Snapshot, due_on, expected_in, month_end, on_time,
};
use shequ_domain::standard::Standard;
use shequ_domain::units::Unit;
use shequ_interchange::export::{Cell, Sheet, xlsx_workbook};
use shequ_store::{DeadlineSetting, NewSubmission, SubmittedReport};

use crate::evaluation::{CommunityEvaluation, check_year};
use crate::records::unit_path;
use crate::{App, AppError, Caller, shanghai, today};

/// Which figures a report shows: the records as they stand, or the communities' submitted
/// snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Live,
    Submitted,
}

impl Basis {
    pub fn parse(text: &str) -> Result<Basis, AppError> {
        match text {
            "" | "live" => Ok(Basis::Live),
            "submitted" => Ok(Basis::Submitted),
            other => Err(AppError::BadRequest(format!(
                "basis 只能是 live（按当前记录）或 submitted（按已报送的月报），而不是“{}”",
                shequ_domain::text::excerpt(other, 20)
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Live => "live",
            Basis::Submitted => "submitted",
        }
    }
}

/// The JSON of `GET /api/v1/units/{code}/reports/{period}`: a unit's figures for a period,
/// and the same figures for each child unit.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProgressReport {
    pub unit: String,
    pub name: String,
    /// province, prefecture, county, township or committee
    pub level: &'static str,
    /// `2010-03`, `2010-Q1` or `2010`
    pub period: String,
    /// live or submitted
    pub basis: &'static str,
    /// Communities counted (open at some time in the period).
    pub communities: i64,
    /// Records and people served in the period; items covered from January to the period's
    /// end, summed over communities, out of `items_possible` (items × communities).
    #[schema(value_type = Object)]
    pub services: ServiceFigures,
    #[schema(value_type = Object)]
    pub activities: ActivityFigures,
    pub completeness: CompletenessReport,
    /// Indicators met so far (a preview until the province finalises) and review states.
    #[schema(value_type = Object)]
    pub evaluation: EvaluationProgress,
    /// Community months whose records changed after their report was submitted.
    pub changed_since_submitted: i64,
    /// A community's month: its submission, if any.
    pub submission: Option<SubmissionReport>,
    /// One entry per child unit, in code order (empty for a community), of the same shape
    /// with empty `children`.
    #[schema(no_recursion)]
    pub children: Vec<ProgressReport>,
}

/// Reporting completeness over community months.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CompletenessReport {
    pub expected: i64,
    pub on_time: i64,
    pub late: i64,
    /// Not submitted at all.
    pub missing: i64,
    /// The part of `missing` past its due date.
    pub overdue: i64,
    /// (on_time + late) / expected, between 0 and 1; null when nothing is expected.
    pub rate: Option<f64>,
}

impl From<Completeness> for CompletenessReport {
    fn from(c: Completeness) -> Self {
        CompletenessReport {
            expected: c.expected,
            on_time: c.on_time,
            late: c.late,
            missing: c.missing,
            overdue: c.overdue,
            rate: (c.expected > 0).then(|| c.submitted() as f64 / c.expected as f64),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SubmissionReport {
    pub due_on: String,
    pub first_submitted_at: Option<String>,
    pub submitted_at: Option<String>,
    pub submitted_by: Option<String>,
    pub submissions: i64,
    /// on_time, late, missing, not_expected or upcoming (the month has not ended)
    pub status: &'static str,
    pub changed_since_submitted: bool,
}

/// Where one community's month stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthStatus {
    pub month: i8,
    pub due: jiff::civil::Date,
    pub status: ReportStatus,
    pub submitted: Option<SubmittedReport>,
    pub changed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    OnTime,
    Late,
    Missing,
    NotExpected,
    /// The month has not ended: nothing is due yet, and nothing is counted.
    Upcoming,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::OnTime => "on_time",
            ReportStatus::Late => "late",
            ReportStatus::Missing => "missing",
            ReportStatus::NotExpected => "not_expected",
            ReportStatus::Upcoming => "upcoming",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ReportStatus::OnTime => "按时报送",
            ReportStatus::Late => "逾期报送",
            ReportStatus::Missing => "未报送",
            ReportStatus::NotExpected => "无需报送",
            ReportStatus::Upcoming => "未到报送期",
        }
    }

    pub fn parse(text: &str) -> Option<ReportStatus> {
        [
            ReportStatus::OnTime,
            ReportStatus::Late,
            ReportStatus::Missing,
            ReportStatus::NotExpected,
            ReportStatus::Upcoming,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One community over a period: its figures on the basis asked, its months and its
/// evaluation preview.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityPeriod {
    pub unit: Unit,
    pub figures: RecordFigures,
    pub live: RecordFigures,
    pub months: Vec<MonthStatus>,
    pub completeness: Completeness,
    pub changed: i64,
    pub evaluation: EvaluationProgress,
    /// The year's evaluation as it stands (the source of `evaluation`).
    pub evaluated: CommunityEvaluation,
}

/// The evaluation preview of one community as reports count it.
fn progress_of(e: &CommunityEvaluation) -> EvaluationProgress {
    let met = e
        .evaluation
        .indicators
        .iter()
        .filter(|r| matches!(r.status, Status::Met | Status::NotApplicable))
        .count();
    EvaluationProgress {
        communities: 1,
        indicators_met: met as i64,
        indicators_total: e.evaluation.indicators.len() as i64,
        award_eligible: i64::from(e.evaluation.award_eligible),
        reviews_submitted: i64::from(e.review_state != ReviewState::Draft),
        reviews_final: i64::from(e.review_state == ReviewState::Final),
        surveys_counted: e
            .surveys
            .iter()
            .filter(|(_, s)| matches!(s, SurveyInput::Counted(_)))
            .count() as i64,
        surveys_possible: e.surveys.len() as i64,
    }
}

/// A unit's figures summed from its communities.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    pub unit: Unit,
    pub communities: i64,
    pub figures: RecordFigures,
    pub completeness: Completeness,
    pub evaluation: EvaluationProgress,
    pub changed: i64,
}

impl Rollup {
    fn empty(unit: Unit, standard: &Standard) -> Rollup {
        Rollup {
            unit,
            communities: 0,
            figures: RecordFigures::zero(standard),
            completeness: Completeness::default(),
            evaluation: EvaluationProgress::default(),
            changed: 0,
        }
    }

    fn add(&mut self, c: &CommunityPeriod) {
        self.communities += 1;
        self.figures.add(&c.figures);
        self.completeness.add(&c.completeness);
        self.evaluation.add(&c.evaluation);
        self.changed += c.changed;
    }

    /// Activities held per community counted.
    pub fn activities_per_community(&self) -> String {
        decimal_display(self.figures.activities.total, self.communities)
    }

    fn report(
        &self,
        period: Period,
        basis: Basis,
        submission: Option<SubmissionReport>,
    ) -> ProgressReport {
        ProgressReport {
            unit: self.unit.code.as_str().to_string(),
            name: self.unit.name.clone(),
            level: self.unit.level.as_str(),
            period: period.to_string(),
            basis: basis.as_str(),
            communities: self.communities,
            services: self.figures.services.clone(),
            activities: self.figures.activities.clone(),
            completeness: self.completeness.into(),
            evaluation: self.evaluation,
            changed_since_submitted: self.changed,
            submission,
            children: Vec::new(),
        }
    }
}

/// A unit's period: its total, its children's roll-ups and each community below.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodView {
    pub period: Period,
    pub basis: Basis,
    pub total: Rollup,
    pub children: Vec<Rollup>,
    pub communities: Vec<CommunityPeriod>,
    /// Live service records per month, January to the period's last month.
    pub trend: Vec<(i8, i64)>,
    pub standard: std::sync::Arc<Standard>,
}

impl PeriodView {
    pub fn report(&self) -> ProgressReport {
        let submission = match (self.period, self.communities.as_slice()) {
            (Period::Month { .. }, [one]) if self.total.unit.code == one.unit.code => {
                one.months.first().map(|m| SubmissionReport {
                    due_on: m.due.to_string(),
                    first_submitted_at: m.submitted.as_ref().map(|s| s.first_submitted_at.clone()),
                    submitted_at: m.submitted.as_ref().map(|s| s.submitted_at.clone()),
                    submitted_by: m.submitted.as_ref().map(|s| s.submitted_by.clone()),
                    submissions: m.submitted.as_ref().map_or(0, |s| s.submissions),
                    status: m.status.as_str(),
                    changed_since_submitted: m.changed,
                })
            }
            _ => None,
        };
        let mut report = self.total.report(self.period, self.basis, submission);
        report.children = self
            .children
            .iter()
            .map(|c| c.report(self.period, self.basis, None))
            .collect();
        report
    }
}

/// Orders two roll-ups by item coverage, best first, comparing the fractions exactly; ties
/// by activities per community, then code.
fn by_coverage(a: &Rollup, b: &Rollup) -> std::cmp::Ordering {
    let (an, ad) = (
        a.figures.services.items_covered,
        a.figures.services.items_possible,
    );
    let (bn, bd) = (
        b.figures.services.items_covered,
        b.figures.services.items_possible,
    );
    let left = i128::from(bn) * i128::from(ad.max(1));
    let right = i128::from(an) * i128::from(bd.max(1));
    left.cmp(&right)
        .then_with(|| {
            (i128::from(b.figures.activities.total) * i128::from(a.communities.max(1)))
                .cmp(&(i128::from(a.figures.activities.total) * i128::from(b.communities.max(1))))
        })
        .then_with(|| a.unit.code.cmp(&b.unit.code))
}

/// Whether `a` covered strictly less of its items than `b`, compared exactly.
fn coverage_below(a: &Rollup, b: &Rollup) -> bool {
    let (an, ad) = (
        a.figures.services.items_covered,
        a.figures.services.items_possible.max(1),
    );
    let (bn, bd) = (
        b.figures.services.items_covered,
        b.figures.services.items_possible.max(1),
    );
    i128::from(an) * i128::from(bd) < i128::from(bn) * i128::from(ad)
}

/// One table of a bulletin, as the page, the print view and the spreadsheet all show it.
#[derive(Debug, Clone, PartialEq)]
pub struct BulletinTable {
    pub title: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

/// A bulletin (通报) on a unit's period.
#[derive(Debug, Clone, PartialEq)]
pub struct Bulletin {
    pub view: PeriodView,
    pub issued_on: jiff::civil::Date,
    /// Child units ranked on item coverage, best first.
    pub ranked: Vec<Rollup>,
    pub best: Vec<String>,
    pub lagging: Vec<String>,
    pub tables: Vec<BulletinTable>,
}

/// How many units a bulletin names as best and as lagging.
const NAMED_UNITS: usize = 3;

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn number(n: i64) -> Cell {
    Cell::Number(n as f64)
}

impl Bulletin {
    fn new(view: PeriodView) -> Bulletin {
        let mut ranked: Vec<Rollup> = view
            .children
            .iter()
            .filter(|c| c.communities > 0)
            .cloned()
            .collect();
        ranked.sort_by(by_coverage);
        let named = NAMED_UNITS.min(ranked.len() / 2);
        // Only a unit that has covered something, and more than every unit named lagging,
        // is named best: ties are not singled out either way.
        let best: Vec<&Rollup> = ranked[..named]
            .iter()
            .filter(|r| r.figures.services.items_covered > 0)
            .collect();
        let lagging: Vec<&Rollup> = match best.last() {
            None => Vec::new(),
            Some(lowest_best) => ranked[ranked.len() - named..]
                .iter()
                .rev()
                .filter(|r| coverage_below(r, lowest_best))
                .collect(),
        };
        let best = best.iter().map(|r| r.unit.name.clone()).collect();
        let lagging = lagging.iter().map(|r| r.unit.name.clone()).collect();
        let tables = bulletin_tables(&view, &ranked);
        Bulletin {
            view,
            issued_on: today(),
            ranked,
            best,
            lagging,
            tables,
        }
    }

    /// The bulletin as a spreadsheet: one worksheet per table.
    pub fn xlsx(&self) -> Result<Vec<u8>, AppError> {
        bulletin_xlsx(self)
    }

    pub fn title(&self) -> String {
        format!(
            "关于{}{}“百项服务进社区”暨“特色型社区”创建活动进展情况的通报",
            self.view.total.unit.name,
            self.view.period.label_zh()
        )
    }
}

fn bulletin_tables(view: &PeriodView, ranked: &[Rollup]) -> Vec<BulletinTable> {
    let t = &view.total;
    let s = &t.figures.services;
    let c = &t.completeness;
    let e = &t.evaluation;
    let overview = BulletinTable {
        title: "总体情况".into(),
        headers: vec!["指标", "数值"],
        rows: vec![
            vec![text("参与社区数"), number(t.communities)],
            vec![text("服务记录数"), number(s.records)],
            vec![text("服务人次"), number(s.people_served)],
            vec![text("已开展服务项目（社区×项目）"), number(s.items_covered)],
            vec![
                text("应开展服务项目（社区×项目）"),
                number(s.items_possible),
            ],
            vec![text("服务项目覆盖率"), text(t.figures.coverage_display())],
            vec![text("开展活动次数"), number(t.figures.activities.total)],
            vec![text("社区平均活动次数"), text(t.activities_per_community())],
            vec![text("应报月报数"), number(c.expected)],
            vec![text("按时报送"), number(c.on_time)],
            vec![text("逾期报送"), number(c.late)],
            vec![text("未报送"), number(c.missing)],
            vec![text("报送率"), text(c.rate_display())],
            vec![text("考评指标达标率（预评）"), text(e.met_display())],
            vec![text("已上报考评的社区"), number(e.reviews_submitted)],
            vec![text("已终审的社区"), number(e.reviews_final)],
        ],
    };
    let ranking = BulletinTable {
        title: "各单位排名（按服务项目覆盖率）".into(),
        headers: vec![
            "名次",
            "区划代码",
            "单位",
            "社区数",
            "服务记录数",
            "服务人次",
            "服务项目覆盖率",
            "社区平均活动次数",
            "月报报送率",
            "考评指标达标率",
        ],
        rows: ranked
            .iter()
            .enumerate()
            .map(|(i, r)| {
                vec![
                    number(i as i64 + 1),
                    text(r.unit.code.as_str()),
                    text(r.unit.name.clone()),
                    number(r.communities),
                    number(r.figures.services.records),
                    number(r.figures.services.people_served),
                    text(r.figures.coverage_display()),
                    text(r.activities_per_community()),
                    text(r.completeness.rate_display()),
                    text(r.evaluation.met_display()),
                ]
            })
            .collect(),
    };
    let categories = BulletinTable {
        title: "分类服务情况".into(),
        headers: vec![
            "类别",
            "服务记录数",
            "服务人次",
            "已开展项目",
            "应开展项目",
            "覆盖率",
        ],
        rows: s
            .by_category
            .iter()
            .map(|k| {
                vec![
                    text(format!("{}. {}", k.category, k.name)),
                    number(k.records),
                    number(k.people_served),
                    number(k.items_covered),
                    number(k.items_possible),
                    text(percent_display(k.items_covered, k.items_possible)),
                ]
            })
            .collect(),
    };
    let activities = BulletinTable {
        title: "活动开展情况".into(),
        headers: vec!["活动类型", "次数"],
        rows: t
            .figures
            .activities
            .by_type
            .iter()
            .map(|(k, n)| vec![text(k.clone()), number(*n)])
            .collect(),
    };
    let trend = BulletinTable {
        title: "月度服务记录".into(),
        headers: vec!["月份", "服务记录数"],
        rows: view
            .trend
            .iter()
            .map(|(m, n)| vec![text(format!("{}月", m)), number(*n)])
            .collect(),
    };
    vec![overview, ranking, categories, activities, trend]
}

/// The bulletin as a spreadsheet: one worksheet per table.
fn bulletin_xlsx(bulletin: &Bulletin) -> Result<Vec<u8>, AppError> {
    let sheets: Vec<Sheet<'_>> = bulletin
        .tables
        .iter()
        .map(|t| Sheet {
            name: &t.title,
            headers: &t.headers,
            rows: &t.rows,
        })
        .collect();
    xlsx_workbook(&sheets).map_err(AppError::Internal)
}

/// The community's due date for a month: the earliest day the levels above it set for the
/// month (a level may only make it earlier than the levels above; should a level above later
/// set an earlier day, that one holds), else the default day.
fn due_for(
    unit: &Unit,
    year: i16,
    month: i8,
    days: &HashMap<(DivisionCode, i8), i8>,
) -> jiff::civil::Date {
    let day = unit
        .ancestors
        .codes()
        .filter_map(|code| days.get(&(code.clone(), month)).copied())
        .min()
        .unwrap_or(DEFAULT_DUE_DAY);
    due_on(year, month, day).unwrap_or_else(|_| month_end(year, month))
}

/// An instant with microseconds always written out, so that instants compare as text.
fn fixed_instant(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn check_period(text: &str) -> Result<Period, AppError> {
    let period = Period::parse(text).map_err(AppError::BadRequest)?;
    check_year(period.year())?;
    Ok(period)
}

fn month_period(text: &str) -> Result<(i16, i8), AppError> {
    match check_period(text)? {
        Period::Month { year, month } => Ok((year, month)),
        _ => Err(AppError::BadRequest(format!(
            "月报按月份报送，报告期应写作 2010-03，而不是“{}”",
            shequ_domain::text::excerpt(text, 20)
        ))),
    }
}

impl App {
    /// A unit's figures for a period, rolled up from every community below it.
    pub async fn progress_report(
        &self,
        caller: &Caller,
        code_text: &str,
        period_text: &str,
        basis: Basis,
    ) -> Result<PeriodView, AppError> {
        let period = check_period(period_text)?;
        let unit = self.readable_unit(caller, code_text).await?;
        if unit.level == Level::Committee && !unit.kind.is_community() {
            return Err(AppError::BadRequest(format!(
                "{}不是社区；进度报告以社区为单位",
                unit.name
            )));
        }
        self.period_view(unit, period, basis).await
    }

    pub(crate) async fn period_view(
        &self,
        unit: Unit,
        period: Period,
        basis: Basis,
    ) -> Result<PeriodView, AppError> {
        let standard = self.current_standard().await?;
        let year = period.year();
        let (first, last) = (period.first_month(), period.last_month());
        let counts = self
            .store
            .record_facts(&unit.code, year, shequ_store::FactSet::All)
            .await?;
        let (evaluations, mut counts) = self.evaluate_with_counts(&unit, year, counts).await?;
        let mut submitted: HashMap<(DivisionCode, i8), SubmittedReport> = self
            .store
            .submitted_reports(&unit.code, year, first, last)
            .await?
            .into_iter()
            .map(|r| ((r.unit.clone(), r.month), r))
            .collect();
        let days: HashMap<(DivisionCode, i8), i8> = self
            .store
            .deadlines(year)
            .await?
            .into_iter()
            .map(|d| ((d.unit, d.month), d.day))
            .collect();
        let now = today();
        let mut trend: Vec<(i8, i64)> = (1..=last).map(|m| (m, 0)).collect();
        let mut communities = Vec::with_capacity(evaluations.len());
        for e in &evaluations {
            let c = &e.unit;
            let facts = counts.remove(&c.code).unwrap_or_default();
            for (fact, n) in &facts {
                if let Some((m, _)) =
                    shequ_domain::evaluation::facts::parse_service_month_item(fact)
                    && let Some(slot) = trend.get_mut((m - 1) as usize)
                {
                    slot.1 += n;
                }
            }
            let live = RecordFigures::of_community(&standard, &facts, first, last);
            let mut completeness = Completeness::default();
            let mut months = Vec::new();
            let mut changed = 0;
            let mut snapshots: Vec<RecordFigures> = Vec::new();
            let any_open = period
                .months()
                .any(|m| expected_in(c.opened_on, c.closed_on, year, m));
            for m in period.months() {
                let report = submitted.remove(&(c.code.clone(), m));
                // A submitted report keeps the due date it was submitted under.
                let due = report
                    .as_ref()
                    .map_or_else(|| due_for(c, year, m, &days), |r| r.due_on);
                let ended = now > month_end(year, m);
                let expected = ended && expected_in(c.opened_on, c.closed_on, year, m);
                let mut is_changed = false;
                if let Some(r) = &report {
                    let snapshot: Snapshot = serde_json::from_str(&r.snapshot).map_err(|e| {
                        AppError::Internal(format!("月报快照无法读取（{} {m} 月）：{e}", c.code))
                    })?;
                    let live_month = RecordFigures::of_community(&standard, &facts, m, m);
                    is_changed = snapshot.figures != live_month;
                    changed += i64::from(is_changed);
                    snapshots.push(snapshot.figures);
                }
                let status = match (&report, expected) {
                    (_, false) if !ended => ReportStatus::Upcoming,
                    (_, false) => ReportStatus::NotExpected,
                    (Some(r), true) if on_time(r.first_submitted_on, r.due_on) => {
                        ReportStatus::OnTime
                    }
                    (Some(_), true) => ReportStatus::Late,
                    (None, true) => ReportStatus::Missing,
                };
                if expected {
                    completeness.expected += 1;
                    match status {
                        ReportStatus::OnTime => completeness.on_time += 1,
                        ReportStatus::Late => completeness.late += 1,
                        _ => {
                            completeness.missing += 1;
                            completeness.overdue += i64::from(now > due);
                        }
                    }
                }
                months.push(MonthStatus {
                    month: m,
                    due,
                    status,
                    submitted: report,
                    changed: is_changed,
                });
            }
            if !any_open && months.iter().all(|m| m.submitted.is_none()) {
                // Closed all period long (or not yet opened): not counted.
                continue;
            }
            let figures = match basis {
                Basis::Live => live.clone(),
                Basis::Submitted => RecordFigures::over_months(&standard, &snapshots),
            };
            communities.push(CommunityPeriod {
                unit: c.clone(),
                figures,
                live,
                months,
                completeness,
                changed,
                evaluation: progress_of(e),
                evaluated: e.clone(),
            });
        }
        let mut children: Vec<Rollup> = if unit.level == Level::Committee {
            Vec::new()
        } else {
            self.store
                .children(&unit.code)
                .await?
                .into_iter()
                .filter(|u| u.level != Level::Committee || u.kind.is_community())
                .map(|u| Rollup::empty(u, &standard))
                .collect()
        };
        let index: HashMap<DivisionCode, usize> = children
            .iter()
            .enumerate()
            .map(|(i, c)| (c.unit.code.clone(), i))
            .collect();
        let mut total = Rollup::empty(unit.clone(), &standard);
        for c in &communities {
            total.add(c);
            let child = unit_path(&c.unit)
                .into_iter()
                .find_map(|code| index.get(&code).copied());
            if let Some(i) = child {
                children[i].add(c);
            }
        }
        // A community child not open in the period is left out, as is a closed higher unit
        // with nothing counted.
        let period_end = month_end(year, last);
        let period_start = jiff::civil::Date::new(year, first, 1).unwrap_or(period_end);
        children.retain(|c| {
            c.communities > 0
                || (c.unit.level != Level::Committee
                    && c.unit.opened_on.is_none_or(|d| d <= period_end)
                    && c.unit.closed_on.is_none_or(|d| d > period_start))
        });
        Ok(PeriodView {
            period,
            basis,
            total,
            children,
            communities,
            trend,
            standard,
        })
    }

    /// The bulletin on a unit's period (live figures).
    pub async fn bulletin(
        &self,
        caller: &Caller,
        code_text: &str,
        period_text: &str,
    ) -> Result<Bulletin, AppError> {
        let view = self
            .progress_report(caller, code_text, period_text, Basis::Live)
            .await?;
        Ok(Bulletin::new(view))
    }

    /// The bulletin as a spreadsheet: (ASCII file name, file name, bytes).
    pub async fn bulletin_file(
        &self,
        caller: &Caller,
        code_text: &str,
        period_text: &str,
    ) -> Result<(String, String, Vec<u8>), AppError> {
        let bulletin = self.bulletin(caller, code_text, period_text).await?;
        let unit = &bulletin.view.total.unit;
        Ok((
            format!("bulletin-{}-{}.xlsx", unit.code, bulletin.view.period),
            format!("{}{}通报.xlsx", unit.name, bulletin.view.period.label_zh()),
            bulletin_xlsx(&bulletin)?,
        ))
    }

    /// Submits (or resubmits) a community's month report: its figures as they stand are
    /// frozen in a snapshot. The first submission decides on time or late.
    pub async fn submit_report(
        &self,
        caller: &Caller,
        code_text: &str,
        month_text: &str,
    ) -> Result<SubmittedReport, AppError> {
        let (year, month) = month_period(month_text)?;
        let unit = self.readable_unit(caller, code_text).await?;
        if !unit.kind.is_community() {
            return Err(AppError::BadRequest(format!(
                "{}不是社区；月报由社区报送",
                unit.name
            )));
        }
        if !may_write_records(&caller.actor, &unit_path(&unit)) {
            return Err(AppError::Forbidden(format!(
                "只有{}的社区工作者可以报送它的月报",
                unit.name
            )));
        }
        let end = month_end(year, month);
        if today() <= end {
            return Err(AppError::BadRequest(format!(
                "{year}年{month}月尚未结束，月报最早可在 {} 报送",
                end.tomorrow().unwrap_or(end)
            )));
        }
        if !expected_in(unit.opened_on, unit.closed_on, year, month) {
            return Err(AppError::BadRequest(format!(
                "{}在{year}年{month}月末未在册，无需报送该月月报",
                unit.name
            )));
        }
        let view = self
            .period_view(unit.clone(), Period::Month { year, month }, Basis::Live)
            .await?;
        let community = view
            .communities
            .first()
            .ok_or_else(|| AppError::Internal("社区未计入报告".into()))?;
        let snapshot = Snapshot {
            figures: community.live.clone(),
            evaluation: community.evaluation,
        };
        let snapshot_json =
            serde_json::to_string(&snapshot).map_err(|e| AppError::Internal(e.to_string()))?;
        let now = jiff::Timestamp::now();
        let at = fixed_instant(now);
        let on = now.to_zoned_datetime(shanghai()).date();
        let due_on = community
            .months
            .first()
            .map_or_else(|| month_end(year, month), |m| m.due);
        let audit = caller.audit(
            "report.submit",
            Some(&unit.code),
            &format!("{year}-{month:02}"),
            &format!(
                "{}报送{year}年{month}月月报（截止 {due_on}）：服务记录 {} 条，服务人次 {}，活动 {} 次",
                unit.name,
                snapshot.figures.services.records,
                snapshot.figures.services.people_served,
                snapshot.figures.activities.total
            ),
        );
        Ok(self
            .store
            .submit_report(
                &NewSubmission {
                    unit: &unit.code,
                    year,
                    month,
                    at: &at,
                    on,
                    due_on,
                    by: &caller.actor.audit_name(),
                    snapshot: &snapshot_json,
                },
                &audit,
            )
            .await?)
    }

    /// The day of the following month a unit's communities' month report is due. A level
    /// may not set a later day than a level above it set for the same month.
    pub async fn set_report_deadline(
        &self,
        caller: &Caller,
        code_text: &str,
        month_text: &str,
        day: i64,
    ) -> Result<jiff::civil::Date, AppError> {
        let (year, month) = month_period(month_text)?;
        let unit = self.deadline_unit(caller, code_text).await?;
        let day = i8::try_from(day)
            .map_err(|_| AppError::BadRequest(format!("截止日 {day} 无效：应为次月的某一天")))?;
        let due = due_on(year, month, day).map_err(AppError::BadRequest)?;
        let days: HashMap<(DivisionCode, i8), i8> = self
            .store
            .deadlines(year)
            .await?
            .into_iter()
            .map(|d| ((d.unit, d.month), d.day))
            .collect();
        for ancestor in unit.ancestors.codes() {
            if let Some(&above) = days.get(&(ancestor.clone(), month))
                && above < day
            {
                let name = self
                    .store
                    .names(std::slice::from_ref(ancestor))
                    .await?
                    .into_iter()
                    .next()
                    .map_or_else(|| ancestor.to_string(), |r| r.name);
                return Err(AppError::BadRequest(format!(
                    "截止日不得晚于上级（{name}）规定的 {}",
                    due_on(year, month, above).map_or_else(|e| e, |d| d.to_string())
                )));
            }
        }
        let audit = caller.audit(
            "report.deadline",
            Some(&unit.code),
            &format!("{year}-{month:02}"),
            &format!("{}规定{year}年{month}月月报截止日为 {due}", unit.name),
        );
        self.store
            .set_deadline(
                &DeadlineSetting {
                    unit: unit.code.clone(),
                    year,
                    month,
                    day,
                    set_by: caller.actor.audit_name(),
                    set_at: jiff::Timestamp::now().to_string(),
                },
                &audit,
            )
            .await?;
        Ok(due)
    }

    /// Removes a unit's due day for a month (the level above, or the default, applies again).
    pub async fn clear_report_deadline(
        &self,
        caller: &Caller,
        code_text: &str,
        month_text: &str,
    ) -> Result<bool, AppError> {
        let (year, month) = month_period(month_text)?;
        let unit = self.deadline_unit(caller, code_text).await?;
        let audit = caller.audit(
            "report.deadline",
            Some(&unit.code),
            &format!("{year}-{month:02}"),
            &format!("{}取消{year}年{month}月月报截止日设置", unit.name),
        );
        Ok(self
            .store
            .clear_deadline(&unit.code, year, month, &audit)
            .await?)
    }

    /// The due day a unit itself set for each month of a year.
    pub async fn report_deadlines(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
    ) -> Result<Vec<(i8, i8)>, AppError> {
        check_year(year)?;
        let unit = self.readable_unit(caller, code_text).await?;
        Ok(self
            .store
            .deadlines(year)
            .await?
            .into_iter()
            .filter(|d| d.unit == unit.code)
            .map(|d| (d.month, d.day))
            .collect())
    }

    /// Whether the caller may set due days for the unit (for showing the form).
    pub fn may_set_deadlines(&self, caller: &Caller, unit: &Unit) -> bool {
        unit.level != Level::Committee && may_set_deadlines(&caller.actor, &unit_path(unit))
    }

    async fn deadline_unit(&self, caller: &Caller, code_text: &str) -> Result<Unit, AppError> {
        let unit = self.readable_unit(caller, code_text).await?;
        if unit.level == Level::Committee {
            return Err(AppError::BadRequest(
                "月报截止日由乡镇（街道）及以上单位规定".into(),
            ));
        }
        if !self.may_set_deadlines(caller, &unit) {
            return Err(AppError::Forbidden(format!(
                "您无权规定{}的月报截止日",
                unit.name
            )));
        }
        Ok(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_written_to_the_microsecond() {
        let t: jiff::Timestamp = "2010-04-03T01:02:03.4Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fixed_instant(t), "2010-04-03T01:02:03.400000Z");
        let whole: jiff::Timestamp = "2010-04-03T01:02:03Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fixed_instant(whole), "2010-04-03T01:02:03.000000Z");
    }
}
