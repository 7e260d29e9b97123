//! Plain-text tables for `--list` and `inspect`: columns padded to their widest cell, numbers
//! right-aligned, trailing spaces trimmed.

use std::fmt::Write;

/// Renders `rows` (the first is the header); columns listed in `right` are right-aligned.
pub fn render<const N: usize>(rows: &[[String; N]], right: &[usize]) -> String {
    let widths: Vec<usize> =
        (0..N).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let w = widths[c];
            let _ = if right.contains(&c) {
                write!(line, "{cell:>w$}  ")
            } else {
                write!(line, "{cell:<w$}  ")
            };
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn pads_aligns_and_trims() {
        let rows =
            [["NAME", "SIZE", "NOTE"].map(String::from), ["a.b", "12", ""].map(String::from)];
        assert_eq!(super::render(&rows, &[1]), "NAME  SIZE  NOTE\na.b     12\n");
    }
}
