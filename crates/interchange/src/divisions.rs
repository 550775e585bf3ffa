//! The division files: the national five-file layout (provinces, cities, areas, streets,
//! villages) and the one-file layout `code,name,parent_code` for units a province adds.

use shequ_domain::codes::{DivisionCode, Level};
use shequ_domain::tree::{IncomingUnit, ParentSpec};

use crate::text::{FileProblem, SourceFile, Table, check_name};

/// Longest unit name accepted; the longest real one is far shorter.
pub const MAX_NAME_CHARS: usize = 100;

/// The five files of the national layout, each with the level its codes must have.
pub struct NationalFiles {
    pub provinces: SourceFile,
    pub cities: SourceFile,
    pub areas: SourceFile,
    pub streets: SourceFile,
    pub villages: SourceFile,
}

/// File stems of the national layout, in level order; each may end in `.csv` or `.csv.gz`.
pub const NATIONAL_STEMS: [(&str, Level, &str); 5] = [
    ("provinces", Level::Province, ""),
    ("cities", Level::Prefecture, "provinceCode"),
    ("areas", Level::County, "cityCode"),
    ("streets", Level::Township, "areaCode"),
    ("villages", Level::Committee, "streetCode"),
];

/// Reads the five files into units whose parents are named by their codes' digits.
pub fn read_national_layout(files: &NationalFiles) -> Result<Vec<IncomingUnit>, Vec<FileProblem>> {
    let ordered = [
        &files.provinces,
        &files.cities,
        &files.areas,
        &files.streets,
        &files.villages,
    ];
    let mut units = Vec::new();
    let mut problems = Vec::new();
    for (file, (_, level, parent_column)) in ordered.into_iter().zip(NATIONAL_STEMS) {
        match read_level_file(file, level, parent_column) {
            Ok(mut rows) => units.append(&mut rows),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Ok(units)
    } else {
        Err(problems)
    }
}

fn read_level_file(
    file: &SourceFile,
    level: Level,
    parent_column: &str,
) -> Result<Vec<IncomingUnit>, Vec<FileProblem>> {
    // The parent column is optional, but when present it must agree with the code's digits.
    let optional = (!parent_column.is_empty()).then_some(parent_column);
    let table = Table::read_with_optional(file, &["code", "name"], optional)?;
    if table.records.is_empty() {
        // A header alone would close every unit of this level in a full import.
        return Err(vec![FileProblem::file(
            &table.file,
            format!("文件没有数据行（{}单位一个也没有）", level.label_zh()),
        )]);
    }
    let mut units = Vec::with_capacity(table.records.len());
    let mut problems = Vec::new();
    for (line, record) in &table.records {
        let line = *line;
        let code = match DivisionCode::parse(table.field(record, 0)) {
            Ok(code) => code,
            Err(e) => {
                problems.push(FileProblem::at(
                    &table.file,
                    line,
                    Some("code"),
                    e.to_string(),
                ));
                continue;
            }
        };
        if code.level() != level {
            problems.push(FileProblem::at(
                &table.file,
                line,
                Some("code"),
                format!(
                    "代码 {code} 为 {} 位，本文件的代码应为 {} 位（{}单位）",
                    code.as_str().len(),
                    level.code_len(),
                    level.label_zh()
                ),
            ));
            continue;
        }
        let name = table.field(record, 1);
        if let Err(problem) = check_name(name, MAX_NAME_CHARS) {
            problems.push(FileProblem::at(&table.file, line, Some("name"), problem));
            continue;
        }
        if let Some(written) = table.optional(record) {
            let by_digits = code.parent_by_digits();
            let agrees = match (DivisionCode::parse(written), &by_digits) {
                (Ok(written), Some(by_digits)) => &written == by_digits,
                _ => written.is_empty(),
            };
            if !agrees {
                problems.push(FileProblem::at(
                    &table.file,
                    line,
                    Some(parent_column),
                    format!(
                        "上级代码“{written}”与代码 {code} 的前 {} 位不一致",
                        level.parent().map_or(0, Level::code_len)
                    ),
                ));
                continue;
            }
        }
        units.push(IncomingUnit {
            code,
            name: name.to_string(),
            parent: ParentSpec::ByDigits,
            origin: table.origin(line),
        });
    }
    if problems.is_empty() {
        Ok(units)
    } else {
        Err(problems)
    }
}

/// Reads `code,name,parent_code`: units a province adds outside the national codes.
pub fn read_one_file_layout(file: &SourceFile) -> Result<Vec<IncomingUnit>, Vec<FileProblem>> {
    let table = Table::read(file, &["code", "name", "parent_code"])?;
    let mut units = Vec::with_capacity(table.records.len());
    let mut problems = Vec::new();
    for (line, record) in &table.records {
        let line = *line;
        let code = match DivisionCode::parse(table.field(record, 0)) {
            Ok(code) => code,
            Err(e) => {
                problems.push(FileProblem::at(
                    &table.file,
                    line,
                    Some("code"),
                    e.to_string(),
                ));
                continue;
            }
        };
        let name = table.field(record, 1);
        if let Err(problem) = check_name(name, MAX_NAME_CHARS) {
            problems.push(FileProblem::at(&table.file, line, Some("name"), problem));
            continue;
        }
        let parent = match table.field(record, 2) {
            "" => None,
            written => match DivisionCode::parse(written) {
                Ok(parent) => Some(parent),
                Err(e) => {
                    problems.push(FileProblem::at(
                        &table.file,
                        line,
                        Some("parent_code"),
                        e.to_string(),
                    ));
                    continue;
                }
            },
        };
        units.push(IncomingUnit {
            code,
            name: name.to_string(),
            parent: ParentSpec::Explicit(parent),
            origin: table.origin(line),
        });
    }
    if problems.is_empty() {
        Ok(units)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> SourceFile {
        SourceFile {
            name: name.into(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    fn national(villages: &str) -> NationalFiles {
        NationalFiles {
            provinces: file("provinces.csv", "code,name\n23,\"黑龙江省\"\n"),
            cities: file(
                "cities.csv",
                "code,name,provinceCode\n2301,\"哈尔滨市\",23\n",
            ),
            areas: file(
                "areas.csv",
                "code,name,cityCode,provinceCode\n230102,\"道里区\",2301,23\n",
            ),
            streets: file(
                "streets.csv",
                "code,name,areaCode,provinceCode,cityCode\n230102001,\"兆麟街道\",230102,23,2301\n",
            ),
            villages: file("villages.csv", villages),
        }
    }

    const HEADER: &str = "code,name,streetCode,provinceCode,cityCode,areaCode\n";

    #[test]
    fn reads_the_real_layout() {
        let units = read_national_layout(&national(&format!(
            "{HEADER}230102001001,\"省报社社区居委会\",230102001,23,2301,230102\n"
        )))
        .unwrap();
        assert_eq!(units.len(), 5);
        assert_eq!(units[4].name, "省报社社区居委会");
        assert_eq!(units[4].origin.line, 2);
    }

    #[test]
    fn names_file_line_and_column_of_each_problem() {
        let problems = read_national_layout(&national(&format!(
            "{HEADER}2301020010x1,a,230102001,23,2301,230102\n23010200100,b,230102001,23,2301,230102\n230102001002,,230102001,23,2301,230102\n230102001003,c,230102002,23,2301,230102\n"
        )))
        .unwrap_err();
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 4, "{shown:?}");
        assert!(
            shown[0].starts_with("villages.csv 第 2 行（code 列）"),
            "{}",
            shown[0]
        );
        assert!(shown[0].contains("非数字"));
        assert!(
            shown[1].contains("第 3 行") && shown[1].contains("11 位"),
            "{}",
            shown[1]
        );
        assert!(shown[2].contains("第 4 行") && shown[2].contains("名称为空"));
        assert!(shown[3].contains("第 5 行") && shown[3].contains("不一致"));
    }

    #[test]
    fn short_rows_unclosed_quotes_hidden_characters_and_empty_files() {
        let problems = read_national_layout(&national(&format!(
            "{HEADER}230102001001,\"社区\"\n230102001002,\"零\u{200B}宽\",230102001,23,2301,230102\n230102001003,\"未闭合,230102001,23,2301,230102\n230102001004,x,230102001,23,2301,230102\n"
        )))
        .unwrap_err();
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        // Rows that cannot be read are reported first, all of them.
        assert_eq!(problems.len(), 2, "{shown:?}");
        assert!(
            shown[0].contains("第 2 行：本行有 2 列，表头有 6 列"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].contains("第 4 行：字段内含换行，可能缺少右引号"),
            "{}",
            shown[1]
        );
        let problems = read_national_layout(&national(&format!(
            "{HEADER}230102001002,\"零\u{200B}宽\",230102001,23,2301,230102\n"
        )))
        .unwrap_err();
        assert!(problems[0].to_string().contains("第 2 行（name 列）"));
        assert!(problems[0].problem.contains("不可见字符"));

        let problems = read_national_layout(&national(HEADER)).unwrap_err();
        assert_eq!(
            problems[0].to_string(),
            "villages.csv：文件没有数据行（村级单位一个也没有）"
        );
    }

    #[test]
    fn full_width_codes_are_normalised() {
        let units = read_national_layout(&national(&format!(
            "{HEADER}２３０１０２００１００１,社区,230102001,23,2301,230102\n"
        )))
        .unwrap();
        assert_eq!(units[4].code.as_str(), "230102001001");
    }

    #[test]
    fn one_file_layout() {
        let units = read_one_file_layout(&file(
            "extra.csv",
            "code,name,parent_code\n230102001901,生活区,230102001\n",
        ))
        .unwrap();
        assert_eq!(
            units[0].parent,
            ParentSpec::Explicit(Some(DivisionCode::parse("230102001").unwrap()))
        );
        let problems = read_one_file_layout(&file("extra.csv", "code,name\n1,2\n")).unwrap_err();
        assert!(problems[0].problem.contains("parent_code"));
    }
}
