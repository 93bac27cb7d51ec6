//! What the benchmarks share.

use std::path::{Path, PathBuf};

/// Every `.evtx` file under a folder, sorted.
pub fn evtx_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("a readable folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "evtx") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
