//! The printable sheet of ballot codes: one card per code with a QR code of the voting address
//! (SVG, so it prints sharp and works offline) and the code in text beneath, on A4 pages.

use qrcode::{Color, EcLevel, QrCode};

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A QR code as SVG: one unit square per dark module, with the four-module quiet zone.
pub fn qr_svg(data: &str) -> Result<String, String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| format!("二维码无法生成：{e}"))?;
    let width = code.width();
    let size = width + 8;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges" role="img" aria-label="二维码"><rect width="{size}" height="{size}" fill="#fff"/><path fill="#000" d=""##
    );
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = (i % width + 4, i / width + 4);
            svg.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    svg.push_str(r#""/></svg>"#);
    Ok(svg)
}

/// The voting address of a code under the public base URL.
pub fn ballot_url(public_url: &str, code: &str) -> String {
    format!("{}/v/{code}", public_url.trim_end_matches('/'))
}

/// A whole HTML page of cards, twelve to an A4 page when printed.
pub fn sheet_html(title: &str, public_url: &str, codes: &[String]) -> Result<String, String> {
    let mut cards = String::new();
    for code in codes {
        let url = ballot_url(public_url, code);
        cards.push_str(&format!(
            r#"<div class="card">{svg}<p class="code">{shown}</p><p class="hint">微信或手机扫码投票，每码限用一次</p></div>"#,
            svg = qr_svg(&url)?,
            shown = escape(&shequ_domain::surveys::display_code(code)),
        ));
    }
    Ok(format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>
@page {{ size: A4; margin: 10mm; }}
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 0; }}
h1 {{ font-size: 14pt; margin: 0 0 4mm; }}
.sheet {{ display: grid; grid-template-columns: repeat(3, 1fr); gap: 4mm; }}
.card {{ border: 1px dashed #999; padding: 3mm; text-align: center; break-inside: avoid; page-break-inside: avoid; }}
.card svg {{ width: 38mm; height: 38mm; }}
.code {{ font-family: monospace; font-size: 12pt; letter-spacing: 1px; margin: 1mm 0; }}
.hint {{ font-size: 8pt; color: #555; margin: 0; }}
</style></head>
<body><h1>{title}</h1><p class="hint">每户一个测评码，发出后不能收回查看。居民可扫码，或在手机浏览器打开 {entry} 输入码下的字符投票；本页仅显示这一次，请立即打印。</p><div class="sheet">{cards}</div></body></html>
"#,
        title = escape(title),
        entry = escape(&format!("{}/v", public_url.trim_end_matches('/'))),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The integration tests decode every card's QR code from the served sheet.
    #[test]
    fn one_card_per_code_with_the_title_escaped() {
        let codes = vec!["ABCDEFGHJKMNPQ".to_string(), "23456789ABCDEF".to_string()];
        let html = sheet_html("某社区 <2010>", "https://shequ.example.cn/", &codes).unwrap();
        assert!(html.contains("某社区 &lt;2010&gt;"));
        assert!(html.contains("ABCD-EFGH-JKMN-PQ"));
        assert_eq!(html.matches("<svg").count(), 2);
        assert_eq!(
            ballot_url("https://shequ.example.cn/", "ABCDEFGHJKMNPQ"),
            "https://shequ.example.cn/v/ABCDEFGHJKMNPQ"
        );
    }
}
