//! Compressed containers checked before they are opened: a small file that expands to
//! gigabytes (a "zip bomb") is refused instead of filling memory, and office documents are
//! checked to hold what their kind needs.

use std::io::{Cursor, Read};

/// Largest expanded size of an uploaded or imported file.
pub const MAX_EXPANDED_BYTES: u64 = 256 << 20;

fn too_big() -> String {
    format!(
        "文件解压后超过 {} MB，未读取（可能是损坏或恶意构造的文件）",
        MAX_EXPANDED_BYTES >> 20
    )
}

/// Gunzips, refusing output beyond the limit (rather than silently cutting it off).
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_EXPANDED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip 解压失败：{e}"))?;
    if out.len() as u64 > MAX_EXPANDED_BYTES {
        return Err(too_big());
    }
    Ok(out)
}

/// The member names of a zip container (xlsx, ods, docx), refused when the sizes its directory
/// declares add up past the limit. (The zip reader stops at a member's declared size, so a
/// member cannot expand further than declared.)
pub fn zip_members(bytes: &[u8]) -> Result<Vec<String>, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("文件不是有效的 zip 容器（xlsx、ods、docx 都是）：{e}"))?;
    let mut total: u64 = 0;
    let mut names = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let member = archive
            .by_index_raw(i)
            .map_err(|e| format!("压缩包内容无法读取：{e}"))?;
        total = total.saturating_add(member.size());
        if total > MAX_EXPANDED_BYTES {
            return Err(too_big());
        }
        names.push(String::from_utf8_lossy(member.name_raw()).into_owned());
    }
    Ok(names)
}

/// Checks an evidence file: its first bytes must match its extension (the domain rule), and an
/// Office document of the zip kind must hold that kind's main part, so that any zip renamed to
/// .docx is refused.
pub fn check_evidence(file_name: &str, bytes: &[u8]) -> Result<&'static str, String> {
    let content_type = shequ_domain::records::check_evidence_file(file_name, bytes)?;
    let needs = match content_type {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
            Some("word/document.xml")
        }
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
            Some("xl/workbook.xml")
        }
        _ => None,
    };
    if let Some(part) = needs {
        let members = zip_members(bytes)?;
        if !members.iter().any(|m| m == part) {
            return Err("文件内容与扩展名不符（不是该类型的 Office 文档）".into());
        }
    }
    Ok(content_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_gzip_bomb_is_refused_not_truncated() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(MAX_EXPANDED_BYTES >> 20) + 1 {
            encoder.write_all(&zeros).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 2 << 20);
        assert!(gunzip(&bomb).unwrap_err().contains("超过"));
        let mut small = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        small.write_all(b"abc").unwrap();
        assert_eq!(gunzip(&small.finish().unwrap()).unwrap(), b"abc");
    }

    #[test]
    fn zip_members_are_listed_and_junk_refused() {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        workbook.add_worksheet();
        let xlsx = workbook.save_to_buffer().unwrap();
        let names = zip_members(&xlsx).unwrap();
        assert!(names.iter().any(|n| n == "xl/workbook.xml"), "{names:?}");
        assert!(zip_members(b"PK\x03\x04junk").is_err());
    }

    #[test]
    fn office_documents_must_hold_their_main_part() {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        workbook.add_worksheet();
        let xlsx = workbook.save_to_buffer().unwrap();
        assert!(check_evidence("a.xlsx", &xlsx).is_ok());
        // A real workbook renamed to .docx, and any zip renamed to .xlsx, are refused.
        assert!(
            check_evidence("a.docx", &xlsx)
                .unwrap_err()
                .contains("不符")
        );
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("a.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"hello").unwrap();
        let plain = zip.finish().unwrap().into_inner();
        assert!(check_evidence("a.xlsx", &plain).is_err());
    }
}
