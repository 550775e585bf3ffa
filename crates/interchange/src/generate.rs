//! A generated year: plausible, deterministic records for every community-like unit of a
//! divisions file, written as the CSV files `shequ import records` takes as they are. Each
//! community draws from its own stream (the seed and its code), so its records do not depend on
//! which other communities are generated, and the same seed gives the same bytes.
//!
//! Communities spread from exemplary to lagging: a community's quality decides how many of the
//! 100 items it delivers, how regularly it holds its events, its facilities, how its disputes end,
//! whether it had a major incident and how satisfied its residents are, so that every automatic
//! indicator is met by some communities and missed by others.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shequ_domain::codes::DivisionCode;
use shequ_domain::records::{
    DELIVERY_MODES, DISPUTE_CATEGORIES, INCIDENT_TYPES, PROVIDERS, RecordKind, SURVEY_LABELS,
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenOptions {
    pub seed: u64,
    pub year: i16,
    /// Multiplies the service and activity records per community (0.01 for tests, 10 for
    /// stress).
    pub scale: f64,
    /// Leaves out dated records after this day (`YYYY-MM-DD`), for a year still under way.
    pub until: Option<jiff::civil::Date>,
}

/// Service records and activities a community has in a year at scale 1.
const SERVICES_PER_COMMUNITY: f64 = 2000.0;
const ACTIVITIES_PER_COMMUNITY: f64 = 150.0;

/// How a month's share of services compares with the average: fewer around the Spring
/// Festival and in the depth of winter, more in spring and autumn campaigns.
const SEASON: [f64; 12] = [0.7, 0.6, 1.0, 1.2, 1.2, 1.1, 0.9, 0.9, 1.2, 1.2, 1.1, 0.9];

/// A file written: its name (they sort in import order), kind and rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub kind: RecordKind,
    pub rows: u64,
}

/// The community-like units of a divisions file (villages.csv of the national layout, plain or
/// gzipped, in UTF-8 or GB18030), in code order.
pub fn communities_in(file: &crate::SourceFile) -> Result<Vec<DivisionCode>, String> {
    let text = crate::text::decode(file).map_err(|e| e.to_string())?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut codes = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("第 {} 行无法读取：{e}", i + 2))?;
        let Some(code) = row.get(0) else { continue };
        if let Ok(code) = DivisionCode::parse(code.trim())
            && code.level() == shequ_domain::Level::Committee
            && code.kind().is_community()
        {
            codes.push(code);
        }
    }
    codes.sort();
    codes.dedup();
    Ok(codes)
}

type Row = BTreeMap<&'static str, String>;

/// Rows a generated file holds at most: what one `shequ import records` takes. A larger kind
/// is split into parts (`05-services.csv`, `05-services-2.csv`, ...), imported in any order.
pub const ROWS_PER_FILE: u64 = 200_000;

/// One kind's file (or files, past [`ROWS_PER_FILE`]).
struct Writer {
    kind: RecordKind,
    until: Option<String>,
    dir: PathBuf,
    order: usize,
    part: u32,
    path: PathBuf,
    csv: csv::Writer<std::io::BufWriter<std::fs::File>>,
    rows: u64,
    done: Vec<GeneratedFile>,
}

fn open_part(
    dir: &Path,
    order: usize,
    kind: RecordKind,
    part: u32,
) -> Result<(PathBuf, csv::Writer<std::io::BufWriter<std::fs::File>>), String> {
    let name = if part == 1 {
        format!("{order:02}-{}.csv", kind.as_str())
    } else {
        format!("{order:02}-{}-{part}.csv", kind.as_str())
    };
    let path = dir.join(name);
    let file =
        std::fs::File::create(&path).map_err(|e| format!("无法写入 {}：{e}", path.display()))?;
    let mut csv = csv::Writer::from_writer(std::io::BufWriter::new(file));
    csv.write_record(kind.fields().iter().map(|f| f.header))
        .map_err(|e| e.to_string())?;
    Ok((path, csv))
}

impl Writer {
    fn create(
        dir: &Path,
        order: usize,
        kind: RecordKind,
        until: Option<String>,
    ) -> Result<Writer, String> {
        let (path, csv) = open_part(dir, order, kind, 1)?;
        Ok(Writer {
            kind,
            until,
            dir: dir.to_path_buf(),
            order,
            part: 1,
            path,
            csv,
            rows: 0,
            done: Vec::new(),
        })
    }

    fn row(&mut self, row: &Row) -> Result<(), String> {
        if let (Some(until), Some(key)) = (&self.until, self.kind.date_key())
            && row.get(key).is_some_and(|d| d > until)
        {
            return Ok(());
        }
        if self.rows == ROWS_PER_FILE {
            self.part += 1;
            let (path, csv) = open_part(&self.dir, self.order, self.kind, self.part)?;
            let full = std::mem::replace(&mut self.csv, csv);
            let full_path = std::mem::replace(&mut self.path, path);
            close(full)?;
            self.done.push(GeneratedFile {
                path: full_path,
                kind: self.kind,
                rows: self.rows,
            });
            self.rows = 0;
        }
        let cells = self
            .kind
            .fields()
            .iter()
            .map(|f| row.get(f.key).map_or("", String::as_str));
        self.csv.write_record(cells).map_err(|e| e.to_string())?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<GeneratedFile>, String> {
        close(self.csv)?;
        self.done.push(GeneratedFile {
            path: self.path,
            kind: self.kind,
            rows: self.rows,
        });
        Ok(self.done)
    }
}

fn close(csv: csv::Writer<std::io::BufWriter<std::fs::File>>) -> Result<(), String> {
    let mut inner = csv.into_inner().map_err(|e| format!("写入失败：{e}"))?;
    inner.flush().map_err(|e| e.to_string())
}

fn row(pairs: &[(&'static str, String)]) -> Row {
    pairs.iter().cloned().collect()
}

/// The community's own stream: the seed mixed with its code.
fn stream(seed: u64, code: &DivisionCode) -> ChaCha8Rng {
    let code_number: u64 = code.as_str().parse().unwrap_or(0);
    ChaCha8Rng::seed_from_u64(seed ^ code_number.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn yes(rng: &mut ChaCha8Rng, probability: f64) -> String {
    if rng.random_bool(probability.clamp(0.0, 1.0)) {
        "是"
    } else {
        "否"
    }
    .to_string()
}

fn pick<'a>(rng: &mut ChaCha8Rng, choices: &[&'a str]) -> &'a str {
    choices[rng.random_range(0..choices.len())]
}

/// A day of a month as text, the day drawn within 1 to 28.
fn day_in(rng: &mut ChaCha8Rng, year: i16, month: usize) -> String {
    format!("{year}-{month:02}-{:02}", rng.random_range(1..=28))
}

fn any_day(rng: &mut ChaCha8Rng, year: i16) -> String {
    let month = rng.random_range(1..=12);
    day_in(rng, year, month)
}

fn seasonal_day(rng: &mut ChaCha8Rng, year: i16) -> String {
    let month = seasonal_month(rng);
    day_in(rng, year, month)
}

/// A month drawn by the season's weights.
fn seasonal_month(rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = SEASON.iter().sum();
    let mut x = rng.random_range(0.0..total);
    for (i, w) in SEASON.iter().enumerate() {
        if x < *w {
            return i + 1;
        }
        x -= w;
    }
    12
}

/// Counts scaled, at least one.
fn scaled(base: f64, scale: f64, rng: &mut ChaCha8Rng) -> usize {
    let n = base * scale * rng.random_range(0.6..1.4);
    (n.round() as usize).max(1)
}

/// Writes the year into `out` (created if needed); calls `progress` after each community.
pub fn generate(
    communities: &[DivisionCode],
    options: GenOptions,
    out: &Path,
    mut progress: impl FnMut(usize),
) -> Result<Vec<GeneratedFile>, String> {
    if !(options.scale > 0.0 && options.scale <= 100.0) {
        return Err(format!("--scale {} 应在 0 与 100 之间", options.scale));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("无法创建 {}：{e}", out.display()))?;
    let order = [
        RecordKind::Profile,
        RecordKind::Groups,
        RecordKind::Organisations,
        RecordKind::Activities,
        RecordKind::Services,
        RecordKind::Mediation,
        RecordKind::Incidents,
        RecordKind::Health,
        RecordKind::Tallies,
    ];
    // Dates are written YYYY-MM-DD, so they compare as text.
    let until = options.until.map(|d| d.to_string());
    let mut writers: Vec<Writer> = order
        .iter()
        .enumerate()
        .map(|(i, kind)| Writer::create(out, i + 1, *kind, until.clone()))
        .collect::<Result<_, _>>()?;
    let y = options.year;
    let year = y.to_string();
    for (done, code) in communities.iter().enumerate() {
        let rng = &mut stream(options.seed, code);
        let unit = code.as_str().to_string();
        // Quality: a few exemplary, a few lagging, most in between.
        let q: f64 = (rng.random_range(0.0..1.0) + rng.random_range(0.0..1.0)) / 2.0;
        let households: i64 = rng.random_range(300..3000);
        let w = &mut writers;

        w[0].row(&row(&[
            ("unit", unit.clone()),
            ("year", year.clone()),
            ("households", households.to_string()),
            (
                "population",
                (households * rng.random_range(25..35) / 10).to_string(),
            ),
            ("estate", pick(rng, &["新建小区", "老旧小区"]).to_string()),
            // Work and service premises per 100 households, around the 30 m² the notice asks.
            (
                "premises",
                (households * rng.random_range(15..45) / 100 + (q * 20.0) as i64).to_string(),
            ),
            (
                "greening",
                format!("{:.1}", 15.0 + q * 25.0 + rng.random_range(-3.0..3.0)),
            ),
            ("one_stop", yes(rng, 0.6 + 0.4 * q)),
            ("deliberation", yes(rng, 0.6 + 0.4 * q)),
            ("indoor_venue", yes(rng, 0.5 + 0.5 * q)),
            ("outdoor_venue", yes(rng, 0.5 + 0.5 * q)),
            ("day_care", yes(rng, 0.3 + 0.7 * q)),
            ("home_care", yes(rng, 0.3 + 0.7 * q)),
            ("funding", yes(rng, 0.5 + 0.5 * q)),
            (
                "brand",
                if rng.random_bool(0.3 + 0.7 * q) {
                    "邻里守望".into()
                } else {
                    String::new()
                },
            ),
            ("goal", "建成服务完善、管理有序的特色型社区".into()),
            (
                "creation_standard",
                if rng.random_bool(0.4 + 0.6 * q) {
                    "社区创建标准".into()
                } else {
                    String::new()
                },
            ),
        ]))?;

        let groups = rng.random_range(3..7);
        let names: Vec<String> = (1..=groups).map(|g| format!("第{g}居民小组")).collect();
        for name in &names {
            w[1].row(&row(&[
                ("unit", unit.clone()),
                ("year", year.clone()),
                ("name", name.clone()),
                ("households", (households / groups).to_string()),
                (
                    "method",
                    if rng.random_bool(0.3 + 0.7 * q) {
                        "小组创建办法".into()
                    } else {
                        String::new()
                    },
                ),
            ]))?;
        }

        // The Party organisation and the residents' committee, elected on schedule or overdue.
        for org in ["党组织", "居民委员会"] {
            let elected = if rng.random_bool(0.5 + 0.5 * q) {
                y - 2
            } else {
                y - 5
            };
            w[2].row(&row(&[
                ("unit", unit.clone()),
                ("year", year.clone()),
                ("org_type", org.into()),
                ("name", org.to_string()),
                (
                    "elected_on",
                    format!("{elected}-0{}-15", rng.random_range(3..7)),
                ),
                ("term_years", "3".into()),
            ]))?;
        }
        for org in ["工会", "共青团", "妇联", "残协"] {
            if rng.random_bool(0.4 + 0.6 * q) {
                w[2].row(&row(&[
                    ("unit", unit.clone()),
                    ("year", year.clone()),
                    ("org_type", org.into()),
                    ("name", org.to_string()),
                ]))?;
            }
        }

        // The weakest communities stall after September: a quiet last quarter.
        let last_month = if q < 0.2 { 9 } else { 12 };
        let activity = |w: &mut Writer,
                        kind: &str,
                        date: String,
                        group: Option<&str>,
                        link: bool,
                        rng: &mut ChaCha8Rng| {
            if date[5..7].parse::<u32>().unwrap_or(1) > last_month {
                return Ok(());
            }
            let mut r = row(&[
                ("unit", unit.clone()),
                ("type", kind.to_string()),
                ("start", date),
                ("participants", rng.random_range(10..200).to_string()),
            ]);
            if let Some(g) = group {
                r.insert("group", g.to_string());
            }
            if link {
                r.insert(
                    "links",
                    format!(
                        "https://news.example.cn/{}/{}",
                        unit,
                        rng.random_range(1..100_000)
                    ),
                );
            }
            w.row(&r)
        };
        // The events the standard asks for, held more regularly the better the community;
        // other activities fill up to the scaled count.
        let target = scaled(ACTIVITIES_PER_COMMUNITY, options.scale, rng);
        let regular = 0.55 + 0.45 * q;
        let mut held = 0;
        if rng.random_bool(0.7 + 0.3 * q) {
            activity(
                &mut w[3],
                "年度主题活动",
                day_in(rng, y, 6),
                None,
                rng.random_bool(0.3 + 0.7 * q),
                rng,
            )?;
            held += 1;
        }
        for m in 1..=12 {
            if rng.random_bool(regular) {
                activity(&mut w[3], "月度服务日", day_in(rng, y, m), None, false, rng)?;
                held += 1;
            }
        }
        for kind in ["季度服务周", "文体活动", "驻区单位联席会议", "法制宣传教育"]
        {
            for quarter in 0..4 {
                if rng.random_bool(regular) {
                    let month = quarter * 3 + rng.random_range(1..=3);
                    activity(&mut w[3], kind, day_in(rng, y, month), None, false, rng)?;
                    held += 1;
                }
            }
        }
        if rng.random_bool(regular) {
            activity(&mut w[3], "文明创建活动", any_day(rng, y), None, false, rng)?;
            held += 1;
        }
        for name in &names {
            if rng.random_bool(regular) {
                activity(
                    &mut w[3],
                    "居民小组志愿活动",
                    any_day(rng, y),
                    Some(name),
                    false,
                    rng,
                )?;
                held += 1;
            }
        }
        while held < target {
            let kind = pick(rng, &["健康讲座", "防灾演练", "其他", "文体活动"]);
            activity(&mut w[3], kind, seasonal_day(rng, y), None, false, rng)?;
            held += 1;
        }

        // Services over an uneven share of the items: exemplary communities reach nearly all.
        let reach = if q > 0.8 {
            100
        } else {
            (25.0 + q * 90.0).round() as usize
        };
        let mut items: Vec<u32> = (1..=100).collect();
        for i in (1..items.len()).rev() {
            items.swap(i, rng.random_range(0..=i));
        }
        items.truncate(reach.clamp(1, 100));
        let services = scaled(SERVICES_PER_COMMUNITY, options.scale, rng);
        for n in 0..services {
            // Every item reached at least once (as far as the count allows), popular items far
            // more often than the rest.
            let index = if n < items.len() {
                n
            } else {
                (rng.random_range(0.0f64..1.0).powi(2) * items.len() as f64) as usize
            };
            w[4].row(&row(&[
                ("unit", unit.clone()),
                ("date", seasonal_day(rng, y)),
                ("item", items[index.min(items.len() - 1)].to_string()),
                ("people", rng.random_range(1..30).to_string()),
                ("mode", pick(rng, DELIVERY_MODES).into()),
                ("provider", pick(rng, PROVIDERS).into()),
            ]))?;
        }

        for _ in 0..rng.random_range(0..10) {
            let mediated = rng.random_bool(0.9);
            let mut r = row(&[
                ("unit", unit.clone()),
                ("received", any_day(rng, y)),
                ("category", pick(rng, DISPUTE_CATEGORIES).into()),
                ("mediated", if mediated { "是" } else { "否" }.into()),
            ]);
            if mediated {
                let success = rng.random_bool(0.8 + 0.2 * q);
                r.insert(
                    "outcome",
                    if success {
                        "调解成功"
                    } else {
                        "调解未成功"
                    }
                    .into(),
                );
            }
            w[5].row(&r)?;
        }

        // Lagging communities have the incidents that veto the award.
        if rng.random_bool((0.25 - q * 0.3).clamp(0.0, 1.0)) {
            w[6].row(&row(&[
                ("unit", unit.clone()),
                ("type", pick(rng, &INCIDENT_TYPES[..4]).into()),
                ("date", any_day(rng, y)),
            ]))?;
        }
        if rng.random_bool(0.3) {
            w[6].row(&row(&[
                ("unit", unit.clone()),
                ("type", pick(rng, &INCIDENT_TYPES[4..]).into()),
                ("date", any_day(rng, y)),
            ]))?;
        }

        let population = households * 3;
        w[7].row(&row(&[
            ("unit", unit.clone()),
            ("year", year.clone()),
            (
                "count",
                ((population as f64) * (0.3 + 0.65 * q)).round().to_string(),
            ),
        ]))?;

        for label in SURVEY_LABELS {
            let ballots = rng.random_range(80..300);
            let satisfied =
                (ballots as f64 * (0.6 + 0.38 * q + rng.random_range(-0.05..0.05))).round() as i64;
            let very = satisfied * 2 / 3;
            let fairly = satisfied - very;
            w[8].row(&row(&[
                ("unit", unit.clone()),
                ("year", year.clone()),
                ("survey", label.to_string()),
                ("very", very.to_string()),
                ("fairly", fairly.to_string()),
                ("not", (ballots - satisfied).max(0).to_string()),
            ]))?;
        }
        progress(done + 1);
    }
    let mut files = Vec::new();
    for w in writers {
        files.extend(w.finish()?);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_are_read_from_a_divisions_file() {
        let file = "code,name,streetCode\n230102001002,b,230102001\n230102001001,a,230102001\n230102001201,村,230102001\n23010200100,short,x\n";
        let source = crate::SourceFile {
            name: "villages.csv".into(),
            bytes: file.as_bytes().to_vec(),
        };
        let codes = communities_in(&source).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            codes.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            vec!["230102001001", "230102001002"]
        );
    }

    #[test]
    fn a_community_draws_the_same_records_whoever_else_is_generated() {
        let a = DivisionCode::parse("230102001001").unwrap_or_else(|e| panic!("{e}"));
        let b = DivisionCode::parse("230102001002").unwrap_or_else(|e| panic!("{e}"));
        let options = GenOptions {
            seed: 7,
            year: 2010,
            scale: 0.01,
            until: None,
        };
        let one = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let both = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        generate(std::slice::from_ref(&a), options, one.path(), |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        generate(&[a.clone(), b], options, both.path(), |_| {}).unwrap_or_else(|e| panic!("{e}"));
        let read =
            |dir: &Path| std::fs::read_to_string(dir.join("05-services.csv")).unwrap_or_default();
        let only_a: Vec<String> = read(both.path())
            .lines()
            .filter(|l| !l.starts_with("230102001002"))
            .map(String::from)
            .collect();
        assert_eq!(
            read(one.path())
                .lines()
                .map(String::from)
                .collect::<Vec<_>>(),
            only_a
        );
        assert!(
            generate(
                &[],
                GenOptions {
                    scale: 0.0,
                    ..options
                },
                one.path(),
                |_| {}
            )
            .is_err()
        );
        // A year under way leaves out what comes after its last day.
        let until = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let june = GenOptions {
            until: Some(jiff::civil::Date::constant(2010, 6, 30)),
            scale: 0.2,
            ..options
        };
        generate(std::slice::from_ref(&a), june, until.path(), |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        let services = read(until.path());
        assert!(services.lines().count() > 10);
        assert!(
            services
                .lines()
                .skip(1)
                .all(|l| l.split(',').nth(1).is_some_and(|d| d <= "2010-06-30"))
        );
    }
}
