//! "Did you mean …?": the closest known name to a misspelt one.

/// Edit distance (insertions, deletions, substitutions) between two names.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            row[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

/// The candidate closest to `name`, if it is close enough to be a typo of it: a
/// different case, or at most a third of the letters wrong.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 4);
    candidates
        .filter(|c| *c != name)
        .map(|c| {
            let d = if c.eq_ignore_ascii_case(name) {
                0
            } else {
                edit_distance(&c.to_ascii_lowercase(), &name.to_ascii_lowercase())
            };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_and_case_are_suggested() {
        let names = ["ProcessCommandLine", "FileName", "FolderPath"];
        assert_eq!(
            closest("ProcesCommandLine", names.iter().copied()),
            Some("ProcessCommandLine")
        );
        assert_eq!(closest("filename", names.iter().copied()), Some("FileName"));
        assert_eq!(closest("Nothing", names.iter().copied()), None);
    }
}
