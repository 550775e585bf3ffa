//! The small aggregates evaluation reads instead of the ledgers: every record (and every
//! evidence file) adds one to a few named counts of its community's year, such as "activities
//! of type 季度服务周 in month 4" or "service records of item 59". The store keeps these counts in
//! the same transaction as each write, so an evaluation never scans a year's raw records.

use crate::records::{RecordData, RecordKind};

/// Changes whenever what a record contributes changes; the store rebuilds every count when the
/// version it built them with differs.
pub const FACTS_VERSION: &str = "2";

pub fn activity_month(activity_type: &str, month: i8) -> String {
    format!("activity:{activity_type}:m{month}")
}

pub fn activity_group(activity_type: &str, group: &str) -> String {
    format!("activity:{activity_type}:group:{group}")
}

pub fn service_item(item: i64) -> String {
    format!("service:item:{item}")
}

/// Service records of an item in a month: monthly reports count records and items covered
/// from these.
pub fn service_month_item(month: i8, item: i64) -> String {
    format!("{SERVICE_MONTH_PREFIX}{month}:item:{item}")
}

/// People served by an item's records in a month.
pub fn people_month_item(month: i8, item: i64) -> String {
    format!("{PEOPLE_MONTH_PREFIX}{month}:item:{item}")
}

const SERVICE_MONTH_PREFIX: &str = "service:m";
const PEOPLE_MONTH_PREFIX: &str = "people:m";

/// How every per-month service count begins: these are most of a year's counts, and only
/// progress reports read them, so an evaluation leaves them in the database.
pub const MONTHLY_SERVICE_PREFIXES: [&str; 2] = [SERVICE_MONTH_PREFIX, PEOPLE_MONTH_PREFIX];

/// Whether a count is one of the per-month service counts that evaluation does not read.
pub fn is_monthly_service(fact: &str) -> bool {
    MONTHLY_SERVICE_PREFIXES
        .iter()
        .any(|prefix| fact.starts_with(prefix))
}

fn month_item(fact: &str, prefix: &str) -> Option<(i8, u32)> {
    let rest = fact.strip_prefix(prefix)?;
    let (month, item) = rest.split_once(":item:")?;
    let month: i8 = month.parse().ok()?;
    Some((month, item.parse().ok()?)).filter(|_| (1..=12).contains(&month))
}

pub fn parse_service_month_item(fact: &str) -> Option<(i8, u32)> {
    month_item(fact, SERVICE_MONTH_PREFIX)
}

pub fn parse_people_month_item(fact: &str) -> Option<(i8, u32)> {
    month_item(fact, PEOPLE_MONTH_PREFIX)
}

/// The activity type and month of an [`activity_month`] count.
pub fn parse_activity_month(fact: &str) -> Option<(&str, i8)> {
    let (kind, month) = fact.strip_prefix("activity:")?.rsplit_once(":m")?;
    let month: i8 = month.parse().ok()?;
    (crate::records::ACTIVITY_TYPES.contains(&kind) && (1..=12).contains(&month))
        .then_some((kind, month))
}

pub fn incident(incident_type: &str) -> String {
    format!("incident:{incident_type}")
}

pub const MEDIA_LINKS: &str = "evidence:links";
pub const PHOTOS: &str = "evidence:photos";
pub const MEDIATION_RECEIVED: &str = "mediation:received";
pub const MEDIATION_MEDIATED: &str = "mediation:mediated";
pub const MEDIATION_SUCCEEDED: &str = "mediation:succeeded";
pub const PROFILE_DOCUMENT: &str = "document:profile";

pub fn group_document(group: &str) -> String {
    format!("document:group:{group}")
}

/// The counts one record adds to its community's year.
pub fn record_facts(data: &RecordData) -> Vec<(String, i64)> {
    let mut facts = Vec::new();
    match data.kind {
        RecordKind::Activities => {
            if let (Some(t), Some(month)) = (data.text("type"), data.month()) {
                facts.push((activity_month(t, month), 1));
                if let Some(group) = data.text("group") {
                    facts.push((activity_group(t, group), 1));
                }
            }
            let links = data
                .text("links")
                .map_or(0, |l| l.split_whitespace().count() as i64);
            if links > 0 {
                facts.push((MEDIA_LINKS.to_string(), links));
            }
        }
        RecordKind::Services => {
            if let Some(item) = data.int("item") {
                facts.push((service_item(item), 1));
                if let Some(month) = data.month() {
                    facts.push((service_month_item(month, item), 1));
                    let people = data.int("people").unwrap_or(0);
                    if people > 0 {
                        facts.push((people_month_item(month, item), people));
                    }
                }
            }
        }
        RecordKind::Mediation => {
            facts.push((MEDIATION_RECEIVED.to_string(), 1));
            if data.get("mediated") == Some(&crate::records::Value::Bool(true)) {
                facts.push((MEDIATION_MEDIATED.to_string(), 1));
                if data.text("outcome") == Some("调解成功") {
                    facts.push((MEDIATION_SUCCEEDED.to_string(), 1));
                }
            }
        }
        RecordKind::Incidents => {
            if let Some(t) = data.text("type") {
                facts.push((incident(t), 1));
            }
        }
        _ => {}
    }
    facts
}

/// The counts an evidence file adds to the year of the record it is attached to: a photo on any
/// record is image evidence; a document on the profile or on a resident group is its creation
/// standard or method.
pub fn file_facts(data: &RecordData, content_type: &str) -> Vec<(String, i64)> {
    if content_type.starts_with("image/") {
        return vec![(PHOTOS.to_string(), 1)];
    }
    match data.kind {
        RecordKind::Profile => vec![(PROFILE_DOCUMENT.to_string(), 1)],
        RecordKind::Groups => data
            .text("name")
            .map(|g| vec![(group_document(g), 1)])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Input;

    #[test]
    fn only_the_per_month_service_counts_are_monthly_service_counts() {
        assert!(is_monthly_service(&service_month_item(3, 59)));
        assert!(is_monthly_service(&people_month_item(12, 1)));
        for yearly in [
            service_item(59),
            activity_month("季度服务周", 3),
            activity_group("居民代表会议", "第一居民小组"),
            incident("火灾"),
            group_document("第一居民小组"),
        ] {
            assert!(!is_monthly_service(&yearly), "{yearly}");
        }
    }

    fn record(kind: RecordKind, fields: &[(&str, &str)]) -> RecordData {
        RecordData::from_inputs(kind, fields.iter().map(|(k, v)| (*k, Input::Text(v)))).unwrap()
    }

    #[test]
    fn records_add_their_counts() {
        let activity = record(
            RecordKind::Activities,
            &[
                ("unit", "230102001001"),
                ("type", "居民小组志愿活动"),
                ("start", "2010-04-03"),
                ("participants", "20"),
                ("group", "一组"),
                ("links", "https://a.cn/1 https://b.cn/2"),
            ],
        );
        assert_eq!(
            record_facts(&activity),
            vec![
                ("activity:居民小组志愿活动:m4".to_string(), 1),
                ("activity:居民小组志愿活动:group:一组".to_string(), 1),
                (MEDIA_LINKS.to_string(), 2),
            ]
        );
        let mediation = record(
            RecordKind::Mediation,
            &[
                ("unit", "230102001001"),
                ("received", "2010-04-03"),
                ("category", "邻里纠纷"),
                ("mediated", "是"),
                ("outcome", "调解未成功"),
            ],
        );
        assert_eq!(
            record_facts(&mediation),
            vec![
                (MEDIATION_RECEIVED.to_string(), 1),
                (MEDIATION_MEDIATED.to_string(), 1)
            ]
        );
        let service = record(
            RecordKind::Services,
            &[
                ("unit", "230102001001"),
                ("date", "2010-11-30"),
                ("item", "59"),
                ("people", "12"),
                ("mode", "上门服务"),
                ("provider", "志愿者"),
            ],
        );
        let counts = record_facts(&service);
        assert_eq!(
            counts,
            vec![
                ("service:item:59".to_string(), 1),
                ("service:m11:item:59".to_string(), 1),
                ("people:m11:item:59".to_string(), 12),
            ]
        );
        assert_eq!(parse_service_month_item(&counts[1].0), Some((11, 59)));
        assert_eq!(parse_people_month_item(&counts[2].0), Some((11, 59)));
        assert_eq!(parse_service_month_item("service:item:59"), None);
        assert_eq!(
            parse_activity_month("activity:居民小组志愿活动:m4"),
            Some(("居民小组志愿活动", 4))
        );
        assert_eq!(
            parse_activity_month("activity:居民小组志愿活动:group:一组"),
            None
        );
        assert_eq!(
            parse_activity_month("activity:居民小组志愿活动:group:x:m4"),
            None
        );
        assert_eq!(
            file_facts(&activity, "image/jpeg"),
            vec![(PHOTOS.to_string(), 1)]
        );
        assert!(file_facts(&activity, "application/pdf").is_empty());
    }
}
