#!/usr/bin/env python3
"""Regenerate gpu_catalog.csv (the built-in cloud GPU catalog) from a
gpu_prices.csv of the reference-data layout (columns cloud, region,
instance_type, gpu_model, gpu_count, gpu_memory_per_gpu,
instance_price_usd_per_hour, price_usd_per_gpu_hour, price_scope,
pricing_model, data_as_of, source, notes).

Usage: scoring/catalog/refresh_catalog.py PATH/TO/gpu_prices.csv > scoring/catalog/gpu_catalog.csv

Rows flagged as stale in their notes ("predates" a price change) are left
out: a price known to be out of date is worse than the SKU table's.  GCP rows
(an attached-GPU price, no instance type) are keyed by their accelerator name
(the cloud.google.com/gke-accelerator value).  Only the facts are kept; the
source column names where each row came from.
"""
import csv
import re
import sys


def mib(text):
    m = re.match(r"^\s*([0-9.]+)\s*(MiB|Gi|GiB)\s*$", text)
    if not m:
        raise SystemExit("unknown memory %r" % text)
    v = float(m.group(1))
    return int(round(v if m.group(2) == "MiB" else v * 1024))


def short_source(src):
    # "github.com/<owner>/<repo> <path> @<sha> (...)" -> "<owner>/<repo> @<sha8>"
    m = re.match(r"github\.com/([^ ]+) ([^ ]+) @([0-9a-f]{8})", src)
    return "%s %s @%s" % (m.group(1), m.group(2), m.group(3)) if m else src.split(";")[0][:80]


def main():
    rows = list(csv.DictReader(open(sys.argv[1], newline="")))
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["cloud", "region", "instance_type", "accelerator", "gpu_model", "gpu_count",
                  "gpu_memory_mib", "price_usd_per_gpu_hour", "data_as_of", "source"])
    seen = set()
    for r in rows:
        if "predates" in r["notes"]:
            continue
        itype = r["instance_type"]
        accel = ""
        m = re.match(r"^(\S+) x1 \(attached GPU\)$", itype)
        if m:
            itype, accel = "", m.group(1)
        key = (r["cloud"], r["region"], itype, accel)
        if key in seen:
            continue
        seen.add(key)
        out.writerow([r["cloud"], r["region"], itype, accel, r["gpu_model"], r["gpu_count"],
                      mib(r["gpu_memory_per_gpu"]), r["price_usd_per_gpu_hour"],
                      r["data_as_of"].split(" ")[0], short_source(r["source"])])


main()
