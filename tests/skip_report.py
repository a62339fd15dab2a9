#!/usr/bin/python3
"""Counts what a CTest run skipped, from `ctest --output-junit FILE`: the entries CTest reports as
skipped (a GTEST_SKIP, an exit 77) and the pytest tests skipped inside the Python entries (their
`pytest -rs` lines), an all-skipped Python entry counted by its pytest skips. Prints one line per
skip with its reason, then the totals; exits 1 when they exceed --max.

Usage: skip_report.py JUNIT_XML [--max N]   (a relative FILE lands in ctest's build dir)
"""
import argparse
import re
import sys
import xml.etree.ElementTree as ET

# pytest -rs: "SKIPPED [2] tests/python/test_x.py:12: reason"
PYTEST_SKIP = re.compile(r"^SKIPPED \[(\d+)\] (.*)$")


def gtest_or_script_reason(output):
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.endswith(": Skipped") and i + 1 < len(lines):  # gtest: file:line: Skipped, reason
            return lines[i + 1].strip()
    for line in lines:
        if "skip" in line.lower():
            return line.strip()
    return "(no reason printed)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("junit")
    ap.add_argument("--max", type=int, default=None)
    a = ap.parse_args()

    entries = skipped_entries = 0
    skips = []  # (kind, name, reason)
    for case in ET.parse(a.junit).getroot().iter("testcase"):
        entries += 1
        name, out = case.get("name"), case.findtext("system-out") or ""
        inner = [m for m in map(PYTEST_SKIP.match, out.splitlines()) if m]
        for m in inner:
            skips += [("pytest", name, m.group(2))] * int(m.group(1))
        skipped = case.find("skipped")
        # Only skips (SKIP_RETURN_CODE / SKIP_REGULAR_EXPRESSION): a test not run because its
        # fixture failed ("Fixture dependency failed") is a failure, and ctest says so.
        if skipped is not None and skipped.get("message", "").startswith("SKIP_"):
            skipped_entries += 1
            if not inner:
                skips.append(("CTest", name, gtest_or_script_reason(out)))
    for kind, name, reason in skips:
        print(f"skipped ({kind}) {name}: {reason}")
    ctest = sum(k == "CTest" for k, _, _ in skips)
    print(f"skips: {ctest} CTest entries + {len(skips) - ctest} pytest tests = {len(skips)} "
          f"({entries} CTest entries, {skipped_entries} reported skipped)")
    if a.max is not None and len(skips) > a.max:
        print(f"skip_report: {len(skips)} skips, more than the {a.max} allowed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
