//! Who may open a named segment: by default only objects of this user
//! with mode `0600`; other owners and modes open to group or others are
//! refused unless the opener says it trusts them, and a name squatted by
//! another user is never adopted. The tests that plant another user's
//! object (`fchown` to `nobody`) need root and are skipped without it.
//! Every named segment is unlinked when its test ends.

mod segment_helpers;

use segment_helpers::{can_chown, owner_and_mode, segment_error, Name};
use shmsync::{Segment, SegmentError};
use std::os::fd::AsFd;

/// The uid of `nobody`, owner of the objects planted in these tests.
const NOBODY: u32 = 65534;

/// Gives the object of `seg` to `nobody`, as if that user had made it.
fn give_to_nobody(seg: &Segment) {
    rustix::fs::fchown(seg.as_fd(), Some(rustix::fs::Uid::from_raw(NOBODY)), None).unwrap();
}

#[test]
fn open_refuses_a_segment_of_another_owner_unless_trusted() {
    if !can_chown() {
        eprintln!("skipped: planting another user's object needs root");
        return;
    }
    let name = Name::new("other-owner");
    let planted = Segment::create(&name, 16 * 1024).unwrap();
    planted.get_or_init("v", || 5u64).unwrap();
    give_to_nobody(&planted);
    assert_eq!(owner_and_mode(planted.fd()), (NOBODY, 0o600));

    // Root too: the owner is what counts, not the permission to open.
    let e = segment_error(Segment::open(&name));
    assert!(
        matches!(
            &e,
            SegmentError::Untrusted {
                owner_uid: NOBODY,
                mode: 0o600,
                ..
            }
        ),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("65534") && text.contains("trust_other_owners(true)"),
        "{text}"
    );
    assert!(matches!(
        segment_error(Segment::open_or_create(&name, 16 * 1024)),
        SegmentError::Untrusted { .. }
    ));
    // A trusted mode does not make a trusted owner.
    assert!(matches!(
        segment_error(Segment::options().trust_shared_mode(true).open(&name)),
        SegmentError::Untrusted { .. }
    ));

    let opened = Segment::options()
        .trust_other_owners(true)
        .open(&name)
        .unwrap();
    assert_eq!(*opened.get::<u64>("v").unwrap(), 5);
    let opened = Segment::options()
        .trust_other_owners(true)
        .open_or_create(&name, 16 * 1024)
        .unwrap();
    assert_eq!(*opened.get::<u64>("v").unwrap(), 5);
}

#[test]
fn open_refuses_a_segment_open_to_group_or_others_unless_trusted() {
    let name = Name::new("shared-mode");
    let seg = Segment::create(&name, 16 * 1024).unwrap();
    seg.get_or_init("v", || 6u64).unwrap();
    for mode in [0o666, 0o660, 0o640, 0o604, 0o601] {
        rustix::fs::fchmod(seg.fd(), rustix::fs::Mode::from_raw_mode(mode)).unwrap();
        let e = segment_error(Segment::open(&name));
        assert!(
            matches!(&e, SegmentError::Untrusted { mode: m, .. } if *m == mode),
            "{mode:o}: {e:?}"
        );
        assert!(e.to_string().contains("trust_shared_mode(true)"), "{e}");
        assert!(matches!(
            segment_error(Segment::open_or_create(&name, 16 * 1024)),
            SegmentError::Untrusted { .. }
        ));
        let opened = Segment::options()
            .trust_shared_mode(true)
            .open(&name)
            .unwrap();
        assert_eq!(*opened.get::<u64>("v").unwrap(), 6);
    }
    rustix::fs::fchmod(seg.fd(), rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
    assert_eq!(*Segment::open(&name).unwrap().get::<u64>("v").unwrap(), 6);
}

#[test]
fn open_or_create_does_not_adopt_a_name_squatted_by_another_user() {
    if !can_chown() {
        eprintln!("skipped: planting another user's object needs root");
        return;
    }
    let name = Name::new("squatted");
    // `nobody` got there first: a small segment anyone may write, whose
    // directory lock it could hold or whose size it could cut.
    let squat = Segment::options()
        .mode(0o666)
        .create(&name, Segment::MIN_SIZE + 4096)
        .unwrap();
    give_to_nobody(&squat);
    assert_eq!(owner_and_mode(squat.fd()), (NOBODY, 0o666));

    assert!(matches!(
        segment_error(Segment::open_or_create(&name, 1 << 20)),
        SegmentError::Untrusted {
            owner_uid: NOBODY,
            mode: 0o666,
            ..
        }
    ));
    // Trusting both still does not accept a smaller segment than asked.
    let trusting = Segment::options()
        .trust_other_owners(true)
        .trust_shared_mode(true);
    assert_eq!(
        segment_error(trusting.open_or_create(&name, 1 << 20)),
        SegmentError::TooSmall {
            name: name.0.clone(),
            size: Segment::MIN_SIZE + 4096,
            requested: 1 << 20
        }
    );
    assert_eq!(
        trusting
            .open_or_create(&name, Segment::MIN_SIZE)
            .unwrap()
            .size(),
        Segment::MIN_SIZE + 4096
    );
}
