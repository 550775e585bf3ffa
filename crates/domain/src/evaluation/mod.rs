//! Evaluation: the 25 indicators as rules read from the standard, each community's year
//! assessed exactly and explained, the aggregate counts that keep that cheap, and the review
//! chain from the community up to the province.

pub mod assess;
pub mod facts;
pub mod review;
pub mod rules;

pub use assess::{
    CommunityInputs, Evaluation, IndicatorResult, Inspection, Override, PartResult, Status,
    SurveyInput, Yearly, evaluate,
};
pub use review::{ReviewAction, ReviewChain, ReviewError, ReviewState};
pub use rules::{AwardRule, Check, IndicatorRule, Period};
