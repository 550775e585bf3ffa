//! The bundled 2010 standard says exactly what the notice says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use shequ_domain::{Standard, numerals};

fn repo_file(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn notice() -> String {
    repo_file("data/source/notice-2010.txt")
}

fn standard() -> Standard {
    Standard::from_toml(&repo_file("data/standards/hlj-2010.toml")).unwrap()
}

/// The notice's table cells are lines that start with a tab; collapse them to "cell\n" lines
/// so an item reads as its number cell followed by its text cell.
fn cells(notice: &str) -> Vec<String> {
    notice
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_repo_copy_of_the_notice_is_the_original() {
    let shared =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/source/notice-2010.txt");
    if let Ok(original) = std::fs::read_to_string(shared) {
        assert_eq!(original, notice());
    }
}

#[test]
fn sixteen_categories_one_hundred_items_twenty_five_indicators() {
    let s = standard();
    assert_eq!(s.id, "hlj-2010");
    assert_eq!(s.categories.len(), 16);
    assert_eq!(s.items().count(), 100);
    assert_eq!(s.indicators().count(), 25);
    let numbers: Vec<u32> = s.items().map(|(_, i)| i.number).collect();
    assert_eq!(numbers, (1..=100).collect::<Vec<_>>());
    let numbers: Vec<u32> = s.indicators().map(|(_, i)| i.number).collect();
    assert_eq!(numbers, (1..=25).collect::<Vec<_>>());
    let distinctive: Vec<u32> = s
        .indicators()
        .filter(|(g, _)| g.distinctive)
        .map(|(_, i)| i.number)
        .collect();
    assert_eq!(distinctive, (1..=10).collect::<Vec<_>>());
    assert_eq!(s.indicator_groups.len(), 8);
}

#[test]
fn declared_counts_match_the_notice_and_the_items() {
    let s = standard();
    let expected = [3, 3, 6, 10, 10, 10, 9, 4, 4, 7, 9, 6, 5, 6, 6, 2];
    let cells = cells(&notice()).join("\n");
    for (category, expected) in s.categories.iter().zip(expected) {
        assert_eq!(
            category.declared_count(),
            Some(expected),
            "{}",
            category.name
        );
        assert_eq!(category.items.len() as u32, expected, "{}", category.name);
        // The category cell: name, an ASCII or full-width colon, maybe a line break, the count.
        let found = [":", "："].iter().any(|colon| {
            cells.contains(&format!("{}{colon}{}", category.name, category.declared))
                || cells.contains(&format!("{}{colon} {}", category.name, category.declared))
                || cells.contains(&format!("{}{colon}\n{}", category.name, category.declared))
        });
        assert!(
            found,
            "category cell of {} not in the notice",
            category.name
        );
    }
}

#[test]
fn categories_appear_in_order_under_their_chinese_numbers() {
    let s = standard();
    let cells = cells(&notice());
    let mut from = 0;
    for category in &s.categories {
        let numeral = numerals::format(category.number);
        let at = cells[from..]
            .iter()
            .position(|c| *c == numeral)
            .map(|p| p + from)
            .unwrap_or_else(|| panic!("category number {numeral} not found"));
        // The category cell follows its number (the notice has a blank line after 十二).
        assert!(
            cells[at + 1].starts_with(&category.name),
            "{numeral} is followed by {:?}, not {}",
            cells[at + 1],
            category.name
        );
        from = at + 1;
    }
}

#[test]
fn every_item_text_follows_its_number_in_the_notice() {
    let s = standard();
    let cells = cells(&notice());
    for (category, item) in s.items() {
        let number = item.number.to_string();
        let found = cells
            .windows(2)
            .any(|w| w[0] == number && w[1] == item.text);
        assert!(
            found,
            "item {} ({}) not in the notice as written",
            item.number, category.name
        );
    }
}

#[test]
fn every_indicator_text_follows_its_number_and_group_in_the_notice() {
    let s = standard();
    let notice = notice();
    let annex2 = &notice[notice.find("附件2：特色型社区考评标准").unwrap()..];
    let common_starts = annex2.find("二、共性考评指标").unwrap();
    let mut from = 0;
    for (group, indicator) in s.indicators() {
        let written = [". ", "．", "、"]
            .iter()
            .filter_map(|sep| annex2.find(&format!("{}{sep}{}", indicator.number, indicator.text)))
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "indicator {} not in the notice as written",
                    indicator.number
                )
            });
        assert!(
            written > from,
            "indicator {} out of order",
            indicator.number
        );
        assert_eq!(
            group.distinctive,
            written < common_starts,
            "indicator {}",
            indicator.number
        );
        // The nearest group name before the indicator is its group.
        let group_at = annex2[..written].rfind(&format!("\t{}\n", group.name));
        let names: Vec<&str> = s.indicator_groups.iter().map(|g| g.name.as_str()).collect();
        let nearest = names
            .iter()
            .filter_map(|n| {
                annex2[..written]
                    .rfind(&format!("\t{n}\n"))
                    .map(|p| (p, *n))
            })
            .max();
        assert_eq!(nearest.map(|(_, n)| n), Some(group.name.as_str()));
        assert!(group_at.is_some());
        from = written;
    }
}
