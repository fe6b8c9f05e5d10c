//! QR codes: a payload drawn as a PNG (black modules on white, a 4-module quiet zone), and a
//! PNG read back into its text (any PNG color type; the largest readable code wins).

use std::io::Cursor;

use crate::VerifyError;

/// Pixels per QR module in written images.
const SCALE: usize = 6;
/// Light modules around the code, as the QR standard asks.
const QUIET: usize = 4;

/// The payload as a QR code in a grayscale PNG (error correction level M).
pub fn to_png(payload: &str) -> Result<Vec<u8>, String> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M)
        .map_err(|e| format!("the payload does not fit a QR code: {e}"))?;
    let width = code.width();
    let colors = code.to_colors();
    let side = (width + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c != qrcode::Color::Dark {
            continue;
        }
        let (mx, my) = (i % width + QUIET, i / width + QUIET);
        for y in my * SCALE..(my + 1) * SCALE {
            pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|e| e.to_string())?;
    w.write_image_data(&pixels).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// The payload as a QR code drawn with Unicode half blocks, two module rows per line, for a
/// terminal. Light modules are drawn (`█`) and dark ones left blank, so on the usual dark
/// terminal background the code reads dark on light, as scanners expect; a 2-module quiet
/// zone keeps it compact.
pub fn to_terminal(payload: &str) -> Result<String, String> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M)
        .map_err(|e| format!("the payload does not fit a QR code: {e}"))?;
    let width = code.width();
    let colors = code.to_colors();
    let quiet = 2usize;
    let side = width + 2 * quiet;
    let light = |x: usize, y: usize| -> bool {
        if x < quiet || y < quiet || x >= width + quiet || y >= width + quiet {
            return true;
        }
        colors[(y - quiet) * width + (x - quiet)] != qrcode::Color::Dark
    };
    let mut out = String::with_capacity(side * (side / 2 + 1) * 3);
    for y in (0..side).step_by(2) {
        for x in 0..side {
            let top = light(x, y);
            let bottom = y + 1 >= side || light(x, y + 1);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

/// The text of the QR code in a PNG image.
pub fn from_png(bytes: &[u8]) -> Result<String, VerifyError> {
    let bad = |m: String| VerifyError::Image(m);
    let mut dec = png::Decoder::new(Cursor::new(bytes));
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec
        .read_info()
        .map_err(|_| bad("the file is not a PNG image, or a damaged one".into()))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad("the image is too large".into()))?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|_| bad("the file is not a PNG image, or a damaged one".into()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err(bad("indexed colors were not expanded".into())),
    };
    let line = info.line_size;
    let luma = |x: usize, y: usize| -> u8 {
        let p = &buf[y * line + x * channels..y * line + (x + 1) * channels];
        let (v, alpha) = match channels {
            1 => (p[0] as u32, 255),
            2 => (p[0] as u32, p[1] as u32),
            3 => (
                (p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114) / 1000,
                255,
            ),
            _ => (
                (p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114) / 1000,
                p[3] as u32,
            ),
        };
        // Transparent pixels count as the white paper behind them.
        ((v * alpha + 255 * (255 - alpha)) / 255) as u8
    };
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, luma);
    let grids = img.detect_grids();
    if grids.is_empty() {
        return Err(bad("no QR code found in the image".into()));
    }
    let mut last = None;
    for g in grids {
        match g.decode() {
            Ok((_, text)) => return Ok(text),
            Err(e) => last = Some(e),
        }
    }
    use rqrr::DeQRError as E;
    let why = match last {
        Some(E::DataEcc | E::FormatEcc) => "too damaged to correct",
        Some(E::InvalidVersion | E::InvalidGridSize) => "its size or version cannot be read",
        Some(E::EncodingError) => "its text is not UTF-8",
        Some(E::UnknownDataType) => "it holds data of a kind this reader does not know",
        _ => "its data is cut short or too long",
    };
    Err(bad(format!("the QR code cannot be decoded: {why}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn png_round_trip() {
        let payload = "FY1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEMWK4MI6UOF*7";
        let png = super::to_png(payload).unwrap();
        assert_eq!(super::from_png(&png).unwrap(), payload);
        assert!(super::from_png(b"not a png").is_err());
    }

    #[test]
    fn terminal_drawing_is_square_with_a_light_border() {
        let text = super::to_terminal("FY1:TEST").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let width = lines[0].chars().count();
        // Version 1 is 21 modules; with the quiet zone 25 columns and 13 lines of two rows.
        assert_eq!(width, 25);
        assert_eq!(lines.len(), 13);
        assert!(lines.iter().all(|l| l.chars().count() == width));
        assert!(lines[0].chars().all(|c| c == '█'));
    }
}
