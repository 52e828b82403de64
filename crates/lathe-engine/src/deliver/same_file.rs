//! Whether two paths name one file (outputs must never overwrite an input).

use std::path::Path;

/// Whether `a` and `b` are one file: the same path once links are resolved, or the same
/// inode (a hard link). A path that does not exist is no other file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) if x == y => true,
        _ => match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        },
    }
}
