"""bench/report_patroni.py: the Patroni part of the benchmark report: vipd's
follow_patroni beside vip-manager, from what bench/patroni.sh recorded.

Facts come from outside both agents: the leader key from an etcd watch on the
client (v2 or v3, the keyspace the agent reads), VIP additions and removals
from `ip monitor` on the nodes, gratuitous ARP and the client's echo replies
from the capture on the bridge (the reply's source MAC says which node
answered), and PostgreSQL's role on each node from bench/pgsampler.py every
10 ms."""
import json
import struct
import sys
from pathlib import Path

from benchlib import Capture, f, med, read_events, table, verdict

AGENTS = ("vipd", "vip-manager")
EVENTS = ("switchover", "kill", "pgstop", "quorum")
EVENT_WORDS = {
    "switchover": "`patronictl switchover`",
    "kill": "leader node killed (port blackholed; Patroni, PostgreSQL, etcd member and agent SIGKILLed; link down)",
    "pgstop": "PostgreSQL stopped on the leader (`pg_ctl stop -m fast`; Patroni runs on)",
    "quorum": "etcd quorum lost (2 of 3 members stopped) and restored",
}
NODES = ("n1", "n2")
# a sample stands for the time until the node's next one, at most this long
# (libpq's shortest connect timeout is 2 s: a server that accepts and does
# not answer holds one sample that long)
SAMPLE_SPAN_CAP_NS = 2_500_000_000


def read_stamped(path):
    """'<epoch s> WORD...' lines -> list of (t_ns, [words])."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            try:
                out.append((int(round(float(parts[0]) * 1e9)), parts[1:]))
            except ValueError:
                continue
    return out


class Timeline:
    """Who holds the VIP when, from the address events. A node whose link
    was cut (the kill) holds nothing from the cut until its next addition:
    its kernel keeps the address on the downed interface, where it serves
    nobody."""

    def __init__(self, vip_events, vip, dead):
        self.changes = []  # (t_ns, node, held)
        for t, words in vip_events:
            if len(words) >= 3 and words[2].startswith(vip + "/") and words[0] in NODES:
                self.changes.append((t, words[0], words[1] == "add"))
        for node, since in dead:
            self.changes.append((since, node, False))
        self.changes.sort(key=lambda c: c[0])

    def holders_at(self, t):
        held = {n: False for n in NODES}
        for tc, node, h in self.changes:
            if tc > t:
                break
            held[node] = h
        return held

    def first(self, node, held, since):
        for t, n, h in self.changes:
            if t >= since and n == node and h == held:
                return t
        return None

    def held_between(self, node, a, b):
        """NODE held the VIP at some instant of [a, b)."""
        if self.holders_at(a)[node]:
            return True
        return any(a <= t < b and n == node and h for t, n, h in self.changes)

    def overlap_and_gap(self, a, b):
        """ns with two holders and ns with none, within [a, b]."""
        held = self.holders_at(a)
        last, two, none = a, 0, 0
        for t, node, h in self.changes:
            if t <= a:
                continue
            if t > b:
                break
            count = sum(held.values())
            two += (t - last) if count > 1 else 0
            none += (t - last) if count == 0 else 0
            held[node] = h
            last = t
        count = sum(held.values())
        two += (b - last) if count > 1 else 0
        none += (b - last) if count == 0 else 0
        return two, none


def read_samples(path):
    """samples.log -> {node: [(start_ns, end_ns, role)]}, each in time order.
    A role was read at some instant between start and end."""
    out = {n: [] for n in NODES}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in out:
            out[parts[2]].append((int(round(float(parts[0]) * 1e9)), int(round(float(parts[1]) * 1e9)), parts[3]))
    for node in out:
        out[node].sort()
    return out


def sample_spans(samples, a, b):
    """(start, until, role) of one node's samples that start in [a, b);
    until is the next sample's start (capped): what the sample stands for."""
    out = []
    for i, (t, _end, role) in enumerate(samples):
        if t < a or t >= b:
            continue
        nxt = samples[i + 1][0] if i + 1 < len(samples) else t + 10_000_000
        out.append((t, min(nxt, t + SAMPLE_SPAN_CAP_NS), role))
    return out


def first_sample(samples, since, pred):
    """The start of the first sample at or after SINCE whose role satisfies PRED."""
    return next((t for t, _end, role in samples if t >= since and pred(role)), None)


def held_as(samples, timeline, roles_wanted, a, b):
    """ms and samples in which a node held the VIP while its PostgreSQL
    answered as one of ROLES_WANTED (any node), within [a, b)."""
    ms, n = 0.0, 0
    for node in NODES:
        for s, u, role in sample_spans(samples[node], a, b):
            if role in roles_wanted and timeline.held_between(node, s, u):
                ms += (u - s) / 1e6
                n += 1
    return ms, n


def primary_without_vip(samples, timeline, a, b):
    """ms in which a writable primary did not hold the VIP, within [a, b)."""
    ms = 0.0
    for node in NODES:
        for s, u, role in sample_spans(samples[node], a, b):
            if role == "w" and not timeline.held_between(node, s, u):
                ms += (u - s) / 1e6
    return ms


def read_writes(path):
    """writes.log -> sorted list of (start_ns, end_ns) of committed writes."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == "ok":
            out.append((int(round(float(parts[1]) * 1e9)), int(round(float(parts[2]) * 1e9))))
    return sorted(out)


def write_outage(writes, act, moved):
    """The longest time between two commits the client saw, from the last
    one before ACT to the first one that started after MOVED (the VIP on a
    writable primary again), ms."""
    before = [e for _, e in writes if e <= act]
    resumed = [e for s, e in writes if s >= moved]
    if not before or not resumed:
        return None
    seq = [before[-1]] + [e for _, e in writes if act < e <= resumed[0]]
    return max((b - a) / 1e6 for a, b in zip(seq, seq[1:]))


def analyse(run, meta):
    vip = meta["vip"]
    mac_node = {meta["n1_mac"]: "n1", meta["n2_mac"]: "n2"}
    events = read_events(run)
    watch = read_stamped(run / "watch.log")
    vip_events = read_stamped(run / "vip-events.log")
    samples = read_samples(run / "samples.log")
    writes = read_writes(run / "writes.log")
    cap = Capture(run / "capture.pcap") if (run / "capture.pcap").exists() else None
    garps = [(t, mac_node.get(m)) for t, m, ip in (cap.garps if cap else []) if ip == vip]
    replies = [(t, mac_node.get(m)) for t, m in (cap.reply_macs if cap else [])]
    by_rep = {}
    for t, name, kv in events:
        if "rep" in kv:
            by_rep.setdefault(int(kv["rep"]), {})[name] = (t, kv)
    dead = []
    if meta["event"] == "kill":
        dead = [(ev["act"][1]["from"], ev["act"][0]) for ev in by_rep.values() if "act" in ev]
    timeline = Timeline(vip_events, vip, dead)
    reps = []
    for rep, ev in sorted(by_rep.items()):
        if not all(k in ev for k in ("act", "moved", "done")):
            continue
        act, done = ev["act"][0], ev["done"][0]
        frm = ev["act"][1]["from"]
        to = ev["act"][1].get("to") or ev["moved"][1].get("to") or ev["done"][1].get("leader")
        r = {"rep": rep, "from": frm, "to": to}
        r["replica_ms"], r["replica_samples"] = held_as(samples, timeline, ("r",), act, done)
        r["down_ms"], r["down_samples"] = held_as(samples, timeline, ("d",), act, done)
        two, none = timeline.overlap_and_gap(act, done)
        r["two_ms"], r["none_ms"] = two / 1e6, none / 1e6
        r["write_outage_ms"] = write_outage(writes, act, ev["moved"][0])
        if meta["event"] == "quorum":
            analyse_quorum(r, ev, timeline, samples)
        else:
            analyse_move(r, ev, timeline, watch, garps, replies, samples)
        # the longest gap between the client's echo replies through the VIP
        around = [t for t, _ in replies if act - 500_000_000 <= t <= done]
        before = [t for t in around if t <= act]
        if before:
            after = [t for t in around if t >= before[-1]]
            gaps = [(b - a) / 1e6 for a, b in zip(after, after[1:])]
            r["outage_ms"] = max(gaps) if gaps else None
        reps.append(r)
    return {"reps": reps, "meta": {k: meta.get(k, "") for k in ("dcs", "ttl", "loop_wait", "retry_timeout", "quorum_hold_s")}}


def analyse_move(r, ev, timeline, watch, garps, replies, samples):
    act = ev["act"][0]
    frm, to = r["from"], r["to"]
    if to and to != frm:
        keys = [t for t, words in watch if t >= act and words[0] == to]
        t_key = keys[0] if keys else None
        t_add = timeline.first(to, True, act)
    else:
        # the leader stayed: no key change; the VIP may have left and come back
        t_key = None
        t_del = timeline.first(frm, False, act)
        t_add = timeline.first(frm, True, t_del) if t_del else None
        r["vip_left_s"] = (t_del - act) / 1e9 if t_del else None
    r["key_after_act_s"] = (t_key - act) / 1e9 if t_key else None
    ref = t_key
    if t_add:
        g = [t for t, n in garps if n == to and t >= t_add - 50_000_000]
        p = [t for t, n in replies if n == to and t >= t_add]
        if ref:
            r["add_ms"] = (t_add - ref) / 1e6
            r["garp_ms"] = (g[0] - ref) / 1e6 if g else None
            r["reply_ms"] = (p[0] - ref) / 1e6 if p else None
        r["vip_back_after_act_s"] = (t_add - act) / 1e9
        # the new leader's PostgreSQL first seen writable (sampled every
        # 10 ms): negative when the VIP came before the promotion ended
        w = first_sample(samples.get(to, []), act, lambda role: role == "w")
        if to != frm and w:
            r["writable_to_add_ms"] = (t_add - w) / 1e6


def analyse_quorum(r, ev, timeline, samples):
    frm = r["from"]
    cut = ev["cut"][0] if "cut" in ev else ev["act"][0]
    restore = ev["restore"][0] if "restore" in ev else ev["done"][0]
    t_del = timeline.first(frm, False, ev["act"][0])
    r["vip_off_s"] = (t_del - cut) / 1e9 if t_del and t_del < restore else None
    not_w = first_sample(samples[frm], cut, lambda role: role != "w")
    r["writable_until_s"] = (not_w - cut) / 1e9 if not_w else None
    r["primary_without_vip_ms"] = primary_without_vip(samples, timeline, cut, restore)
    if "restore" in ev:
        # from the moment the stopped members were started again
        w = first_sample(samples.get(r["to"], []), restore, lambda role: role == "w")
        r["writable_after_restore_s"] = (w - restore) / 1e9 if w else None
        held = timeline.holders_at(restore)[r["to"]]
        t_add = None if held else timeline.first(r["to"], True, restore)
        r["vip_after_restore_s"] = (t_add - restore) / 1e9 if t_add else None


def load(results):
    """{event: {agent: analysis}} for every Patroni scenario in RESULTS."""
    data = {}
    for meta_path in sorted(Path(results).glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        if meta.get("scenario") != "patroni":
            continue
        try:
            data.setdefault(meta["event"], {})[meta["kind"]] = analyse(meta_path.parent, meta)
        except (OSError, KeyError, ValueError, IndexError, struct.error) as e:
            print(f"report: cannot analyse {meta_path.parent.name}: {e}", file=sys.stderr)
    return data


# --------------------------------------------------------------------------
# The section
# --------------------------------------------------------------------------


def vals(data, event, agent, field):
    r = data.get(event, {}).get(agent)
    return [x[field] for x in r["reps"] if x.get(field) is not None] if r else []


def med_max(values, digits=0):
    if not values:
        return "–"
    return f"{f(med(values), digits)} ({f(max(values), digits)})"


def total(data, agent, field, events=EVENTS):
    return sum(sum(vals(data, e, agent, field)) for e in events)


def goals(data):
    rows = []
    moves = {a: vals(data, "switchover", a, "add_ms") + vals(data, "kill", a, "add_ms") for a in AGENTS}
    worst = max(moves["vipd"]) if moves["vipd"] else None
    rows.append(
        (
            "VIP added on the new leader within 50 ms of the leader key change (switchover and kill; median, worst)",
            f"{f(med(moves['vipd']), 0, ' ms')}, {f(worst, 0, ' ms')}",
            f"{f(med(moves['vip-manager']), 0, ' ms')}, {f(max(moves['vip-manager']) if moves['vip-manager'] else None, 0, ' ms')}",
            verdict(None if worst is None else worst <= 50, None if worst is None else f"{worst - 50:.0f} ms"),
        )
    )
    lag = {a: vals(data, "switchover", a, "writable_to_add_ms") + vals(data, "kill", a, "writable_to_add_ms") for a in AGENTS}
    rows.append(
        (
            "(beside it, not a goal) the new leader's PostgreSQL first seen writable → VIP added (median, worst; negative: the VIP came first)",
            f"{f(med(lag['vipd']), 0, ' ms')}, {f(max(lag['vipd']) if lag['vipd'] else None, 0, ' ms')}",
            f"{f(med(lag['vip-manager']), 0, ' ms')}, {f(max(lag['vip-manager']) if lag['vip-manager'] else None, 0, ' ms')}",
            "",
        )
    )
    for field, words in (("replica_ms", "a replica or read-only PostgreSQL"), ("down_ms", "a PostgreSQL that does not answer (stopped, restarting)")):
        v, k = total(data, "vipd", field), total(data, "vip-manager", field)
        n = total(data, "vipd", field.replace("_ms", "_samples"))
        have = any(vals(data, e, "vipd", field) for e in EVENTS)
        rows.append(
            (
                f"0 instants with the VIP on {words} (every scenario, ms in total)",
                f"{f(v, 0, ' ms')} ({n:.0f} samples)" if have else "–",
                f"{f(k, 0, ' ms')} ({total(data, 'vip-manager', field.replace('_ms', '_samples')):.0f} samples)",
                verdict(None if not have else v == 0, f"{v:.0f} ms"),
            )
        )
    v, k = total(data, "vipd", "two_ms"), total(data, "vip-manager", "two_ms")
    have = any(vals(data, e, "vipd", "two_ms") for e in EVENTS)
    rows.append(
        (
            "0 instants with the VIP on two nodes (every scenario, ms in total)",
            f(v, 1, " ms") if have else "–",
            f(k, 1, " ms"),
            verdict(None if not have else v == 0, f"{v:.1f} ms"),
        )
    )
    return rows


def move_table(data):
    rows = []
    for event in ("switchover", "kill", "pgstop"):
        if event not in data:
            continue
        cells = [EVENT_WORDS[event].split(" (")[0]]
        for field, digits in (
            ("key_after_act_s", 2),
            ("add_ms", 0),
            ("garp_ms", 0),
            ("reply_ms", 0),
            ("writable_to_add_ms", 0),
            ("write_outage_ms", 0),
            ("replica_ms", 0),
            ("down_ms", 0),
            ("two_ms", 1),
        ):
            cells.append(" / ".join(med_max(vals(data, event, a, field), digits) for a in AGENTS))
        cells.append(" / ".join(str(len(data[event].get(a, {}).get("reps", []))) for a in AGENTS))
        rows.append(cells)
    return table(
        [
            "event",
            "event → key change, s",
            "key change → VIP added, ms",
            "→ first GARP, ms",
            "→ first client reply, ms",
            "new leader's PostgreSQL writable → VIP added, ms",
            "longest time without a commit through the VIP, ms",
            "VIP on a replica / read-only, ms",
            "VIP on a PostgreSQL not answering, ms",
            "VIP on two nodes, ms",
            "repetitions",
        ],
        rows,
    )


def quorum_behaviour(reps):
    """In words: kept on a healthy primary, dropped, kept on a demoted one."""
    dropped = max((x.get("primary_without_vip_ms") or 0 for x in reps), default=0)
    stale = max(((x.get("replica_ms") or 0) + (x.get("down_ms") or 0) for x in reps), default=0)
    words = []
    if dropped > 0:
        words.append(f"dropped the VIP of a writable primary (up to {dropped:.0f} ms before Patroni demoted it)")
    else:
        words.append("kept the VIP while the primary was writable")
    if stale > 0:
        words.append(f"held it on a demoted, stopped or not yet promoted server (up to {stale:.0f} ms)")
    else:
        words.append("never on a demoted server")
    return "; ".join(words)


def quorum_table(data):
    rows = []
    q = data.get("quorum", {})
    for agent in AGENTS:
        r = q.get(agent)
        if not r:
            continue

        def c(field, digits):
            return med_max(vals(data, "quorum", agent, field), digits)

        kept = sum(1 for x in r["reps"] if x.get("vip_off_s") is None)
        rows.append(
            [
                agent,
                quorum_behaviour(r["reps"]),
                c("vip_off_s", 2) + (f"; kept in {kept}" if kept else ""),
                c("writable_until_s", 2),
                c("primary_without_vip_ms", 0),
                c("replica_ms", 0),
                c("down_ms", 0),
                c("two_ms", 1),
                c("writable_after_restore_s", 2),
                c("vip_after_restore_s", 2),
                c("write_outage_ms", 0),
                str(len(r["reps"])),
            ]
        )
    return table(
        [
            "agent",
            "what it did (over every repetition)",
            "VIP removed after quorum loss, s",
            "primary writable until, s",
            "writable primary without the VIP, ms",
            "VIP on a replica / read-only, ms",
            "VIP on a PostgreSQL not answering, ms",
            "VIP on two nodes, ms",
            "members restarted → writable primary, s",
            "members restarted → VIP added, s",
            "longest time without a commit through the VIP, ms",
            "repetitions",
        ],
        rows,
    )


def reps_table(data):
    rows = []
    for event in EVENTS:
        for agent in AGENTS:
            r = data.get(event, {}).get(agent)
            if not r:
                continue
            for x in r["reps"]:
                if event == "quorum":
                    what = f"VIP off at {f(x.get('vip_off_s'), 2, ' s')}; writable until {f(x.get('writable_until_s'), 2, ' s')}; writable primary without VIP {f(x.get('primary_without_vip_ms'), 0, ' ms')}; after the members were restarted: writable primary {f(x.get('writable_after_restore_s'), 2, ' s')}, VIP added {f(x.get('vip_after_restore_s'), 2, ' s')}"
                else:
                    what = f"key {f(x.get('key_after_act_s'), 2, ' s')} after the event; VIP added {f(x.get('add_ms'), 0, ' ms')}, GARP {f(x.get('garp_ms'), 0, ' ms')}, reply {f(x.get('reply_ms'), 0, ' ms')} after the key; PostgreSQL writable → VIP {f(x.get('writable_to_add_ms'), 0, ' ms')}"
                    if x.get("from") == x.get("to"):
                        what = f"leader kept; VIP left {f(x.get('vip_left_s'), 2, ' s')} and was back {f(x.get('vip_back_after_act_s'), 2, ' s')} after the event"
                rows.append(
                    [
                        event,
                        agent,
                        x["rep"],
                        f"{x['from']} → {x['to']}",
                        what,
                        f"{f(x.get('outage_ms'), 0)} / {f(x.get('write_outage_ms'), 0)}",
                        f"{f(x.get('replica_ms'), 0)} / {f(x.get('down_ms'), 0)}",
                        f"{f(x.get('two_ms'), 1)} / {f(x.get('none_ms'), 0)}",
                    ]
                )
    return table(["event", "agent", "rep", "leader", "timing", "longest gap between echo replies / between commits, ms", "VIP on replica / on a PostgreSQL not answering, ms", "VIP on two nodes / on none, ms"], rows)


def section(data, run, why):
    if not data:
        return []
    settings = next((r["meta"] for ev in data.values() for r in ev.values()), {})
    lines = [
        "## Patroni: vipd's follow_patroni beside vip-manager",
        "",
        table(
            ["", ""],
            [
                ["date", run.get("date", "")],
                ["mode", "quick (development: fewer repetitions)" if run.get("quick") else "full"],
                ["run took", f"{run.get('minutes', 0):.1f} minutes (this part of the document comes from that run)"],
                ["machine", f"{run.get('cpu', '')}, {run.get('cores', '')} cores, {run.get('mem', '')}"],
                ["vipd", run.get("vipd", "")],
                ["peers", run.get("patroni_peers", "")],
                ["load", run.get("load", "")],
            ],
        ),
        "",
    ]
    if run.get("busy"):
        lines += [f"**The machine was shared and busy during this run:** {run['busy']} Both agents ran under the same conditions, one after the other.", ""]
    if run.get("failed"):
        lines += [f"**Scenarios that failed in this run (their figures are missing):** {', '.join(run['failed'])}.", ""]
    lines += [
        "Three nodes and a client on a bridge: etcd 3.4 with one member on each node (n3 is the witness, no database), "
        f"Patroni 3.0 and PostgreSQL 15 on n1 and n2 (ttl {settings.get('ttl', '?')} s, loop_wait {settings.get('loop_wait', '?')} s, "
        f"retry_timeout {settings.get('retry_timeout', '?')} s, failsafe_mode off), and the agent on n1 and n2. "
        "**vipd** runs a `follow_patroni` instance (leader key watched through etcd's v3 API, confirmed by the local REST API's "
        "`GET /primary`); Patroni uses its `etcd3:` section. **vip-manager** is Debian's 1.0.2 with its default 1000 ms interval; "
        "it reads only etcd's v2 keyspace, so etcd runs with `--enable-v2` and Patroni uses its `etcd:` section. "
        "Each scenario gets a fresh cluster; each repetition starts from a writable leader holding the VIP alone and a streaming replica.",
        "",
        "How it is measured, from outside both agents: the *leader key change* is when an etcd watch on the client "
        "(through the witness's member, in the keyspace the agent reads) saw the key name the new leader; *VIP added* is the "
        "`ip monitor` event on the new leader; *first GARP* and *first client reply* come from the capture on the bridge "
        "(the client's ICMP echo to the VIP every 5 ms; a reply counts when it comes from the new leader's MAC). "
        "PostgreSQL's role on each node (writable, replica or read-only, not answering) is sampled every 10 ms through its socket "
        "and put against the address events: *VIP on a replica* is time in which a node held the VIP while its PostgreSQL "
        "answered as a replica or read-only. A killed node holds nothing from the kill on (its address stays on the downed link, "
        "where it serves nobody). Medians, with the worst repetition in brackets, vipd / vip-manager:",
        "",
        table(["goal (issue 11)", "vipd", "vip-manager", "verdict"], goals(data)),
        "",
        move_table(data),
        "",
    ]
    if "quorum" in data:
        hold = settings.get("quorum_hold_s", "?")
        lines += [
            f"**etcd quorum lost.** The members on n1 and n2 are stopped (the witness's alone has no quorum), kept down until the "
            f"leader's Patroni has demoted its PostgreSQL (stopped, then read-only) and {hold} s more, then started again. Times from "
            "the moment both members were stopped, and from the moment they were started again.",
            "",
            quorum_table(data),
            "",
        ]
    lines += ["Every repetition:", "", reps_table(data), ""]
    if why:
        lines += ["### Why the figures differ", "", why, ""]
    return lines
