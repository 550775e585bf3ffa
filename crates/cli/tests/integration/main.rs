//! Integration tests: the real server on port 0 with a fresh database per test, and the real
//! `shequ` binary for the command line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod api;
mod cli_import;
mod evaluation;
mod generate;

mod helpers;
mod operations;
mod pages;
mod records;
mod reports;
mod review;
mod surveys;
