//! Pure rules of the programme: division codes and the organisation tree, the standard
//! (catalogue and indicators) and the numerals the notice writes counts in.
//!
//! Nothing here does I/O; the store, interchange, app, web and CLI crates all share these rules.

pub mod access;
pub mod codes;
pub mod dates;
pub mod evaluation;
pub mod numerals;
pub mod ratio;
pub mod records;
pub mod reports;
pub mod standard;
pub mod surveys;
pub mod text;
pub mod tree;
pub mod units;

pub use codes::{CodeError, DivisionCode, Level, UnitKind};
pub use standard::{Category, Indicator, IndicatorGroup, ServiceItem, Standard, StandardError};
pub use units::{Unit, UnitCounts, UnitRef};
