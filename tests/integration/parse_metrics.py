#!/usr/bin/env python3
"""Reads a Prometheus text exposition (format 0.0.4) on stdin with prometheus_client's own
parser and prints its samples as JSON, one object:

  {"families": [{"name": ..., "type": ...}], "samples": [{"name": ..., "labels": {...}, "value": ...}]}

Values that JSON cannot hold (NaN, +Inf, -Inf) are printed as strings. A text the parser
refuses exits 1 with the parser's message on stderr.
"""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    families, samples = [], []
    try:
        for family in text_string_to_metric_families(text):
            families.append({"name": family.name, "type": family.type})
            for s in family.samples:
                value = s.value if math.isfinite(s.value) else str(s.value)
                samples.append({"name": s.name, "labels": dict(s.labels), "value": value})
    except Exception as e:  # the parser raises ValueError and others on a bad line
        print("parse_metrics: %s" % e, file=sys.stderr)
        return 1
    json.dump({"families": families, "samples": samples}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
