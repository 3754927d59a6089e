"""python3 -m shmkit.f1 --attach [NAME]: the live classification of a running F1 weekend
(examples/f1, `make demo`), read from Python.

The weekend is three shmkit tables: NAME (race control: one struct f1_ctl), NAME-cars (one
struct f1_car per car, written by the car's own process) and NAME-events. This board opens
the first two read-only, takes a consistent snapshot of every record (the table's seqlock:
never half of one write and half of the next), asks whether each car's process still lives
(kill -9 a car and it shows OUT), and ranks the cars as examples/f1/board.c does.
"""
import argparse
import os
import struct
import sys
import time

import shmkit

TYPE_CARS = 0x46312D4341525331  # "F1-CARS1" (examples/f1/f1.h)
TYPE_CTL = 0x46312D4354524C32  # "F1-CTRL2"
MAX_CARS, MAX_LAPS = 20, 99
KINDS = ["PRACTICE", "Q1", "Q2", "Q3", "RACE"]
RACE = 4
WAIT, RUN, BETWEEN, FINISHED, ABORT = range(5)

# struct f1_ctl and struct f1_car, field for field (native alignment, as the C compiler lays
# them out; the table records the record size, checked at open)
CTL = struct.Struct("@7i5iqdQ20i20iiiq")
CTL_FIELDS = ("state session kind laps ncars race_laps nsessions").split()
CAR = struct.Struct("@12i3q3q3q3q%dq%dq" % (MAX_LAPS + 1, MAX_LAPS + 1))
CAR_INTS = ("index number session running lap sector in_pit out cause done pits pad").split()

DRIVERS = [
    (1, "VER", "Verstappen"), (11, "PER", "Perez"), (16, "LEC", "Leclerc"),
    (55, "SAI", "Sainz"), (4, "NOR", "Norris"), (81, "PIA", "Piastri"),
    (44, "HAM", "Hamilton"), (63, "RUS", "Russell"), (14, "ALO", "Alonso"),
    (18, "STR", "Stroll"), (10, "GAS", "Gasly"), (31, "OCO", "Ocon"), (23, "ALB", "Albon"),
    (2, "SAR", "Sargeant"), (22, "TSU", "Tsunoda"), (3, "RIC", "Ricciardo"),
    (77, "BOT", "Bottas"), (24, "ZHO", "Zhou"), (20, "MAG", "Magnussen"),
    (27, "HUL", "Hulkenberg"),
]


def ctl_of(raw):
    v = CTL.unpack(raw)
    c = dict(zip(CTL_FIELDS, v[:7]))
    c["kinds"] = list(v[7:12])
    c["start_ns"], c["speed"], c["seed"] = v[12:15]
    c["participates"] = list(v[15:35])
    c["grid"] = list(v[35:55])
    c["director_pid"], c["sysv"], c["events"] = v[55:58]
    return c


def car_of(raw):
    v = CAR.unpack(raw)
    c = dict(zip(CAR_INTS, v[:12]))
    c["cur_s"], c["last_s"], c["best_s"] = list(v[12:15]), list(v[15:18]), list(v[18:21])
    c["last_lap"], c["best_lap"], c["total"] = v[21:24]
    n = MAX_LAPS + 1
    c["lap_total"] = list(v[24:24 + n])
    c["lap_time"] = list(v[24 + n:24 + 2 * n])
    return c


def fmt_time(ms):
    if ms <= 0:
        return "-"
    if ms >= 60000:
        return "%d:%02d.%03d" % (ms // 60000, ms // 1000 % 60, ms % 1000)
    return "%d.%03d" % (ms // 1000, ms % 1000)


def find_weekend():
    """The newest weekend in /dev/shm whose race control lives (as f1 --attach does)."""
    best = None
    for f in os.listdir("/dev/shm"):
        if not f.startswith("shmkit-f1-") or f.endswith("-cars") or f.endswith("-events"):
            continue
        try:
            with shmkit.Table("/" + f, readonly=True, type_id=TYPE_CTL) as t:
                info = t.info()
        except shmkit.Error:
            continue
        if shmkit.owner_alive(info["creator_pid"], info["creator_start"]):
            if best is None or info["created"] > best[0]:
                best = (info["created"], "/" + f)
    return best[1] if best else None


class Board:
    """Snapshots of a running weekend and its ranking."""

    def __init__(self, name):
        self.name = name
        self.ctl = shmkit.Table(name, readonly=True, type_id=TYPE_CTL)
        if self.ctl.rec_size != CTL.size:
            raise shmkit.FormatError(-9011, "race control record of another size")
        c = ctl_of(self.read(self.ctl, 0))
        if c["sysv"]:
            raise SystemExit(f"{name} runs with --sysv: its cars table has no name to open")
        self.cars = shmkit.Table(name + "-cars", readonly=True, type_id=TYPE_CARS)
        if self.cars.rec_size != CAR.size:
            raise shmkit.FormatError(-9011, "car record of another size")
        self.prev = [None] * self.cars.count
        self.dead = [False] * self.cars.count

    @staticmethod
    def read(table, i):
        for _ in range(20):
            try:
                return table.read_bytes(i)
            except shmkit.WouldBlockError:
                continue
        return table.read_bytes(i)

    def view(self):
        """(ctl, rows): rows ranked, each (car dict, index, dead)."""
        c = ctl_of(self.read(self.ctl, 0))
        n = c["ncars"]
        if not 1 <= n <= min(MAX_CARS, self.cars.count):
            raise shmkit.CorruptError(-9013, "race control record out of range")
        rows = []
        for i in range(n):
            try:
                snap = car_of(self.read(self.cars, i))
                if snap["index"] == i:
                    self.prev[i] = snap  # a torn or unreadable one keeps the last snapshot
            except shmkit.PeerDeadError:
                pass
            if self.cars.owner(i)[0] == "dead":
                self.dead[i] = True  # its process died without releasing its record
            if not c["participates"][i]:
                continue
            car = self.prev[i]
            if car is None or car["session"] != c["session"]:
                car = {"index": i, "lap": 0, "sector": 0, "total": 0, "best_lap": 0,
                       "last_lap": 0, "out": 0, "in_pit": 0, "pits": 0}
            rows.append((car, i, self.dead[i]))

        def out(r):
            return r[2] or r[0]["out"]

        if c["kind"] == RACE:
            rows.sort(key=lambda r: (bool(out(r)), -(r[0]["lap"] * 3 + r[0]["sector"]),
                                     r[0]["total"], r[1]))
        else:
            rows.sort(key=lambda r: (bool(out(r)), r[0]["best_lap"] or 1 << 62, r[1]))
        return c, rows

    def lines(self):
        c, rows = self.view()
        kind = KINDS[c["kind"]] if 0 <= c["kind"] < len(KINDS) else "?"
        state = ["waiting", "running", "finished", "weekend over", "stopped"][c["state"]] \
            if 0 <= c["state"] <= 4 else "?"
        out = [f"{self.name}: {kind} (session {c['session']}/{c['nsessions']}), {state}"]
        out.append(" POS  NO DRV   BEST       LAST       LAPS  STATUS")
        for p, (car, i, dead) in enumerate(rows, 1):
            num, code, _ = DRIVERS[i]
            status = "OUT (process died)" if dead else "OUT" if car["out"] else \
                "PIT" if car["in_pit"] else ""
            out.append(f" {p:3d} {num:3d} {code:<3s} {fmt_time(car['best_lap']):>9s}  "
                       f"{fmt_time(car['last_lap']):>9s}  {car['lap']:4d}  {status}")
        return c, out

    def close(self):
        self.ctl.close()
        self.cars.close()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m shmkit.f1",
                                 description="The live classification of a running F1 weekend.")
    ap.add_argument("--attach", nargs="?", const="", metavar="NAME", required=True,
                    help="the weekend's name (/shmkit-f1-PID); newest running one if omitted")
    ap.add_argument("name", nargs="?", help=argparse.SUPPRESS)
    ap.add_argument("--once", action="store_true", help="print one classification and exit")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between prints (1)")
    a = ap.parse_args(argv)
    name = a.attach or a.name or find_weekend()
    if not name:
        print("f1: no running weekend found in /dev/shm (start one with f1)", file=sys.stderr)
        return 1
    try:
        board = Board(name)
    except shmkit.Error as e:
        print(f"f1: attaching to {name}: {e.strerror}", file=sys.stderr)
        return 1
    tty = sys.stdout.isatty()
    try:
        while True:
            c, text = board.lines()
            if tty:
                sys.stdout.write("\033[H\033[2J")
            print("\n".join(text), flush=True)
            if a.once or c["state"] >= FINISHED:
                break
            time.sleep(a.interval)
    except KeyboardInterrupt:
        pass
    finally:
        board.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
