#!/usr/bin/python3
"""bench/flood.py RATE VRID SOURCE: sends invalid VRRPv3 adverts (bad checksum) to
224.0.0.18 from SOURCE (an address of the sending interface) at RATE packets per second, paced in 1 ms batches, until SIGTERM.
Prints the number of packets sent and the achieved rate on exit."""
import signal
import socket
import struct
import sys
import time

stop = False


def on_signal(_sig, _frame):
    global stop
    stop = True


def main() -> int:
    rate, vrid, source = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source))
    # VRRPv3 advert, priority 200, one IPv4 address, checksum deliberately wrong.
    packet = struct.pack("!BBBBHH", 0x31, vrid, 200, 1, 1, 0xDEAD) + socket.inet_aton("192.0.2.50")
    per_batch = max(1, rate // 1000)
    sent = 0
    start = deadline = time.monotonic()
    while not stop:
        for _ in range(per_batch):
            try:
                sock.sendto(packet, ("224.0.0.18", 0))
                sent += 1
            except OSError:
                pass
        deadline += 0.001
        pause = deadline - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    took = time.monotonic() - start
    print(f"{sent} {sent / took if took > 0 else 0:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
