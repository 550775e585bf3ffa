//! The review chain of a community's year: the community submits its self-assessment (its
//! records lock), then each level above that exists approves in turn up to the province, whose
//! approval is final. A level may act only at its own step: approve, or return with a reason
//! (which gives the step back to the level below), or withdraw its own approval while the level
//! above has not acted. After the final approval only the province may reopen, with a reason.

use std::fmt;

use crate::codes::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewState {
    /// The community is keeping its records; nothing submitted.
    Draft,
    /// Returned to the community by the first level above it; editable again.
    Returned,
    /// Submitted by the community, awaiting the first level above it.
    Submitted,
    /// Approved by this level (township, county or prefecture), awaiting the next.
    Approved(Level),
    /// Approved by the province.
    Final,
}

impl ReviewState {
    pub const ALL: [ReviewState; 7] = [
        ReviewState::Draft,
        ReviewState::Returned,
        ReviewState::Submitted,
        ReviewState::Approved(Level::Township),
        ReviewState::Approved(Level::County),
        ReviewState::Approved(Level::Prefecture),
        ReviewState::Final,
    ];

    /// The name in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Draft => "draft",
            ReviewState::Returned => "returned",
            ReviewState::Submitted => "submitted",
            ReviewState::Approved(Level::Township) => "approved_township",
            ReviewState::Approved(Level::County) => "approved_county",
            ReviewState::Approved(Level::Prefecture) => "approved_prefecture",
            ReviewState::Approved(Level::Province) | ReviewState::Final => "final",
            ReviewState::Approved(Level::Committee) => "submitted",
        }
    }

    pub fn parse(text: &str) -> Option<ReviewState> {
        ReviewState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ReviewState::Draft => "未提交",
            ReviewState::Returned => "已退回社区",
            ReviewState::Submitted => "社区已提交",
            ReviewState::Approved(Level::Township) => "街道（乡镇）已审核",
            ReviewState::Approved(Level::County) => "区县已审核",
            ReviewState::Approved(Level::Prefecture) => "市（行署）已审核",
            ReviewState::Approved(_) => "已审核",
            ReviewState::Final => "省级终审通过",
        }
    }

    /// The community's records of the year are locked from submission until returned to it.
    pub fn locks_records(self) -> bool {
        !matches!(self, ReviewState::Draft | ReviewState::Returned)
    }
}

impl fmt::Display for ReviewState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewAction {
    Submit,
    Approve,
    Return,
    Withdraw,
    Reopen,
}

impl ReviewAction {
    pub const ALL: [ReviewAction; 5] = [
        ReviewAction::Submit,
        ReviewAction::Approve,
        ReviewAction::Return,
        ReviewAction::Withdraw,
        ReviewAction::Reopen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewAction::Submit => "submit",
            ReviewAction::Approve => "approve",
            ReviewAction::Return => "return",
            ReviewAction::Withdraw => "withdraw",
            ReviewAction::Reopen => "reopen",
        }
    }

    pub fn parse(text: &str) -> Option<ReviewAction> {
        ReviewAction::ALL.into_iter().find(|a| a.as_str() == text)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ReviewAction::Submit => "提交自评",
            ReviewAction::Approve => "审核通过",
            ReviewAction::Return => "退回",
            ReviewAction::Withdraw => "撤回",
            ReviewAction::Reopen => "重新开启",
        }
    }

    /// Returning and reopening must say why.
    pub fn needs_reason(self) -> bool {
        matches!(self, ReviewAction::Return | ReviewAction::Reopen)
    }
}

/// The levels that review a community, nearest first, ending with the province: the levels of
/// the units above it that exist in the tree (a level the tree skips is skipped here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewChain {
    levels: Vec<Level>,
}

impl ReviewChain {
    /// From the levels of the community's ancestors (any order). None without a province.
    pub fn new(ancestor_levels: impl IntoIterator<Item = Level>) -> Option<ReviewChain> {
        let mut levels: Vec<Level> = ancestor_levels
            .into_iter()
            .filter(|l| *l != Level::Committee)
            .collect();
        levels.sort();
        levels.dedup();
        levels.reverse();
        (levels.last() == Some(&Level::Province)).then_some(ReviewChain { levels })
    }

    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// Whose step it is (the community's while it has not submitted); None once final.
    pub fn awaiting(&self, state: ReviewState) -> Option<Level> {
        match state {
            ReviewState::Draft | ReviewState::Returned => Some(Level::Committee),
            ReviewState::Submitted => self.levels.first().copied(),
            ReviewState::Approved(level) => self.after(level),
            ReviewState::Final => None,
        }
    }

    fn after(&self, level: Level) -> Option<Level> {
        let i = self.levels.iter().position(|l| *l == level)?;
        self.levels.get(i + 1).copied()
    }

    /// Who took the step that led to this state.
    fn last_actor(&self, state: ReviewState) -> Option<Level> {
        match state {
            ReviewState::Draft | ReviewState::Returned => None,
            ReviewState::Submitted => Some(Level::Committee),
            ReviewState::Approved(level) => Some(level),
            ReviewState::Final => Some(Level::Province),
        }
    }

    /// The state before the last step was taken.
    fn before(&self, state: ReviewState) -> ReviewState {
        let Some(last) = self.last_actor(state) else {
            return state;
        };
        if last == Level::Committee {
            return ReviewState::Draft;
        }
        let i = self.levels.iter().position(|l| *l == last).unwrap_or(0);
        match i.checked_sub(1).map(|j| self.levels[j]) {
            None => ReviewState::Submitted,
            Some(below) => ReviewState::Approved(below),
        }
    }

    fn approved_by(&self, level: Level) -> ReviewState {
        if level == Level::Province {
            ReviewState::Final
        } else {
            ReviewState::Approved(level)
        }
    }

    /// The state an action by a level leads to, or why it may not be taken.
    pub fn apply(
        &self,
        state: ReviewState,
        action: ReviewAction,
        actor: Level,
    ) -> Result<ReviewState, ReviewError> {
        let awaiting = self.awaiting(state);
        match action {
            ReviewAction::Submit => {
                if actor != Level::Committee {
                    return Err(ReviewError::NotYourStep {
                        actor,
                        awaiting,
                        action,
                    });
                }
                if !matches!(state, ReviewState::Draft | ReviewState::Returned) {
                    return Err(ReviewError::AlreadySubmitted);
                }
                Ok(ReviewState::Submitted)
            }
            ReviewAction::Approve | ReviewAction::Return => {
                if state == ReviewState::Final {
                    return Err(ReviewError::Final);
                }
                if matches!(state, ReviewState::Draft | ReviewState::Returned) {
                    return Err(ReviewError::NotSubmitted);
                }
                if awaiting != Some(actor) {
                    return Err(ReviewError::NotYourStep {
                        actor,
                        awaiting,
                        action,
                    });
                }
                Ok(if action == ReviewAction::Approve {
                    self.approved_by(actor)
                } else if state == ReviewState::Submitted {
                    ReviewState::Returned
                } else {
                    self.before(state)
                })
            }
            ReviewAction::Withdraw => {
                if state == ReviewState::Final {
                    return Err(ReviewError::Final);
                }
                let Some(last) = self.last_actor(state) else {
                    return Err(ReviewError::NotSubmitted);
                };
                if last != actor {
                    // Levels order from the province down: a smaller level sits higher.
                    return Err(if actor < last {
                        ReviewError::NotYourStep {
                            actor,
                            awaiting,
                            action,
                        }
                    } else {
                        ReviewError::ApprovedAbove
                    });
                }
                Ok(self.before(state))
            }
            ReviewAction::Reopen => {
                if state != ReviewState::Final {
                    return Err(ReviewError::NotFinal);
                }
                if actor != Level::Province {
                    return Err(ReviewError::OnlyProvinceReopens);
                }
                Ok(self.before(state))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("{}", not_your_step(*.actor, *.awaiting, *.action))]
    NotYourStep {
        actor: Level,
        awaiting: Option<Level>,
        action: ReviewAction,
    },
    #[error("社区已经提交自评，不能重复提交")]
    AlreadySubmitted,
    #[error("社区尚未提交自评")]
    NotSubmitted,
    #[error("上级已经审核通过，下级不能再撤回、退回或修改")]
    ApprovedAbove,
    #[error("省级已终审通过；只有省级可以说明理由后重新开启")]
    Final,
    #[error("尚未终审通过，无需重新开启")]
    NotFinal,
    #[error("只有省级可以重新开启已终审的考评")]
    OnlyProvinceReopens,
    #[error("{0}须填写理由")]
    ReasonRequired(&'static str),
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Committee => "社区",
        Level::Township => "街道（乡镇）",
        Level::County => "区县",
        Level::Prefecture => "市（行署）",
        Level::Province => "省级",
    }
}

fn not_your_step(actor: Level, awaiting: Option<Level>, action: ReviewAction) -> String {
    match awaiting {
        Some(level) if level == actor => format!("{}不能{}", level_name(actor), action.label_zh()),
        Some(level) => format!(
            "现在是{}的审核环节，{}不能{}",
            level_name(level),
            level_name(actor),
            action.label_zh()
        ),
        None => "考评已终审通过".into(),
    }
}

pub fn level_label(level: Level) -> &'static str {
    level_name(level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Level::*;
    use ReviewAction::*;
    use ReviewState::*;

    fn full() -> ReviewChain {
        ReviewChain::new([Province, Prefecture, County, Township]).unwrap()
    }

    #[test]
    fn a_full_chain_runs_from_draft_to_final() {
        let chain = full();
        let mut state = Draft;
        for (action, actor, expected) in [
            (Submit, Committee, Submitted),
            (Approve, Township, Approved(Township)),
            (Approve, County, Approved(County)),
            (Approve, Prefecture, Approved(Prefecture)),
            (Approve, Province, Final),
        ] {
            state = chain.apply(state, action, actor).unwrap();
            assert_eq!(state, expected);
        }
        assert_eq!(chain.awaiting(state), None);
        assert!(state.locks_records());
    }

    #[test]
    fn returns_give_the_step_back_one_level() {
        let chain = full();
        assert_eq!(chain.apply(Submitted, Return, Township), Ok(Returned));
        assert!(!Returned.locks_records());
        assert_eq!(chain.apply(Returned, Submit, Committee), Ok(Submitted));
        assert_eq!(
            chain.apply(Approved(Township), Return, County),
            Ok(Submitted)
        );
        assert_eq!(
            chain.apply(Approved(County), Return, Prefecture),
            Ok(Approved(Township))
        );
        assert_eq!(
            chain.apply(Approved(Prefecture), Return, Province),
            Ok(Approved(County))
        );
    }

    #[test]
    fn withdrawals_only_while_the_level_above_has_not_acted() {
        let chain = full();
        assert_eq!(chain.apply(Submitted, Withdraw, Committee), Ok(Draft));
        assert_eq!(
            chain.apply(Approved(Township), Withdraw, Township),
            Ok(Submitted)
        );
        assert_eq!(
            chain.apply(Approved(County), Withdraw, County),
            Ok(Approved(Township))
        );
        // The township approved and the county too: the community and the township cannot
        // withdraw or return any more.
        assert_eq!(
            chain.apply(Approved(County), Withdraw, Committee),
            Err(ReviewError::ApprovedAbove)
        );
        assert_eq!(
            chain.apply(Approved(County), Withdraw, Township),
            Err(ReviewError::ApprovedAbove)
        );
        assert!(matches!(
            chain.apply(Approved(County), Return, Township),
            Err(ReviewError::NotYourStep { .. })
        ));
        assert_eq!(
            chain.apply(Approved(Township), Withdraw, Committee),
            Err(ReviewError::ApprovedAbove)
        );
        assert_eq!(
            chain.apply(Draft, Withdraw, Committee),
            Err(ReviewError::NotSubmitted)
        );
    }

    #[test]
    fn no_level_acts_at_another_levels_step() {
        let chain = full();
        // The county cannot approve before the township, nor the province skip ahead.
        for actor in [Committee, County, Prefecture, Province] {
            assert!(matches!(
                chain.apply(Submitted, Approve, actor),
                Err(ReviewError::NotYourStep { .. })
            ));
        }
        assert!(matches!(
            chain.apply(Approved(Township), Approve, Township),
            Err(ReviewError::NotYourStep { .. })
        ));
        assert!(matches!(
            chain.apply(Draft, Submit, Township),
            Err(ReviewError::NotYourStep { .. })
        ));
        assert_eq!(
            chain.apply(Draft, Approve, Township),
            Err(ReviewError::NotSubmitted)
        );
        assert_eq!(
            chain.apply(Submitted, Submit, Committee),
            Err(ReviewError::AlreadySubmitted)
        );
    }

    #[test]
    fn after_final_only_the_province_reopens() {
        let chain = full();
        for actor in [Committee, Township, County, Prefecture] {
            for action in [Approve, Return, Withdraw] {
                assert!(chain.apply(Final, action, actor).is_err());
            }
            assert_eq!(
                chain.apply(Final, Reopen, actor),
                Err(ReviewError::OnlyProvinceReopens)
            );
        }
        assert_eq!(
            chain.apply(Final, Withdraw, Province),
            Err(ReviewError::Final)
        );
        assert_eq!(
            chain.apply(Final, Return, Province),
            Err(ReviewError::Final)
        );
        assert_eq!(
            chain.apply(Final, Reopen, Province),
            Ok(Approved(Prefecture))
        );
        assert_eq!(
            chain.apply(Approved(Prefecture), Reopen, Province),
            Err(ReviewError::NotFinal)
        );
    }

    #[test]
    fn levels_the_tree_skips_are_skipped() {
        // A community whose town is not in the tree, under a county directly.
        let chain = ReviewChain::new([Province, Prefecture, County]).unwrap();
        assert_eq!(chain.awaiting(Submitted), Some(County));
        assert!(matches!(
            chain.apply(Submitted, Approve, Township),
            Err(ReviewError::NotYourStep { .. })
        ));
        assert_eq!(
            chain.apply(Submitted, Approve, County),
            Ok(Approved(County))
        );
        assert_eq!(
            chain.apply(Approved(County), Return, Prefecture),
            Ok(Submitted)
        );
        let short = ReviewChain::new([Province]).unwrap();
        assert_eq!(short.apply(Submitted, Approve, Province), Ok(Final));
        assert_eq!(short.apply(Final, Reopen, Province), Ok(Submitted));
        assert_eq!(short.apply(Submitted, Return, Province), Ok(Returned));
        assert!(ReviewChain::new([County]).is_none());
    }

    #[test]
    fn states_read_back_from_their_names() {
        for s in ReviewState::ALL {
            assert_eq!(ReviewState::parse(s.as_str()), Some(s));
        }
        for a in ReviewAction::ALL {
            assert_eq!(ReviewAction::parse(a.as_str()), Some(a));
        }
    }
}
