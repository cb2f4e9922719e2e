#!/usr/bin/env python3
"""One definition per class name among the headers of the test tree.

The test tables (tests/unit/*_cases.hpp) and support headers are included together by
the fuzz seed writer and by several test programs, all in namespace stswatch::test. Two
headers that define a struct of the same name with different members break the one
definition rule without a compiler error, and the program then copies one type with the
other's code (seen as a corrupt string in a seed table). This check keeps names unique.

    check_unique_types.py [--root DIR]     exit 0 when no name is defined twice, 1 otherwise
    check_unique_types.py --self-test      plants a duplicate in a scratch tree and expects 1
"""
import argparse
import os
import re
import sys
import tempfile

# A definition at namespace scope: not indented, with a body (not a forward declaration).
DEFINITION = re.compile(r"^(?:struct|class)\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:final\s*)?(?::[^;{]*)?\{", re.M)


def definitions(root):
    found = {}
    tests = os.path.join(root, "tests")
    for folder, _, files in os.walk(tests):
        for name in sorted(files):
            if not name.endswith(".hpp"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            for match in DEFINITION.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.setdefault(match.group(1), []).append(f"{os.path.relpath(path, root)}:{line}")
    return found


def check(root):
    clashes = {name: places for name, places in definitions(root).items() if len(places) > 1}
    for name, places in sorted(clashes.items()):
        print(f"type '{name}' is defined in more than one test header: {', '.join(places)}")
    return 1 if clashes else 0


def self_test():
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "tests", "unit"))
        for name, body in (("a_cases.hpp", "struct row {\n    int a;\n};\n"),
                           ("b_cases.hpp", "struct row {\n    std::string b;\n};\nstruct other;\n")):
            with open(os.path.join(root, "tests", "unit", name), "w") as f:
                f.write(body)
        if check(root) != 1:
            print("self-test: a planted duplicate was not found")
            return 1
        os.remove(os.path.join(root, "tests", "unit", "b_cases.hpp"))
        if check(root) != 0:
            print("self-test: a tree without duplicates was refused")
            return 1
    print("self-test: planted duplicate found, clean tree passed")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    sys.exit(self_test() if args.self_test else check(args.root))


if __name__ == "__main__":
    main()
