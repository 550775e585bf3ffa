//! Planning a division import: which units are new, renamed, moved, reopened or closed, and
//! where each hangs in the tree. Pure, so the rules are tested without a database and the store
//! only applies a finished plan in one transaction.

use std::collections::{HashMap, HashSet};
use std::fmt;

use jiff::civil::Date;

use crate::codes::{DivisionCode, Level, UnitKind};

/// Where a row of an import file came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} 第 {} 行", self.file, self.line)
    }
}

/// How an incoming row names its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParentSpec {
    /// National codes: the parent is named by the code's own digits.
    ByDigits,
    /// A unit a province adds outside the national codes names its parent explicitly.
    Explicit(Option<DivisionCode>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingUnit {
    pub code: DivisionCode,
    pub name: String,
    pub parent: ParentSpec,
    pub origin: Origin,
}

/// Whether units came from the national codes or were added by a province.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitSource {
    National,
    Provincial,
}

impl UnitSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitSource::National => "national",
            UnitSource::Provincial => "provincial",
        }
    }
    pub fn parse(s: &str) -> Option<UnitSource> {
        match s {
            "national" => Some(UnitSource::National),
            "provincial" => Some(UnitSource::Provincial),
            _ => None,
        }
    }
}

/// The codes of a unit's ancestors at each level above it (None where the tree skips a level).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ancestors {
    pub province: Option<DivisionCode>,
    pub prefecture: Option<DivisionCode>,
    pub county: Option<DivisionCode>,
    pub township: Option<DivisionCode>,
}

impl Ancestors {
    fn set(&mut self, level: Level, code: DivisionCode) {
        match level {
            Level::Province => self.province = Some(code),
            Level::Prefecture => self.prefecture = Some(code),
            Level::County => self.county = Some(code),
            Level::Township => self.township = Some(code),
            Level::Committee => {}
        }
    }

    /// Root first.
    pub fn codes(&self) -> impl Iterator<Item = &DivisionCode> {
        [
            &self.province,
            &self.prefecture,
            &self.county,
            &self.township,
        ]
        .into_iter()
        .flatten()
    }
}

/// A unit as the store holds it, as much as planning needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUnit {
    pub code: DivisionCode,
    pub name: String,
    pub parent: Option<DivisionCode>,
    pub ancestors: Ancestors,
    pub source: UnitSource,
    pub closed_on: Option<Date>,
}

/// A unit to write, complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUnit {
    pub code: DivisionCode,
    pub name: String,
    pub level: Level,
    pub kind: UnitKind,
    pub parent: Option<DivisionCode>,
    pub ancestors: Ancestors,
    pub source: UnitSource,
    pub opened_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub code: DivisionCode,
    pub old_name: String,
    pub new_name: String,
}

/// A unit whose parent (and so ancestors) changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub code: DivisionCode,
    pub parent: Option<DivisionCode>,
    pub ancestors: Ancestors,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// Sorted so that parents come before children.
    pub inserts: Vec<PlannedUnit>,
    pub renames: Vec<Rename>,
    pub moves: Vec<Move>,
    pub reopens: Vec<DivisionCode>,
    pub closes: Vec<DivisionCode>,
    pub unchanged: usize,
    pub as_of: Option<Date>,
    /// Open units of the provinces a full import covers, before it (to judge how many it closes).
    pub open_in_scope: usize,
    /// The store's units version the plan was made against; the store refuses the plan if an
    /// import changed the units since.
    pub based_on_version: i64,
}

impl ImportPlan {
    pub fn is_empty(&self) -> bool {
        self.inserts.is_empty()
            && self.renames.is_empty()
            && self.moves.is_empty()
            && self.reopens.is_empty()
            && self.closes.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub origin: Origin,
    pub problem: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}：{}", self.origin, self.problem)
    }
}

/// What kind of import this is, which decides what a missing unit means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportScope {
    /// The national five-file layout: complete for every province it lists, so open national
    /// units of those provinces that are missing from it are closed.
    FullProvinces,
    /// A province's own additions: only adds, renames and moves what it lists.
    Additions,
}

/// Plans an import against what the store holds. Every problem found is reported, each with its
/// file and line; a plan is returned only when there are none.
pub fn plan_import(
    existing: &[StoredUnit],
    incoming: &[IncomingUnit],
    scope: ImportScope,
    as_of: Date,
) -> Result<ImportPlan, Vec<RowProblem>> {
    let mut problems = Vec::new();
    let stored: HashMap<&DivisionCode, &StoredUnit> =
        existing.iter().map(|u| (&u.code, u)).collect();

    let mut seen: HashMap<&DivisionCode, &Origin> = HashMap::new();
    for row in incoming {
        if let Some(first) = seen.insert(&row.code, &row.origin) {
            problems.push(RowProblem {
                origin: row.origin.clone(),
                problem: format!("代码 {} 重复（首次出现在{}）", row.code, first),
            });
        }
    }

    // The provinces a full import is complete for.
    let provinces_in_scope: HashSet<&str> = match scope {
        ImportScope::FullProvinces => incoming
            .iter()
            .filter(|u| u.code.level() == Level::Province)
            .map(|u| u.code.as_str())
            .collect(),
        ImportScope::Additions => HashSet::new(),
    };
    let in_scope = |code: &DivisionCode| provinces_in_scope.contains(&code.as_str()[..2]);

    // Every open code that will exist after the import, to resolve parents against. A full
    // import must be complete for its provinces: a parent it leaves out will be closed, so
    // only the files themselves count there.
    let known: HashSet<&DivisionCode> = existing
        .iter()
        .filter(|u| u.closed_on.is_none() && !in_scope(&u.code))
        .map(|u| &u.code)
        .chain(seen.keys().copied())
        .collect();

    if scope == ImportScope::Additions {
        for row in incoming {
            if let Some(unit) = stored.get(&row.code)
                && unit.source == UnitSource::National
            {
                problems.push(RowProblem {
                    origin: row.origin.clone(),
                    problem: format!(
                        "代码 {} 是国家统计用区划代码中的单位（{}），只能由五文件格式的区划导入修改",
                        row.code, unit.name
                    ),
                });
            }
        }
    }

    let mut parents: HashMap<&DivisionCode, Option<DivisionCode>> = HashMap::new();
    for row in incoming {
        match resolve_parent(row, &known) {
            Ok(parent) => {
                parents.insert(&row.code, parent);
            }
            Err(problem) => problems.push(RowProblem {
                origin: row.origin.clone(),
                problem,
            }),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    // Final parent of every unit: incoming rows win over what is stored.
    let mut final_parent: HashMap<&DivisionCode, Option<&DivisionCode>> = stored
        .iter()
        .map(|(code, unit)| (*code, unit.parent.as_ref()))
        .collect();
    for (code, parent) in &parents {
        final_parent.insert(code, parent.as_ref());
    }

    let mut cycle_problems = Vec::new();
    let mut ancestors_of = |code: &DivisionCode, origin: Option<&Origin>| -> Option<Ancestors> {
        let mut ancestors = Ancestors::default();
        let mut current = final_parent.get(code).copied().flatten();
        let mut steps = 0;
        while let Some(parent) = current {
            steps += 1;
            if steps > 5 {
                if let Some(origin) = origin {
                    cycle_problems.push(RowProblem {
                        origin: origin.clone(),
                        problem: format!("代码 {code} 的上级关系构成循环"),
                    });
                }
                return None;
            }
            ancestors.set(parent.level(), parent.clone());
            current = final_parent.get(parent).copied().flatten();
        }
        Some(ancestors)
    };

    let mut plan = ImportPlan {
        as_of: Some(as_of),
        ..ImportPlan::default()
    };
    let source = match scope {
        ImportScope::FullProvinces => UnitSource::National,
        ImportScope::Additions => UnitSource::Provincial,
    };
    // A province seen for the first time is the baseline: its units existed before any record
    // was kept, so they get no opening date.
    let provinces_with_units: HashSet<&str> = existing
        .iter()
        .map(|u| province_prefix(&u.code, &u.ancestors))
        .collect();

    for row in incoming {
        let Some(ancestors) = ancestors_of(&row.code, Some(&row.origin)) else {
            continue;
        };
        let parent = parents.get(&row.code).cloned().flatten();
        match stored.get(&row.code) {
            None => {
                let baseline =
                    !provinces_with_units.contains(province_prefix(&row.code, &ancestors));
                plan.inserts.push(PlannedUnit {
                    code: row.code.clone(),
                    name: row.name.clone(),
                    level: row.code.level(),
                    kind: row.code.kind(),
                    parent,
                    ancestors,
                    source,
                    opened_on: (!baseline).then_some(as_of),
                });
            }
            Some(unit) => {
                let mut changed = false;
                if unit.name != row.name {
                    plan.renames.push(Rename {
                        code: row.code.clone(),
                        old_name: unit.name.clone(),
                        new_name: row.name.clone(),
                    });
                    changed = true;
                }
                if unit.parent != parent || unit.ancestors != ancestors {
                    plan.moves.push(Move {
                        code: row.code.clone(),
                        parent,
                        ancestors,
                    });
                    changed = true;
                }
                if unit.closed_on.is_some() {
                    plan.reopens.push(row.code.clone());
                    changed = true;
                }
                if !changed {
                    plan.unchanged += 1;
                }
            }
        }
    }

    // Stored units below a moved unit move with it.
    if !plan.moves.is_empty() {
        let incoming_codes: HashSet<&DivisionCode> = seen.keys().copied().collect();
        for unit in existing {
            if incoming_codes.contains(&unit.code) {
                continue;
            }
            if let Some(ancestors) = ancestors_of(&unit.code, None)
                && ancestors != unit.ancestors
            {
                plan.moves.push(Move {
                    code: unit.code.clone(),
                    parent: unit.parent.clone(),
                    ancestors,
                });
            }
        }
    }

    if scope == ImportScope::FullProvinces {
        let mut closing: HashSet<&DivisionCode> = HashSet::new();
        for unit in existing {
            if in_scope(&unit.code) && unit.closed_on.is_none() {
                plan.open_in_scope += 1;
                if unit.source == UnitSource::National && !seen.contains_key(&unit.code) {
                    closing.insert(&unit.code);
                }
            }
        }
        // A province's own units below a closed unit close with it: nothing stays open under a
        // closed parent.
        for unit in existing {
            let below_closing = unit.ancestors.codes().any(|a| closing.contains(a))
                || unit.parent.as_ref().is_some_and(|p| closing.contains(p));
            if unit.closed_on.is_none() && !seen.contains_key(&unit.code) && below_closing {
                closing.insert(&unit.code);
            }
        }
        plan.closes = closing.into_iter().cloned().collect();
    }

    if !cycle_problems.is_empty() {
        return Err(cycle_problems);
    }
    plan.inserts.sort_by_key(|u| u.level);
    plan.closes.sort();
    Ok(plan)
}

fn province_prefix<'a>(code: &'a DivisionCode, ancestors: &'a Ancestors) -> &'a str {
    match &ancestors.province {
        Some(p) => p.as_str(),
        None => code.as_str(),
    }
}

fn resolve_parent(
    row: &IncomingUnit,
    known: &HashSet<&DivisionCode>,
) -> Result<Option<DivisionCode>, String> {
    let level = row.code.level();
    match &row.parent {
        ParentSpec::ByDigits => {
            let Some(parent) = row.code.parent_by_digits() else {
                return Ok(None);
            };
            if known.contains(&parent) {
                return Ok(Some(parent));
            }
            // A town directly under a prefecture (no county code) hangs under the prefecture.
            if level == Level::Township
                && let Some(prefecture) = row.code.ancestor_at(Level::Prefecture)
                && known.contains(&prefecture)
            {
                return Ok(Some(prefecture));
            }
            Err(format!("上级单位 {parent} 不存在或已撤销"))
        }
        ParentSpec::Explicit(None) => {
            if level == Level::Province {
                Ok(None)
            } else {
                Err(format!("{}单位必须填写上级代码", level.label_zh()))
            }
        }
        // A province's own units follow the national rule too: the written parent is a check on
        // the parent the code's digits give.
        ParentSpec::Explicit(Some(parent)) => {
            if parent.level() >= level {
                return Err(format!(
                    "上级单位 {parent} 是{}单位，不高于本单位（{}）",
                    parent.level().label_zh(),
                    level.label_zh()
                ));
            }
            let by_digits = IncomingUnit {
                parent: ParentSpec::ByDigits,
                ..row.clone()
            };
            let expected = resolve_parent(&by_digits, known)?;
            if expected.as_ref() != Some(parent) {
                return Err(format!(
                    "上级代码 {parent} 与代码 {} 的前几位不一致（按代码应为 {}）",
                    row.code,
                    expected.map_or_else(|| "无".to_string(), |e| e.to_string())
                ));
            }
            Ok(Some(parent.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    fn row(c: &str, name: &str, line: u64) -> IncomingUnit {
        IncomingUnit {
            code: code(c),
            name: name.into(),
            parent: ParentSpec::ByDigits,
            origin: Origin {
                file: "test.csv".into(),
                line,
            },
        }
    }

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn small_province() -> Vec<IncomingUnit> {
        vec![
            row("23", "黑龙江省", 2),
            row("2301", "哈尔滨市", 3),
            row("230102", "道里区", 4),
            row("230102001", "兆麟街道", 5),
            row("230102001001", "省报社社区居委会", 6),
            row("230102001201", "某村委会", 7),
        ]
    }

    /// What the store holds after a first import of the small province.
    fn baseline() -> Vec<StoredUnit> {
        let first = plan_import(
            &[],
            &small_province(),
            ImportScope::FullProvinces,
            date("2010-01-01"),
        )
        .unwrap();
        stored_from(&first)
    }

    /// A row of a province's own one-file layout.
    fn provincial(c: &str, name: &str, parent: &str, line: u64) -> IncomingUnit {
        IncomingUnit {
            code: code(c),
            name: name.into(),
            parent: ParentSpec::Explicit(Some(code(parent))),
            origin: Origin {
                file: "extra.csv".into(),
                line,
            },
        }
    }

    fn stored_from(plan: &ImportPlan) -> Vec<StoredUnit> {
        plan.inserts
            .iter()
            .map(|u| StoredUnit {
                code: u.code.clone(),
                name: u.name.clone(),
                parent: u.parent.clone(),
                ancestors: u.ancestors.clone(),
                source: u.source,
                closed_on: None,
            })
            .collect()
    }

    #[test]
    fn a_first_import_inserts_every_unit_as_a_baseline() {
        let plan = plan_import(
            &[],
            &small_province(),
            ImportScope::FullProvinces,
            date("2010-01-01"),
        )
        .unwrap();
        assert_eq!(plan.inserts.len(), 6);
        assert!(plan.inserts.iter().all(|u| u.opened_on.is_none()));
        let village = plan
            .inserts
            .iter()
            .find(|u| u.code.as_str() == "230102001201")
            .unwrap();
        assert_eq!(village.parent, Some(code("230102001")));
        assert_eq!(village.ancestors.county, Some(code("230102")));
        assert_eq!(village.kind, UnitKind::VillagersCommittee);
        // parents first
        let levels: Vec<Level> = plan.inserts.iter().map(|u| u.level).collect();
        let mut sorted = levels.clone();
        sorted.sort();
        assert_eq!(levels, sorted);
    }

    #[test]
    fn the_same_import_again_changes_nothing() {
        let first = plan_import(
            &[],
            &small_province(),
            ImportScope::FullProvinces,
            date("2010-01-01"),
        )
        .unwrap();
        let again = plan_import(
            &stored_from(&first),
            &small_province(),
            ImportScope::FullProvinces,
            date("2011-01-01"),
        )
        .unwrap();
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(again.unchanged, 6);
    }

    #[test]
    fn renamed_new_and_missing_units() {
        let first = plan_import(
            &[],
            &small_province(),
            ImportScope::FullProvinces,
            date("2010-01-01"),
        )
        .unwrap();
        let mut next = small_province();
        next[4].name = "省报社社区".into();
        next.remove(5);
        next.push(row("230102001002", "新社区", 8));
        let plan = plan_import(
            &stored_from(&first),
            &next,
            ImportScope::FullProvinces,
            date("2011-03-01"),
        )
        .unwrap();
        assert_eq!(
            plan.renames,
            vec![Rename {
                code: code("230102001001"),
                old_name: "省报社社区居委会".into(),
                new_name: "省报社社区".into()
            }]
        );
        assert_eq!(plan.closes, vec![code("230102001201")]);
        assert_eq!(plan.inserts.len(), 1);
        assert_eq!(plan.inserts[0].opened_on, Some(date("2011-03-01")));
    }

    #[test]
    fn a_town_without_a_county_hangs_under_its_prefecture() {
        let rows = vec![
            row("44", "广东省", 2),
            row("4419", "东莞市", 3),
            row("441900003", "东城街道", 4),
        ];
        let plan = plan_import(&[], &rows, ImportScope::FullProvinces, date("2010-01-01")).unwrap();
        let town = plan
            .inserts
            .iter()
            .find(|u| u.level == Level::Township)
            .unwrap();
        assert_eq!(town.parent, Some(code("4419")));
        assert_eq!(town.ancestors.county, None);
        assert_eq!(town.ancestors.prefecture, Some(code("4419")));
    }

    #[test]
    fn duplicates_and_unknown_parents_are_all_reported_with_their_lines() {
        let mut rows = small_province();
        rows.push(row("230102001001", "重复", 9));
        rows.push(row("230199001001", "无上级", 10));
        let problems =
            plan_import(&[], &rows, ImportScope::FullProvinces, date("2010-01-01")).unwrap_err();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].origin.line, 9);
        assert!(problems[0].problem.contains("重复"));
        assert_eq!(problems[1].origin.line, 10);
        assert!(problems[1].problem.contains("230199001 不存在"));
    }

    #[test]
    fn a_full_import_that_leaves_out_a_parent_cannot_keep_its_children() {
        let first = plan_import(
            &[],
            &small_province(),
            ImportScope::FullProvinces,
            date("2010-01-01"),
        )
        .unwrap();
        let mut next = small_province();
        next.retain(|u| u.code.as_str() != "230102001");
        let problems = plan_import(
            &stored_from(&first),
            &next,
            ImportScope::FullProvinces,
            date("2011-01-01"),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 2);
        assert!(
            problems
                .iter()
                .all(|p| p.problem.contains("230102001 不存在"))
        );
    }

    #[test]
    fn provincial_units_close_with_their_closed_parent() {
        let mut stored = baseline();
        let added = provincial("230102001901", "自设", "230102001", 2);
        let plan = plan_import(
            &stored,
            &[added],
            ImportScope::Additions,
            date("2010-05-01"),
        )
        .unwrap();
        stored.extend(stored_from(&plan));
        let mut next = small_province();
        next.retain(|u| !u.code.as_str().starts_with("230102001"));
        let plan = plan_import(
            &stored,
            &next,
            ImportScope::FullProvinces,
            date("2011-01-01"),
        )
        .unwrap();
        let mut closes: Vec<&str> = plan.closes.iter().map(|c| c.as_str()).collect();
        closes.sort();
        assert_eq!(
            closes,
            ["230102001", "230102001001", "230102001201", "230102001901"]
        );
        assert_eq!(plan.open_in_scope, 7);
    }

    #[test]
    fn provincial_additions_name_their_parent_and_are_not_closed_by_a_national_import() {
        let mut stored = baseline();
        let added = provincial("230102001901", "生活区", "230102001", 2);
        let plan = plan_import(
            &stored,
            &[added],
            ImportScope::Additions,
            date("2010-05-01"),
        )
        .unwrap();
        assert_eq!(plan.inserts[0].source, UnitSource::Provincial);
        assert_eq!(plan.inserts[0].opened_on, Some(date("2010-05-01")));
        assert!(plan.closes.is_empty());
        stored.extend(stored_from(&plan));
        let again = plan_import(
            &stored,
            &small_province(),
            ImportScope::FullProvinces,
            date("2011-01-01"),
        )
        .unwrap();
        assert!(again.closes.is_empty());
    }

    #[test]
    fn provincial_rows_must_agree_with_their_codes_and_not_touch_national_units() {
        let stored = baseline();
        let elsewhere = provincial("230102001901", "x", "23", 2);
        let national = provincial("230102001001", "改名", "230102001", 3);
        let problems = plan_import(
            &stored,
            &[elsewhere, national],
            ImportScope::Additions,
            date("2010-05-01"),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 2);
        assert!(
            problems
                .iter()
                .any(|p| p.origin.line == 3 && p.problem.contains("国家统计用区划代码"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.origin.line == 2 && p.problem.contains("不一致"))
        );
    }

    #[test]
    fn an_explicit_parent_must_be_higher_and_exist() {
        let bad = provincial("230102001901", "x", "230102001902", 2);
        let problems =
            plan_import(&[], &[bad], ImportScope::Additions, date("2010-05-01")).unwrap_err();
        assert!(problems[0].problem.contains("不高于"));
    }

    #[test]
    fn a_closed_unit_that_reappears_is_reopened() {
        let mut stored = baseline();
        stored[5].closed_on = Some(date("2010-06-01"));
        let plan = plan_import(
            &stored,
            &small_province(),
            ImportScope::FullProvinces,
            date("2011-01-01"),
        )
        .unwrap();
        assert_eq!(plan.reopens, vec![code("230102001201")]);
    }
}
