//! Browser tests: a person's way through the pages in Debian's headless chromium, driven through
//! chromedriver, against the real `shequ serve`. They skip with a notice where chromium is not
//! installed, unless SHEQU_REQUIRE_BROWSER=1 (as `.ci/run` sets). Screenshots of every step go
//! to `target/e2e/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;
mod harness_check;
mod journey;
