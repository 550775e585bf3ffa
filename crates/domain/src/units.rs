//! Units of the organisation tree as the rest of the system sees them.

use crate::codes::{DivisionCode, Level, UnitKind};
use crate::tree::Ancestors;

/// Counts of the open units below a unit (all descendants, not only children).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitCounts {
    pub prefecture: i64,
    pub county: i64,
    pub township: i64,
    pub committee: i64,
    /// committee-level units that are communities (residents' committees and units like them)
    pub community: i64,
}

impl UnitCounts {
    /// Committee-level units that are not communities (villages and units like them).
    pub fn village(&self) -> i64 {
        self.committee - self.community
    }
}

/// A code with its name, as shown in breadcrumbs and search results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRef {
    pub code: DivisionCode,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub code: DivisionCode,
    pub name: String,
    pub level: Level,
    pub kind: UnitKind,
    pub parent: Option<DivisionCode>,
    /// Codes of the units above, one per level the tree does not skip.
    pub ancestors: Ancestors,
    pub opened_on: Option<jiff::civil::Date>,
    pub closed_on: Option<jiff::civil::Date>,
    pub counts: UnitCounts,
}

impl Unit {
    pub fn is_open(&self) -> bool {
        self.closed_on.is_none()
    }
}
