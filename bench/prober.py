#!/usr/bin/python3
"""bench/prober.py ADDR INTERVAL_S: sends an ICMP echo request to ADDR on a
fixed grid (every INTERVAL_S, never "now + interval") until SIGTERM or SIGINT.
Replies are drained and ignored: the benchmark reads them from the capture on
the bridge. Unlike `ping -i`, it does not slow down while replies are missing.
Prints the number of requests sent on exit."""
import signal
import socket
import struct
import sys
import time

stop = False


def on_signal(_sig, _frame):
    global stop
    stop = True


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main() -> int:
    addr, interval = sys.argv[1], float(sys.argv[2])
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setblocking(False)
    ident = 0xB0B0
    seq = 0
    deadline = time.monotonic()
    while not stop:
        seq = (seq + 1) & 0xFFFF
        head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        body = b"vipd-bench-probe"
        packet = struct.pack("!BBHHH", 8, 0, checksum(head + body), ident, seq) + body
        try:
            sock.sendto(packet, (addr, 0))
        except OSError:
            pass  # no route or neighbour yet: the gap shows in the capture
        try:
            while True:
                sock.recv(2048)
        except (BlockingIOError, InterruptedError):
            pass
        deadline += interval
        pause = deadline - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            deadline = time.monotonic()  # fell behind: restart the grid
    print(seq)
    return 0


if __name__ == "__main__":
    sys.exit(main())
