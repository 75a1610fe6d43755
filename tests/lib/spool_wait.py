"""Waiting for messages to show in a Maildir's new/.

With spool.sync = journal a 250 means the message is durable in the
spool's journal, and the journal's publisher names it in new/ a moment
later; in the other modes it is there before the 250 and the wait ends at
once. Tests that look into new/ right after a 250 go through here.
"""
import os
import time


def added(new, before, count, timeout=30.0):
    """The names in new/ not in `before`, once there are `count` of them
    (or when `timeout` seconds have passed: the caller's assertion then
    says what is missing)."""
    deadline = time.time() + timeout
    while True:
        names = sorted(set(os.listdir(new)) - set(before))
        if len(names) >= count or time.time() > deadline:
            return names
        time.sleep(0.02)
