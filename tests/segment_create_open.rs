//! Making and finding segments: `create`, `open`, `open_or_create`,
//! `anonymous`, `unlink`; names, sizes, modes and options; pages reserved
//! at creation; the error messages. Every named segment is unlinked when
//! its test ends.

mod segment_helpers;

use segment_helpers::{image, owner_and_mode, raw_object, segment_error, Name};
use shmsync::{Error, Segment, SegmentError, SegmentOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const ENOSPC: i32 = 28;
const ENOMEM: i32 = 12;

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
        SegmentError::Os {
            op: "mmap",
            errno: ENOMEM,
        },
        SegmentError::NoSpace {
            size: 1 << 40,
            errno: ENOSPC,
        },
        SegmentError::TooSmall {
            name: "/x".into(),
            size: 8192,
            requested: 16384,
        },
        SegmentError::Untrusted {
            name: "/x".into(),
            owner_uid: 65534,
            mode: 0o666,
            reason: "a reason; and advice",
        },
        SegmentError::BadMode { mode: 0o444 },
        SegmentError::DirectoryBusy {
            holder: Some(4242),
            waited: Duration::from_secs(5),
        },
        SegmentError::DirectoryBusy {
            holder: None,
            waited: Duration::from_secs(5),
        },
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

#[test]
fn an_os_error_keeps_its_call_and_errno() {
    let e = SegmentError::Os {
        op: "mmap",
        errno: ENOMEM,
    };
    assert_eq!(e.raw_os_error(), Some(ENOMEM));
    assert_eq!(
        e.to_string(),
        "mmap failed: Cannot allocate memory (os error 12)"
    );
    let e: Error = e.into();
    assert_eq!(e.raw_os_error(), Some(ENOMEM));
    assert!(matches!(
        e,
        Error::Segment(SegmentError::Os { op: "mmap", .. })
    ));
    assert_eq!(SegmentError::BadMagic.raw_os_error(), None);
}

#[test]
fn a_named_segment_larger_than_dev_shm_fails_at_creation_and_leaves_nothing() {
    let fs = rustix::fs::statvfs("/dev/shm").unwrap();
    let capacity = fs.f_blocks.saturating_mul(fs.f_frsize);
    if capacity == 0 {
        eprintln!("skipped: /dev/shm has no size limit here");
        return;
    }
    // More than the whole filesystem holds, whatever is free right now:
    // tmpfs refuses it before allocating anything.
    let size = usize::try_from(capacity + (1 << 20)).unwrap();
    let name = Name::new("no-space");
    let e = segment_error(Segment::create(&name, size));
    match e {
        SegmentError::NoSpace { size: asked, errno } => {
            assert_eq!(asked, size);
            // ENOMEM when the size exceeds the machine's memory too.
            assert!(errno == ENOSPC || errno == ENOMEM, "errno {errno}");
        }
        other => panic!("expected NoSpace, got {other:?}"),
    }
    assert!(e.to_string().contains(&size.to_string()), "{e}");
    assert!(e.raw_os_error().is_some());
    // Nothing left behind under the name.
    assert_eq!(
        segment_error(Segment::open(&name)),
        SegmentError::NotFound {
            name: name.0.clone()
        }
    );
    // The same through open_or_create, which creates.
    assert!(matches!(
        segment_error(Segment::open_or_create(&name, size)),
        SegmentError::NoSpace { .. }
    ));
    assert!(matches!(
        segment_error(Segment::open(&name)),
        SegmentError::NotFound { .. }
    ));
}

#[test]
fn an_anonymous_segment_beyond_memory_fails_at_creation() {
    const TIB: usize = 1 << 40;
    let mut info = std::mem::MaybeUninit::<libc::sysinfo>::uninit();
    // SAFETY: sysinfo fills in the struct the pointer points to.
    assert_eq!(unsafe { libc::sysinfo(info.as_mut_ptr()) }, 0);
    // SAFETY: sysinfo succeeded.
    let info = unsafe { info.assume_init() };
    let memory = (info.totalram + info.totalswap) as u128 * info.mem_unit as u128;
    if memory >= TIB as u128 {
        eprintln!("skipped: this machine has 1 TiB of memory and swap");
        return;
    }
    let e = segment_error(Segment::anonymous(TIB));
    assert_eq!(
        e,
        SegmentError::NoSpace {
            size: TIB,
            errno: ENOMEM
        }
    );
    assert!(e.to_string().contains("1099511627776 bytes"), "{e}");
}

#[test]
fn creation_reserves_every_page() {
    let name = Name::new("reserved");
    let size = 1 << 20;
    let seg = Segment::create(&name, size).unwrap();
    let blocks = rustix::fs::fstat(seg.fd()).unwrap().st_blocks as usize;
    // st_blocks counts 512-byte units of allocated storage.
    assert!(blocks * 512 >= size, "{blocks} blocks for {size} bytes");
    let anon = Segment::anonymous(size).unwrap();
    let blocks = rustix::fs::fstat(anon.fd()).unwrap().st_blocks as usize;
    assert!(blocks * 512 >= size, "{blocks} blocks for {size} bytes");
}

#[test]
fn open_or_create_refuses_an_existing_segment_smaller_than_asked() {
    let name = Name::new("too-small");
    let _first = Segment::create(&name, 16 * 1024).unwrap();
    let e = segment_error(Segment::open_or_create(&name, 32 * 1024));
    assert_eq!(
        e,
        SegmentError::TooSmall {
            name: name.0.clone(),
            size: 16 * 1024,
            requested: 32 * 1024
        }
    );
    let text = e.to_string();
    assert!(text.contains("16384") && text.contains("32768"), "{text}");
    // Exactly the size, or less, opens.
    assert_eq!(
        Segment::open_or_create(&name, 16 * 1024).unwrap().size(),
        16 * 1024
    );
}

#[test]
fn named_segments_get_mode_0600_or_exactly_the_mode_asked_for() {
    let euid = rustix::process::geteuid().as_raw();
    let name = Name::new("mode-default");
    let seg = Segment::create(&name, 8192).unwrap();
    assert_eq!(owner_and_mode(seg.fd()), (euid, 0o600));

    // Whatever the umask (process-wide: restored at once; the other tests
    // here create objects with explicit modes anyway).
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let name = Name::new("mode-asked");
    let made = Segment::options().mode(0o666).create(&name, 8192);
    rustix::process::umask(old);
    assert_eq!(owner_and_mode(made.unwrap().fd()), (euid, 0o666));

    let name = Name::new("mode-ooc");
    let seg = Segment::options()
        .mode(0o640)
        .open_or_create(&name, 8192)
        .unwrap();
    assert_eq!(owner_and_mode(seg.fd()), (euid, 0o640));
}

#[test]
fn a_mode_without_owner_read_write_or_beyond_0777_is_refused() {
    let name = Name::new("bad-mode");
    for mode in [0o444, 0o200, 0o060, 0o1600, 0o4777, 0o10600] {
        assert_eq!(
            segment_error(Segment::options().mode(mode).create(&name, 8192)),
            SegmentError::BadMode { mode },
            "{mode:o}"
        );
        assert!(matches!(
            segment_error(Segment::open(&name)),
            SegmentError::NotFound { .. }
        ));
    }
}

#[test]
fn options_reuse_and_the_shorthands_use_the_defaults() {
    assert_eq!(Segment::options(), SegmentOptions::new());
    assert_eq!(SegmentOptions::default(), SegmentOptions::new());
    assert_eq!(SegmentOptions::DEFAULT_MODE, 0o600);
    assert!(SegmentOptions::DEFAULT_DIRECTORY_LOCK_TIMEOUT >= Duration::from_secs(1));

    let options = Segment::options()
        .mode(0o660)
        .trust_shared_mode(true)
        .directory_lock_timeout(Duration::from_millis(100));
    let name = Name::new("options-reuse");
    let created = options.create(&name, 8192).unwrap();
    let opened = options.open(&name).unwrap();
    let again = options.open_or_create(&name, 8192).unwrap();
    assert_eq!((opened.size(), again.size()), (created.size(), 8192));
    assert!(matches!(
        segment_error(Segment::open(&name)),
        SegmentError::Untrusted { mode: 0o660, .. }
    ));
    // A raw object planted without a header is no segment, trusted or not.
    let planted = Name::new("options-planted");
    raw_object(&planted, true).set_len(8192).unwrap();
    assert!(matches!(
        segment_error(options.open(&planted)),
        SegmentError::NotInitialised
    ));
}
