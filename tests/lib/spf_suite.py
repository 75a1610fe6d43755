# tests/lib/spf_suite.py — the openspf YAML test suite as zone files.
#
# Imported by the SPF conformance and differential tests (run them with
# /usr/bin/python3, which has Debian's yaml and spf modules). Follows
# ../shared/conformance/spf/SOURCE.md: SPF entries are duplicated as TXT
# unless the owner lists TXT itself, `TXT: NONE` suppresses that, bare
# TIMEOUT makes every other type time out, absent names are NXDOMAIN.
import os
import subprocess

import yaml

SAFE_NAME = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")


def repo_top():
    here = os.path.dirname(os.path.abspath(__file__))
    return subprocess.check_output(["git", "-C", here, "rev-parse", "--show-toplevel"],
                                   text=True).strip()


def shared_dir():
    return os.path.join(repo_top(), "..", "shared")


def load_scenarios(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def zone_name(name):
    """A presentation-form absolute name, bytes outside the safe set as \\DDD."""
    out = []
    for ch in name.encode("utf-8"):
        c = chr(ch)
        out.append(c if c in SAFE_NAME else "\\%03d" % ch)
    s = "".join(out)
    return s if s.endswith(".") else s + "."


def zone_string(b):
    out = ['"']
    for ch in b:
        c = chr(ch)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= ch <= 0x7E:
            out.append(c)
        else:
            out.append("\\%03d" % ch)
    out.append('"')
    return "".join(out)


def txt_strings(value):
    """A YAML TXT/SPF value as the list of character-strings of one RR."""
    parts = value if isinstance(value, list) else [value]
    strings = []
    for p in parts:
        b = p.encode("utf-8") if isinstance(p, str) else bytes(p)
        # One YAML string longer than 255 octets is what a DNS server
        # would split into several character-strings.
        while len(b) > 255:
            strings.append(b[:255])
            b = b[255:]
        strings.append(b)
    return strings or [b""]


def labels_ok(name):
    labels = name.rstrip(".").split(".")
    return len(name.rstrip(".")) <= 253 and all(0 < len(l) <= 63 for l in labels)


def zone_text(zonedata):
    """Return the master-file text for one scenario's zonedata."""
    lines = ["$TTL 300"]
    for owner, recs in zonedata.items():
        if not labels_ok(owner):
            continue  # cannot exist in DNS; the engine must never ask for it
        name = zone_name(owner)
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in recs)
        for r in recs:
            if r == "TIMEOUT":
                lines.append("%s TIMEOUT" % name)
                continue
            for typ, val in r.items():
                lines.extend(record_lines(name, typ, val, has_txt))
        if not any(l.startswith(name + " ") for l in lines):
            # Only `TXT: NONE`: the name exists without records of any
            # type we can express; an unrelated type keeps it a NODATA.
            lines.append("%s NS ns.invalid." % name)
    return "\n".join(lines) + "\n"


def record_lines(name, typ, val, has_txt):
    if typ in ("SPF", "TXT"):
        if typ == "TXT" and val == "NONE":
            return []
        rdata = " ".join(zone_string(s) for s in txt_strings(val))
        out = ["%s %s %s" % (name, typ, rdata)]
        if typ == "SPF" and not has_txt:
            out.append("%s TXT %s" % (name, rdata))
        return out
    if typ == "MX":
        pref, host = val
        return ["%s MX %d %s" % (name, pref, zone_name(host) if host else ".")]
    if typ in ("PTR", "CNAME"):
        return ["%s %s %s" % (name, typ, zone_name(val))]
    if typ in ("A", "AAAA"):
        return ["%s %s %s" % (name, typ, val)]
    raise ValueError("unsupported zonedata type %s" % typ)


def tests_of(scenario):
    """(name, test) pairs; test has host, mailfrom, helo, results, explanation."""
    for name, t in scenario["tests"].items():
        res = t["result"]
        yield name, {
            "host": str(t["host"]),
            "mailfrom": t.get("mailfrom") or "",
            "helo": str(t.get("helo") or ""),
            "results": res if isinstance(res, list) else [res],
            "explanation": t.get("explanation"),
            "spec": str(t.get("spec", "")),
        }


def read_md_table(path, heading):
    """Rows (lists of cells) of the first table after a '## heading' or
    '### heading' line in a markdown file."""
    rows, inside, seen_table = [], False, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            if s.startswith("#"):
                if inside and seen_table:
                    break
                inside = s.lstrip("#").strip() == heading
                continue
            if not inside:
                continue
            if s.startswith("|"):
                seen_table = True
                cells = [c.strip() for c in s.strip("|").split("|")]
                if cells and not set(cells[0]) <= set("-: "):
                    rows.append(cells)
            elif seen_table:
                break
    return rows[1:]  # drop the header row
