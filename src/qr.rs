//! QR codes for invite links: the module matrix, which the page draws itself.
//!
//! Encoding is Nayuki's reference implementation (`qrcodegen`); the page gets
//! only rows of `0`/`1` and draws them as SVG rectangles, so no third-party code
//! runs in the browser.

use qrcodegen::{QrCode, QrCodeEcc};
use serde::Serialize;

/// A QR code's modules: `rows[y]` has `size` characters, `1` dark.
#[derive(Debug, Serialize)]
pub struct Matrix {
    pub size: usize,
    pub rows: Vec<String>,
}

/// The QR code of `text` (error correction M, as phone cameras read best), or
/// none if it is too long for any version.
pub fn matrix(text: &str) -> Option<Matrix> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let rows = (0..size)
        .map(|y| {
            (0..size)
                .map(|x| if qr.get_module(x, y) { '1' } else { '0' })
                .collect()
        })
        .collect();
    Some(Matrix {
        size: usize::try_from(size).unwrap_or(0),
        rows,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_login_link_fits_with_finder_patterns() {
        let link = format!("https://pi.local:8765/login?token={}", "ab".repeat(32));
        let m = super::matrix(&link).unwrap();
        assert_eq!(m.rows.len(), m.size);
        assert!(m.size >= 21 && (m.size - 17).is_multiple_of(4));
        // The top-left finder pattern: a dark 7-module row, then dark, light*5, dark.
        assert_eq!(&m.rows[0][..7], "1111111");
        assert_eq!(&m.rows[1][..7], "1000001");
    }
}
