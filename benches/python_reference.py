#!/usr/bin/env python3
"""Times Python's multiprocessing.Queue on the queue bench's workloads.

spsc_u64: one producer process puts N ints, the main process gets them.
bytes_4k: the same with 4096-byte bytes objects.

Prints one line per workload: "<name> <messages per second>". Run by hand
(python3 benches/python_reference.py [N]) or by `cargo bench --bench queue`,
which prints the factor to shmsync measured in the same run.
"""

import multiprocessing as mp
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


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    mp.set_start_method("fork")
    print(f"spsc_u64 {run(n, None):.0f}", flush=True)
    print(f"bytes_4k {run(max(n // 4, 1000), bytes(4096)):.0f}", flush=True)


if __name__ == "__main__":
    main()
