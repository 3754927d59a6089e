"""scoreboard.py [-n NAME] [PLAYERS] - a table of records, one writer per record (the shape
of the F1 project): each player process claims its record and updates it; the board reads
consistent snapshots and sees who is alive."""
import argparse
import os
import time

import shmkit

ap = argparse.ArgumentParser()
ap.add_argument("-n", "--name", default="/shmkit-scores-py")
ap.add_argument("players", nargs="?", type=int, default=3)
a = ap.parse_args()

SCORE_TYPE = 0x53434F5245533031  # "SCORES01": our tables, not someone else's
REC = "=i4xq16s"                  # player, score, name

with shmkit.Table(a.name, REC, count=a.players, type_id=SCORE_TYPE, create=True) as board:
    kids = []
    for i in range(a.players):
        pid = os.fork()
        if pid == 0:  # a player: the one writer of record i
            t = shmkit.Table(a.name, REC, type_id=SCORE_TYPE)
            t.claim(i)
            for score in range(1, 101):
                t.write(i, (i, score * (i + 1), b"player-%d" % i))
            os._exit(0)  # leaves without releasing: the board sees it gone
        kids.append(pid)
    for pid in kids:
        os.waitpid(pid, 0)
    for i in range(a.players):
        player, score, name = board.read(i)  # a consistent snapshot
        state = board.owner(i)[0]
        name = name.rstrip(b"\0").decode()
        print(f"{name:10s} score {score:4d}  owner {state}")
    board.remove()
