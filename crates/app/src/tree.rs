//! The organisation tree: importing divisions and groups, browsing and searching units.

use std::collections::{HashMap, HashSet};

use jiff::civil::Date;
use shequ_domain::codes::DivisionCode;
use shequ_domain::tree::{ImportScope, plan_import};
use shequ_domain::units::{Unit, UnitRef};
use shequ_interchange::{FileProblem, NationalFiles, SourceFile};
use shequ_store::{GroupMembership, GroupSummary, NameChange, StoreError, UnitQuery};
use unicode_normalization::UnicodeNormalization;

use std::sync::Arc;

use crate::search::NameIndex;
use crate::{App, AppError, Caller};

/// Most search results returned at once.
pub const SEARCH_LIMIT: i64 = 50;
/// Deepest page a search cursor may ask for.
const MAX_SEARCH_OFFSET: usize = 1_000_000;
/// Longest search text accepted.
const MAX_QUERY_CHARS: usize = 50;

/// Division files in one of the two layouts.
pub enum DivisionSource {
    National(NationalFiles),
    OneFile(SourceFile),
}

/// How many attempts an import makes when other imports keep committing first.
const IMPORT_ATTEMPTS: usize = 5;
/// Share of a province's open units an import may close without being told it is intended.
const MASS_CLOSE_PERCENT: usize = 5;
/// Closings always allowed without confirmation (small provinces, test data).
const MASS_CLOSE_FLOOR: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// Date the changes take effect.
    pub as_of: Date,
    /// Confirms an import that closes many units (a real reorganisation, not a truncated file).
    pub allow_mass_close: bool,
}

impl ImportOptions {
    pub fn as_of(as_of: Date) -> ImportOptions {
        ImportOptions {
            as_of,
            allow_mass_close: false,
        }
    }
}

/// A full import that would close a large share of the units is far more likely a truncated
/// or wrong file than a reorganisation; it needs confirming.
fn check_closings(plan: &shequ_domain::tree::ImportPlan, allowed: bool) -> Result<(), AppError> {
    let closes = plan.closes.len();
    let limit = (plan.open_in_scope * MASS_CLOSE_PERCENT / 100).max(MASS_CLOSE_FLOOR);
    if closes > limit && !allowed {
        return Err(AppError::BadRequest(format!(
            "本次导入将撤销 {closes} 个单位（现有在用单位 {} 个），超过 {MASS_CLOSE_PERCENT}%，\
             未导入任何数据。请检查文件是否完整；如确属区划调整，请加 --allow-mass-close 重新导入",
            plan.open_in_scope
        )));
    }
    Ok(())
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub inserted: usize,
    pub renamed: usize,
    pub moved: usize,
    pub reopened: usize,
    pub closed: usize,
    pub unchanged: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupImportSummary {
    pub group_sets: usize,
    pub groups: usize,
    pub memberships: usize,
    /// Memberships the same group sets had before (the file replaces them).
    pub previous: usize,
}

/// One page of search results; `next` is the cursor of the following page, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    pub items: Vec<UnitView>,
    pub next: Option<String>,
    /// How many matches came before this page.
    pub offset: usize,
}

/// A unit with the path from the province down to it (the unit itself last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitView {
    pub unit: Unit,
    pub path: Vec<UnitRef>,
}

impl App {
    /// Imports division files as one transaction: all of it or, when any row is bad, none of it.
    pub async fn import_divisions(
        &self,
        source: DivisionSource,
        options: ImportOptions,
        caller: &Caller,
    ) -> Result<ImportSummary, AppError> {
        caller.require_operator_or_province_admin()?;
        let as_of = options.as_of;
        let object = match &source {
            DivisionSource::National(files) => files.provinces.name.clone(),
            DivisionSource::OneFile(file) => file.name.clone(),
        };
        self.check_as_of(as_of).await?;
        let (incoming, scope) = match &source {
            DivisionSource::National(files) => (
                shequ_interchange::read_national_layout(files),
                ImportScope::FullProvinces,
            ),
            DivisionSource::OneFile(file) => (
                shequ_interchange::read_one_file_layout(file),
                ImportScope::Additions,
            ),
        };
        let incoming = incoming.map_err(AppError::InvalidFile)?;
        drop(source);
        // Plans are made outside the write transaction; if another import commits first the
        // store refuses the stale plan and it is made again on the new state.
        for _ in 0..IMPORT_ATTEMPTS {
            let version = self.store.units_version().await?;
            let existing = self.store.units_for_planning().await?;
            let mut plan =
                plan_import(&existing, &incoming, scope.clone(), as_of).map_err(|problems| {
                    AppError::InvalidFile(problems.into_iter().map(FileProblem::from).collect())
                })?;
            plan.based_on_version = version;
            check_closings(&plan, options.allow_mass_close)?;
            let summary = ImportSummary {
                inserted: plan.inserts.len(),
                renamed: plan.renames.len(),
                moved: plan.moves.len(),
                reopened: plan.reopens.len(),
                closed: plan.closes.len(),
                unchanged: plan.unchanged,
            };
            if plan.is_empty() {
                return Ok(summary);
            }
            let audit = caller.audit(
                "import.divisions",
                None,
                &object,
                &format!(
                    "生效日期 {as_of}：新增 {}，更名 {}，调整上级 {}，恢复 {}，撤销 {}",
                    summary.inserted,
                    summary.renamed,
                    summary.moved,
                    summary.reopened,
                    summary.closed
                ),
            );
            match self
                .store
                .apply_import(&plan, &jiff::Timestamp::now().to_string(), &audit)
                .await
            {
                Ok(()) => return Ok(summary),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Store(StoreError::Conflict))
    }

    /// An import takes effect on a plausible date, never before the last one: otherwise a unit
    /// could close before it opened.
    async fn check_as_of(&self, as_of: Date) -> Result<(), AppError> {
        let earliest = Date::constant(2000, 1, 1);
        let latest = crate::today()
            .checked_add(jiff::Span::new().days(366))
            .unwrap_or(Date::MAX);
        if as_of < earliest || as_of > latest {
            return Err(AppError::BadRequest(format!(
                "生效日期 {as_of} 不在 {earliest} 至 {latest} 之间"
            )));
        }
        if let Some(last) = self.store.state("divisions_as_of").await?
            && let Ok(last) = last.parse::<Date>()
            && as_of < last
        {
            return Err(AppError::BadRequest(format!(
                "生效日期 {as_of} 早于上次区划导入的生效日期 {last}；区划变动只能按时间先后导入"
            )));
        }
        Ok(())
    }

    /// Imports a group file: for every group set it names, the file becomes that set's whole
    /// membership. Every code must be a known unit.
    pub async fn import_groups(
        &self,
        file: &SourceFile,
        caller: &Caller,
    ) -> Result<GroupImportSummary, AppError> {
        caller.require_operator_or_province_admin()?;
        let rows = shequ_interchange::read_groups(file).map_err(AppError::InvalidFile)?;
        let mut first_seen: HashMap<(&str, &str, &DivisionCode), u64> = HashMap::new();
        let mut duplicates = Vec::new();
        for r in &rows {
            if let Some(first) = first_seen.insert((&r.group_set, &r.group, &r.code), r.origin.line)
            {
                duplicates.push(FileProblem::at(
                    &r.origin.file,
                    r.origin.line,
                    Some("code"),
                    format!(
                        "与第 {first} 行重复（{}/{}/{}）",
                        r.group_set, r.group, r.code
                    ),
                ));
            }
        }
        if !duplicates.is_empty() {
            return Err(AppError::InvalidFile(duplicates));
        }
        drop(first_seen);
        let codes: Vec<DivisionCode> = rows.iter().map(|r| r.code.clone()).collect();
        let known: HashSet<DivisionCode> = self
            .store
            .names(&codes)
            .await?
            .into_iter()
            .map(|r| r.code)
            .collect();
        let problems: Vec<FileProblem> = rows
            .iter()
            .filter(|r| !known.contains(&r.code))
            .map(|r| {
                FileProblem::at(
                    &r.origin.file,
                    r.origin.line,
                    Some("code"),
                    format!("单位 {} 不存在", r.code),
                )
            })
            .collect();
        if !problems.is_empty() {
            return Err(AppError::InvalidFile(problems));
        }
        let memberships: Vec<GroupMembership> = rows
            .into_iter()
            .map(|r| GroupMembership {
                group_set: r.group_set,
                group: r.group,
                code: r.code,
            })
            .collect();
        let sets: HashSet<&str> = memberships.iter().map(|m| m.group_set.as_str()).collect();
        let groups: HashSet<(&str, &str)> = memberships
            .iter()
            .map(|m| (m.group_set.as_str(), m.group.as_str()))
            .collect();
        let mut set_names: Vec<&str> = sets.iter().copied().collect();
        set_names.sort_unstable();
        let audit = caller.audit(
            "import.groups",
            None,
            &file.name,
            &format!(
                "分组集 {}：{} 个分组，{} 条成员（整体替换）",
                set_names.join("、"),
                groups.len(),
                memberships.len()
            ),
        );
        let previous = self.store.replace_groups(&memberships, &audit).await?;
        Ok(GroupImportSummary {
            group_sets: sets.len(),
            groups: groups.len(),
            memberships: memberships.len(),
            previous: previous as usize,
        })
    }

    /// A unit by the code a person or a URL gave: 400 when it is not a code, 404 when unknown.
    pub async fn unit(&self, code_text: &str) -> Result<UnitView, AppError> {
        let code = parse_code(code_text)?;
        let unit = self
            .store
            .unit(&code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("单位 {code} 不存在")))?;
        let mut views = self.with_paths(vec![unit]).await?;
        views.pop().ok_or(AppError::NotReady)
    }

    pub async fn children(&self, code_text: &str) -> Result<Vec<Unit>, AppError> {
        let code = parse_code(code_text)?;
        if self.store.unit(&code).await?.is_none() {
            return Err(AppError::NotFound(format!("单位 {code} 不存在")));
        }
        Ok(self.store.children(&code).await?)
    }

    pub async fn roots(&self) -> Result<Vec<Unit>, AppError> {
        Ok(self.store.roots().await?)
    }

    pub async fn name_history(&self, code: &DivisionCode) -> Result<Vec<NameChange>, AppError> {
        Ok(self.store.name_history(code).await?)
    }

    pub async fn groups_of(&self, code: &DivisionCode) -> Result<Vec<(String, String)>, AppError> {
        Ok(self.store.groups_of(code).await?)
    }

    pub async fn groups(&self) -> Result<Vec<GroupSummary>, AppError> {
        Ok(self.store.groups().await?)
    }

    /// The member units of a group (each covering its subtree), with their paths.
    pub async fn group_members(
        &self,
        group_set: &str,
        group: &str,
    ) -> Result<Vec<UnitView>, AppError> {
        let members = self.store.group_members(group_set, group).await?;
        if members.is_empty() {
            return Err(AppError::NotFound(format!(
                "分组 {group_set}/{group} 不存在"
            )));
        }
        self.with_paths(members).await
    }

    /// Units whose name contains the text, or whose code starts with it (digits), 50 at a time
    /// from the position a cursor from an earlier page gives.
    pub async fn search(&self, text: &str, cursor: Option<&str>) -> Result<SearchPage, AppError> {
        let offset = match cursor.map(str::trim) {
            None | Some("") => 0,
            Some(c) => c
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= MAX_SEARCH_OFFSET)
                .ok_or_else(|| AppError::BadRequest(format!("翻页位置“{c}”无效")))?,
        };
        // One more than a page tells whether another page follows.
        let wanted = SEARCH_LIMIT as usize + 1;
        let mut units = match parse_query(text)? {
            UnitQuery::NameContains(needle) => {
                let codes = self.name_index().await?.find(&needle, offset, wanted);
                let codes: Vec<DivisionCode> = codes
                    .iter()
                    .filter_map(|c| DivisionCode::parse(c).ok())
                    .collect();
                self.store.units_by_codes(&codes).await?
            }
            query => {
                self.store
                    .search_units(&query, wanted as i64, offset as i64)
                    .await?
            }
        };
        let next = (units.len() == wanted).then(|| {
            units.truncate(SEARCH_LIMIT as usize);
            (offset + SEARCH_LIMIT as usize).to_string()
        });
        Ok(SearchPage {
            items: self.with_paths(units).await?,
            next,
            offset,
        })
    }

    /// Builds the name index ahead of the first search (seconds at national size).
    pub async fn warm_up(&self) -> Result<(), AppError> {
        self.name_index().await.map(|_| ())
    }

    /// The in-memory name index, rebuilt if an import changed the units since it was built.
    async fn name_index(&self) -> Result<Arc<NameIndex>, AppError> {
        let version = self.store.units_version().await?;
        if let Some(index) = self.names.read().await.as_ref()
            && index.version() == version
        {
            return Ok(index.clone());
        }
        let mut slot = self.names.write().await;
        if let Some(index) = slot.as_ref()
            && index.version() == version
        {
            return Ok(index.clone());
        }
        let index = Arc::new(NameIndex::build(
            version,
            self.store.names_in_search_order().await?,
        ));
        *slot = Some(index.clone());
        Ok(index)
    }

    async fn with_paths(&self, units: Vec<Unit>) -> Result<Vec<UnitView>, AppError> {
        let mut wanted: Vec<DivisionCode> = units
            .iter()
            .flat_map(|u| u.ancestors.codes().cloned())
            .collect();
        wanted.sort();
        wanted.dedup();
        let names: HashMap<DivisionCode, String> = self
            .store
            .names(&wanted)
            .await?
            .into_iter()
            .map(|r| (r.code, r.name))
            .collect();
        Ok(units
            .into_iter()
            .map(|unit| {
                let mut path: Vec<UnitRef> = unit
                    .ancestors
                    .codes()
                    .map(|code| UnitRef {
                        code: code.clone(),
                        name: names.get(code).cloned().unwrap_or_default(),
                    })
                    .collect();
                path.push(UnitRef {
                    code: unit.code.clone(),
                    name: unit.name.clone(),
                });
                UnitView { unit, path }
            })
            .collect())
    }
}

fn parse_code(text: &str) -> Result<DivisionCode, AppError> {
    DivisionCode::parse(text).map_err(|e| AppError::BadRequest(format!("单位代码无效：{e}")))
}

fn parse_query(text: &str) -> Result<UnitQuery, AppError> {
    let normalised: String = text.nfkc().collect();
    let trimmed = normalised.trim();
    if trimmed.is_empty() {
        return Err(AppError::BadRequest("请输入要查找的名称或代码".into()));
    }
    if trimmed.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::BadRequest(format!(
            "查找内容过长（最多 {MAX_QUERY_CHARS} 个字符）"
        )));
    }
    if trimmed.chars().any(shequ_domain::text::is_hidden) {
        return Err(AppError::BadRequest(
            "查找内容含有控制字符或不可见字符".into(),
        ));
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        if trimmed.len() > 12 {
            return Err(AppError::BadRequest("代码最多 12 位".into()));
        }
        return Ok(UnitQuery::CodePrefix(trimmed.to_string()));
    }
    Ok(UnitQuery::NameContains(trimmed.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_codes_or_names() {
        assert_eq!(
            parse_query(" ２３01 ").unwrap(),
            UnitQuery::CodePrefix("2301".into())
        );
        assert_eq!(
            parse_query("道里").unwrap(),
            UnitQuery::NameContains("道里".into())
        );
        assert!(parse_query("  ").is_err());
        assert!(parse_query(&"长".repeat(51)).is_err());
        assert!(parse_query("1234567890123").is_err());
    }
}
