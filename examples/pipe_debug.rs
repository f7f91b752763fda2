//! debug
use shmsync::{Pipe, Process};
fn main() {
    let (parent, child) = Pipe::new(true).unwrap();
    let worker = Process::spawn(move || {
        eprintln!("child: waiting");
        while let Ok(msg) = child.recv_bytes(1024) {
            eprintln!("child: got {msg:?}");
            child.send_bytes(&msg.to_ascii_uppercase()).unwrap();
        }
        eprintln!("child: done");
    }).unwrap();
    parent.send_bytes(b"hello").unwrap();
    eprintln!("parent: sent");
    eprintln!("parent: got {:?}", parent.recv_bytes(1024).unwrap());
    drop(parent);
    eprintln!("parent: dropped");
    eprintln!("{:?}", worker.join());
}
