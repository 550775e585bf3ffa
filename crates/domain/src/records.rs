//! The records a community keeps: its yearly profile, resident groups and organisations, the
//! service and activity ledgers and the registers. Each kind is described once here (its fields,
//! their Chinese headers, types and rules), and forms, the API, spreadsheet import and export all
//! read that one description.

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::Date;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::codes::DivisionCode;
use crate::dates::{excel_serial_date, parse_date_text};
use crate::text::is_hidden;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    Services,
    Activities,
    Mediation,
    Incidents,
    Health,
    Profile,
    Groups,
    Organisations,
    /// A paper ballot count of a survey, counted once a second person confirms it.
    Tallies,
}

/// How a field's value is written and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// The community's division code.
    Unit,
    Year,
    Date,
    /// A whole number from `min` up to `max`.
    Count {
        min: i64,
        max: i64,
    },
    /// A number with at most two decimals (square metres), kept in hundredths.
    Hundredths {
        max: i64,
    },
    /// A percentage 0-100 with at most two decimals, kept in hundredths.
    Percent,
    Text {
        max_chars: usize,
    },
    Choice(&'static [&'static str]),
    YesNo,
    /// A service item number of the standard in force.
    Item,
    /// A resident group's name.
    Group,
    /// Web addresses of media reports, separated by spaces.
    Links,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The name in the API and in stored records.
    pub key: &'static str,
    /// The column header in spreadsheets and the label in forms.
    pub header: &'static str,
    pub ty: FieldType,
    pub required: bool,
}

const fn field(key: &'static str, header: &'static str, ty: FieldType, required: bool) -> Field {
    Field {
        key,
        header,
        ty,
        required,
    }
}

pub const UNIT_HEADER: &str = "区划代码";
/// The optional column that gives a row a stable identity across imports.
pub const REF_HEADER: &str = "记录编号";

pub const DELIVERY_MODES: &[&str] = &["现场服务", "上门服务", "咨询服务", "转介服务"];
pub const PROVIDERS: &[&str] = &["社区", "驻区单位", "志愿者", "社会组织", "商户"];
pub const ACTIVITY_TYPES: &[&str] = &[
    "年度主题活动",
    "季度服务周",
    "月度服务日",
    "居民小组志愿活动",
    "文体活动",
    "文明创建活动",
    "法制宣传教育",
    "健康讲座",
    "防灾演练",
    "驻区单位联席会议",
    "其他",
];
pub const DISPUTE_CATEGORIES: &[&str] = &[
    "婚姻家庭",
    "邻里纠纷",
    "房屋宅基地",
    "物业纠纷",
    "损害赔偿",
    "劳动争议",
    "其他",
];
pub const MEDIATION_OUTCOMES: &[&str] = &["调解成功", "调解未成功"];
pub const INCIDENT_TYPES: &[&str] = &[
    "重大刑事案件",
    "重大群体性事件",
    "集体上访",
    "越级上访",
    "违章建筑",
    "宠物伤人",
    "其他",
];
pub const ESTATE_TYPES: &[&str] = &["新建小区", "老旧小区", "新老混合"];
pub const ORGANISATION_TYPES: &[&str] = &[
    "党组织",
    "居民委员会",
    "工会",
    "共青团",
    "妇联",
    "残协",
    "其他群团组织",
    "业主委员会",
    "物业服务企业",
];
/// The surveys as spreadsheets name them.
pub const SURVEY_LABELS: &[&str] = &[
    "干部民主评议",
    "特色社区创建测评",
    "社区服务评议",
    "治安满意度测评",
];
pub const ORGANISATION_EVENTS: &[&str] = &["成立", "换届选举", "解聘物业服务企业", "撤销", "其他"];

const UNIT: Field = field("unit", UNIT_HEADER, FieldType::Unit, true);
const YEAR: Field = field("year", "年度", FieldType::Year, true);
const NOTE: Field = field("note", "备注", FieldType::Text { max_chars: 500 }, false);
const GROUP: Field = field("group", "居民小组", FieldType::Group, false);
const PEOPLE_MAX: i64 = 10_000_000;
const fn count(min: i64) -> FieldType {
    FieldType::Count {
        min,
        max: PEOPLE_MAX,
    }
}
const fn text(max_chars: usize) -> FieldType {
    FieldType::Text { max_chars }
}

const SERVICES: &[Field] = &[
    UNIT,
    field("date", "日期", FieldType::Date, true),
    field("item", "服务项目编号", FieldType::Item, true),
    field("people", "服务人次", count(1), true),
    field("mode", "服务方式", FieldType::Choice(DELIVERY_MODES), false),
    field("provider", "提供方", FieldType::Choice(PROVIDERS), false),
    GROUP,
    NOTE,
];
const ACTIVITIES: &[Field] = &[
    UNIT,
    field("type", "活动类型", FieldType::Choice(ACTIVITY_TYPES), true),
    field("title", "活动名称", text(100), false),
    field("start", "开始日期", FieldType::Date, true),
    field("end", "结束日期", FieldType::Date, false),
    field("participants", "参与人数", count(1), true),
    GROUP,
    field("links", "媒体报道链接", FieldType::Links, false),
    NOTE,
];
const MEDIATION: &[Field] = &[
    UNIT,
    field("received", "受理日期", FieldType::Date, true),
    field(
        "category",
        "纠纷类别",
        FieldType::Choice(DISPUTE_CATEGORIES),
        true,
    ),
    field("mediated", "是否调解", FieldType::YesNo, true),
    field(
        "outcome",
        "调解结果",
        FieldType::Choice(MEDIATION_OUTCOMES),
        false,
    ),
    NOTE,
];
const INCIDENTS: &[Field] = &[
    UNIT,
    field("type", "事件类型", FieldType::Choice(INCIDENT_TYPES), true),
    field("date", "发生日期", FieldType::Date, true),
    NOTE,
];
const HEALTH: &[Field] = &[UNIT, YEAR, field("count", "居民健康档案数", count(0), true)];
const PROFILE: &[Field] = &[
    UNIT,
    YEAR,
    field("households", "户数", count(0), true),
    field("population", "常住人口", count(0), true),
    field("estate", "小区类型", FieldType::Choice(ESTATE_TYPES), true),
    field("new_households", "新建小区户数", count(0), false),
    field("old_households", "老旧小区户数", count(0), false),
    field(
        "premises",
        "办公服务用房面积(平方米)",
        FieldType::Hundredths { max: 100_000_000 },
        true,
    ),
    field("greening", "绿化覆盖率(%)", FieldType::Percent, true),
    // A mixed estate's parts are held to their own thresholds (indicator 19).
    field(
        "new_greening",
        "新建小区部分绿化覆盖率(%)",
        FieldType::Percent,
        false,
    ),
    field(
        "old_greening",
        "老旧小区部分绿化覆盖率(%)",
        FieldType::Percent,
        false,
    ),
    field("one_stop", "一站式服务站", FieldType::YesNo, true),
    field("deliberation", "议事场所", FieldType::YesNo, true),
    field("indoor_venue", "室内文体活动场所", FieldType::YesNo, true),
    field("outdoor_venue", "室外文体活动场所", FieldType::YesNo, true),
    field("day_care", "老年人日间照料室", FieldType::YesNo, true),
    field("home_care", "居家养老服务设施", FieldType::YesNo, true),
    field("funding", "工作经费落实", FieldType::YesNo, true),
    field("brand", "特色品牌", text(100), false),
    field("goal", "创建目标", text(500), false),
    field("creation_standard", "社区创建标准", text(500), false),
];
const GROUPS: &[Field] = &[
    UNIT,
    YEAR,
    field("name", "居民小组名称", text(50), true),
    field("households", "户数", count(0), true),
    field("method", "创建办法", text(500), false),
];
const ORGANISATIONS: &[Field] = &[
    UNIT,
    YEAR,
    field(
        "org_type",
        "组织类型",
        FieldType::Choice(ORGANISATION_TYPES),
        true,
    ),
    field("name", "组织名称", text(100), true),
    field("elected_on", "最近换届日期", FieldType::Date, false),
    field(
        "term_years",
        "任期(年)",
        FieldType::Count { min: 1, max: 10 },
        false,
    ),
    field("committees", "下设工作委员会", text(200), false),
    field(
        "event",
        "事件",
        FieldType::Choice(ORGANISATION_EVENTS),
        false,
    ),
    field("event_on", "事件日期", FieldType::Date, false),
    NOTE,
];

const TALLIES: &[Field] = &[
    UNIT,
    YEAR,
    field("survey", "测评类型", FieldType::Choice(SURVEY_LABELS), true),
    field("very", "满意", count(0), true),
    field("fairly", "基本满意", count(0), true),
    field("not", "不满意", count(0), true),
    NOTE,
];

impl RecordKind {
    pub const ALL: [RecordKind; 9] = [
        RecordKind::Services,
        RecordKind::Activities,
        RecordKind::Mediation,
        RecordKind::Incidents,
        RecordKind::Health,
        RecordKind::Profile,
        RecordKind::Groups,
        RecordKind::Organisations,
        RecordKind::Tallies,
    ];

    /// The name in URLs, the API and `--kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Services => "services",
            RecordKind::Activities => "activities",
            RecordKind::Mediation => "mediation",
            RecordKind::Incidents => "incidents",
            RecordKind::Health => "health",
            RecordKind::Profile => "profile",
            RecordKind::Groups => "groups",
            RecordKind::Organisations => "organisations",
            RecordKind::Tallies => "tallies",
        }
    }

    pub fn parse(text: &str) -> Option<RecordKind> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text.trim())
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            RecordKind::Services => "服务台账",
            RecordKind::Activities => "活动台账",
            RecordKind::Mediation => "矛盾纠纷调解登记",
            RecordKind::Incidents => "治安秩序事件登记",
            RecordKind::Health => "居民健康档案",
            RecordKind::Profile => "社区基本情况",
            RecordKind::Groups => "居民小组",
            RecordKind::Organisations => "组织建设登记",
            RecordKind::Tallies => "纸质测评计票",
        }
    }

    pub fn fields(self) -> &'static [Field] {
        match self {
            RecordKind::Services => SERVICES,
            RecordKind::Activities => ACTIVITIES,
            RecordKind::Mediation => MEDIATION,
            RecordKind::Incidents => INCIDENTS,
            RecordKind::Health => HEALTH,
            RecordKind::Profile => PROFILE,
            RecordKind::Groups => GROUPS,
            RecordKind::Organisations => ORGANISATIONS,
            RecordKind::Tallies => TALLIES,
        }
    }

    pub fn field(self, key: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.key == key)
    }

    /// The field whose date places a dated record in its year and month.
    pub fn date_key(self) -> Option<&'static str> {
        match self {
            RecordKind::Services | RecordKind::Incidents => Some("date"),
            RecordKind::Activities => Some("start"),
            RecordKind::Mediation => Some("received"),
            _ => None,
        }
    }

    /// Kinds kept once per year (not a ledger of events).
    pub fn is_yearly(self) -> bool {
        self.date_key().is_none()
    }

    /// Kinds a new year starts from: last year's, copied forward for the worker to confirm.
    pub fn carried_forward(self) -> bool {
        matches!(
            self,
            RecordKind::Profile | RecordKind::Groups | RecordKind::Organisations
        )
    }

    /// Whether a write leaves the record counting. Paper tallies count only once a second person
    /// confirms them, so every write of one leaves it unconfirmed.
    pub fn confirmed_on_write(self) -> bool {
        self != RecordKind::Tallies
    }

    /// The field that sorts a kind's records into types for filters, if any.
    pub fn category_key(self) -> Option<&'static str> {
        match self {
            RecordKind::Activities | RecordKind::Incidents => Some("type"),
            RecordKind::Mediation => Some("category"),
            RecordKind::Organisations => Some("org_type"),
            RecordKind::Services => Some("mode"),
            RecordKind::Tallies => Some("survey"),
            _ => None,
        }
    }

    /// The count a record contributes (people served, participants, records, households).
    pub fn quantity_key(self) -> Option<&'static str> {
        match self {
            RecordKind::Services => Some("people"),
            RecordKind::Activities => Some("participants"),
            RecordKind::Health => Some("count"),
            RecordKind::Profile | RecordKind::Groups => Some("households"),
            _ => None,
        }
    }

    /// Headers a file must have to be recognised as this kind (beyond 区划代码).
    fn signature(self) -> &'static [&'static str] {
        match self {
            RecordKind::Services => &["服务项目编号"],
            RecordKind::Activities => &["活动类型"],
            RecordKind::Mediation => &["受理日期", "纠纷类别"],
            RecordKind::Incidents => &["事件类型", "发生日期"],
            RecordKind::Health => &["居民健康档案数"],
            RecordKind::Profile => &["常住人口", "小区类型"],
            RecordKind::Groups => &["居民小组名称"],
            RecordKind::Organisations => &["组织类型"],
            RecordKind::Tallies => &["测评类型", "基本满意"],
        }
    }

    /// Recognises a file's kind from its (normalised) headers.
    pub fn recognise(headers: &[String]) -> Result<RecordKind, String> {
        let has = |h: &str| headers.iter().any(|x| x == &normalise_header(h));
        if !has(UNIT_HEADER) {
            return Err(format!("表头缺少“{UNIT_HEADER}”列"));
        }
        let matches: Vec<RecordKind> = RecordKind::ALL
            .into_iter()
            .filter(|k| k.signature().iter().all(|h| has(h)))
            .collect();
        match matches[..] {
            [kind] => Ok(kind),
            [] => Err(format!(
                "无法从表头识别台账类型。各类型应有的列：{}",
                RecordKind::ALL
                    .iter()
                    .map(|k| format!("{}（{}）", k.label_zh(), k.signature().join("、")))
                    .collect::<Vec<_>>()
                    .join("；")
            )),
            _ => Err(format!(
                "表头同时符合多种台账类型：{}",
                matches
                    .iter()
                    .map(|k| k.label_zh())
                    .collect::<Vec<_>>()
                    .join("、")
            )),
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header as compared: NFKC (full-width letters, digits and brackets become ASCII) with all
/// white space removed.
pub fn normalise_header(header: &str) -> String {
    header
        .nfkc()
        .filter(|c| !c.is_whitespace() && !is_hidden(*c))
        .collect()
}

/// One value of a record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    Text(String),
    Int(i64),
    /// Hundredths of a unit (square metres, percent).
    Hundredths(i64),
    Date(Date),
    Bool(bool),
}

impl Value {
    /// The value as it is written in forms, spreadsheets and the canonical content.
    pub fn display(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Hundredths(h) => format_hundredths(*h),
            Value::Date(d) => d.to_string(),
            Value::Bool(true) => "是".into(),
            Value::Bool(false) => "否".into(),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_date(&self) -> Option<Date> {
        match self {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

pub fn format_hundredths(h: i64) -> String {
    let sign = if h < 0 { "-" } else { "" };
    let (whole, frac) = (h.abs() / 100, h.abs() % 100);
    match frac {
        0 => format!("{sign}{whole}"),
        f if f % 10 == 0 => format!("{sign}{whole}.{}", f / 10),
        f => format!("{sign}{whole}.{f:02}"),
    }
}

/// A value as it arrives: typed text (forms, the API, CSV), or a typed spreadsheet cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input<'a> {
    Text(&'a str),
    Number(f64),
    Date(Date),
    Bool(bool),
}

impl Input<'_> {
    fn shown(&self) -> String {
        match self {
            Input::Text(s) => crate::text::excerpt(s.trim(), 30),
            Input::Number(n) => n.to_string(),
            Input::Date(d) => d.to_string(),
            Input::Bool(b) => b.to_string(),
        }
    }

    fn is_blank(&self) -> bool {
        matches!(self, Input::Text(s) if s.trim().is_empty())
    }
}

/// Reads one field's value. Blank gives `None` (the caller decides if that is allowed).
pub fn parse_value(field: &Field, input: Input<'_>) -> Result<Option<Value>, String> {
    if input.is_blank() {
        return Ok(None);
    }
    let value = match (field.ty, input) {
        (FieldType::Unit, Input::Text(s)) => Value::Text(parse_unit_text(s)?.as_str().to_string()),
        (FieldType::Unit, Input::Number(n)) => {
            let digits = exact_whole(n).ok_or_else(|| {
                format!(
                    "区划代码 {n} 不是整数，可能已被表格软件改写；请把该列设为文本格式后重新填写"
                )
            })?;
            Value::Text(
                DivisionCode::parse(&digits.to_string())
                    .map_err(|e| e.to_string())?
                    .as_str()
                    .to_string(),
            )
        }
        (FieldType::Year, _) => {
            let year = whole_number(input)?;
            if !(2000..=2100).contains(&year) {
                return Err(format!("年度 {year} 不在 2000 至 2100 之间"));
            }
            Value::Int(year)
        }
        (FieldType::Date, Input::Date(d)) => Value::Date(d),
        (FieldType::Date, Input::Number(n)) => Value::Date(excel_serial_date(n)?),
        (FieldType::Date, Input::Text(s)) => Value::Date(parse_date_text(s)?),
        (FieldType::Count { min, max }, _) => {
            let n = whole_number(input)?;
            if n < min || n > max {
                return Err(format!("应为 {min} 至 {max} 之间的整数"));
            }
            Value::Int(n)
        }
        (FieldType::Item, _) => {
            let n = whole_number(input)?;
            if !(1..=999).contains(&n) {
                return Err(format!("服务项目编号 {n} 不存在"));
            }
            Value::Int(n)
        }
        (FieldType::Hundredths { max }, _) => {
            let h = hundredths(input)?;
            if h < 0 || h > max {
                return Err(format!("应为 0 至 {} 之间的数", format_hundredths(max)));
            }
            Value::Hundredths(h)
        }
        (FieldType::Percent, Input::Number(n)) if n > 0.0 && n < 1.0 => {
            return Err(format!(
                "{n} 看起来是百分比格式的小数；请填写百分数（如 35 表示 35%）"
            ));
        }
        (FieldType::Percent, _) => {
            let h = match input {
                Input::Text(s) => {
                    let t: String = s.nfkc().collect();
                    let t = t.trim();
                    hundredths(Input::Text(t.strip_suffix('%').unwrap_or(t)))?
                }
                other => hundredths(other)?,
            };
            if !(0..=10_000).contains(&h) {
                return Err("百分比应在 0 至 100 之间".into());
            }
            Value::Hundredths(h)
        }
        (FieldType::Text { max_chars }, _) => Value::Text(clean_text(input, max_chars)?),
        (FieldType::Group, _) => Value::Text(clean_text(input, 50)?),
        (FieldType::Choice(options), _) => {
            let t = choice_text(input);
            match options.iter().find(|o| **o == t) {
                Some(o) => Value::Text((*o).to_string()),
                None => return Err(format!("应为以下之一：{}", options.join("、"))),
            }
        }
        (FieldType::YesNo, Input::Bool(b)) => Value::Bool(b),
        (FieldType::YesNo, _) => match choice_text(input).as_str() {
            "是" | "有" | "Y" | "y" | "1" | "√" | "✓" | "TRUE" | "true" | "True" => {
                Value::Bool(true)
            }
            "否" | "无" | "没有" | "N" | "n" | "0" | "×" | "✗" | "FALSE" | "false" | "False" => {
                Value::Bool(false)
            }
            _ => return Err("应填“是”或“否”（也可填“有”或“无”）".into()),
        },
        (FieldType::Links, _) => {
            let text = clean_text(input, 2000)?;
            let mut links = Vec::new();
            for link in text.split(|c: char| c.is_whitespace() || c == ';' || c == '；') {
                if link.is_empty() {
                    continue;
                }
                let lower = link.to_ascii_lowercase();
                let rest = lower
                    .strip_prefix("https://")
                    .or_else(|| lower.strip_prefix("http://"));
                if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
                    return Err(format!(
                        "“{}”不是以 http:// 或 https:// 开头的网址",
                        crate::text::excerpt(link, 40)
                    ));
                }
                links.push(link.to_string());
            }
            Value::Text(links.join(" "))
        }
        (FieldType::Unit | FieldType::Date, other) => {
            return Err(format!("无法识别的值“{}”", other.shown()));
        }
    };
    Ok(Some(value))
}

fn parse_unit_text(s: &str) -> Result<DivisionCode, String> {
    let t: String = s.nfkc().collect();
    let t = t.trim();
    if t.contains(['E', 'e']) && t.parse::<f64>().is_ok() {
        return Err(format!(
            "区划代码“{t}”是科学计数法，已丢失末几位数字；请把该列设为文本格式后重新填写完整代码"
        ));
    }
    // A code the spreadsheet stored as a number and wrote back with a decimal point.
    let t = t.strip_suffix(".0").unwrap_or(t);
    DivisionCode::parse(t).map_err(|e| e.to_string())
}

/// The integer a float holds exactly, if it is a whole number a double represents exactly.
fn exact_whole(n: f64) -> Option<i64> {
    (n.is_finite() && n.fract() == 0.0 && n.abs() < 9.0e15).then_some(n as i64)
}

fn whole_number(input: Input<'_>) -> Result<i64, String> {
    match input {
        Input::Number(n) => exact_whole(n).ok_or_else(|| format!("{n} 不是整数")),
        Input::Text(s) => {
            let t: String = s.nfkc().collect();
            let t = t.trim().replace(',', "");
            let t = t.strip_suffix(".0").unwrap_or(&t);
            t.parse::<i64>()
                .map_err(|_| format!("“{}”不是整数", crate::text::excerpt(s.trim(), 30)))
        }
        other => Err(format!("“{}”不是整数", other.shown())),
    }
}

fn hundredths(input: Input<'_>) -> Result<i64, String> {
    match input {
        Input::Number(n) => {
            let scaled = n * 100.0;
            let rounded = scaled.round();
            if !n.is_finite() || (scaled - rounded).abs() > 1e-6 || rounded.abs() > 9.0e15 {
                return Err(format!("{n} 最多保留两位小数"));
            }
            Ok(rounded as i64)
        }
        Input::Text(s) => {
            let t: String = s.nfkc().collect();
            let t = t.trim().replace(',', "");
            let bad = || format!("“{}”不是数字", crate::text::excerpt(s.trim(), 30));
            let (negative, t) = match t.strip_prefix('-') {
                Some(rest) => (true, rest.to_string()),
                None => (false, t),
            };
            let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
            if whole.is_empty() && frac.is_empty()
                || !whole.bytes().all(|b| b.is_ascii_digit())
                || !frac.bytes().all(|b| b.is_ascii_digit())
                || whole.len() > 13
            {
                return Err(bad());
            }
            if frac.len() > 2 {
                return Err(format!("“{}”最多保留两位小数", s.trim()));
            }
            let whole: i64 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| bad())?
            };
            let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
            let value = whole * 100 + frac;
            Ok(if negative { -value } else { value })
        }
        other => Err(format!("“{}”不是数字", other.shown())),
    }
}

fn choice_text(input: Input<'_>) -> String {
    match input {
        Input::Text(s) => s.nfkc().filter(|c| !c.is_whitespace()).collect(),
        Input::Number(n) => n.to_string(),
        Input::Bool(true) => "TRUE".into(),
        Input::Bool(false) => "FALSE".into(),
        Input::Date(d) => d.to_string(),
    }
}

fn clean_text(input: Input<'_>, max_chars: usize) -> Result<String, String> {
    let text = match input {
        Input::Text(s) => s.trim().to_string(),
        Input::Number(n) => match exact_whole(n) {
            Some(i) => i.to_string(),
            None => n.to_string(),
        },
        Input::Date(d) => d.to_string(),
        Input::Bool(b) => if b { "是" } else { "否" }.to_string(),
    };
    if text.chars().any(is_hidden) {
        return Err("含有换行、控制字符或不可见字符（如零宽空格）".into());
    }
    let len = text.chars().count();
    if len > max_chars {
        return Err(format!("过长（{len} 个字，最多 {max_chars} 个）"));
    }
    Ok(text)
}

/// A problem with one field of a record, or with the record as a whole (`field` None).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: Option<&'static str>,
    pub message: String,
}

impl FieldProblem {
    fn on(field: &'static str, message: impl Into<String>) -> FieldProblem {
        FieldProblem {
            field: Some(field),
            message: message.into(),
        }
    }
}

/// A record's content: its kind, its community and its values by field key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordData {
    pub kind: RecordKind,
    pub values: BTreeMap<&'static str, Value>,
}

impl RecordData {
    /// Reads values given by field key (forms and the API). Every problem is reported, each on
    /// its field.
    pub fn from_inputs<'a>(
        kind: RecordKind,
        inputs: impl IntoIterator<Item = (&'a str, Input<'a>)>,
    ) -> Result<RecordData, Vec<FieldProblem>> {
        let mut values = BTreeMap::new();
        let mut problems = Vec::new();
        for (key, input) in inputs {
            let Some(field) = kind.field(key) else {
                problems.push(FieldProblem {
                    field: None,
                    message: format!(
                        "{}没有字段“{}”",
                        kind.label_zh(),
                        crate::text::excerpt(key, 30)
                    ),
                });
                continue;
            };
            match parse_value(field, input) {
                Ok(Some(v)) => {
                    values.insert(field.key, v);
                }
                Ok(None) => {}
                Err(message) => problems.push(FieldProblem::on(field.key, message)),
            }
        }
        if problems.is_empty() {
            Ok(RecordData { kind, values })
        } else {
            Err(problems)
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_text)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_int)
    }

    pub fn date(&self, key: &str) -> Option<Date> {
        self.get(key).and_then(Value::as_date)
    }

    /// The community the record belongs to.
    pub fn unit(&self) -> Option<DivisionCode> {
        self.text("unit").and_then(|t| DivisionCode::parse(t).ok())
    }

    /// The year the record counts in: its year field, or the year of its date.
    pub fn year(&self) -> Option<i16> {
        match self.kind.date_key() {
            Some(key) => self.date(key).map(|d| d.year()),
            None => self.int("year").and_then(|y| i16::try_from(y).ok()),
        }
    }

    pub fn month(&self) -> Option<i8> {
        self.kind
            .date_key()
            .and_then(|key| self.date(key))
            .map(|d| d.month())
    }

    pub fn record_date(&self) -> Option<Date> {
        self.kind.date_key().and_then(|key| self.date(key))
    }

    pub fn category(&self) -> Option<&str> {
        self.kind.category_key().and_then(|k| self.text(k))
    }

    pub fn quantity(&self) -> Option<i64> {
        self.kind.quantity_key().and_then(|k| self.int(k))
    }

    pub fn group(&self) -> Option<&str> {
        match self.kind {
            RecordKind::Groups => self.text("name"),
            _ => self.text("group"),
        }
    }

    /// Where the record sorts in its ledger: by date for dated kinds, by name for resident
    /// groups, by type and name for organisations.
    pub fn sort_key(&self) -> String {
        match (self.record_date(), self.kind) {
            (Some(d), _) => d.to_string(),
            (None, RecordKind::Groups) => self.text("name").unwrap_or_default().to_string(),
            (None, RecordKind::Tallies) => self.text("survey").unwrap_or_default().to_string(),
            (None, RecordKind::Organisations) => format!(
                "{}/{}",
                self.text("org_type").unwrap_or_default(),
                self.text("name").unwrap_or_default()
            ),
            (None, _) => String::new(),
        }
    }

    /// For kinds of which a community has at most one per year (or one per name), the key that
    /// must be unique within the community's year.
    pub fn slot(&self) -> Option<String> {
        match self.kind {
            RecordKind::Profile | RecordKind::Health => Some(String::new()),
            RecordKind::Groups => self.text("name").map(str::to_string),
            RecordKind::Tallies => self.text("survey").map(str::to_string),
            _ => None,
        }
    }

    /// Checks required fields and the rules across fields. `today` bounds dates: records are of
    /// what happened, and a year may be prepared at most one year ahead.
    pub fn validate(&self, today: Date) -> Result<(), Vec<FieldProblem>> {
        let mut problems = Vec::new();
        for f in self.kind.fields() {
            if f.required && !self.values.contains_key(f.key) {
                problems.push(FieldProblem::on(f.key, format!("“{}”必须填写", f.header)));
            }
            if let Some(Value::Date(d)) = self.values.get(f.key) {
                if d.year() < 2000 {
                    problems.push(FieldProblem::on(f.key, format!("日期 {d} 早于 2000 年")));
                } else if *d > today {
                    problems.push(FieldProblem::on(f.key, format!("日期 {d} 晚于今天")));
                }
            }
        }
        if let Some(year) = self.int("year")
            && year > i64::from(today.year()) + 1
        {
            problems.push(FieldProblem::on("year", format!("年度 {year} 太远")));
        }
        if let Some(unit) = self.unit()
            && !unit.kind().is_community()
        {
            problems.push(FieldProblem::on(
                "unit",
                format!("{unit} 不是社区（居民委员会）的代码"),
            ));
        }
        match self.kind {
            RecordKind::Activities => {
                if let (Some(start), Some(end)) = (self.date("start"), self.date("end"))
                    && end < start
                {
                    problems.push(FieldProblem::on("end", "结束日期早于开始日期"));
                }
            }
            RecordKind::Mediation
                if self.get("mediated") == Some(&Value::Bool(false))
                    && self.get("outcome").is_some() =>
            {
                problems.push(FieldProblem::on("outcome", "未调解的纠纷不应填写调解结果"));
            }
            RecordKind::Profile => self.check_estate(&mut problems),
            RecordKind::Tallies => {
                let total: i64 = ["very", "fairly", "not"]
                    .iter()
                    .filter_map(|k| self.int(k))
                    .sum();
                if total == 0 {
                    problems.push(FieldProblem::on("very", "计票合计为 0，没有可计的选票"));
                }
            }
            RecordKind::Organisations => {
                if self.get("event").is_some() != self.get("event_on").is_some() {
                    problems.push(FieldProblem::on("event_on", "“事件”和“事件日期”应同时填写"));
                }
                let elected_body = matches!(self.text("org_type"), Some("党组织" | "居民委员会"));
                if elected_body {
                    for key in ["elected_on", "term_years"] {
                        if self.get(key).is_none() {
                            problems.push(FieldProblem::on(
                                key,
                                "党组织和居民委员会须填写最近换届日期和任期",
                            ));
                        }
                    }
                }
                if let (Some(on), Some(year)) = (self.date("event_on"), self.int("year"))
                    && i64::from(on.year()) != year
                {
                    problems.push(FieldProblem::on(
                        "event_on",
                        format!("事件日期 {on} 不在 {year} 年内"),
                    ));
                }
                if let (Some(on), Some(year)) = (self.date("elected_on"), self.int("year"))
                    && i64::from(on.year()) > year
                {
                    problems.push(FieldProblem::on(
                        "elected_on",
                        format!("最近换届日期 {on} 晚于 {year} 年"),
                    ));
                }
                if self.text("event") == Some("解聘物业服务企业")
                    && self.text("org_type") != Some("业主委员会")
                {
                    problems.push(FieldProblem::on(
                        "event",
                        "“解聘物业服务企业”应记在业主委员会名下",
                    ));
                }
            }
            _ => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    fn check_estate(&self, problems: &mut Vec<FieldProblem>) {
        let households = self.int("households");
        let new = self.int("new_households");
        let old = self.int("old_households");
        match self.text("estate") {
            Some("新老混合") => match (new, old, households) {
                (Some(n), Some(o), Some(h)) if n + o != h => problems.push(FieldProblem::on(
                    "new_households",
                    format!("新建小区户数 {n} 加老旧小区户数 {o} 应等于户数 {h}"),
                )),
                (Some(_), Some(_), _) => {}
                _ => problems.push(FieldProblem::on(
                    "new_households",
                    "新老混合的社区须分别填写新建小区户数和老旧小区户数",
                )),
            },
            Some("新建小区") if old.is_some_and(|o| o > 0) => problems.push(FieldProblem::on(
                "old_households",
                "小区类型为新建小区时，老旧小区户数应为空或 0",
            )),
            Some("老旧小区") if new.is_some_and(|n| n > 0) => problems.push(FieldProblem::on(
                "new_households",
                "小区类型为老旧小区时，新建小区户数应为空或 0",
            )),
            _ => {}
        }
    }

    /// The record's values in field order, as written in exports and forms ("" when blank).
    pub fn cells(&self) -> Vec<String> {
        self.kind
            .fields()
            .iter()
            .map(|f| {
                self.values
                    .get(f.key)
                    .map(Value::display)
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The normalised content that identifies a row: the same data typed, re-saved in another
    /// encoding or read from another format gives the same key.
    pub fn content_key(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.kind.as_str().as_bytes());
        for f in self.kind.fields() {
            hasher.update([0x1f]);
            hasher.update(f.key.as_bytes());
            hasher.update([0x1e]);
            if let Some(v) = self.values.get(f.key) {
                hasher.update(v.display().as_bytes());
            }
        }
        hex(&hasher.finalize())
    }

    /// Values as text by key, for the stored record and the API.
    pub fn to_text_map(&self) -> BTreeMap<String, String> {
        self.values
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.display()))
            .collect()
    }

    /// Reads back a stored record (written by [`RecordData::to_text_map`]).
    pub fn from_text_map(
        kind: RecordKind,
        map: &BTreeMap<String, String>,
    ) -> Result<RecordData, Vec<FieldProblem>> {
        RecordData::from_inputs(
            kind,
            map.iter()
                .map(|(k, v)| (k.as_str(), Input::Text(v.as_str()))),
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Checks an uploaded evidence file against what its name claims, by its first bytes.
pub fn check_evidence_file(file_name: &str, bytes: &[u8]) -> Result<&'static str, String> {
    const MAX_BYTES: usize = 10 * 1024 * 1024;
    if bytes.is_empty() {
        return Err("文件是空的".into());
    }
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "文件过大（{:.1} MB，最多 10 MB）",
            bytes.len() as f64 / 1024.0 / 1024.0
        ));
    }
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let (content_type, matches) = match extension.as_str() {
        "jpg" | "jpeg" => ("image/jpeg", bytes.starts_with(&[0xFF, 0xD8, 0xFF])),
        "png" => ("image/png", bytes.starts_with(b"\x89PNG\r\n\x1a\n")),
        "gif" => ("image/gif", bytes.starts_with(b"GIF8")),
        "webp" => (
            "image/webp",
            bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        ),
        "pdf" => ("application/pdf", bytes.starts_with(b"%PDF-")),
        "docx" => (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            bytes.starts_with(b"PK\x03\x04"),
        ),
        "xlsx" => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            bytes.starts_with(b"PK\x03\x04"),
        ),
        "doc" | "xls" => (
            if extension == "doc" {
                "application/msword"
            } else {
                "application/vnd.ms-excel"
            },
            bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]),
        ),
        _ => {
            return Err(format!(
                "不支持的文件类型“{}”，可上传 jpg、png、gif、webp 图片或 pdf、doc、docx、xls、xlsx 文档",
                crate::text::excerpt(&extension, 10)
            ));
        }
    };
    if matches {
        Ok(content_type)
    } else {
        Err(format!(
            "文件内容与扩展名 .{extension} 不符（可能是改了扩展名的其他文件）"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::constant(2026, 12, 3)
    }

    fn service(values: &[(&'static str, &'static str)]) -> Result<RecordData, Vec<FieldProblem>> {
        RecordData::from_inputs(
            RecordKind::Services,
            values.iter().map(|(k, v)| (*k, Input::Text(v))),
        )
    }

    #[test]
    fn a_service_record_reads_and_validates() {
        let r = service(&[
            ("unit", "２３０１０２００１００１"),
            ("date", "2010年3月5日"),
            ("item", "５"),
            ("people", "12"),
            ("mode", " 上门服务 "),
        ])
        .unwrap();
        r.validate(today()).unwrap();
        assert_eq!(r.year(), Some(2010));
        assert_eq!(r.month(), Some(3));
        assert_eq!(r.unit().unwrap().as_str(), "230102001001");
        assert_eq!(r.quantity(), Some(12));
        assert_eq!(r.category(), Some("上门服务"));
    }

    #[test]
    fn every_problem_is_reported_on_its_field() {
        let problems = service(&[
            ("unit", "230102001001"),
            ("date", "2010-02-30"),
            ("people", "十二"),
            ("mode", "网上服务"),
        ])
        .unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, [Some("date"), Some("people"), Some("mode")]);
        assert!(problems[2].message.contains("现场服务"));
        let missing = service(&[("unit", "230102001001")])
            .unwrap()
            .validate(today())
            .unwrap_err();
        let fields: Vec<_> = missing.iter().map(|p| p.field).collect();
        assert_eq!(fields, [Some("date"), Some("item"), Some("people")]);
    }

    #[test]
    fn a_village_or_future_date_is_refused() {
        let r = service(&[
            ("unit", "230102001201"),
            ("date", "2027-01-01"),
            ("item", "1"),
            ("people", "1"),
        ])
        .unwrap();
        let problems = r.validate(today()).unwrap_err();
        assert!(problems.iter().any(|p| p.message.contains("晚于今天")));
        assert!(problems.iter().any(|p| p.message.contains("不是社区")));
    }

    #[test]
    fn codes_turned_into_numbers() {
        let unit = RecordKind::Services.field("unit").unwrap();
        assert_eq!(
            parse_value(unit, Input::Number(230102001001.0)).unwrap(),
            Some(Value::Text("230102001001".into()))
        );
        assert_eq!(
            parse_value(unit, Input::Text("230102001001.0")).unwrap(),
            Some(Value::Text("230102001001".into()))
        );
        let lossy = parse_value(unit, Input::Text("2.30102E+11")).unwrap_err();
        assert!(lossy.contains("科学计数法"), "{lossy}");
        assert!(parse_value(unit, Input::Number(2.5)).is_err());
    }

    #[test]
    fn numbers_percent_and_yes_no() {
        let p = RecordKind::Profile;
        let area = p.field("premises").unwrap();
        assert_eq!(
            parse_value(area, Input::Text("１２０.５")).unwrap(),
            Some(Value::Hundredths(12050))
        );
        assert_eq!(
            parse_value(area, Input::Number(99.99)).unwrap(),
            Some(Value::Hundredths(9999))
        );
        assert!(
            parse_value(area, Input::Text("1.234"))
                .unwrap_err()
                .contains("两位小数")
        );
        let green = p.field("greening").unwrap();
        assert_eq!(
            parse_value(green, Input::Text("35%")).unwrap(),
            Some(Value::Hundredths(3500))
        );
        assert!(
            parse_value(green, Input::Number(0.35))
                .unwrap_err()
                .contains("百分数")
        );
        assert!(parse_value(green, Input::Text("101")).is_err());
        let yes = p.field("one_stop").unwrap();
        assert_eq!(
            parse_value(yes, Input::Text("有")).unwrap(),
            Some(Value::Bool(true))
        );
        assert_eq!(
            parse_value(yes, Input::Bool(false)).unwrap(),
            Some(Value::Bool(false))
        );
        assert!(parse_value(yes, Input::Text("也许")).is_err());
        assert_eq!(format_hundredths(12050), "120.5");
        assert_eq!(format_hundredths(7), "0.07");
    }

    #[test]
    fn cross_field_rules() {
        let mixed = RecordData::from_inputs(
            RecordKind::Profile,
            [
                ("unit", "230102001001"),
                ("year", "2010"),
                ("households", "1000"),
                ("population", "3000"),
                ("estate", "新老混合"),
                ("new_households", "600"),
                ("old_households", "300"),
                ("premises", "200"),
                ("greening", "30"),
                ("one_stop", "是"),
                ("deliberation", "是"),
                ("indoor_venue", "是"),
                ("outdoor_venue", "否"),
                ("day_care", "是"),
                ("home_care", "是"),
                ("funding", "是"),
            ]
            .map(|(k, v)| (k, Input::Text(v))),
        )
        .unwrap();
        let problems = mixed.validate(today()).unwrap_err();
        assert!(problems[0].message.contains("应等于户数 1000"));
        let unmediated = RecordData::from_inputs(
            RecordKind::Mediation,
            [
                ("unit", "230102001001"),
                ("received", "2010-05-01"),
                ("category", "邻里纠纷"),
                ("mediated", "否"),
                ("outcome", "调解成功"),
            ]
            .map(|(k, v)| (k, Input::Text(v))),
        )
        .unwrap();
        assert_eq!(
            unmediated.validate(today()).unwrap_err()[0].field,
            Some("outcome")
        );
    }

    #[test]
    fn tally_labels_are_the_survey_labels() {
        let labels: Vec<&str> = crate::surveys::SurveyKind::ALL
            .iter()
            .map(|k| k.label_zh())
            .collect();
        assert_eq!(labels, SURVEY_LABELS);
    }

    #[test]
    fn organisation_dates_belong_to_their_year() {
        let org = |event_on: &'static str, elected_on: &'static str| {
            RecordData::from_inputs(
                RecordKind::Organisations,
                [
                    ("unit", "230102001001"),
                    ("year", "2011"),
                    ("org_type", "居民委员会"),
                    ("name", "第七届居委会"),
                    ("elected_on", elected_on),
                    ("term_years", "3"),
                    ("event", "换届选举"),
                    ("event_on", event_on),
                ]
                .map(|(k, v)| (k, Input::Text(v))),
            )
            .unwrap()
        };
        assert!(org("2011-05-01", "2011-05-01").validate(today()).is_ok());
        let problems = org("2015-01-01", "2012-05-01")
            .validate(today())
            .unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, [Some("event_on"), Some("elected_on")]);
    }

    #[test]
    fn content_keys_ignore_how_a_value_was_written() {
        let a = service(&[
            ("unit", "230102001001"),
            ("date", "2010/3/5"),
            ("item", "5"),
            ("people", "12"),
        ])
        .unwrap();
        let b = RecordData::from_inputs(
            RecordKind::Services,
            [
                ("unit", Input::Number(230102001001.0)),
                ("date", Input::Number(40242.0)),
                ("item", Input::Text("０５")),
                ("people", Input::Number(12.0)),
            ],
        )
        .unwrap();
        assert_eq!(a.content_key(), b.content_key());
        let c = service(&[
            ("unit", "230102001001"),
            ("date", "2010/3/5"),
            ("item", "5"),
            ("people", "13"),
        ])
        .unwrap();
        assert_ne!(a.content_key(), c.content_key());
        let back = RecordData::from_text_map(RecordKind::Services, &a.to_text_map()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn kinds_are_recognised_from_headers() {
        let headers = |hs: &[&str]| hs.iter().map(|h| normalise_header(h)).collect::<Vec<_>>();
        assert_eq!(
            RecordKind::recognise(&headers(&["区划代码 ", "日期", "服务项目编号", "服务人次"])),
            Ok(RecordKind::Services)
        );
        assert_eq!(
            RecordKind::recognise(&headers(&["区 划 代 码", "年度", "居民小组名称", "户数"])),
            Ok(RecordKind::Groups)
        );
        assert_eq!(normalise_header("任期（年）"), "任期(年)");
        assert!(RecordKind::recognise(&headers(&["区划代码", "名称"])).is_err());
        assert!(
            RecordKind::recognise(&headers(&["日期", "服务项目编号"]))
                .unwrap_err()
                .contains("区划代码")
        );
    }

    #[test]
    fn evidence_files_must_be_what_they_claim() {
        assert_eq!(
            check_evidence_file("a.PNG", b"\x89PNG\r\n\x1a\nrest"),
            Ok("image/png")
        );
        assert!(
            check_evidence_file("a.jpg", b"\x89PNG\r\n\x1a\n")
                .unwrap_err()
                .contains("不符")
        );
        assert!(
            check_evidence_file("a.exe", b"MZ")
                .unwrap_err()
                .contains("不支持")
        );
        assert!(check_evidence_file("a.pdf", b"").is_err());
    }

    #[test]
    fn links_must_be_web_addresses() {
        let f = RecordKind::Activities.field("links").unwrap();
        assert_eq!(
            parse_value(f, Input::Text("https://a.cn/x；http://b.cn")).unwrap(),
            Some(Value::Text("https://a.cn/x http://b.cn".into()))
        );
        assert!(parse_value(f, Input::Text("javascript:alert(1)")).is_err());
    }
}
