"""free_port.py KIND... — print a port on 127.0.0.1 that is free now for
every KIND given (tcp, udp).

The port comes from below the kernel's ephemeral range, not from
bind(0): a port the kernel hands out for bind(0) can be taken again by
any client's connect() between the choice and the server's bind, and
the server then fails to start (seen with unbound, which binds UDP and
TCP). Below the range only another test's explicit bind can take it.
"""
import random
import socket
import sys

KINDS = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}


def bindable(port, kinds):
    socks = []
    try:
        for kind in kinds:
            s = socket.socket(socket.AF_INET, KINDS[kind])
            socks.append(s)
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def main():
    kinds = sys.argv[1:] or ["tcp"]
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    first = 10000 if low > 12000 else 1024
    for _ in range(1000):
        port = random.randrange(first, low)
        if bindable(port, kinds):
            print(port)
            return 0
    sys.exit("free_port: no port below %d free for %s" % (low, " and ".join(kinds)))


if __name__ == "__main__":
    sys.exit(main())
