//! Community records in and out of spreadsheets: a file of any kind (xlsx, xls, ods, CSV in
//! UTF-8 or GB18030) read into checked records with every bad cell named, and records written
//! out as typed xlsx or as CSV that Excel opens correctly.

use std::collections::HashMap;
use std::io::{Cursor, Write};

use calamine::{Data, Reader, Sheets};
use jiff::civil::Date;
use serde::Serialize;
use shequ_domain::records::{
    Field, FieldType, Input, REF_HEADER, RecordData, RecordKind, Value, normalise_header,
};

use crate::text::SourceFile;

/// One bad cell or row of an import: what the `--json` report and the upload page list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The row as the spreadsheet program numbers it (the header is row 1); 0 for the file.
    pub row: u64,
    /// The column's header, "" when the problem is the whole row or file.
    pub column: String,
    pub value: String,
    pub reason: String,
}

impl RowError {
    pub fn file(reason: impl Into<String>) -> RowError {
        RowError {
            row: 0,
            column: String::new(),
            value: String::new(),
            reason: reason.into(),
        }
    }
}

/// A row read from a file, checked on its own (the app checks it against the tree and the
/// standard).
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub row: u64,
    pub data: RecordData,
    /// The 记录编号 column, when the file has one and the row fills it.
    pub record_ref: Option<String>,
    /// Raw cell text by field key, so later checks can quote what the file said.
    pub shown: HashMap<&'static str, String>,
}

/// A file's good rows and the problems of its bad ones: the caller checks the good rows
/// further, so that one report lists every problem of the file.
#[derive(Debug, Clone)]
pub struct RecordFile {
    pub kind: RecordKind,
    pub rows: Vec<ImportRow>,
    pub errors: Vec<RowError>,
}

/// A cell as read: spreadsheets keep numbers, dates and booleans; CSV gives text.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Date(Result<Date, String>),
    Bool(bool),
    Error(String),
}

impl Cell {
    fn shown(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => shequ_domain::text::excerpt(s, 60),
            Cell::Number(n) => match n.fract() == 0.0 && n.abs() < 1e15 {
                true => format!("{}", *n as i64),
                false => n.to_string(),
            },
            Cell::Date(Ok(d)) => d.to_string(),
            Cell::Date(Err(_)) => "（日期）".into(),
            Cell::Bool(b) => b.to_string(),
            Cell::Error(e) => e.clone(),
        }
    }
}

/// The rows of the first sheet, each with its row number.
struct Grid {
    rows: Vec<(u64, Vec<Cell>)>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

fn read_grid(file: &SourceFile) -> Result<Grid, RowError> {
    let bytes: std::borrow::Cow<[u8]> = if file.bytes.starts_with(&GZIP_MAGIC) {
        crate::containers::gunzip(&file.bytes)
            .map_err(RowError::file)?
            .into()
    } else {
        (&file.bytes[..]).into()
    };
    if crate::spreadsheet::looks_like_spreadsheet(&bytes) {
        if bytes.starts_with(b"PK") {
            crate::containers::zip_members(&bytes).map_err(RowError::file)?;
        }
        read_spreadsheet(&bytes)
    } else {
        read_csv(&bytes)
    }
}

fn read_csv(bytes: &[u8]) -> Result<Grid, RowError> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => {
            let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
            if had_errors {
                return Err(RowError::file(
                    "文件既不是 UTF-8 也不是 GB18030/GBK 编码的 CSV，也不是 xlsx、xls 或 ods 表格",
                ));
            }
            text.into_owned()
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            RowError {
                row: line,
                column: String::new(),
                value: String::new(),
                reason: format!("CSV 无法读取：{e}"),
            }
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let cells = record
            .iter()
            .map(|field| {
                // Export writes an apostrophe before text a spreadsheet would run as a formula;
                // exactly that one apostrophe comes off again.
                let field = field.strip_prefix('\'').unwrap_or(field);
                if field.trim().is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(field.to_string())
                }
            })
            .collect();
        rows.push((line, cells));
    }
    Ok(Grid { rows })
}

fn read_spreadsheet(bytes: &[u8]) -> Result<Grid, RowError> {
    let mut workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|e| RowError::file(format!("表格文件无法打开：{e}")))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| RowError::file("表格文件没有工作表"))?
        .map_err(|e| RowError::file(format!("第一个工作表无法读取：{e}")))?;
    let merges = match &mut workbook {
        Sheets::Xlsx(x) => x.merge_cells_by_sheet_id(0).unwrap_or_default(),
        #[allow(deprecated)]
        Sheets::Xls(x) => x.worksheet_merge_cells_at(0).unwrap_or_default(),
        _ => Vec::new(),
    };
    let (first_row, first_col) = range.start().unwrap_or((0, 0));
    let mut grid: Vec<Vec<Cell>> = range
        .rows()
        .map(|row| row.iter().map(cell_of).collect())
        .collect();
    // A merged cell holds its value in the top-left cell only; the merge means the value
    // applies to every cell it covers (and to no cell outside it).
    for merge in merges {
        let (top, left) = merge.start;
        let (bottom, right) = merge.end;
        let at = |r: u32, c: u32| -> Option<(usize, usize)> {
            Some((
                r.checked_sub(first_row)? as usize,
                c.checked_sub(first_col)? as usize,
            ))
        };
        let Some((r0, c0)) = at(top, left) else {
            continue;
        };
        let Some(value) = grid.get(r0).and_then(|row| row.get(c0)).cloned() else {
            continue;
        };
        for r in top..=bottom {
            for c in left..=right {
                if let Some((ri, ci)) = at(r, c)
                    && let Some(cell) = grid.get_mut(ri).and_then(|row| row.get_mut(ci))
                {
                    *cell = value.clone();
                }
            }
        }
    }
    let rows = grid
        .into_iter()
        .enumerate()
        .map(|(i, cells)| (u64::from(first_row) + i as u64 + 1, cells))
        .collect();
    Ok(Grid { rows })
}

fn cell_of(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) if s.trim().is_empty() => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) if dt.is_datetime() && dt.as_f64() < 1.0 => {
            Cell::Date(Err(format!("数字 {} 不是有效的表格日期", dt.as_f64())))
        }
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            Cell::Date(
                Date::new(y as i16, m as i8, d as i8)
                    .map_err(|_| format!("表格日期 {y}-{m:02}-{d:02} 不存在")),
            )
        }
        Data::DateTime(dt) => Cell::Number(dt.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(format!("单元格错误 {e:?}")),
    }
}

/// Reads a records file: recognises its kind from the header, reads every row and reports
/// every bad cell. `today` bounds dates (records are of what has happened). An error is a
/// problem with the whole file (unreadable, unknown header); bad rows come back in
/// [`RecordFile::errors`].
pub fn read_records(file: &SourceFile, today: Date) -> Result<RecordFile, Vec<RowError>> {
    let grid = read_grid(file).map_err(|e| vec![e])?;
    let mut rows = grid.rows.into_iter();
    let Some((header_row, header_cells)) = rows.next() else {
        return Err(vec![RowError::file("文件是空的，没有表头")]);
    };
    let headers: Vec<String> = header_cells
        .iter()
        .map(|c| match c {
            Cell::Text(s) => normalise_header(s),
            other => normalise_header(&other.shown()),
        })
        .collect();
    let kind = RecordKind::recognise(&headers).map_err(|reason| {
        let separated_otherwise = headers.len() == 1
            && headers[0].contains([';', '\t', '，', '；']);
        let reason = if separated_otherwise {
            "表头只有一列，文件似乎用分号、制表符或中文逗号分隔；请另存为逗号分隔的 CSV 或 Excel 表格"
                .to_string()
        } else {
            reason
        };
        vec![RowError {
            row: header_row,
            column: String::new(),
            value: String::new(),
            reason,
        }]
    })?;
    let mut errors = Vec::new();
    let mut seen = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        if !h.is_empty()
            && let Some(first) = seen.insert(h.clone(), i)
        {
            errors.push(RowError {
                row: header_row,
                column: h.clone(),
                value: String::new(),
                reason: format!("列“{h}”出现了两次（第 {} 列和第 {} 列）", first + 1, i + 1),
            });
        }
    }
    let columns: Vec<(&'static Field, Option<usize>)> = kind
        .fields()
        .iter()
        .map(|f| {
            (
                f,
                headers
                    .iter()
                    .position(|h| *h == normalise_header(f.header)),
            )
        })
        .collect();
    for (f, at) in &columns {
        if f.required && at.is_none() {
            errors.push(RowError {
                row: header_row,
                column: f.header.to_string(),
                value: String::new(),
                reason: format!("{}缺少必填列“{}”", kind.label_zh(), f.header),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let ref_column = headers
        .iter()
        .position(|h| *h == normalise_header(REF_HEADER));
    let mut out = Vec::new();
    let mut refs_seen: HashMap<String, u64> = HashMap::new();
    for (row, cells) in rows {
        if cells.iter().all(|c| matches!(c, Cell::Empty)) {
            continue;
        }
        let cell_at = |i: Option<usize>| i.and_then(|i| cells.get(i)).unwrap_or(&Cell::Empty);
        let mut row_errors = Vec::new();
        // Values beyond the header would be lost without a word; a shifted row is likely.
        let last_filled = cells.iter().rposition(|c| !matches!(c, Cell::Empty));
        if let Some(last) = last_filled
            && last >= headers.len()
        {
            row_errors.push(RowError {
                row,
                column: String::new(),
                value: cells[last].shown(),
                reason: format!(
                    "本行第 {} 列有内容，但表头只有 {} 列（可能多了逗号或错位）",
                    last + 1,
                    headers.len()
                ),
            });
        }
        let mut shown = HashMap::new();
        let mut inputs: Vec<(&'static str, Input<'_>)> = Vec::new();
        let mut failed_cells = std::collections::HashSet::new();
        for (f, at) in &columns {
            let cell = cell_at(*at);
            shown.insert(f.key, cell.shown());
            let input = match cell {
                Cell::Empty => continue,
                Cell::Text(s) => Input::Text(s),
                Cell::Number(n) => Input::Number(*n),
                Cell::Bool(b) => Input::Bool(*b),
                Cell::Date(Ok(d)) => Input::Date(*d),
                Cell::Date(Err(reason)) | Cell::Error(reason) => {
                    failed_cells.insert(f.header);
                    row_errors.push(RowError {
                        row,
                        column: f.header.to_string(),
                        value: cell.shown(),
                        reason: reason.clone(),
                    });
                    continue;
                }
            };
            inputs.push((f.key, input));
        }
        let record_ref = match cell_at(ref_column) {
            Cell::Empty => None,
            cell => {
                use unicode_normalization::UnicodeNormalization;
                let raw = match cell {
                    Cell::Text(s) => s.clone(),
                    other => other.shown(),
                };
                // Full-width and half-width forms of a 记录编号 are the same number.
                let text: String = raw.nfkc().collect::<String>().trim().to_string();
                if text.chars().count() > 64 || text.chars().any(shequ_domain::text::is_hidden) {
                    row_errors.push(RowError {
                        row,
                        column: REF_HEADER.into(),
                        value: cell.shown(),
                        reason: "记录编号最多 64 个字符，且不能含不可见字符".into(),
                    });
                    None
                } else {
                    Some(text)
                }
            }
        };
        if let Some(r) = &record_ref
            && let Some(first) = refs_seen.insert(r.clone(), row)
        {
            row_errors.push(RowError {
                row,
                column: REF_HEADER.into(),
                value: r.clone(),
                reason: format!("记录编号与第 {first} 行重复"),
            });
        }
        let header_of = |key: Option<&str>| {
            key.and_then(|k| kind.field(k))
                .map_or(String::new(), |f| f.header.to_string())
        };
        let value_of =
            |key: Option<&str>| key.and_then(|k| shown.get(k)).cloned().unwrap_or_default();
        let checked = RecordData::from_inputs(kind, inputs)
            .and_then(|data| data.validate(today).map(|()| data));
        match checked {
            Ok(data) if row_errors.is_empty() => out.push(ImportRow {
                row,
                data,
                record_ref,
                shown,
            }),
            Ok(_) => {}
            Err(problems) => row_errors.extend(
                problems
                    .into_iter()
                    .filter(|p| {
                        // A cell that could not be read is reported once, not again as missing.
                        p.field
                            .and_then(|k| kind.field(k))
                            .is_none_or(|f| !failed_cells.contains(f.header))
                    })
                    .map(|p| RowError {
                        row,
                        column: header_of(p.field),
                        value: value_of(p.field),
                        reason: p.message,
                    }),
            ),
        }
        errors.extend(row_errors);
    }
    Ok(RecordFile {
        kind,
        rows: out,
        errors,
    })
}

/// The headers of a kind's spreadsheet, in column order, ending with 记录编号.
pub fn headers(kind: RecordKind) -> Vec<&'static str> {
    kind.fields()
        .iter()
        .map(|f| f.header)
        .chain([REF_HEADER])
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Option<ExportFormat> {
        match text.trim() {
            "csv" => Some(ExportFormat::Csv),
            "xlsx" => Some(ExportFormat::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// Writes records one at a time, so an export of any size holds one batch at most: CSV goes
/// straight to the writer; xlsx keeps rows in temporary files until it is finished.
pub struct RecordWriter<W: Write + Send> {
    kind: RecordKind,
    target: Target<W>,
}

enum Target<W: Write + Send> {
    Csv(Box<csv::Writer<W>>),
    Xlsx {
        workbook: Box<rust_xlsxwriter::Workbook>,
        next_row: u32,
        out: W,
    },
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> String {
    format!("xlsx 写入失败：{e}")
}

impl<W: Write + Send> RecordWriter<W> {
    pub fn new(kind: RecordKind, format: ExportFormat, mut out: W) -> Result<Self, String> {
        let headers = headers(kind);
        let target = match format {
            ExportFormat::Csv => {
                out.write_all(&[0xEF, 0xBB, 0xBF])
                    .map_err(|e| format!("写入失败：{e}"))?;
                let mut writer = csv::Writer::from_writer(out);
                writer
                    .write_record(&headers)
                    .map_err(|e| format!("写入失败：{e}"))?;
                Target::Csv(Box::new(writer))
            }
            ExportFormat::Xlsx => {
                let mut workbook = Box::new(rust_xlsxwriter::Workbook::new());
                let sheet = workbook
                    .add_worksheet_with_constant_memory()
                    .map_err(xlsx_error)?;
                sheet.set_name(kind.label_zh()).map_err(xlsx_error)?;
                let bold = rust_xlsxwriter::Format::new().set_bold();
                for (col, header) in headers.iter().enumerate() {
                    let col = col as u16;
                    sheet
                        .write_string_with_format(0, col, *header, &bold)
                        .map_err(xlsx_error)?;
                    sheet
                        .set_column_width(col, (header.chars().count() * 2 + 4) as f64)
                        .map_err(xlsx_error)?;
                }
                // Choice columns offer their values as a list in Excel.
                for (col, f) in kind.fields().iter().enumerate() {
                    let options: &[&str] = match f.ty {
                        FieldType::Choice(options) => options,
                        FieldType::YesNo => &["是", "否"],
                        _ => continue,
                    };
                    let validation = rust_xlsxwriter::DataValidation::new()
                        .allow_list_strings(options)
                        .map_err(xlsx_error)?;
                    sheet
                        .add_data_validation(1, col as u16, 1_048_575, col as u16, &validation)
                        .map_err(xlsx_error)?;
                }
                sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
                Target::Xlsx {
                    workbook,
                    next_row: 1,
                    out,
                }
            }
        };
        Ok(RecordWriter { kind, target })
    }

    pub fn write(&mut self, record_ref: Option<&str>, data: &RecordData) -> Result<(), String> {
        let fields = self.kind.fields();
        match &mut self.target {
            Target::Csv(writer) => {
                let mut cells: Vec<String> = data
                    .cells()
                    .iter()
                    .map(|c| crate::export::neutralise(c))
                    .collect();
                cells.push(crate::export::neutralise(record_ref.unwrap_or("")));
                writer
                    .write_record(&cells)
                    .map_err(|e| format!("写入失败：{e}"))
            }
            Target::Xlsx {
                workbook, next_row, ..
            } => {
                let row = *next_row;
                let sheet = workbook.worksheet_from_index(0).map_err(xlsx_error)?;
                let date_format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
                for (col, f) in fields.iter().enumerate() {
                    let col = col as u16;
                    let Some(value) = data.get(f.key) else {
                        continue;
                    };
                    match value {
                        Value::Int(i) => sheet.write_number(row, col, *i as f64),
                        Value::Hundredths(h) => sheet.write_number(row, col, *h as f64 / 100.0),
                        Value::Date(d) => {
                            let date = rust_xlsxwriter::ExcelDateTime::from_ymd(
                                d.year() as u16,
                                d.month() as u8,
                                d.day() as u8,
                            )
                            .map_err(xlsx_error)?;
                            sheet.write_datetime_with_format(row, col, &date, &date_format)
                        }
                        Value::Bool(_) | Value::Text(_) => {
                            sheet.write_string(row, col, value.display())
                        }
                    }
                    .map_err(xlsx_error)?;
                }
                if let Some(r) = record_ref {
                    sheet
                        .write_string(row, fields.len() as u16, r)
                        .map_err(xlsx_error)?;
                }
                *next_row += 1;
                if *next_row > 1_048_575 {
                    return Err("超过 xlsx 的行数上限（1048576 行），请改用 CSV 或缩小范围".into());
                }
                Ok(())
            }
        }
    }

    /// Finishes the file and gives the writer back.
    pub fn finish(self) -> Result<W, String> {
        match self.target {
            Target::Csv(writer) => writer
                .into_inner()
                .map_err(|e| format!("写入失败：{}", e.error())),
            Target::Xlsx {
                mut workbook, out, ..
            } => {
                let mut out = out;
                workbook.save_to_writer(&mut out).map_err(xlsx_error)?;
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::constant(2026, 12, 3)
    }

    fn csv_file(text: &str) -> SourceFile {
        SourceFile {
            name: "t.csv".into(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    const HEADER: &str = "区划代码,日期,服务项目编号,服务人次,服务方式,提供方,备注\n";

    #[test]
    fn a_service_csv_is_read() {
        let file = csv_file(&format!(
            "{HEADER}230102001001,2010/3/5,5,12,上门服务,志愿者,'=送餐\n"
        ));
        let read = read_records(&file, today()).unwrap();
        assert_eq!(read.kind, RecordKind::Services);
        let row = &read.rows[0];
        assert_eq!(row.row, 2);
        assert_eq!(row.data.text("note"), Some("=送餐"));
        assert_eq!(row.data.int("item"), Some(5));
    }

    #[test]
    fn every_bad_cell_is_listed() {
        let file = csv_file(&format!(
            "{HEADER}230102001001,2010-02-30,5,12,,,\n230102001001,2010-03-05,5,-1,网上,,\n2.30102E+11,2010-03-05,5,1,,,\n"
        ));
        let read = read_records(&file, today()).unwrap();
        assert!(read.rows.is_empty());
        let errors = read.errors;
        let summary: Vec<(u64, &str, &str)> = errors
            .iter()
            .map(|e| (e.row, e.column.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (2, "日期", "2010-02-30"),
                (3, "服务人次", "-1"),
                (3, "服务方式", "网上"),
                (4, "区划代码", "2.30102E+11"),
            ]
        );
        assert!(errors[3].reason.contains("科学计数法"));
    }

    #[test]
    fn headers_with_spaces_and_full_width_are_recognised() {
        let file = csv_file(
            "区划代码 ,　日期,服务项目编号（备用）,服务人次\n230102001001,2010-03-05,1,1\n",
        );
        // A different header text is not the column, so the kind is not recognised.
        assert!(read_records(&file, today()).is_err());
        let file = csv_file(
            "区 划 代 码 ,　日期,服务项目编号,ＡＢ,服务人次\n２３０１０２００１００１,２０１０年３月５日,１,x,３\n",
        );
        let read = read_records(&file, today()).unwrap();
        assert_eq!(read.rows[0].data.int("people"), Some(3));
    }

    #[test]
    fn gbk_csv_reads_the_same_rows_as_utf8() {
        let text = format!("{HEADER}230102001001,2010-03-05,5,12,上门服务,社区,老人送餐\n");
        let (gbk, _, _) = encoding_rs::GB18030.encode(&text);
        let a = read_records(&csv_file(&text), today()).unwrap();
        let b = read_records(
            &SourceFile {
                name: "g.csv".into(),
                bytes: gbk.into_owned(),
            },
            today(),
        )
        .unwrap();
        assert_eq!(a.rows[0].data.content_key(), b.rows[0].data.content_key());
        let garbage = SourceFile {
            name: "x.csv".into(),
            bytes: vec![0xff, 0xfe, 0x00, 0x81, 0x30],
        };
        assert!(
            read_records(&garbage, today()).unwrap_err()[0]
                .reason
                .contains("编码")
        );
    }

    #[test]
    fn refs_are_kept_whole_and_rows_longer_than_the_header_refused() {
        let long = "R".repeat(65);
        let file = csv_file(&format!(
            "区划代码,日期,服务项目编号,服务人次,记录编号\n230102001001,2010-03-05,5,1,{long}\n230102001001,2010-03-05,5,1,ＲＥＦ-１\n230102001001,2010-03-05,5,1,REF-1\n230102001001,2010-03-05,5,1,x,extra\n"
        ));
        let read = read_records(&file, today()).unwrap();
        let reasons: Vec<(u64, &str)> = read
            .errors
            .iter()
            .map(|e| (e.row, e.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].1.contains("最多 64 个字符"));
        // Full-width and half-width forms are one 记录编号.
        assert_eq!(reasons[1].0, 4);
        assert!(reasons[1].1.contains("重复"));
        assert_eq!(reasons[2].0, 5);
        assert!(reasons[2].1.contains("表头只有 5 列"));
        assert_eq!(read.rows[0].record_ref.as_deref(), Some("REF-1"));
    }

    #[test]
    fn semicolon_files_get_a_hint() {
        let errors =
            read_records(&csv_file("区划代码;日期;服务项目编号;服务人次\n"), today()).unwrap_err();
        assert!(errors[0].reason.contains("分号"), "{errors:?}");
    }

    #[test]
    fn a_missing_required_column_or_duplicate_header_is_named() {
        let errors = read_records(&csv_file("区划代码,日期,服务项目编号\n"), today()).unwrap_err();
        assert_eq!(errors[0].column, "服务人次");
        let errors = read_records(
            &csv_file("区划代码,日期,日期,服务项目编号,服务人次\n"),
            today(),
        )
        .unwrap_err();
        assert!(errors[0].reason.contains("两次"));
    }

    fn xlsx(build: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> SourceFile {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        build(workbook.add_worksheet());
        SourceFile {
            name: "t.xlsx".into(),
            bytes: workbook.save_to_buffer().unwrap(),
        }
    }

    #[test]
    fn xlsx_serial_dates_datetimes_numbers_and_merges() {
        let file = xlsx(|s| {
            for (c, h) in ["区划代码", "日期", "服务项目编号", "服务人次", "备注"]
                .iter()
                .enumerate()
            {
                s.write_string(0, c as u16, *h).unwrap();
            }
            // The code typed as a number, merged over two rows.
            s.merge_range(1, 0, 2, 0, "", &rust_xlsxwriter::Format::new())
                .unwrap();
            s.write_number(1, 0, 230102001001.0).unwrap();
            s.write_number(1, 1, 40242.0).unwrap();
            let dt = rust_xlsxwriter::ExcelDateTime::parse_from_str("2010-03-06 14:30:00").unwrap();
            let fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm");
            s.write_datetime_with_format(2, 1, &dt, &fmt).unwrap();
            s.write_number(1, 2, 5.0).unwrap();
            s.write_number(2, 2, 6.0).unwrap();
            s.write_number(1, 3, 12.0).unwrap();
            s.write_number(2, 3, 3.0).unwrap();
            // Not merged: a blank note stays blank.
            s.write_string(1, 4, "上午").unwrap();
        });
        let read = read_records(&file, today()).unwrap();
        assert_eq!(read.rows.len(), 2);
        assert_eq!(read.rows[1].data.text("unit"), Some("230102001001"));
        assert_eq!(
            read.rows[0].data.date("date"),
            Some(Date::constant(2010, 3, 5))
        );
        assert_eq!(
            read.rows[1].data.date("date"),
            Some(Date::constant(2010, 3, 6))
        );
        assert_eq!(read.rows[0].data.text("note"), Some("上午"));
        assert_eq!(read.rows[1].data.text("note"), None);
    }

    /// A minimal OpenDocument spreadsheet, as LibreOffice writes one: a date cell with its
    /// ISO value, a code as a float, and a cell repeated over two columns.
    fn ods(rows: &str) -> SourceFile {
        use std::io::Write as _;
        let content = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Sheet1">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
        );
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("mimetype", stored).unwrap();
        zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
            .unwrap();
        zip.start_file("content.xml", stored).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
        zip.start_file("META-INF/manifest.xml", stored).unwrap();
        zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#).unwrap();
        SourceFile {
            name: "t.ods".into(),
            bytes: zip.finish().unwrap().into_inner(),
        }
    }

    #[test]
    fn an_ods_sheet_is_read_with_typed_cells() {
        let text = |t: &str| {
            format!(
                r#"<table:table-cell office:value-type="string"><text:p>{t}</text:p></table:table-cell>"#
            )
        };
        let header: String = ["区划代码", "日期", "服务项目编号", "服务人次"]
            .iter()
            .map(|h| text(h))
            .collect();
        let row = r#"<table:table-cell office:value-type="float" office:value="230102001001"><text:p>230102001001</text:p></table:table-cell><table:table-cell office:value-type="date" office:date-value="2010-03-05"><text:p>2010/3/5</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2" office:value-type="float" office:value="5"><text:p>5</text:p></table:table-cell>"#;
        let file = ods(&format!(
            "<table:table-row>{header}</table:table-row><table:table-row>{row}</table:table-row>"
        ));
        let read = read_records(&file, today()).unwrap();
        assert!(read.errors.is_empty(), "{:?}", read.errors);
        let data = &read.rows[0].data;
        assert_eq!(data.text("unit"), Some("230102001001"));
        assert_eq!(data.date("date"), Some(Date::constant(2010, 3, 5)));
        assert_eq!((data.int("item"), data.int("people")), (Some(5), Some(5)));
    }

    #[test]
    fn the_phantom_leap_day_is_an_error() {
        let file = xlsx(|s| {
            for (c, h) in ["区划代码", "日期", "服务项目编号", "服务人次"]
                .iter()
                .enumerate()
            {
                s.write_string(0, c as u16, *h).unwrap();
            }
            s.write_string(1, 0, "230102001001").unwrap();
            s.write_number(1, 1, 60.0).unwrap();
            s.write_number(1, 2, 5.0).unwrap();
            s.write_number(1, 3, 1.0).unwrap();
        });
        let errors = read_records(&file, today()).unwrap().errors;
        assert_eq!(errors[0].column, "日期");
        assert!(errors[0].reason.contains("2月29日"));
    }

    fn sample(kind: RecordKind) -> Vec<RecordData> {
        let rows: Vec<Vec<(&str, &str)>> = match kind {
            RecordKind::Services => vec![
                vec![
                    ("unit", "230102001001"),
                    ("date", "2010-03-05"),
                    ("item", "5"),
                    ("people", "12"),
                    ("mode", "上门服务"),
                    ("note", "=SUM(A1)"),
                ],
                vec![
                    ("unit", "230102001001"),
                    ("date", "2010-03-05"),
                    ("item", "5"),
                    ("people", "12"),
                    ("note", "'quoted"),
                ],
                vec![
                    ("unit", "230102001001"),
                    ("date", "2010-04-01"),
                    ("item", "100"),
                    ("people", "1"),
                    ("note", "-3"),
                ],
            ],
            _ => vec![vec![
                ("unit", "230102001001"),
                ("year", "2010"),
                ("households", "1000"),
                ("population", "3000"),
                ("estate", "新建小区"),
                ("premises", "250.5"),
                ("greening", "31.25"),
                ("one_stop", "是"),
                ("deliberation", "是"),
                ("indoor_venue", "否"),
                ("outdoor_venue", "是"),
                ("day_care", "是"),
                ("home_care", "否"),
                ("funding", "是"),
                ("brand", "＋邻里"),
            ]],
        };
        rows.into_iter()
            .map(|r| {
                RecordData::from_inputs(kind, r.into_iter().map(|(k, v)| (k, Input::Text(v))))
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn export_then_import_is_exact_in_both_formats() {
        for kind in [RecordKind::Services, RecordKind::Profile] {
            for format in [ExportFormat::Csv, ExportFormat::Xlsx] {
                let records = sample(kind);
                let mut writer = RecordWriter::new(kind, format, Vec::new()).unwrap();
                for (i, r) in records.iter().enumerate() {
                    let r_ref = (i == 0).then_some("A-1");
                    writer.write(r_ref, r).unwrap();
                }
                let bytes = writer.finish().unwrap();
                let file = SourceFile {
                    name: format!("x.{}", format.extension()),
                    bytes,
                };
                let read = read_records(&file, today()).unwrap();
                assert_eq!(read.kind, kind);
                let back: Vec<RecordData> = read.rows.iter().map(|r| r.data.clone()).collect();
                assert_eq!(back, records, "{kind} {format:?}");
                assert_eq!(read.rows[0].record_ref.as_deref(), Some("A-1"));
                assert_eq!(read.rows.get(1).and_then(|r| r.record_ref.clone()), None);
            }
        }
    }

    #[test]
    fn csv_export_neutralises_formulas() {
        let mut writer =
            RecordWriter::new(RecordKind::Services, ExportFormat::Csv, Vec::new()).unwrap();
        for r in sample(RecordKind::Services) {
            writer.write(None, &r).unwrap();
        }
        let bytes = writer.finish().unwrap();
        assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert!(text.contains(",'=SUM(A1),"), "{text}");
        assert!(text.contains(",''quoted,"), "{text}");
        assert!(text.contains(",-3,"), "{text}");
    }
}
