//! Residents' democratic evaluations: opening and closing surveys, issuing and voiding one-time
//! ballot codes, the public vote, paper tallies confirmed by a second person, and results rolled
//! up to any unit.

use std::collections::BTreeMap;

use sha2::Digest;
use shequ_domain::access::{may_read, may_run_surveys};
use shequ_domain::codes::DivisionCode;
use shequ_domain::records::RecordKind;
use shequ_domain::surveys::{
    CODE_LENGTH, SurveyKind, SurveySpec, Tally, code_from_random, normalise_code,
};
use shequ_domain::units::Unit;
use shequ_store::{
    CastOutcome, CodeCounts, NewSurvey, RecordChange, RecordFilter, RecordWrite, StoreError,
    StoredSurvey,
};

use crate::records::{scope_filter, unit_path};
use crate::{App, AppError, Caller, today};

/// Most codes issued at once (a large community's households, with room to spare).
pub const MAX_CODES: usize = 5000;
/// Wrong codes one client may try in [`GUESS_WINDOW_MINUTES`] before it must wait.
const MAX_WRONG_CODES: i64 = 20;
const GUESS_WINDOW_MINUTES: i64 = 15;

/// A survey with its code counts, for the pages and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyView {
    pub survey: StoredSurvey,
    pub codes: CodeCounts,
    pub state: SurveyState,
}

/// One kind of a community's year: the online survey if opened, the paper tally if entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSurveys {
    pub kind: SurveyKind,
    pub survey: Option<SurveyView>,
    pub paper: Option<PaperTally>,
}

impl KindSurveys {
    /// A paper tally waits for confirmation and its survey (if any) is not final.
    pub fn may_confirm(&self) -> bool {
        self.paper.is_some_and(|p| !p.confirmed)
            && !self.survey.as_ref().is_some_and(|v| v.state.is_final())
    }
}

/// The three counts of a paper tally, as entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
pub struct PaperCounts {
    pub very: i64,
    pub fairly: i64,
    pub not: i64,
}

impl PaperCounts {
    fn of(data: &shequ_domain::records::RecordData) -> PaperCounts {
        PaperCounts {
            very: data.int("very").unwrap_or(0),
            fairly: data.int("fairly").unwrap_or(0),
            not: data.int("not").unwrap_or(0),
        }
    }
}

impl std::fmt::Display for PaperCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "满意 {}、基本满意 {}、不满意 {}",
            self.very, self.fairly, self.not
        )
    }
}

/// A paper tally as the survey page shows it to the person who may confirm it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaperTally {
    pub counts: PaperCounts,
    pub tally: Tally,
    pub confirmed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyState {
    NotYetOpen,
    Open,
    /// Its last day passed: no more votes, but a paper tally may still be entered and confirmed
    /// until it is closed.
    Ended,
    /// Closed by hand: its results are final.
    Closed,
}

impl SurveyState {
    /// No more votes and no more codes.
    pub fn is_closed(self) -> bool {
        matches!(self, SurveyState::Ended | SurveyState::Closed)
    }

    /// Nothing about it changes any more, paper tallies included.
    pub fn is_final(self) -> bool {
        self == SurveyState::Closed
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            SurveyState::NotYetOpen => "未到开始日期",
            SurveyState::Open => "进行中",
            SurveyState::Ended => "投票已截止（纸质计票确认后请结束测评）",
            SurveyState::Closed => "已结束",
        }
    }
}

/// One kind's result in a unit's year: online ballots and confirmed paper tallies added up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyResult {
    pub kind: SurveyKind,
    pub tally: Tally,
    pub threshold_percent: u32,
    /// None when nobody answered: not applicable, never 0%.
    pub met: Option<bool>,
    /// Households of the year's profiles in the unit, for participation.
    pub households: i64,
}

impl SurveyResult {
    /// Ballots per 100 households, in hundredths of a percent (None without households).
    pub fn participation_hundredths(&self) -> Option<i64> {
        (self.households > 0)
            .then(|| (i128::from(self.tally.ballots) * 10_000 / i128::from(self.households)) as i64)
    }
}

/// What the public voting page shows for a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotView {
    pub code: String,
    pub unit_name: String,
    pub survey: StoredSurvey,
    /// unused, used, void or expired
    pub code_state: String,
    pub state: SurveyState,
}

fn hash_code(code: &str) -> String {
    hex::encode(sha2::Sha256::digest(code.as_bytes()))
}

pub(crate) fn state_of(survey: &StoredSurvey, today: jiff::civil::Date) -> SurveyState {
    if survey.closed_at.is_some() {
        SurveyState::Closed
    } else if survey.closes_on.is_some_and(|d| today > d) {
        SurveyState::Ended
    } else if survey.opens_on.is_some_and(|d| today < d) {
        SurveyState::NotYetOpen
    } else {
        SurveyState::Open
    }
}

/// The counts a paper tally record adds, read with the survey's scale: each of the three
/// columns counts as satisfied when the scale says its label does.
pub(crate) fn paper_tally(data: &shequ_domain::records::RecordData, spec: &SurveySpec) -> Tally {
    let mut tally = Tally::default();
    for (key, label) in [("very", "满意"), ("fairly", "基本满意"), ("not", "不满意")] {
        let n = data.int(key).unwrap_or(0);
        tally.answers += n;
        tally.ballots += n;
        if spec.answers.iter().any(|a| a.label == label && a.satisfied) {
            tally.satisfied += n;
        }
    }
    tally
}

impl App {
    /// Whether the caller may run the unit's surveys (for showing the forms).
    pub fn may_run_surveys(&self, caller: &Caller, unit: &Unit) -> bool {
        may_run_surveys(&caller.actor, &unit_path(unit))
    }

    /// A unit the caller may read.
    pub(crate) async fn readable_unit(
        &self,
        caller: &Caller,
        code_text: &str,
    ) -> Result<Unit, AppError> {
        let code = DivisionCode::parse(code_text)
            .map_err(|e| AppError::BadRequest(format!("单位代码无效：{e}")))?;
        let unit = self
            .store
            .unit(&code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("单位 {code} 不存在")))?;
        if !may_read(&caller.actor, &unit_path(&unit)) {
            return Err(AppError::Forbidden(format!(
                "{}不在您的管辖范围内",
                unit.name
            )));
        }
        Ok(unit)
    }

    /// The community, if the caller may run its surveys.
    async fn survey_community(&self, caller: &Caller, code_text: &str) -> Result<Unit, AppError> {
        let code = DivisionCode::parse(code_text)
            .map_err(|e| AppError::BadRequest(format!("单位代码无效：{e}")))?;
        let unit = self
            .store
            .unit(&code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("单位 {code} 不存在")))?;
        if !unit.kind.is_community() {
            return Err(AppError::BadRequest(format!(
                "{}不是社区；民主测评在社区开展",
                unit.name
            )));
        }
        if !may_run_surveys(&caller.actor, &unit_path(&unit)) {
            return Err(AppError::Forbidden(format!(
                "您无权组织{}的民主测评",
                unit.name
            )));
        }
        Ok(unit)
    }

    async fn existing_survey(
        &self,
        unit: &Unit,
        year: i16,
        kind: SurveyKind,
    ) -> Result<StoredSurvey, AppError> {
        self.store
            .survey(&unit.code, year, kind)
            .await?
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "{}尚未开启 {year} 年的{}",
                    unit.name,
                    kind.label_zh()
                ))
            })
    }

    /// Opens a community's survey for a year, with the current standard's questions and scale.
    pub async fn open_survey(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
        kind: SurveyKind,
        opens_on: Option<jiff::civil::Date>,
        closes_on: Option<jiff::civil::Date>,
    ) -> Result<i64, AppError> {
        let unit = self.survey_community(caller, code_text).await?;
        check_dates(year, opens_on, closes_on)?;
        if let Some(to) = closes_on
            && to < today()
        {
            return Err(AppError::BadRequest(format!(
                "结束日期 {to} 已经过去，测评开启后将无法投票"
            )));
        }
        let standard = self.current_standard().await?;
        let spec = standard.survey(kind);
        let audit = caller.audit(
            "survey.open",
            Some(&unit.code),
            &format!("{year}/{kind}"),
            &format!(
                "开启 {year} 年{}（{}至{}）",
                kind.label_zh(),
                opens_on.map_or("即日".into(), |d| d.to_string()),
                closes_on.map_or("手动结束".into(), |d| d.to_string())
            ),
        );
        self.store
            .open_survey(
                &NewSurvey {
                    unit: unit.code.clone(),
                    year,
                    kind,
                    spec,
                    standard_id: standard.id.clone(),
                    opens_on,
                    closes_on,
                    created_by: caller.actor.audit_name(),
                },
                &audit,
            )
            .await
            .map_err(|e| match e {
                StoreError::DuplicateRecord(_) => AppError::BadRequest(format!(
                    "{}的 {year} 年{}已经开启",
                    unit.name,
                    kind.label_zh()
                )),
                other => AppError::Store(other),
            })
    }

    pub async fn set_survey_dates(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
        kind: SurveyKind,
        opens_on: Option<jiff::civil::Date>,
        closes_on: Option<jiff::civil::Date>,
    ) -> Result<(), AppError> {
        let unit = self.survey_community(caller, code_text).await?;
        check_dates(year, opens_on, closes_on)?;
        let survey = self.existing_survey(&unit, year, kind).await?;
        let audit = caller.audit(
            "survey.dates",
            Some(&unit.code),
            &format!("{year}/{kind}"),
            &format!("测评日期改为 {opens_on:?} 至 {closes_on:?}"),
        );
        self.store
            .set_survey_dates(survey.id, opens_on, closes_on, &audit)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AppError::BadRequest("测评已结束，不能再改日期".into()),
                other => AppError::Store(other),
            })
    }

    /// Closes a survey for good: its results are final and its unused codes expire.
    pub async fn close_survey(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
        kind: SurveyKind,
    ) -> Result<(), AppError> {
        let unit = self.survey_community(caller, code_text).await?;
        let survey = self.existing_survey(&unit, year, kind).await?;
        let pending = self
            .paper_tallies(&unit.code, year)
            .await?
            .into_iter()
            .any(|(k, _, confirmed)| k == kind && !confirmed);
        if pending {
            return Err(AppError::BadRequest(format!(
                "{}的纸质计票尚待第二人确认；确认（或删除）后再结束测评",
                kind.label_zh()
            )));
        }
        let audit = caller.audit(
            "survey.close",
            Some(&unit.code),
            &format!("{year}/{kind}"),
            &format!("结束 {year} 年{}", kind.label_zh()),
        );
        self.store
            .close_survey(survey.id, &jiff::Timestamp::now().to_string(), &audit)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AppError::BadRequest("该测评已经结束".into()),
                other => AppError::Store(other),
            })
    }

    /// Issues `count` one-time codes; they are shown once and stored only as hashes.
    pub async fn issue_codes(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
        kind: SurveyKind,
        count: usize,
    ) -> Result<Vec<String>, AppError> {
        if count == 0 || count > MAX_CODES {
            return Err(AppError::BadRequest(format!(
                "每次可发放 1 至 {MAX_CODES} 个测评码"
            )));
        }
        let unit = self.survey_community(caller, code_text).await?;
        let survey = self.existing_survey(&unit, year, kind).await?;
        if state_of(&survey, today()).is_closed() {
            return Err(AppError::BadRequest("测评已结束，不能再发放测评码".into()));
        }
        let mut codes = Vec::with_capacity(count);
        while codes.len() < count {
            let mut bytes = [0u8; CODE_LENGTH * 2];
            getrandom::fill(&mut bytes)
                .map_err(|e| AppError::Internal(format!("系统随机数不可用：{e}")))?;
            if let Some(code) = code_from_random(&bytes) {
                codes.push(code);
            }
        }
        let hashes: Vec<String> = codes.iter().map(|c| hash_code(c)).collect();
        let audit = caller.audit(
            "survey.codes",
            Some(&unit.code),
            &format!("{year}/{kind}"),
            &format!("发放 {count} 个测评码"),
        );
        self.store.add_codes(survey.id, &hashes, &audit).await?;
        Ok(codes)
    }

    /// The A4 print sheet of freshly issued codes, titled with the community's full name so a
    /// stack of sheets cannot be handed to the wrong community.
    pub async fn ballot_sheet(
        &self,
        code_text: &str,
        year: i16,
        kind: SurveyKind,
        codes: &[String],
        public_url: &str,
    ) -> Result<String, AppError> {
        let view = self.unit(code_text).await?;
        let names: Vec<&str> = view.path.iter().map(|u| u.name.as_str()).collect();
        let title = format!("{} {year} 年{} 测评码", names.join(" "), kind.label_zh());
        shequ_interchange::ballot_sheet::sheet_html(&title, public_url, codes)
            .map_err(AppError::Internal)
    }

    /// Voids codes of a lost sheet; returns how many unused codes were voided.
    pub async fn void_codes(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
        kind: SurveyKind,
        codes: &[String],
    ) -> Result<u64, AppError> {
        let unit = self.survey_community(caller, code_text).await?;
        let survey = self.existing_survey(&unit, year, kind).await?;
        let mut hashes = Vec::new();
        for code in codes.iter().filter(|c| !c.trim().is_empty()) {
            let normal = normalise_code(code).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "“{}”不是测评码",
                    shequ_domain::text::excerpt(code.trim(), 20)
                ))
            })?;
            hashes.push(hash_code(&normal));
        }
        let audit = caller.audit(
            "survey.void",
            Some(&unit.code),
            &format!("{year}/{kind}"),
            &format!("作废 {} 个测评码", hashes.len()),
        );
        Ok(self.store.void_codes(survey.id, &hashes, &audit).await?)
    }

    /// The four surveys of a community's year, as far as they exist.
    pub async fn community_surveys(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
    ) -> Result<(Unit, Vec<KindSurveys>), AppError> {
        let unit = self.readable_unit(caller, code_text).await?;
        let code = unit.code.clone();
        let tallies = self.paper_tallies(&code, year).await?;
        let standard = self.current_standard().await?;
        let mut out = Vec::new();
        for kind in SurveyKind::ALL {
            let survey = self.store.survey(&code, year, kind).await?;
            let spec = survey
                .as_ref()
                .map_or_else(|| standard.survey(kind), |s| s.spec.clone());
            let paper = tallies
                .iter()
                .find(|(k, _, _)| *k == kind)
                .map(|(_, data, confirmed)| PaperTally {
                    counts: PaperCounts::of(data),
                    tally: paper_tally(data, &spec),
                    confirmed: *confirmed,
                });
            let survey = match survey {
                Some(survey) => Some(SurveyView {
                    codes: self.store.code_counts(survey.id).await?,
                    state: state_of(&survey, today()),
                    survey,
                }),
                None => None,
            };
            out.push(KindSurveys {
                kind,
                survey,
                paper,
            });
        }
        Ok((unit, out))
    }

    /// Paper tally records of the year under a unit: (kind, values, confirmed).
    async fn paper_tallies(
        &self,
        unit: &DivisionCode,
        year: i16,
    ) -> Result<Vec<(SurveyKind, shequ_domain::records::RecordData, bool)>, AppError> {
        let filter = RecordFilter {
            kind: Some(RecordKind::Tallies),
            year: Some(year),
            ..scope_filter(unit)
        };
        Ok(self
            .all_records(&filter)
            .await?
            .into_iter()
            .filter_map(|r| {
                let kind = r.data.text("survey").and_then(SurveyKind::parse)?;
                Some((kind, r.data, r.confirmed))
            })
            .collect())
    }

    /// Results of the year's four surveys for a community or everything under a unit: counts
    /// are added up (never rates averaged), and the threshold compared exactly.
    pub async fn survey_results(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
    ) -> Result<Vec<SurveyResult>, AppError> {
        let unit = self.readable_unit(caller, code_text).await?;
        let code = unit.code.clone();
        let standard = self.current_standard().await?;
        let online: BTreeMap<SurveyKind, Tally> = self
            .store
            .online_totals(&code, year, today())
            .await?
            .into_iter()
            .collect();
        let mut paper: BTreeMap<SurveyKind, Tally> = BTreeMap::new();
        for (kind, data, confirmed) in self.paper_tallies(&code, year).await? {
            if confirmed {
                let t = paper_tally(&data, &standard.survey(kind));
                *paper.entry(kind).or_default() = paper.get(&kind).copied().unwrap_or_default() + t;
            }
        }
        let households = self.households(&code, year).await?;
        Ok(SurveyKind::ALL
            .into_iter()
            .map(|kind| {
                let tally = online.get(&kind).copied().unwrap_or_default()
                    + paper.get(&kind).copied().unwrap_or_default();
                let threshold_percent = standard.survey(kind).threshold_percent;
                SurveyResult {
                    kind,
                    tally,
                    threshold_percent,
                    met: tally.meets(threshold_percent),
                    households,
                }
            })
            .collect())
    }

    async fn households(&self, unit: &DivisionCode, year: i16) -> Result<i64, AppError> {
        let filter = RecordFilter {
            kind: Some(RecordKind::Profile),
            year: Some(year),
            ..scope_filter(unit)
        };
        let total = self
            .all_records(&filter)
            .await?
            .iter()
            .filter_map(|r| r.data.int("households"))
            .sum();
        Ok(total)
    }

    /// Why a paper tally record may not be written or deleted any more: its survey was closed
    /// and its results are final.
    pub(crate) async fn frozen_tally_problem(
        &self,
        data: &shequ_domain::records::RecordData,
    ) -> Result<Option<String>, AppError> {
        if data.kind != RecordKind::Tallies {
            return Ok(None);
        }
        let (Some(unit), Some(year), Some(kind)) = (
            data.unit(),
            data.year(),
            data.text("survey").and_then(SurveyKind::parse),
        ) else {
            return Ok(None);
        };
        let closed = self
            .store
            .survey(&unit, year, kind)
            .await?
            .is_some_and(|s| state_of(&s, today()).is_final());
        Ok(closed.then(|| {
            format!(
                "{year} 年{}已经结束，结果为最终结果，纸质计票不能再改动",
                kind.label_zh()
            )
        }))
    }

    /// Confirms a community's paper tally as the second person: not the one who last entered it.
    /// `expected` is what the confirmer was shown; if the tally changed since, nothing is
    /// confirmed, so no one confirms counts they have not seen.
    pub async fn confirm_tally(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
        kind: SurveyKind,
        expected: Option<PaperCounts>,
    ) -> Result<Tally, AppError> {
        let unit = self.survey_community(caller, code_text).await?;
        let filter = RecordFilter {
            kind: Some(RecordKind::Tallies),
            unit: Some(unit.code.clone()),
            year: Some(year),
            category: Some(kind.label_zh().to_string()),
            ..Default::default()
        };
        let record = self
            .store
            .list_records(&filter, None, 1)
            .await?
            .pop()
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "{}没有 {year} 年{}的纸质计票",
                    unit.name,
                    kind.label_zh()
                ))
            })?;
        if record.confirmed {
            return Err(AppError::BadRequest("这份纸质计票已经确认".into()));
        }
        if let Some(problem) = self.frozen_tally_problem(&record.data).await? {
            return Err(AppError::BadRequest(problem));
        }
        let counts = PaperCounts::of(&record.data);
        if let Some(expected) = expected
            && expected != counts
        {
            return Err(AppError::Conflict(format!(
                "纸质计票已被修改为：{counts}（您看到的是：{expected}），请核对后重新确认"
            )));
        }
        let me = caller.actor.audit_name();
        if record.updated_by == me {
            return Err(AppError::Forbidden(
                "纸质计票须由录入人以外的另一人确认".into(),
            ));
        }
        let spec = self.current_standard().await?.survey(kind);
        let tally = paper_tally(&record.data, &spec);
        let audit = caller.audit(
            "survey.tally.confirm",
            Some(&unit.code),
            &format!("{year}/{kind}"),
            &format!(
                "确认{}纸质计票：{counts}，共 {} 票，满意 {} 票（录入人 {}）",
                kind.label_zh(),
                tally.ballots,
                tally.satisfied,
                record.updated_by
            ),
        );
        self.store
            .apply_record_changes(
                &[RecordChange::Update {
                    id: record.id,
                    write: RecordWrite {
                        data: record.data,
                        record_ref: record.record_ref,
                        standard_id: record.standard_id,
                        confirmed: true,
                    },
                }],
                &[],
                &me,
                &[audit],
            )
            .await
            .map_err(|e| match e {
                StoreError::Locked { .. } => AppError::Forbidden(e.to_string()),
                other => AppError::Store(other),
            })?;
        Ok(tally)
    }

    /// What the public page shows for a code. Unknown codes count against the client.
    pub async fn ballot(&self, code_text: &str, client: &str) -> Result<BallotView, AppError> {
        self.check_guessing(client).await?;
        let unknown = || AppError::NotFound("测评码无效，请核对后重新输入".into());
        let Some(code) = normalise_code(code_text) else {
            self.count_wrong_code(client).await?;
            return Err(unknown());
        };
        let Some((survey, code_state)) = self.store.survey_of_code(&hash_code(&code)).await? else {
            self.count_wrong_code(client).await?;
            return Err(unknown());
        };
        let unit_name = self
            .store
            .unit(&survey.unit)
            .await?
            .map(|u| u.name)
            .unwrap_or_default();
        let state = state_of(&survey, today());
        Ok(BallotView {
            code,
            unit_name,
            survey,
            code_state,
            state,
        })
    }

    /// Casts a ballot: one answer index per question. The database lets a code count once.
    pub async fn cast_ballot(
        &self,
        code_text: &str,
        answers: &[Option<usize>],
        client: &str,
    ) -> Result<CastOutcome, AppError> {
        let view = self.ballot(code_text, client).await?;
        let spec = &view.survey.spec;
        if answers.len() != spec.questions.len() {
            return Err(AppError::BadRequest("请回答每一个问题".into()));
        }
        let mut tally = Tally {
            ballots: 1,
            ..Default::default()
        };
        let mut stored = Vec::new();
        for (i, answer) in answers.iter().enumerate() {
            let Some(a) = answer.filter(|a| *a < spec.answers.len()) else {
                return Err(AppError::BadRequest(format!("请回答第 {} 题", i + 1)));
            };
            tally.answers += 1;
            if spec.answers[a].satisfied {
                tally.satisfied += 1;
            }
            stored.push(a.to_string());
        }
        Ok(self
            .store
            .cast_ballot(&hash_code(&view.code), &stored.join(","), tally, today())
            .await?)
    }

    async fn check_guessing(&self, client: &str) -> Result<(), AppError> {
        let since = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_mins(GUESS_WINDOW_MINUTES))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        if self
            .store
            .ballot_failures_since(client, &since.to_string())
            .await?
            >= MAX_WRONG_CODES
        {
            return Err(AppError::TooManyAttempts(format!(
                "无效测评码输入过多，请 {GUESS_WINDOW_MINUTES} 分钟后再试"
            )));
        }
        Ok(())
    }

    async fn count_wrong_code(&self, client: &str) -> Result<(), AppError> {
        Ok(self
            .store
            .record_ballot_failure(client, &jiff::Timestamp::now().to_string())
            .await?)
    }
}

fn check_dates(
    year: i16,
    opens_on: Option<jiff::civil::Date>,
    closes_on: Option<jiff::civil::Date>,
) -> Result<(), AppError> {
    if !(2000..=2100).contains(&year) {
        return Err(AppError::BadRequest(format!("年度 {year} 无效")));
    }
    if let (Some(from), Some(to)) = (opens_on, closes_on)
        && to < from
    {
        return Err(AppError::BadRequest("结束日期早于开始日期".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participation_is_ballots_per_household() {
        let r = SurveyResult {
            kind: SurveyKind::Cadres,
            tally: Tally {
                ballots: 2,
                answers: 2,
                satisfied: 2,
            },
            threshold_percent: 80,
            met: Some(true),
            households: 3,
        };
        assert_eq!(r.participation_hundredths(), Some(6666));
        let none = SurveyResult { households: 0, ..r };
        assert_eq!(none.participation_hundredths(), None);
    }
}
