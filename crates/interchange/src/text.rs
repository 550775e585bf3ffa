//! Turning uploaded or imported bytes into text and CSV records: gzip, byte-order marks,
//! UTF-8 or GB18030, and a header that must name the columns a layout needs.

use std::fmt;

use shequ_domain::tree::{Origin, RowProblem};

/// A file as given: its name (for messages) and its bytes.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A problem with a whole file or one of its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<String>,
    pub problem: String,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, " 第 {line} 行")?;
        }
        if let Some(column) = &self.column {
            write!(f, "（{column} 列）")?;
        }
        write!(f, "：{}", self.problem)
    }
}

impl FileProblem {
    pub fn file(file: &str, problem: impl Into<String>) -> FileProblem {
        FileProblem {
            file: file.to_string(),
            line: None,
            column: None,
            problem: problem.into(),
        }
    }

    pub fn at(file: &str, line: u64, column: Option<&str>, problem: impl Into<String>) -> Self {
        FileProblem {
            file: file.to_string(),
            line: Some(line),
            column: column.map(str::to_string),
            problem: problem.into(),
        }
    }
}

impl From<RowProblem> for FileProblem {
    fn from(p: RowProblem) -> Self {
        FileProblem {
            file: p.origin.file,
            line: Some(p.origin.line),
            column: None,
            problem: p.problem,
        }
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Decodes a file to text: gunzips it if it is gzip, strips a UTF-8 byte-order mark, and reads
/// GB18030 (which covers GBK) when the bytes are not UTF-8.
pub fn decode(file: &SourceFile) -> Result<String, FileProblem> {
    let bytes: std::borrow::Cow<[u8]> = if file.bytes.starts_with(&GZIP_MAGIC) {
        crate::containers::gunzip(&file.bytes)
            .map_err(|problem| FileProblem::file(&file.name, problem))?
            .into()
    } else {
        (&file.bytes[..]).into()
    };
    if crate::spreadsheet::looks_like_spreadsheet(&bytes) {
        if bytes.starts_with(b"PK") {
            crate::containers::zip_members(&bytes)
                .map_err(|problem| FileProblem::file(&file.name, problem))?;
        }
        return crate::spreadsheet::first_sheet_as_csv(&bytes)
            .map_err(|problem| FileProblem::file(&file.name, problem));
    }
    let bytes = bytes
        .strip_prefix(&[0xEF, 0xBB, 0xBF][..])
        .unwrap_or(&bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(_) => {
            let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
            if had_errors {
                Err(FileProblem::file(
                    &file.name,
                    "文件既不是 UTF-8 也不是 GB18030/GBK 编码",
                ))
            } else {
                Ok(text.into_owned())
            }
        }
    }
}

/// A CSV file read into records, with the positions of the columns a layout asked for.
pub struct Table {
    pub file: String,
    pub records: Vec<(u64, csv::StringRecord)>,
    columns: Vec<usize>,
    optional: Option<usize>,
}

impl Table {
    /// Reads the file and finds each required column by its header name.
    pub fn read(file: &SourceFile, required: &[&str]) -> Result<Table, Vec<FileProblem>> {
        Table::read_with_optional(file, required, None)
    }

    /// Like [`Table::read`], with one more column that may be absent; [`Table::optional`]
    /// gives its value.
    pub fn read_with_optional(
        file: &SourceFile,
        required: &[&str],
        optional: Option<&str>,
    ) -> Result<Table, Vec<FileProblem>> {
        let text = decode(file).map_err(|p| vec![p])?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| {
                vec![FileProblem::at(
                    &file.name,
                    1,
                    None,
                    format!("表头无法读取：{e}"),
                )]
            })?
            .clone();
        let header_names: Vec<String> = headers.iter().map(|h| h.trim().to_string()).collect();
        let mut columns = Vec::new();
        let mut problems = Vec::new();
        for name in required {
            match header_names.iter().position(|h| h == name) {
                Some(i) => columns.push(i),
                None => problems.push(FileProblem::at(
                    &file.name,
                    1,
                    Some(name),
                    format!("缺少列“{name}”（表头为：{}）", header_names.join(",")),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let optional = optional.and_then(|name| header_names.iter().position(|h| h == name));
        let mut records = Vec::new();
        for record in reader.records() {
            match record {
                Ok(record) => {
                    let line = record.position().map_or(0, |p| p.line());
                    if record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    // An unclosed quote swallows the rest of the line (or file) into one field.
                    if record.iter().any(|f| f.contains(['\n', '\r'])) {
                        problems.push(FileProblem::at(
                            &file.name,
                            line,
                            None,
                            "字段内含换行，可能缺少右引号",
                        ));
                        continue;
                    }
                    if record.len() != header_names.len() {
                        problems.push(FileProblem::at(
                            &file.name,
                            line,
                            None,
                            format!(
                                "本行有 {} 列，表头有 {} 列（可能缺少引号或多了逗号）",
                                record.len(),
                                header_names.len()
                            ),
                        ));
                        continue;
                    }
                    records.push((line, record));
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    problems.push(FileProblem::at(
                        &file.name,
                        line,
                        None,
                        format!("无法读取：{e}"),
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Table {
            file: file.name.clone(),
            records,
            columns,
            optional,
        })
    }

    /// The value of the n-th required column, trimmed ("" when the row is short).
    pub fn field<'r>(&self, record: &'r csv::StringRecord, n: usize) -> &'r str {
        self.columns
            .get(n)
            .and_then(|i| record.get(*i))
            .map_or("", str::trim)
    }

    /// The optional column's value, or None when the file has no such column.
    pub fn optional<'r>(&self, record: &'r csv::StringRecord) -> Option<&'r str> {
        self.optional.map(|i| record.get(i).map_or("", str::trim))
    }

    pub fn origin(&self, line: u64) -> Origin {
        Origin {
            file: self.file.clone(),
            line,
        }
    }
}

/// Checks a name people will read: present, short enough, no control characters.
pub fn check_name(name: &str, max_chars: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("名称为空".into());
    }
    if name.chars().any(shequ_domain::text::is_hidden) {
        return Err("名称含有控制字符或不可见字符（如零宽空格）".into());
    }
    let len = name.chars().count();
    if len > max_chars {
        return Err(format!("名称过长（{len} 个字符，最多 {max_chars} 个）"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(bytes: &[u8]) -> SourceFile {
        SourceFile {
            name: "t.csv".into(),
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(decode(&file("code,名称".as_bytes())).unwrap(), "code,名称");
        let mut with_bom = vec![0xEF, 0xBB, 0xBF];
        with_bom.extend_from_slice("code,名称".as_bytes());
        assert_eq!(decode(&file(&with_bom)).unwrap(), "code,名称");
    }

    #[test]
    fn gbk_is_read() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("code,哈尔滨市");
        assert_eq!(decode(&file(&bytes)).unwrap(), "code,哈尔滨市");
    }

    #[test]
    fn gzip_is_read() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder
            .write_all("code,name\n23,黑龙江省\n".as_bytes())
            .unwrap();
        let gz = encoder.finish().unwrap();
        assert_eq!(decode(&file(&gz)).unwrap(), "code,name\n23,黑龙江省\n");
    }

    #[test]
    fn a_corrupt_gzip_is_a_file_problem() {
        let err = decode(&file(&[0x1f, 0x8b, 0, 1, 2])).unwrap_err();
        assert!(err.problem.contains("gzip"));
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = Table::read(&file(b"code,title\n1,2\n"), &["code", "name"])
            .err()
            .unwrap();
        assert_eq!(err[0].column.as_deref(), Some("name"));
        assert_eq!(err[0].line, Some(1));
    }
}
