//! What the fuzz targets share.

/// Header lines as on the wire (`Name: value`, one a line, `\r\n` or
/// `\n`): each line's name and value, the value without its leading
/// whitespace. Lines without a `:` are skipped.
pub fn header_lines(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    data.split(|&b| b == b'\n').filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        Some((&line[..colon], line[colon + 1..].trim_ascii_start()))
    })
}
