//! Reading and writing the files offices exchange: pure, bytes in and rows out, every problem
//! named by file, line and column. Nothing here touches a database; only large xlsx exports
//! spill rows to temporary files.

pub mod ballot_sheet;
pub mod containers;
pub mod divisions;
pub mod export;
pub mod generate;
pub mod groups;
pub mod records;
pub mod spreadsheet;
pub mod text;
pub mod users;

pub use divisions::{NationalFiles, read_national_layout, read_one_file_layout};
pub use groups::{GroupRow, read_groups};
pub use text::{FileProblem, SourceFile};
