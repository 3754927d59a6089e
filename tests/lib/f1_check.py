#!/usr/bin/env python3
"""f1_check.py DIR SESSIONS RACE_LAPS CARS - invariants of an F1 weekend's results files.
Prints TAP lines (no plan) starting at number N given by $TAP_START (default 1); exit 0."""
import csv, json, os, sys

d, sessions, race_laps, cars = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
n = int(os.environ.get("TAP_START", "1"))
def ok(cond, msg):
    global n
    print(("ok" if cond else "not ok"), n, "-", msg)
    n += 1

laps_of = {"practice": 3, "q1": 2, "q2": 2, "q3": 2, "race": race_laps}
res = {}
for s in sessions:
    try:
        with open(f"{d}/{s}.json") as f:
            j = json.load(f)
        with open(f"{d}/{s}.csv") as f:
            rows = list(csv.DictReader(f))
        res[s] = j
        good = j["session"] == s and len(rows) == len(j["classification"]) > 0
        good = good and all(r["code"] == c["code"] and int(r["pos"]) == c["pos"]
                            for r, c in zip(rows, j["classification"]))
        ok(good, f"{s}: csv and json present, parseable, same {len(rows)} rows")
    except Exception as e:  # noqa: BLE001
        ok(False, f"{s}: results files: {e}")
        continue
    cl = j["classification"]
    bad = []
    for c in cl:
        lt = c["lap_times_ms"]
        if len(lt) != c["laps"]:
            bad.append(f"{c['code']}: {len(lt)} lap times for {c['laps']} laps")
        if lt and (c["best_lap_ms"] != min(lt) or any(c["best_lap_ms"] > t for t in lt)):
            bad.append(f"{c['code']}: best {c['best_lap_ms']} vs laps {lt}")
        if c["status"] in ("CLASSIFIED", "ELIMINATED") and c["laps"] != laps_of[s]:
            bad.append(f"{c['code']}: {c['laps']} laps, session has {laps_of[s]}")
        if c["status"] in ("CLASSIFIED", "ELIMINATED") and sum(c["best_sectors_ms"]) > c["best_lap_ms"]:
            bad.append(f"{c['code']}: best sectors add up to more than the best lap")
    ok(not bad, f"{s}: best lap <= every lap, lap counts consistent" + ("" if not bad else ": " + "; ".join(bad[:3])))
    running = [c for c in cl if c["status"] in ("CLASSIFIED", "ELIMINATED")]
    if s == "race":
        key = [(-c["laps"], c["total_ms"]) for c in running]
    else:
        key = [c["best_lap_ms"] for c in running]
    ok(key == sorted(key) and cl[:len(running)] == running, f"{s}: ranking sorted ({len(running)} running cars first)")
    if s == "race":
        ok(all(c["gap_ms"] == c["total_ms"] - cl[0]["total_ms"] for c in running),
           "race: gaps are total time differences to the winner")

e = (cars + 2) // 4
cut = {"q1": max(1, cars - e), "q2": max(1, cars - 2 * e)}
for a, b in (("q1", "q2"), ("q2", "q3")):
    if a in res and b in res:
        top = [c["code"] for c in res[a]["classification"] if c["status"] == "CLASSIFIED"][:cut[a]]
        nxt = {c["code"] for c in res[b]["classification"]}
        elim = {c["code"] for c in res[a]["classification"] if c["status"] == "ELIMINATED"}
        ok(nxt <= set(top) and not (nxt & elim) and len(elim) == len(res[a]["classification"]) - cut[a],
           f"{b}: only the top {cut[a]} of {a} take part; the {len(elim)} eliminated do not")
if "race" in res and "q3" in res:
    pole = res["q3"]["classification"][0]["code"]
    grid1 = [c["code"] for c in res["race"]["classification"] if c["grid"] == 1]
    ok(grid1 == [pole], f"race: pole position goes to the Q3 winner {pole}")
