//! Making and finding segments: `create`, `open`, `open_or_create`,
//! `anonymous`, `unlink`; names, sizes, modes and options; pages reserved
//! at creation; the error messages. Every named segment is unlinked when
//! its test ends.

mod common;
mod segment_helpers;

use segment_helpers::{image, segment_error, Name};
use shmsync::{Error, Segment, SegmentError};
use std::sync::atomic::{AtomicU64, Ordering};

#[test]
fn create_then_open_round_trips() {
    let name = Name::new("roundtrip");
    let created = Segment::create(&name, 64 * 1024).unwrap();
    assert_eq!(created.name(), Some(&*name));
    assert_eq!(created.size(), 64 * 1024);
    let opened = Segment::open(&name).unwrap();
    assert_eq!(opened.size(), 64 * 1024);
    assert_eq!(opened.name(), Some(&*name));
    // Without the leading slash, the same segment.
    let bare = Segment::open(name.trim_start_matches('/')).unwrap();
    assert_eq!(bare.name(), Some(&*name));

    let info = Segment::parse_header(&image(opened.fd())).unwrap();
    assert_eq!(info.capacity, Segment::DIRECTORY_CAPACITY);
    assert_eq!(info.size, 64 * 1024);
    assert_eq!(info.cursor, info.heap_offset);
    assert!(info.heap_offset <= Segment::MIN_SIZE);
}

#[test]
fn create_of_an_existing_name_errors() {
    let name = Name::new("exists");
    let _seg = Segment::create(&name, 8192).unwrap();
    assert_eq!(
        segment_error(Segment::create(&name, 8192)),
        SegmentError::AlreadyExists {
            name: name.0.clone()
        }
    );
}

#[test]
fn open_and_unlink_of_a_missing_segment_error() {
    let name = Name::new("missing");
    assert_eq!(
        segment_error(Segment::open(&name)),
        SegmentError::NotFound {
            name: name.0.clone()
        }
    );
    assert_eq!(
        segment_error(Segment::unlink(&name)),
        SegmentError::NotFound {
            name: name.0.clone()
        }
    );
}

#[test]
fn open_or_create_creates_once_then_opens() {
    let name = Name::new("ooc");
    let first = Segment::open_or_create(&name, 16 * 1024).unwrap();
    first.get_or_init("v", || 11u32).unwrap();
    // A smaller size is enough for an opener: it gets the whole segment.
    let second = Segment::open_or_create(&name, 8 * 1024).unwrap();
    assert_eq!(second.size(), 16 * 1024);
    assert_eq!(*second.get::<u32>("v").unwrap(), 11);
}

#[test]
fn remove_unlinks_the_name_but_keeps_the_memory() {
    let name = Name::new("remove");
    let seg = Segment::create(&name, 8192).unwrap();
    let v = seg.get_or_init("v", || AtomicU64::new(1)).unwrap();
    seg.remove().unwrap();
    assert!(matches!(
        segment_error(Segment::open(&name)),
        SegmentError::NotFound { .. }
    ));
    assert!(matches!(
        segment_error(seg.remove()),
        SegmentError::NotFound { .. }
    ));
    v.fetch_add(1, Ordering::Relaxed);
    assert_eq!(
        seg.get::<AtomicU64>("v").unwrap().load(Ordering::Relaxed),
        2
    );
    // The name is free for a new segment.
    let fresh = Segment::create(&name, 8192).unwrap();
    assert!(fresh.get::<AtomicU64>("v").is_err());
    // Removing an anonymous segment does nothing.
    Segment::anonymous(8192).unwrap().remove().unwrap();
}

#[test]
fn invalid_or_too_long_names_error() {
    let long = format!("/{}", "x".repeat(Segment::MAX_NAME));
    for bad in ["", "/", "a/b", "/a/b", "//a", ".", "/..", "a\0b"] {
        assert!(
            matches!(
                segment_error(Segment::create(bad, 8192)),
                SegmentError::InvalidName { .. }
            ),
            "create {bad:?}"
        );
        assert!(
            matches!(
                segment_error(Segment::open(bad)),
                SegmentError::InvalidName { .. }
            ),
            "open {bad:?}"
        );
        assert!(
            matches!(
                segment_error(Segment::unlink(bad)),
                SegmentError::InvalidName { .. }
            ),
            "unlink {bad:?}"
        );
    }
    assert!(matches!(
        segment_error(Segment::create(&long, 8192)),
        SegmentError::NameTooLong { max: 255, .. }
    ));
    assert!(matches!(
        segment_error(Segment::open(&long)),
        SegmentError::NameTooLong { .. }
    ));

    let seg = Segment::anonymous(Segment::MIN_SIZE + 1024).unwrap();
    let max = "o".repeat(Segment::MAX_OBJECT_NAME);
    let over = "o".repeat(Segment::MAX_OBJECT_NAME + 1);
    assert_eq!(*seg.get_or_init(&max, || 1u8).unwrap(), 1);
    assert_eq!(*seg.get_or_init(&"é".repeat(23), || 2u8).unwrap(), 2);
    assert!(matches!(
        segment_error(seg.get_or_init(&over, || 1u8)),
        SegmentError::NameTooLong { max: 47, .. }
    ));
    assert!(matches!(
        segment_error(seg.get_or_init(&"é".repeat(24), || 1u8)),
        SegmentError::NameTooLong { .. }
    ));
    assert!(matches!(
        segment_error(seg.get_or_init("", || 1u8)),
        SegmentError::InvalidName { .. }
    ));
    assert!(matches!(
        segment_error(seg.get::<u8>("a\0")),
        SegmentError::InvalidName { .. }
    ));
}

#[test]
fn sizes_below_the_minimum_error() {
    let name = Name::new("small");
    assert!(matches!(
        segment_error(Segment::create(&name, Segment::MIN_SIZE - 1)),
        SegmentError::BadSize { .. }
    ));
    assert!(matches!(
        segment_error(Segment::open(&name)),
        SegmentError::NotFound { .. }
    ));
    assert!(matches!(
        segment_error(Segment::anonymous(0)),
        SegmentError::BadSize { .. }
    ));
    // Exactly the minimum: a directory, no room for objects.
    let seg = Segment::anonymous(Segment::MIN_SIZE).unwrap();
    assert!(matches!(
        segment_error(seg.get_or_init("x", || 1u8)),
        SegmentError::OutOfSpace { .. }
    ));
}

#[test]
fn error_messages_are_lowercase_and_say_what_to_do() {
    let errors = [
        SegmentError::NotFound { name: "/x".into() },
        SegmentError::AlreadyExists { name: "/x".into() },
        SegmentError::NotInitialised,
        SegmentError::BadMagic,
        SegmentError::Version {
            found: 2,
            expected: 1,
        },
        SegmentError::Layout {
            found: 1,
            expected: 2,
        },
        SegmentError::Truncated {
            size: 1,
            minimum: 48,
        },
        SegmentError::SizeMismatch {
            header: 2,
            actual: 1,
        },
        SegmentError::Corrupted("what"),
        SegmentError::DirectoryFull { capacity: 64 },
        SegmentError::OutOfSpace {
            needed: 2,
            available: 1,
        },
        SegmentError::TypeMismatch {
            name: "x".into(),
            requested: "u8",
        },
        SegmentError::NoSuchObject { name: "x".into() },
        SegmentError::Abandoned { name: "x".into() },
        SegmentError::Reentrant,
    ];
    for e in errors {
        let text = e.to_string();
        assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
        assert!(
            text.contains(':') || text.contains(';'),
            "no advice in {text}"
        );
        let e: Error = e.into();
        assert_eq!(e.to_string(), text);
    }
}
