"""OpenMined PSI vs blindmatch, same machine, same run, same sizes.

OpenMined PSI (server holds the list, client holds its items):
  server setup   CreateSetupMessage over the list      -> server cost per list element
  client         CreateRequest + GetIntersection       -> client cost per item
  server         ProcessRequest                        -> server cost per item
  device bytes   the serialized setup message / list size
blindmatch (from `blindmatch bench --json`, single core where the peer is single-threaded):
  db_build_entry, voucher_real, open, database file bytes / list size
"""
import argparse, json, os, subprocess, sys, time

import private_set_intersection.python as psi


def openmined(n, k):
    server_items = [f"list-{i}" for i in range(n)]
    client_items = [f"list-{i}" for i in range(0, k // 2)] + [f"other-{i}" for i in range(k - k // 2)]
    server = psi.server.CreateWithNewKey(True)
    client = psi.client.CreateWithNewKey(True)
    t = time.perf_counter()
    setup = server.CreateSetupMessage(1e-9, k, server_items, psi.DataStructure.GCS)
    setup_s = time.perf_counter() - t
    t = time.perf_counter()
    request = client.CreateRequest(client_items)
    req_s = time.perf_counter() - t
    t = time.perf_counter()
    response = server.ProcessRequest(request)
    proc_s = time.perf_counter() - t
    t = time.perf_counter()
    inter = client.GetIntersection(setup, response)
    inter_s = time.perf_counter() - t
    assert len(inter) == k // 2, len(inter)
    return {
        "server_per_list_element_us": setup_s * 1e6 / n,
        "client_per_item_us": (req_s + inter_s) * 1e6 / k,
        "server_per_item_us": proc_s * 1e6 / k,
        "device_bytes_per_list_element": len(setup.SerializeToString()) / n,
    }


def blindmatch(binary, n):
    out = subprocess.run([binary, "bench", "--json", "--entries", str(n)], check=True, capture_output=True, text=True).stdout
    rows = {r["operation"]: r for r in json.loads(out)}
    # Database file size (docs/PROTOCOL.md §4-5): 76 + manifest (~300) + 32·m bytes.
    m = 3 * -(-(-(-5 * n // 4) + 30) // 3)
    return {
        "server_per_list_element_us": rows["db_build_entry"]["us_per_op"],
        "client_per_item_us": rows["voucher_real"]["us_per_op"],
        "server_per_item_us": rows["open"]["us_per_op"],
        "device_bytes_per_list_element": (76 + 300 + 32 * m) / n,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--blindmatch", default="target/release/blindmatch")
    a = ap.parse_args()
    print(f"OpenMined PSI {getattr(psi, '__version__', '2.0.6')} vs blindmatch: {a.entries} list entries, {a.items} client items, {os.cpu_count()} cores")
    om = openmined(a.entries, a.items)
    bm = blindmatch(a.blindmatch, a.entries)
    print(f"{'metric':<34} {'OpenMined':>12} {'blindmatch':>12} {'ratio (OM/bm)':>14}")
    for key, label in [
        ("server_per_list_element_us", "server µs per list element"),
        ("client_per_item_us", "client µs per item"),
        ("server_per_item_us", "server µs per client item"),
        ("device_bytes_per_list_element", "device bytes per list element"),
    ]:
        print(f"{label:<34} {om[key]:>12.2f} {bm[key]:>12.2f} {om[key] / bm[key]:>14.2f}")
    print(json.dumps({"openmined": om, "blindmatch": bm}))


if __name__ == "__main__":
    sys.exit(main())
