#!/usr/bin/env python3
"""Times Python's multiprocessing.Queue on the queue bench's workloads.

spsc_u64: one producer process puts N ints, the main process gets them.
bytes_4k: the same with 4096-byte bytes objects.
roundtrip_u64: the main process puts an int into one queue and waits for
  a child to put it into another (N / 20 round trips; a round trip counts
  as one message).

Prints one line per workload: "<name> <messages per second>". Run by hand
(python3 benches/python_reference.py [N]) or by `cargo bench --bench queue`,
which prints the factor to shmsync measured in the same run.

Pipe (`python3 benches/python_reference.py pipe`): multiprocessing.Pipe on
the workloads of `cargo bench --bench pipe`, each the median of 7 batches in
a fresh child (fork):
  pipe_roundtrip_small_ns: 8-byte messages there and back (send_bytes /
    recv_bytes_into on both sides), wall ns per round trip;
  pipe_throughput_64k_gbps: 64 KiB messages from this process to the child
    (received into one reused buffer), GB/s.
"""

import multiprocessing as mp
import statistics
import sys
import time


def produce(q, n, payload):
    for i in range(n):
        q.put(payload if payload is not None else i)


def run(n, payload):
    q = mp.Queue(maxsize=1024)
    p = mp.Process(target=produce, args=(q, n, payload))
    t0 = time.perf_counter()
    p.start()
    for _ in range(n):
        q.get(timeout=60)
    elapsed = time.perf_counter() - t0
    p.join(timeout=60)
    if p.exitcode != 0:
        raise SystemExit(f"producer exited with {p.exitcode}")
    return n / elapsed


def answer(ask, back, n):
    for _ in range(n):
        back.put(ask.get(timeout=60))


def roundtrip(n):
    ask, back = mp.Queue(maxsize=1024), mp.Queue(maxsize=1024)
    p = mp.Process(target=answer, args=(ask, back, n))
    p.start()
    t0 = time.perf_counter()
    for i in range(n):
        ask.put(i)
        if back.get(timeout=60) != i:
            raise SystemExit("round trip: wrong answer")
    elapsed = time.perf_counter() - t0
    p.join(timeout=60)
    if p.exitcode != 0:
        raise SystemExit(f"answering child exited with {p.exitcode}")
    return n / elapsed


PIPE_SMALL = 8
PIPE_BIG = 64 * 1024


def pipe_child(conn, n, size, answer):
    buf = bytearray(size)
    for _ in range(n):
        conn.recv_bytes_into(buf)
        if answer:
            conn.send_bytes(buf)


def pipe_batch(n, size, roundtrip):
    ours, theirs = mp.Pipe(duplex=True)
    child = mp.Process(target=pipe_child, args=(theirs, n, size, roundtrip))
    child.start()
    msg, buf = bytes(size), bytearray(size)
    t0 = time.perf_counter()
    for _ in range(n):
        ours.send_bytes(msg)
        if roundtrip:
            ours.recv_bytes_into(buf)
    child.join(timeout=60)
    elapsed = time.perf_counter() - t0
    if child.exitcode != 0:
        raise SystemExit(f"pipe child exited with {child.exitcode}")
    return elapsed / n


def pipe():
    rt = statistics.median(pipe_batch(20_000, PIPE_SMALL, True) for _ in range(7))
    print(f"pipe_roundtrip_small_ns {rt * 1e9:.0f}", flush=True)
    per = statistics.median(pipe_batch(20_000, PIPE_BIG, False) for _ in range(7))
    print(f"pipe_throughput_64k_gbps {PIPE_BIG / per / 1e9:.3f}", flush=True)


def main():
    if sys.argv[1:] == ["pipe"]:
        mp.set_start_method("fork")
        pipe()
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    mp.set_start_method("fork")
    print(f"spsc_u64 {run(n, None):.0f}", flush=True)
    print(f"bytes_4k {run(max(n // 4, 1000), bytes(4096)):.0f}", flush=True)
    print(f"roundtrip_u64 {roundtrip(max(n // 20, 1000)):.0f}", flush=True)


if __name__ == "__main__":
    main()
