//! Community records: adding, changing, deleting and listing them, a community's year at a
//! glance, starting a year from last year's, evidence files, and spreadsheet import and export.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use serde::Serialize;
use shequ_domain::access::{may_read, may_write_records};
use shequ_domain::codes::DivisionCode;
use shequ_domain::records::{FieldProblem, Input, RecordData, RecordKind};
use shequ_domain::units::Unit;
use shequ_interchange::SourceFile;
use shequ_interchange::records::{ExportFormat, ImportRow, RecordWriter, RowError, read_records};
use shequ_store::{
    NewFile, RecordChange, RecordCursor, RecordFilter, RecordWrite, StoreError, StoredFile,
    StoredRecord, YearState,
};

use crate::{App, AppError, Caller, today};

/// Records per page in lists.
pub const RECORD_PAGE: i64 = 50;
/// Records fetched per round trip while exporting.
const EXPORT_BATCH: i64 = 1000;
/// Rows one import file may hold.
pub const MAX_IMPORT_ROWS: usize = 200_000;
/// How many times an import is planned again when another write changed its years first.
const IMPORT_ATTEMPTS: usize = 5;

/// What an import did, or why it did nothing: the `--json` report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub new: usize,
    pub unchanged: usize,
    pub changed: usize,
    pub errors: Vec<RowError>,
}

/// A record for display: the stored record with its community's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView {
    pub record: StoredRecord,
    pub unit_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPage {
    pub items: Vec<StoredRecord>,
    pub total: i64,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// What to list: the filters people use on a community's ledgers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordQuery {
    pub kind: Option<RecordKind>,
    pub unit: Option<String>,
    pub year: Option<i16>,
    pub month: Option<i8>,
    pub category: Option<String>,
    pub item: Option<i64>,
    pub group: Option<String>,
    pub cursor: Option<String>,
}

/// One kind's count in a community year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCount {
    pub kind: RecordKind,
    pub records: i64,
    pub unconfirmed: i64,
}

/// A community's year at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearOverview {
    pub unit: Unit,
    pub year: i16,
    pub locked: bool,
    pub counts: Vec<KindCount>,
    pub profile: Option<StoredRecord>,
    pub groups: Vec<StoredRecord>,
    /// Service records per month (index 0 is January) and people served.
    pub services_by_month: [(i64, i64); 12],
    /// Activities by type.
    pub activities_by_type: Vec<(String, i64)>,
    pub may_write: bool,
}

/// What starting a year copied forward from the year before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartYearSummary {
    pub copied: BTreeMap<&'static str, usize>,
}

fn problems_to_error(kind: RecordKind, problems: Vec<FieldProblem>) -> AppError {
    AppError::BadRequest(
        problems
            .into_iter()
            .map(|p| match p.field.and_then(|k| kind.field(k)) {
                Some(f) => format!("{}：{}", f.header, p.message),
                None => p.message,
            })
            .collect::<Vec<_>>()
            .join("；"),
    )
}

fn store_error(e: StoreError) -> AppError {
    match e {
        StoreError::Locked { .. } => AppError::Forbidden(e.to_string()),
        StoreError::NotFound => AppError::NotFound("记录不存在".into()),
        StoreError::DuplicateRecord(what) if what.is_empty() => AppError::BadRequest(
            "该社区这一年已有这条记录（社区基本情况、健康档案每年一条，居民小组名称不能重复）"
                .into(),
        ),
        StoreError::DuplicateRecord(what) => AppError::BadRequest(format!("{what}重复")),
        other => AppError::Store(other),
    }
}

/// Why a closed community cannot take this record, if it cannot: nothing dated on or after the
/// closing, and no year after the closing's year.
fn closed_problem(unit: &Unit, data: &RecordData) -> Option<String> {
    let closed = unit.closed_on?;
    let after = match data.record_date() {
        Some(date) => date >= closed,
        None => data.year().is_some_and(|y| y > closed.year()),
    };
    after.then(|| format!("{}已于 {closed} 撤销，不能记录之后的台账", unit.name))
}

pub(crate) fn unit_path(unit: &Unit) -> Vec<DivisionCode> {
    unit.ancestors
        .codes()
        .cloned()
        .chain([unit.code.clone()])
        .collect()
}

fn parse_cursor(text: &str) -> Result<RecordCursor, AppError> {
    let bad = || AppError::BadRequest("翻页参数无效".into());
    let (sort_key, id) = text.rsplit_once('~').ok_or_else(bad)?;
    Ok(RecordCursor {
        sort_key: sort_key.to_string(),
        id: id.parse().map_err(|_| bad())?,
    })
}

fn cursor_of(record: &StoredRecord) -> String {
    format!("{}~{}", record.data.sort_key(), record.id)
}

fn parse_unit(text: &str) -> Result<DivisionCode, AppError> {
    DivisionCode::parse(text).map_err(|e| AppError::BadRequest(format!("单位代码无效：{e}")))
}

/// A one-line description of a record for the audit log.
fn describe(data: &RecordData) -> String {
    let parts: Vec<String> = data
        .kind
        .fields()
        .iter()
        .filter(|f| f.key != "unit")
        .filter_map(|f| {
            data.get(f.key)
                .map(|v| format!("{}={}", f.header, v.display()))
        })
        .collect();
    format!("{}：{}", data.kind.label_zh(), parts.join("，"))
}

/// Records of a community, or of everything under a higher unit.
pub(crate) fn scope_filter(unit: &DivisionCode) -> RecordFilter {
    if unit.level() == shequ_domain::Level::Committee {
        RecordFilter {
            unit: Some(unit.clone()),
            ..Default::default()
        }
    } else {
        RecordFilter {
            within: Some(unit.clone()),
            ..Default::default()
        }
    }
}

impl App {
    /// Every record a filter matches, fetched a page at a time (for counts the pages need).
    pub(crate) async fn all_records(
        &self,
        filter: &RecordFilter,
    ) -> Result<Vec<StoredRecord>, AppError> {
        let mut out = Vec::new();
        let mut cursor: Option<RecordCursor> = None;
        loop {
            let page = self
                .store
                .list_records(filter, cursor.as_ref(), EXPORT_BATCH)
                .await?;
            let full = page.len() as i64 == EXPORT_BATCH;
            cursor = page.last().map(|last| RecordCursor {
                sort_key: last.data.sort_key(),
                id: last.id,
            });
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// The unit a record names, checked to be an open community.
    async fn community(&self, code: &DivisionCode) -> Result<Unit, AppError> {
        let unit = self
            .store
            .unit(code)
            .await?
            .ok_or_else(|| AppError::BadRequest(format!("区划代码 {code} 不在组织树中")))?;
        if !unit.kind.is_community() {
            return Err(AppError::BadRequest(format!(
                "{}（{code}）不是社区，台账只为社区建立",
                unit.name
            )));
        }
        Ok(unit)
    }

    /// Refuses to rename or delete a resident group that service or activity records name: they
    /// would point at nothing, and their export would no longer import.
    async fn check_group_unused(&self, group: &StoredRecord) -> Result<(), AppError> {
        let Some(name) = group.data.text("name") else {
            return Ok(());
        };
        let mut used = 0;
        for kind in [RecordKind::Services, RecordKind::Activities] {
            used += self
                .store
                .count_records(&RecordFilter {
                    kind: Some(kind),
                    unit: Some(group.unit.clone()),
                    year: Some(group.year),
                    group: Some(name.to_string()),
                    ..Default::default()
                })
                .await?;
        }
        if used > 0 {
            return Err(AppError::BadRequest(format!(
                "居民小组“{name}”已有 {used} 条服务或活动记录，不能改名或删除；请先修改那些记录"
            )));
        }
        Ok(())
    }

    /// The community, if the caller may write its records.
    async fn writable_community(
        &self,
        caller: &Caller,
        code: &DivisionCode,
    ) -> Result<Unit, AppError> {
        let unit = self.community(code).await?;
        self.check_write(caller, &unit)?;
        Ok(unit)
    }

    fn check_write(&self, caller: &Caller, unit: &Unit) -> Result<(), AppError> {
        if may_write_records(&caller.actor, &unit_path(unit)) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "您无权修改{}（{}）的台账",
                unit.name, unit.code
            )))
        }
    }

    fn check_read(&self, caller: &Caller, unit: &Unit) -> Result<(), AppError> {
        if may_read(&caller.actor, &unit_path(unit)) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "{}（{}）不在您的管辖范围内",
                unit.name, unit.code
            )))
        }
    }

    /// Checks a record against what only the database knows: the unit is an open community the
    /// caller may write, the service item is in the standard, the resident group exists.
    async fn check_record(&self, caller: &Caller, data: &RecordData) -> Result<Unit, AppError> {
        data.validate(today())
            .map_err(|p| problems_to_error(data.kind, p))?;
        let code = data
            .unit()
            .ok_or_else(|| AppError::BadRequest("区划代码必须填写".into()))?;
        let unit = self.community(&code).await?;
        self.check_write(caller, &unit)?;
        if let Some(problem) = closed_problem(&unit, data) {
            return Err(AppError::BadRequest(problem));
        }
        if let Some(problem) = self.frozen_tally_problem(data).await? {
            return Err(AppError::BadRequest(problem));
        }
        if let Some(item) = data.int("item") {
            let standard = self.current_standard().await?;
            if standard.item(item as u32).is_none() {
                return Err(AppError::BadRequest(format!(
                    "服务项目编号 {item} 不在标准 {} 中",
                    standard.id
                )));
            }
        }
        if data.kind != RecordKind::Groups
            && let (Some(group), Some(year)) = (data.group(), data.year())
        {
            let groups = self.group_names(&code, year).await?;
            if !groups.contains(group) {
                return Err(AppError::BadRequest(group_problem(group, year, &groups)));
            }
        }
        Ok(unit)
    }

    async fn group_names(
        &self,
        unit: &DivisionCode,
        year: i16,
    ) -> Result<HashSet<String>, AppError> {
        Ok(self
            .store
            .record_identities(RecordKind::Groups, std::slice::from_ref(unit))
            .await?
            .into_iter()
            .filter(|r| r.year == year)
            .filter_map(|r| r.slot)
            .collect())
    }

    fn record_from_form<'a>(
        kind: RecordKind,
        inputs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RecordData, AppError> {
        RecordData::from_inputs(
            kind,
            inputs
                .into_iter()
                .filter(|(k, _)| kind.field(k).is_some() || !k.starts_with('_'))
                .map(|(k, v)| (k, Input::Text(v))),
        )
        .map_err(|p| problems_to_error(kind, p))
    }

    /// Adds a record from field values by key (a form or an API body).
    pub async fn create_record<'a>(
        &self,
        caller: &Caller,
        kind: RecordKind,
        inputs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<i64, AppError> {
        let data = App::record_from_form(kind, inputs)?;
        let unit = self.check_record(caller, &data).await?;
        let standard_id = Some(self.current_standard().await?.id.clone());
        let audit = caller.audit(
            "records.create",
            Some(&unit.code),
            kind.as_str(),
            &describe(&data),
        );
        let ids = self
            .store
            .apply_record_changes(
                &[RecordChange::Insert(RecordWrite {
                    data,
                    record_ref: None,
                    standard_id,
                    confirmed: kind.confirmed_on_write(),
                })],
                &[],
                &caller.actor.audit_name(),
                &[audit],
            )
            .await
            .map_err(store_error)?;
        ids.first()
            .copied()
            .ok_or_else(|| AppError::Internal("新记录没有编号".into()))
    }

    /// A record the caller may read.
    pub async fn record(&self, caller: &Caller, id: i64) -> Result<RecordView, AppError> {
        let record = self
            .store
            .record(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("记录 {id} 不存在")))?;
        let unit = self
            .store
            .unit(&record.unit)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("记录 {id} 不存在")))?;
        // A record outside one's scope is reported as absent, so ids do not reveal whose it is.
        if self.check_read(caller, &unit).is_err() {
            return Err(AppError::NotFound(format!("记录 {id} 不存在")));
        }
        Ok(RecordView {
            record,
            unit_name: unit.name,
        })
    }

    /// Replaces a record's values (its kind stays); a record copied forward counts as
    /// confirmed once edited.
    pub async fn update_record<'a>(
        &self,
        caller: &Caller,
        id: i64,
        inputs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), AppError> {
        let existing = self.record(caller, id).await?.record;
        self.writable_community(caller, &existing.unit).await?;
        let data = App::record_from_form(existing.data.kind, inputs)?;
        if existing.data.kind == RecordKind::Groups
            && (data.text("name") != existing.data.text("name")
                || data.year() != Some(existing.year))
        {
            self.check_group_unused(&existing).await?;
        }
        if let Some(problem) = self.frozen_tally_problem(&existing.data).await? {
            return Err(AppError::BadRequest(problem));
        }
        let unit = self.check_record(caller, &data).await?;
        let audit = caller.audit(
            "records.update",
            Some(&unit.code),
            &format!("{}#{id}", data.kind),
            &format!("{} → {}", describe(&existing.data), describe(&data)),
        );
        self.store
            .apply_record_changes(
                &[RecordChange::Update {
                    id,
                    write: RecordWrite {
                        data,
                        record_ref: existing.record_ref,
                        standard_id: existing.standard_id,
                        confirmed: existing.data.kind.confirmed_on_write(),
                    },
                }],
                &[],
                &caller.actor.audit_name(),
                &[audit],
            )
            .await
            .map_err(store_error)?;
        Ok(())
    }

    pub async fn delete_record(&self, caller: &Caller, id: i64) -> Result<(), AppError> {
        let existing = self.record(caller, id).await?.record;
        let unit = self.writable_community(caller, &existing.unit).await?;
        if existing.data.kind == RecordKind::Groups {
            self.check_group_unused(&existing).await?;
        }
        if let Some(problem) = self.frozen_tally_problem(&existing.data).await? {
            return Err(AppError::BadRequest(problem));
        }
        // Deleting would drop counted ballots without a second person; an edit needs one.
        if existing.data.kind == RecordKind::Tallies && existing.confirmed {
            return Err(AppError::BadRequest(
                "已确认的纸质计票不能删除；如需更正，请修改计票后由另一人重新确认".into(),
            ));
        }
        let audit = caller.audit(
            "records.delete",
            Some(&unit.code),
            &format!("{}#{id}", existing.data.kind),
            &describe(&existing.data),
        );
        self.store
            .apply_record_changes(
                &[RecordChange::Delete { id }],
                &[],
                &caller.actor.audit_name(),
                &[audit],
            )
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Resolves what a query may see: one community the caller may read, or the caller's scope.
    async fn filter_for(
        &self,
        caller: &Caller,
        query: &RecordQuery,
    ) -> Result<RecordFilter, AppError> {
        let mut filter = RecordFilter {
            kind: query.kind,
            year: query.year,
            month: query.month,
            category: query.category.clone(),
            item: query.item,
            group: query.group.clone(),
            ..Default::default()
        };
        if let Some(month) = query.month
            && !(1..=12).contains(&month)
        {
            return Err(AppError::BadRequest(format!("月份 {month} 无效")));
        }
        match &query.unit {
            Some(text) => {
                let code = parse_unit(text)?;
                let unit = self
                    .store
                    .unit(&code)
                    .await?
                    .ok_or_else(|| AppError::NotFound(format!("单位 {code} 不存在")))?;
                self.check_read(caller, &unit)?;
                if code.level() == shequ_domain::Level::Committee {
                    filter.unit = Some(code);
                } else {
                    filter.within = Some(code);
                }
            }
            None => match &caller.actor {
                shequ_domain::access::Actor::User { scope, role, .. }
                    if *role != shequ_domain::access::Role::ProvinceAdmin =>
                {
                    if scope.level() == shequ_domain::Level::Committee {
                        filter.unit = Some(scope.clone());
                    } else {
                        filter.within = Some(scope.clone());
                    }
                }
                _ => {}
            },
        }
        Ok(filter)
    }

    /// A page of records in ledger order.
    pub async fn list_records(
        &self,
        caller: &Caller,
        query: &RecordQuery,
    ) -> Result<RecordPage, AppError> {
        let filter = self.filter_for(caller, query).await?;
        let cursor = query.cursor.as_deref().map(parse_cursor).transpose()?;
        let mut items = self
            .store
            .list_records(&filter, cursor.as_ref(), RECORD_PAGE + 1)
            .await?;
        let next = if items.len() as i64 > RECORD_PAGE {
            items.truncate(RECORD_PAGE as usize);
            items.last().map(cursor_of)
        } else {
            None
        };
        let total = self.store.count_records(&filter).await?;
        Ok(RecordPage { items, total, next })
    }

    /// A community's year at a glance.
    pub async fn year_overview(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
    ) -> Result<YearOverview, AppError> {
        let code = parse_unit(code_text)?;
        let unit = self
            .store
            .unit(&code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("单位 {code} 不存在")))?;
        self.check_read(caller, &unit)?;
        if !unit.kind.is_community() {
            return Err(AppError::BadRequest(format!("{}不是社区", unit.name)));
        }
        let state = self.year_state(&code, year).await?;
        let base = RecordFilter {
            unit: Some(code.clone()),
            year: Some(year),
            ..Default::default()
        };
        let mut counts = Vec::new();
        for kind in RecordKind::ALL {
            let filter = RecordFilter {
                kind: Some(kind),
                ..base.clone()
            };
            let records = self.store.count_records(&filter).await?;
            let unconfirmed = if kind.carried_forward() {
                self.store
                    .count_records(&RecordFilter {
                        unconfirmed_only: true,
                        ..filter
                    })
                    .await?
            } else {
                0
            };
            counts.push(KindCount {
                kind,
                records,
                unconfirmed,
            });
        }
        let profile = self
            .store
            .list_records(
                &RecordFilter {
                    kind: Some(RecordKind::Profile),
                    ..base.clone()
                },
                None,
                1,
            )
            .await?
            .pop();
        let groups = self
            .store
            .list_records(
                &RecordFilter {
                    kind: Some(RecordKind::Groups),
                    ..base.clone()
                },
                None,
                500,
            )
            .await?;
        let mut services_by_month = [(0, 0); 12];
        let mut activities: BTreeMap<String, i64> = BTreeMap::new();
        let services = RecordFilter {
            kind: Some(RecordKind::Services),
            ..base.clone()
        };
        for r in self.all_records(&services).await? {
            if let Some(m) = r.data.month() {
                let slot = &mut services_by_month[(m as usize).saturating_sub(1) % 12];
                slot.0 += 1;
                slot.1 += r.data.quantity().unwrap_or(0);
            }
        }
        let activity_filter = RecordFilter {
            kind: Some(RecordKind::Activities),
            ..base.clone()
        };
        for r in self.all_records(&activity_filter).await? {
            if let Some(t) = r.data.category() {
                *activities.entry(t.to_string()).or_default() += 1;
            }
        }
        let may_write = may_write_records(&caller.actor, &unit_path(&unit));
        Ok(YearOverview {
            unit,
            year,
            locked: state.locked,
            counts,
            profile,
            groups,
            services_by_month,
            activities_by_type: activities.into_iter().collect(),
            may_write,
        })
    }

    async fn year_state(&self, code: &DivisionCode, year: i16) -> Result<YearState, AppError> {
        Ok(self
            .store
            .year_states(std::slice::from_ref(code))
            .await?
            .get(&(code.clone(), year))
            .copied()
            .unwrap_or_default())
    }

    /// Starts a year from the year before: the profile, resident groups and organisations are
    /// copied forward, unconfirmed, for the worker to check. Kinds the year already has are left.
    pub async fn start_year(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
    ) -> Result<StartYearSummary, AppError> {
        let code = parse_unit(code_text)?;
        let unit = self.writable_community(caller, &code).await?;
        if i64::from(year) > i64::from(today().year()) + 1 || year < 2000 {
            return Err(AppError::BadRequest(format!("不能开始 {year} 年")));
        }
        if let Some(closed) = unit.closed_on
            && year > closed.year()
        {
            return Err(AppError::BadRequest(format!(
                "{}已于 {closed} 撤销，不能开始 {year} 年",
                unit.name
            )));
        }
        // Two starts at once: the one planned on a stale year retries and finds it started.
        for _ in 0..IMPORT_ATTEMPTS {
            match self.start_year_once(caller, &code, year).await {
                Err(AppError::Store(StoreError::Conflict)) => continue,
                other => return other,
            }
        }
        Err(AppError::Store(StoreError::Conflict))
    }

    async fn start_year_once(
        &self,
        caller: &Caller,
        code: &DivisionCode,
        year: i16,
    ) -> Result<StartYearSummary, AppError> {
        let version = self.year_state(code, year).await?.version;
        let mut changes = Vec::new();
        let mut summary = StartYearSummary::default();
        for kind in RecordKind::ALL.into_iter().filter(|k| k.carried_forward()) {
            let this_year = RecordFilter {
                kind: Some(kind),
                unit: Some(code.clone()),
                year: Some(year),
                ..Default::default()
            };
            if self.store.count_records(&this_year).await? > 0 {
                continue;
            }
            let last_year = RecordFilter {
                year: Some(year - 1),
                ..this_year
            };
            let previous = self.store.list_records(&last_year, None, 10_000).await?;
            summary.copied.insert(kind.label_zh(), previous.len());
            for record in previous {
                let mut data = record.data;
                data.values
                    .insert("year", shequ_domain::records::Value::Int(i64::from(year)));
                changes.push(RecordChange::Insert(RecordWrite {
                    data,
                    record_ref: None,
                    standard_id: record.standard_id,
                    confirmed: false,
                }));
            }
        }
        if changes.is_empty() {
            return Ok(summary);
        }
        let audit = caller.audit(
            "records.start_year",
            Some(code),
            &year.to_string(),
            &format!(
                "从 {} 年复制：{}",
                year - 1,
                summary
                    .copied
                    .iter()
                    .map(|(k, n)| format!("{k} {n} 条"))
                    .collect::<Vec<_>>()
                    .join("，")
            ),
        );
        self.store
            .apply_record_changes(
                &changes,
                &[(code.clone(), year, version)],
                &caller.actor.audit_name(),
                &[audit],
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict | StoreError::DuplicateRecord(_) => {
                    AppError::Store(StoreError::Conflict)
                }
                other => store_error(other),
            })?;
        Ok(summary)
    }

    /// Confirms every record of a year that was copied forward and not yet checked.
    pub async fn confirm_year(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
    ) -> Result<usize, AppError> {
        let code = parse_unit(code_text)?;
        self.writable_community(caller, &code).await?;
        let filter = RecordFilter {
            unit: Some(code.clone()),
            year: Some(year),
            unconfirmed_only: true,
            ..Default::default()
        };
        let pending = self.store.list_records(&filter, None, 10_000).await?;
        // Paper tallies wait for a second person, not for this confirmation.
        let changes: Vec<RecordChange> = pending
            .into_iter()
            .filter(|r| r.data.kind.carried_forward())
            .map(|r| RecordChange::Update {
                id: r.id,
                write: RecordWrite {
                    data: r.data,
                    record_ref: r.record_ref,
                    standard_id: r.standard_id,
                    confirmed: true,
                },
            })
            .collect();
        if changes.is_empty() {
            return Ok(0);
        }
        let audit = caller.audit(
            "records.confirm",
            Some(&code),
            &year.to_string(),
            &format!("确认从上年复制的 {} 条记录", changes.len()),
        );
        self.store
            .apply_record_changes(&changes, &[], &caller.actor.audit_name(), &[audit])
            .await
            .map_err(store_error)?;
        Ok(changes.len())
    }

    /// Sets or clears a community year's lock. The evaluation's submit and return do this; here
    /// it is for the province and the operator.
    pub async fn set_records_locked(
        &self,
        caller: &Caller,
        code_text: &str,
        year: i16,
        locked: bool,
    ) -> Result<(), AppError> {
        caller.require_operator_or_province_admin()?;
        let code = parse_unit(code_text)?;
        let unit = self.community(&code).await?;
        let audit = caller.audit(
            if locked {
                "records.lock"
            } else {
                "records.unlock"
            },
            Some(&unit.code),
            &year.to_string(),
            if locked {
                "锁定台账"
            } else {
                "解除台账锁定"
            },
        );
        self.store
            .set_year_locked(&code, year, locked, &audit)
            .await?;
        Ok(())
    }

    /// Attaches evidence (a photo or document) to a record, checked to be what its name says.
    pub async fn add_record_file(
        &self,
        caller: &Caller,
        record_id: i64,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<i64, AppError> {
        let existing = self.record(caller, record_id).await?.record;
        let unit = self.writable_community(caller, &existing.unit).await?;
        let file_name = file_name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(file_name)
            .trim();
        shequ_interchange::text::check_name(file_name, 100)
            .map_err(|e| AppError::BadRequest(format!("文件名：{e}")))?;
        let content_type = shequ_interchange::containers::check_evidence(file_name, &bytes)
            .map_err(AppError::BadRequest)?;
        use sha2::Digest;
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        let audit = caller.audit(
            "records.file.add",
            Some(&unit.code),
            &format!("{}#{record_id}", existing.data.kind),
            &format!("上传 {file_name}（{} 字节）", bytes.len()),
        );
        let file = NewFile {
            file_name: file_name.to_string(),
            content_type: content_type.to_string(),
            sha256,
            bytes,
        };
        self.store
            .add_record_file(record_id, &file, &caller.actor.audit_name(), &audit)
            .await
            .map_err(store_error)
    }

    pub async fn record_files(
        &self,
        caller: &Caller,
        record_id: i64,
    ) -> Result<Vec<StoredFile>, AppError> {
        self.record(caller, record_id).await?;
        Ok(self.store.record_files(record_id).await?)
    }

    /// A file's description and bytes, for a caller who may read its record.
    pub async fn record_file(
        &self,
        caller: &Caller,
        file_id: i64,
    ) -> Result<(StoredFile, Vec<u8>), AppError> {
        let (meta, bytes) = self
            .store
            .record_file(file_id)
            .await?
            .ok_or_else(|| AppError::NotFound("文件不存在".into()))?;
        self.record(caller, meta.record_id).await?;
        Ok((meta, bytes))
    }

    pub async fn delete_record_file(&self, caller: &Caller, file_id: i64) -> Result<i64, AppError> {
        let (meta, _) = self.record_file(caller, file_id).await?;
        let record = self.record(caller, meta.record_id).await?.record;
        let unit = self.writable_community(caller, &record.unit).await?;
        let audit = caller.audit(
            "records.file.delete",
            Some(&unit.code),
            &format!("{}#{}", record.data.kind, record.id),
            &format!("删除 {}", meta.file_name),
        );
        self.store
            .delete_record_file(file_id, &audit)
            .await
            .map_err(store_error)?;
        Ok(record.id)
    }

    /// Imports a records file as one transaction: every row is checked, and if any is bad
    /// nothing is written and the report lists every bad row.
    pub async fn import_records(
        &self,
        caller: &Caller,
        file: &SourceFile,
    ) -> Result<ImportReport, AppError> {
        let parsed = match read_records(file, today()) {
            Ok(parsed) => parsed,
            Err(errors) => {
                return Ok(ImportReport {
                    errors,
                    ..Default::default()
                });
            }
        };
        if parsed.rows.len() > MAX_IMPORT_ROWS {
            return Ok(ImportReport {
                errors: vec![RowError::file(format!(
                    "文件有 {} 行，一次最多导入 {MAX_IMPORT_ROWS} 行，请分成几个文件",
                    parsed.rows.len()
                ))],
                ..Default::default()
            });
        }
        for _ in 0..IMPORT_ATTEMPTS {
            match self
                .try_import(caller, file, parsed.kind, &parsed.rows, &parsed.errors)
                .await
            {
                Err(AppError::Store(StoreError::Conflict)) => continue,
                other => return other,
            }
        }
        Err(AppError::Store(StoreError::Conflict))
    }

    async fn try_import(
        &self,
        caller: &Caller,
        file: &SourceFile,
        kind: RecordKind,
        rows: &[ImportRow],
        read_errors: &[RowError],
    ) -> Result<ImportReport, AppError> {
        let standard = self.current_standard().await?;
        let mut codes: Vec<DivisionCode> = rows.iter().filter_map(|r| r.data.unit()).collect();
        codes.sort();
        codes.dedup();
        let units: HashMap<DivisionCode, Unit> = self
            .store
            .units_by_codes(&codes)
            .await?
            .into_iter()
            .map(|u| (u.code.clone(), u))
            .collect();
        let states = self.store.year_states(&codes).await?;
        let existing = self.store.record_identities(kind, &codes).await?;
        let groups: HashSet<(DivisionCode, i16, String)> =
            if matches!(kind, RecordKind::Services | RecordKind::Activities) {
                self.store
                    .record_identities(RecordKind::Groups, &codes)
                    .await?
                    .into_iter()
                    .filter_map(|g| Some((g.unit, g.year, g.slot?)))
                    .collect()
            } else {
                HashSet::new()
            };
        let mut errors = read_errors.to_vec();
        let error = |row: &ImportRow, key: &str, reason: String| RowError {
            row: row.row,
            column: kind
                .field(key)
                .map_or(String::new(), |f| f.header.to_string()),
            value: row.shown.get(key).cloned().unwrap_or_default(),
            reason,
        };
        // Rows checked against the tree, the standard, permissions and locks.
        let mut good: Vec<&ImportRow> = Vec::new();
        for row in rows {
            let (Some(code), Some(year)) = (row.data.unit(), row.data.year()) else {
                continue;
            };
            let before = errors.len();
            match units.get(&code) {
                None => errors.push(error(row, "unit", format!("区划代码 {code} 不在组织树中"))),
                Some(unit) if !unit.kind.is_community() => errors.push(error(
                    row,
                    "unit",
                    format!("{}（{code}）不是社区", unit.name),
                )),
                Some(unit) if !may_write_records(&caller.actor, &unit_path(unit)) => {
                    errors.push(error(
                        row,
                        "unit",
                        format!("您无权修改{}（{code}）的台账", unit.name),
                    ))
                }
                Some(unit) => {
                    if let Some(problem) = closed_problem(unit, &row.data) {
                        errors.push(error(row, kind.date_key().unwrap_or("year"), problem));
                    }
                    if let Some(problem) = self.frozen_tally_problem(&row.data).await? {
                        errors.push(error(row, "survey", problem));
                    }
                    if states.get(&(code.clone(), year)).is_some_and(|s| s.locked) {
                        errors.push(error(
                            row,
                            kind.date_key().unwrap_or("year"),
                            format!("{}的 {year} 年台账已随自评报送锁定", unit.name),
                        ));
                    }
                }
            }
            if let Some(item) = row.data.int("item")
                && standard.item(item as u32).is_none()
            {
                errors.push(error(
                    row,
                    "item",
                    format!("服务项目编号 {item} 不在标准 {} 中", standard.id),
                ));
            }
            if kind != RecordKind::Groups
                && let Some(group) = row.data.group()
                && !groups.contains(&(code.clone(), year, group.to_string()))
            {
                errors.push(error(
                    row,
                    "group",
                    format!(
                        "居民小组“{group}”不在该社区 {year} 年的居民小组名单中，请先录入居民小组"
                    ),
                ));
            }
            if errors.len() == before {
                good.push(row);
            }
        }

        // Match rows to stored records: by 记录编号, then by the one-per-year slot, then by
        // content, each stored record matched at most once (a file is a multiset of rows).
        let mut by_ref: HashMap<(DivisionCode, String), usize> = HashMap::new();
        let mut by_slot: HashMap<(DivisionCode, i16, String), usize> = HashMap::new();
        let mut by_content: HashMap<(DivisionCode, String), Vec<usize>> = HashMap::new();
        for (i, r) in existing.iter().enumerate() {
            if let Some(rf) = &r.record_ref {
                by_ref.insert((r.unit.clone(), rf.clone()), i);
            }
            if let Some(slot) = &r.slot {
                by_slot.insert((r.unit.clone(), r.year, slot.clone()), i);
            }
            by_content
                .entry((r.unit.clone(), r.content_key.clone()))
                .or_default()
                .push(i);
        }
        let mut used = vec![false; existing.len()];
        let mut report = ImportReport::default();
        let mut changes = Vec::new();
        let mut touched: HashSet<(DivisionCode, i16)> = HashSet::new();
        let mut slots_in_file: HashMap<(DivisionCode, i16, String), u64> = HashMap::new();
        let mut per_unit: BTreeMap<DivisionCode, (usize, usize)> = BTreeMap::new();
        // Rows with a 记录编号 first, so that they claim their own records before content
        // matching hands those records to other rows.
        let mut ordered: Vec<&ImportRow> = good.clone();
        ordered.sort_by_key(|r| r.record_ref.is_none());
        let mut pending_content: Vec<&ImportRow> = Vec::new();
        for row in ordered {
            let (Some(code), Some(year)) = (row.data.unit(), row.data.year()) else {
                continue;
            };
            if let Some(slot) = row.data.slot()
                && let Some(first) =
                    slots_in_file.insert((code.clone(), year, slot.clone()), row.row)
            {
                errors.push(RowError {
                    row: row.row,
                    column: String::new(),
                    value: String::new(),
                    reason: format!("与第 {first} 行是同一社区同一年的同一条{}", kind.label_zh()),
                });
                continue;
            }
            let content_key = row.data.content_key();
            let matched = match &row.record_ref {
                Some(rf) => by_ref.get(&(code.clone(), rf.clone())).copied(),
                None => None,
            }
            .or_else(|| {
                row.data
                    .slot()
                    .and_then(|slot| by_slot.get(&(code.clone(), year, slot)).copied())
                    .filter(|i| !used[*i])
            });
            match matched {
                Some(i) => {
                    used[i] = true;
                    let stored = &existing[i];
                    let same_ref = row.record_ref.is_none() || row.record_ref == stored.record_ref;
                    if stored.content_key == content_key && same_ref {
                        report.unchanged += 1;
                    } else {
                        report.changed += 1;
                        per_unit.entry(code.clone()).or_default().1 += 1;
                        touched.insert((stored.unit.clone(), stored.year));
                        touched.insert((code.clone(), year));
                        changes.push(RecordChange::Update {
                            id: stored.id,
                            write: RecordWrite {
                                data: row.data.clone(),
                                record_ref: row.record_ref.clone().or(stored.record_ref.clone()),
                                standard_id: Some(standard.id.clone()),
                                confirmed: kind.confirmed_on_write(),
                            },
                        });
                    }
                }
                None if row.record_ref.is_some() => {
                    report.new += 1;
                    per_unit.entry(code.clone()).or_default().0 += 1;
                    touched.insert((code.clone(), year));
                    changes.push(RecordChange::Insert(RecordWrite {
                        data: row.data.clone(),
                        record_ref: row.record_ref.clone(),
                        standard_id: Some(standard.id.clone()),
                        confirmed: kind.confirmed_on_write(),
                    }));
                }
                None => pending_content.push(row),
            }
        }
        for row in pending_content {
            let (Some(code), Some(year)) = (row.data.unit(), row.data.year()) else {
                continue;
            };
            let content_key = row.data.content_key();
            let free = by_content
                .get(&(code.clone(), content_key))
                .and_then(|ids| ids.iter().copied().find(|i| !used[*i]));
            match free {
                Some(i) => {
                    used[i] = true;
                    report.unchanged += 1;
                }
                None => {
                    report.new += 1;
                    per_unit.entry(code.clone()).or_default().0 += 1;
                    touched.insert((code.clone(), year));
                    changes.push(RecordChange::Insert(RecordWrite {
                        data: row.data.clone(),
                        record_ref: None,
                        standard_id: Some(standard.id.clone()),
                        confirmed: kind.confirmed_on_write(),
                    }));
                }
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.row);
            return Ok(ImportReport {
                errors,
                ..Default::default()
            });
        }
        if changes.is_empty() {
            return Ok(report);
        }
        let expected: Vec<(DivisionCode, i16, i64)> = touched
            .into_iter()
            .map(|(unit, year)| {
                let version = states.get(&(unit.clone(), year)).map_or(0, |s| s.version);
                (unit, year, version)
            })
            .collect();
        let audits: Vec<_> = per_unit
            .iter()
            .map(|(code, (new, changed))| {
                caller.audit(
                    "records.import",
                    Some(code),
                    &file.name,
                    &format!("{}：新增 {new} 条，修改 {changed} 条", kind.label_zh()),
                )
            })
            .collect();
        tracing::info!(
            file = %file.name,
            changes = changes.len(),
            "import checked; writing it in one transaction"
        );
        self.store
            .apply_record_changes(&changes, &expected, &caller.actor.audit_name(), &audits)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => AppError::Store(StoreError::Conflict),
                other => store_error(other),
            })?;
        Ok(report)
    }

    /// Writes the records of a kind for a community (or everything under a unit) in a year, in
    /// batches, so that a province's year never sits in memory at once.
    pub async fn export_records<W: Write + Send>(
        &self,
        caller: &Caller,
        request: &ExportRequest,
        out: W,
        mut progress: impl FnMut(usize),
    ) -> Result<W, AppError> {
        let (kind, format) = (request.kind, request.format);
        let query = request.query();
        let filter = self.filter_for(caller, &query).await?;
        let mut writer = RecordWriter::new(kind, format, out).map_err(AppError::Internal)?;
        let mut cursor: Option<RecordCursor> = None;
        let mut written = 0;
        loop {
            let batch = self
                .store
                .list_records(&filter, cursor.as_ref(), EXPORT_BATCH)
                .await?;
            for record in &batch {
                writer
                    .write(record.record_ref.as_deref(), &record.data)
                    .map_err(AppError::Internal)?;
            }
            written += batch.len();
            progress(written);
            match batch.last() {
                Some(last) if batch.len() as i64 == EXPORT_BATCH => {
                    cursor = Some(parse_cursor(&cursor_of(last))?);
                }
                _ => break,
            }
        }
        writer.finish().map_err(AppError::Internal)
    }

    /// How many records an export would write, for progress bars.
    pub async fn count_for_export(
        &self,
        caller: &Caller,
        request: &ExportRequest,
    ) -> Result<i64, AppError> {
        let query = request.query();
        let filter = self.filter_for(caller, &query).await?;
        Ok(self.store.count_records(&filter).await?)
    }
}

/// What to export: a kind of records of a community, or of everything under a unit, in a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    pub unit: String,
    pub year: i16,
    pub kind: RecordKind,
    pub format: ExportFormat,
}

impl ExportRequest {
    fn query(&self) -> RecordQuery {
        RecordQuery {
            kind: Some(self.kind),
            unit: Some(self.unit.clone()),
            year: Some(self.year),
            ..Default::default()
        }
    }
}

/// An empty template for a kind, for offices to fill in.
pub fn record_template(kind: RecordKind, format: ExportFormat) -> Result<Vec<u8>, AppError> {
    RecordWriter::new(kind, format, Vec::new())
        .and_then(RecordWriter::finish)
        .map_err(AppError::Internal)
}

fn group_problem(group: &str, year: i16, groups: &HashSet<String>) -> String {
    if groups.is_empty() {
        format!("该社区 {year} 年还没有录入居民小组，请先录入居民小组“{group}”")
    } else {
        let mut names: Vec<&String> = groups.iter().collect();
        names.sort();
        format!(
            "居民小组“{group}”不在该社区 {year} 年的居民小组名单中（现有：{}）",
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("、")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shequ_domain::units::UnitCounts;

    fn record(kind: RecordKind, values: &[(&'static str, &'static str)]) -> RecordData {
        RecordData::from_inputs(kind, values.iter().map(|(k, v)| (*k, Input::Text(v)))).unwrap()
    }

    #[test]
    fn a_closed_community_takes_nothing_after_its_closing() {
        let code = DivisionCode::parse("230102001004").unwrap();
        let unit = Unit {
            level: code.level(),
            kind: code.kind(),
            code,
            name: "森林社区居委会".into(),
            parent: None,
            ancestors: Default::default(),
            opened_on: None,
            closed_on: Some(jiff::civil::Date::constant(2012, 1, 1)),
            counts: UnitCounts::default(),
        };
        let service = |date: &'static str| {
            record(
                RecordKind::Services,
                &[
                    ("unit", "230102001004"),
                    ("date", date),
                    ("item", "1"),
                    ("people", "1"),
                ],
            )
        };
        assert_eq!(closed_problem(&unit, &service("2011-12-31")), None);
        assert!(
            closed_problem(&unit, &service("2012-01-01"))
                .unwrap()
                .contains("撤销")
        );
        let health = |year: &'static str| {
            record(
                RecordKind::Health,
                &[("unit", "230102001004"), ("year", year), ("count", "7")],
            )
        };
        // The closing year itself still had records before the closing.
        assert_eq!(closed_problem(&unit, &health("2012")), None);
        assert!(closed_problem(&unit, &health("2013")).is_some());
    }
}
