#!/usr/bin/python3
"""bench/peers/combine.py DIR MODE SESSIONS MESSAGES — one side-by-side
result of bench/peers/postfix.sh: reads DIR/authgate-MODE.out and
DIR/postfix-MODE.out (loadgen's JSON line, then a line of the harness's own
figures: CPU seconds of the server and of unbound, seconds until the last
accepted message was delivered, warm-up rounds before it), prints a table and one JSON line
{"bench":"postfix_peer", ...} with every figure prefixed by its side.
"""
import json
import sys

SIDES = (("authgate", "authgate"), ("postfix", "Postfix+OpenDKIM+policyd-spf"))
KEEP = ("accepted", "rejected", "tempfailed", "errors", "seconds", "messages_per_s",
        "p50_ms", "p90_ms", "p99_ms", "p999_ms", "tls_handshakes")


def side(path, prefix):
    lines = [json.loads(l) for l in open(path) if l.startswith("{")]
    lg, own = lines[0], lines[1]
    done = lg["accepted"] + lg["rejected"] + lg["tempfailed"]
    out = {"%s_%s" % (prefix, k): lg[k] for k in KEEP}
    out[prefix + "_cpu_ms_per_message"] = round(own["cpu_s"] * 1000 / done, 3)
    out[prefix + "_dns_cpu_ms_per_message"] = round(own["dns_cpu_s"] * 1000 / done, 3)
    out[prefix + "_until_delivered_s"] = own["until_delivered_s"]
    out[prefix + "_warmup_rounds"] = own["warmup_rounds"]
    return out


def main():
    tmp, mode, sessions, messages = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    d = {"bench": "postfix_peer", "sessions": sessions, "messages": messages, "pipelining": True,
         "starttls": mode == "starttls"}
    for prefix, _ in SIDES:
        d.update(side("%s/%s-%s.out" % (tmp, prefix, mode), prefix))
    a, p = d["authgate_messages_per_s"], d["postfix_messages_per_s"]
    d["authgate_vs_postfix"] = round(a / p, 2) if p else 0
    ca, cp = d["authgate_cpu_ms_per_message"], d["postfix_cpu_ms_per_message"]
    d["postfix_cpu_vs_authgate"] = round(cp / ca, 2) if ca else 0
    title = "%d sessions x %d%s" % (sessions, messages, ", STARTTLS" if d["starttls"] else "")
    print("%-30s %10s %8s %8s %8s %11s %12s" % (title, "messages/s", "p50 ms", "p99 ms", "p99.9 ms",
                                              "CPU ms/msg", "acc/rej/tmp"))
    for k, label in SIDES:
        print("%-30s %10.0f %8.2f %8.2f %8.2f %11.2f %12s" % (
            label, d[k + "_messages_per_s"], d[k + "_p50_ms"], d[k + "_p99_ms"], d[k + "_p999_ms"],
            d[k + "_cpu_ms_per_message"],
            "%d/%d/%d" % (d[k + "_accepted"], d[k + "_rejected"], d[k + "_tempfailed"])))
    cpu = "%.1fx less CPU per message" % d["postfix_cpu_vs_authgate"] if ca else "CPU below the clock tick"
    print("authgate: %.1fx the messages/s of the Postfix stack, %s" % (d["authgate_vs_postfix"], cpu))
    print(json.dumps(d, separators=(",", ":")))


if __name__ == "__main__":
    main()
