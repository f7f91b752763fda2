#!/usr/bin/env python3
"""Python's multiprocessing.Pipe on the workloads of `cargo bench --bench pipe`.

- roundtrip_small: 8-byte messages there and back between this process and
  a child (send_bytes / recv_bytes_into on both sides), per round trip.
- throughput_64k: 64 KiB messages from this process to a child (the child
  receives into one reused buffer), in GB/s.

Each figure is the median of several timed batches, each batch in a fresh
child (the fork start method, as on Linux by default), with the CPU time
both processes spent. Run with `python3 benches/python_reference_pipe.py`;
compare ratios, not absolute figures, with the Rust bench run on the same
machine at the same time.
"""

import multiprocessing as mp
import os
import statistics
import time

SMALL = 8
BIG = 64 * 1024
BATCHES = 7


def cpu():
    return time.process_time()


def roundtrip_child(conn, rounds, cpu_out):
    buf = bytearray(SMALL)
    t0 = cpu()
    for _ in range(rounds):
        conn.recv_bytes_into(buf)
        conn.send_bytes(buf)
    cpu_out.send(cpu() - t0)


def stream_child(conn, count, cpu_out):
    buf = bytearray(BIG)
    t0 = cpu()
    for _ in range(count):
        conn.recv_bytes_into(buf)
    cpu_out.send(cpu() - t0)


def batch(kind, n):
    ours, theirs = mp.Pipe(duplex=True)
    cpu_in, cpu_out = mp.Pipe(duplex=False)
    target = roundtrip_child if kind == "roundtrip_small" else stream_child
    child = mp.Process(target=target, args=(theirs, n, cpu_out))
    child.start()
    msg = b"\x5a" * (SMALL if kind == "roundtrip_small" else BIG)
    buf = bytearray(SMALL)
    c0 = cpu()
    t0 = time.perf_counter()
    if kind == "roundtrip_small":
        for _ in range(n):
            ours.send_bytes(msg)
            ours.recv_bytes_into(buf)
    else:
        for _ in range(n):
            ours.send_bytes(msg)
    child_cpu = cpu_in.recv()
    wall = time.perf_counter() - t0
    parent_cpu = cpu() - c0
    child.join(60)
    assert child.exitcode == 0, child.exitcode
    return wall / n, (parent_cpu + child_cpu) / n


def main():
    mp.set_start_method("fork")
    print(f"python {os.sys.version.split()[0]}, multiprocessing.Pipe, {os.cpu_count()} CPUs")
    for kind, n in (("roundtrip_small", 20_000), ("throughput_64k", 20_000)):
        batch(kind, n // 10)  # warm-up
        runs = [batch(kind, n) for _ in range(BATCHES)]
        wall = statistics.median(r[0] for r in runs)
        cpu_time = statistics.median(r[1] for r in runs)
        if kind == "roundtrip_small":
            print(f"{kind}: {wall * 1e9:10.1f} ns wall, {cpu_time * 1e9:10.1f} ns CPU per round trip")
        else:
            print(
                f"{kind}: {BIG / wall / 1e9:10.3f} GB/s, {wall * 1e9:10.1f} ns wall,"
                f" {cpu_time * 1e9:10.1f} ns CPU per 64 KiB message"
            )


if __name__ == "__main__":
    main()
