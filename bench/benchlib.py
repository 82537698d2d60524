"""bench/benchlib.py: what bench/report.py and bench/report_patroni.py share:
reading captures and event records, percentiles, and Markdown formatting."""
import statistics
import struct
from pathlib import Path

# --------------------------------------------------------------------------
# Capture reading (pcap with nanosecond or microsecond timestamps, Ethernet)
# --------------------------------------------------------------------------


def read_pcap(path):
    """Yields (time in ns, frame bytes)."""
    data = Path(path).read_bytes()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    else:
        endian = ">"
        magic = struct.unpack(">I", data[:4])[0]
    scale = 1 if magic == 0xA1B23C4D else 1000
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off : off + 16])
        off += 16
        yield sec * 1_000_000_000 + frac * scale, data[off : off + incl]
        off += incl


def ip_str(b):
    return ".".join(str(x) for x in b)


def mac_str(b):
    return ":".join(f"{x:02x}" for x in b)


class Capture:
    """The frames of one capture that matter here, decoded."""

    def __init__(self, path):
        self.adverts = []  # (t_ns, src ip, version, vrid, priority)
        self.garps = []  # (t_ns, sender mac, sender ip)
        self.replies = []  # t_ns of ICMP echo replies
        self.reply_macs = []  # (t_ns, source mac) of the same replies
        for t, f in read_pcap(path):
            if len(f) < 14:
                continue
            etype = struct.unpack("!H", f[12:14])[0]
            if etype == 0x0800 and len(f) >= 34:
                ihl = (f[14] & 0x0F) * 4
                proto = f[23]
                src = ip_str(f[26:30])
                body = f[14 + ihl :]
                if proto == 112 and len(body) >= 4:
                    self.adverts.append((t, src, body[0] >> 4, body[1], body[2]))
                elif proto == 1 and len(body) >= 1 and body[0] == 0:
                    self.replies.append(t)
                    self.reply_macs.append((t, mac_str(f[6:12])))
            elif etype == 0x0806 and len(f) >= 42:
                op = struct.unpack("!H", f[20:22])[0]
                sender_mac = mac_str(f[22:28])
                sender_ip = ip_str(f[28:32])
                target_ip = ip_str(f[38:42])
                if sender_ip == target_ip or op == 2:
                    self.garps.append((t, sender_mac, sender_ip))


def read_events(run):
    """events.txt: '<epoch s> NAME key=value...' -> list of (t_ns, name, dict)."""
    out = []
    for line in (run / "events.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        t = int(round(float(parts[0]) * 1e9))
        kv = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
        out.append((t, parts[1], kv))
    return out


def pct(values, q):
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def med(values):
    return statistics.median(values) if values else None



# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------


def f(x, digits=2, unit=""):
    if x is None:
        return "–"
    return f"{x:.{digits}f}{unit}"


def verdict(met, by=None):
    if met is None:
        return "not measured"
    if met:
        return "met"
    return f"**missed** by {by}" if by else "**missed**"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
