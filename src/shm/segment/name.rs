//! Segment names, by `shm_open`'s rules: one leading `/` (added if
//! missing), no other `/`, not `.` or `..`, no NUL, and at most
//! [`MAX_SEGMENT_NAME`] bytes in all (Linux's `NAME_MAX`, since the object
//! is a file in `/dev/shm`).

use super::SegmentError;

/// The longest segment name, in bytes, counting the leading `/`.
pub(crate) const MAX_SEGMENT_NAME: usize = 255;

/// `name` with its leading `/`, or why `shm_open` would refuse it.
pub(crate) fn segment_name(name: &str) -> Result<String, SegmentError> {
    let invalid = |reason| SegmentError::InvalidName {
        name: name.into(),
        reason,
    };
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() {
        return Err(invalid(
            "segment names need at least one character after the '/'",
        ));
    }
    if bare.contains('/') {
        return Err(invalid(
            "segment names may contain no '/' but the leading one",
        ));
    }
    if bare == "." || bare == ".." {
        return Err(invalid("segment names may not be '.' or '..'"));
    }
    if bare.contains('\0') {
        return Err(invalid("segment names may not contain NUL"));
    }
    if bare.len() + 1 > MAX_SEGMENT_NAME {
        return Err(SegmentError::NameTooLong {
            name: name.into(),
            max: MAX_SEGMENT_NAME,
        });
    }
    Ok(format!("/{bare}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_slash_is_added_once() {
        assert_eq!(segment_name("jobs").unwrap(), "/jobs");
        assert_eq!(segment_name("/jobs").unwrap(), "/jobs");
    }

    #[test]
    fn names_shm_open_refuses_are_refused() {
        for bad in ["", "/", "//x", "a/b", ".", "/..", "a\0b"] {
            assert!(
                matches!(segment_name(bad), Err(SegmentError::InvalidName { .. })),
                "{bad:?}"
            );
        }
        assert!(segment_name(&"x".repeat(254)).is_ok());
        assert!(matches!(
            segment_name(&"x".repeat(255)),
            Err(SegmentError::NameTooLong { .. })
        ));
    }
}
