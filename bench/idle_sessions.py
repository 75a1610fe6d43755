#!/usr/bin/env python3
# bench/idle_sessions.py PORT PID N — open N idle SMTP sessions to the daemon
# (pid PID) and report its RSS growth per session. Loopback only.
import socket, sys, time, resource, os
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def rss():
    for l in open(f'/proc/{pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])
def settled_rss():
    # start-up memory is freed within moments of listening (longer on a
    # busy machine): the baseline is an RSS that held for half a second
    last, same, deadline = rss(), 0, time.time() + 10
    while same < 5 and time.time() < deadline:
        time.sleep(0.1)
        now = rss()
        same = same + 1 if now == last else 0
        last = now
    return last
base = settled_rss(); conns=[]
for i in range(n):
    c = socket.create_connection(('127.0.0.1', port)); conns.append(c)
for c in conns[-100:]: c.recv(100)
time.sleep(1)
after = rss()
print(f"{n} idle sessions: RSS {base} kB -> {after} kB, {(after-base)*1024/n:.0f} bytes per session")
