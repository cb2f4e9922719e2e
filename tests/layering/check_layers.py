#!/usr/bin/env python3
"""The layering rule of stswatch (docs/architecture.md), checked on the sources.

Folders are layers, lowest first. A folder may include headers of, and link libraries
of, folders in lower layers only (and its own). Folders in one layer do not use each
other. Only store/ speaks SQL (includes <pqxx/...>). The pure layers (common and the
models and parsers) use no sockets, no Poco::Net, no libunbound and no libpqxx.

    check_layers.py [--root DIR]     exit 0 when the tree keeps the rule, 1 otherwise
"""
import argparse
import os
import re
import sys

LAYERS = [
    ["common"],
    ["tlsrpt", "mtasts", "mail"],
    ["net"],
    ["store"],
    ["collector", "checks", "analyzer"],
    ["app"],
]
RANK = {folder: rank for rank, folders in enumerate(LAYERS) for folder in folders}
PURE_RANK = 1  # this layer and below: pure code

# Headers and libraries a pure folder may not use, and the one folder allowed SQL.
PURE_FORBIDDEN_HEADERS = ("Poco/Net/", "pqxx/", "sys/socket.h", "netdb.h", "unbound.h", "netinet/")
PURE_FORBIDDEN_LINKS = ("Poco::Net", "Poco::NetSSL", "PkgConfig::PQXX", "unbound")
SQL_FOLDER = "store"

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
ADD_LIBRARY = re.compile(r"add_library\(\s*([A-Za-z0-9_]+)")
LINK = re.compile(r"target_link_libraries\(\s*([A-Za-z0-9_]+)([^)]*)\)", re.S)


def layer_name(folder):
    return f"{folder} (layer {RANK[folder]})"


def may_use(user, used):
    return user == used or RANK[used] < RANK[user]


def source_files(root, folder):
    base = os.path.join(root, folder)
    for dirpath, _, names in os.walk(base):
        for name in sorted(names):
            if name.endswith((".cpp", ".hpp", ".h", ".cc")):
                yield os.path.join(dirpath, name)


def check_includes(root):
    problems = []
    for folder in RANK:
        for path in source_files(root, folder):
            rel = os.path.relpath(path, root)
            with open(path, encoding="utf-8", errors="replace") as f:
                for number, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    kind, target = m.groups()
                    where = f"{rel}:{number}"
                    if kind == '"':
                        top = target.split("/", 1)[0]
                        if top in RANK and not may_use(folder, top):
                            problems.append(f"{where}: includes {target}: {layer_name(folder)} may not use "
                                            f"{layer_name(top)}")
                        continue
                    if target.startswith("pqxx/") and folder != SQL_FOLDER:
                        problems.append(f"{where}: includes <{target}>: only {SQL_FOLDER}/ speaks SQL")
                    if RANK[folder] <= PURE_RANK and target.startswith(PURE_FORBIDDEN_HEADERS):
                        problems.append(f"{where}: includes <{target}>: {folder}/ is pure "
                                        f"(no sockets, network or database)")
    return problems


def check_links(root):
    libraries = {}   # library name -> folder that defines it
    texts = {}
    for folder in RANK:
        path = os.path.join(root, folder, "CMakeLists.txt")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            texts[folder] = f.read()
        for name in ADD_LIBRARY.findall(re.sub(r"#.*", "", texts[folder])):
            libraries[name] = folder
    problems = []
    for folder, text in texts.items():
        code = re.sub(r"#.*", "", text)
        rel = f"{folder}/CMakeLists.txt"
        for m in LINK.finditer(code):
            target, rest = m.groups()
            line = code.count("\n", 0, m.start()) + 1
            for token in rest.split():
                used = libraries.get(token)
                if used and not may_use(folder, used):
                    problems.append(f"{rel}:{line}: {target} links {token}: {layer_name(folder)} may not use "
                                    f"{layer_name(used)}")
                if RANK[folder] <= PURE_RANK and token in PURE_FORBIDDEN_LINKS:
                    problems.append(f"{rel}:{line}: {target} links {token}: {folder}/ is pure "
                                    f"(no sockets, network or database)")
                if token == "PkgConfig::PQXX" and folder != SQL_FOLDER:
                    problems.append(f"{rel}:{line}: {target} links {token}: only {SQL_FOLDER}/ speaks SQL")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    missing = [f for f in ("common", "store", "app") if not os.path.isdir(os.path.join(root, f))]
    if missing:
        print(f"layering: {root} is not an stswatch tree (no {', '.join(missing)}/)", file=sys.stderr)
        return 2
    problems = check_includes(root) + check_links(root)
    for p in problems:
        print(f"layering: {p}", file=sys.stderr)
    if problems:
        print(f"layering: {len(problems)} use(s) against the layer order "
              f"{' < '.join('/'.join(l) for l in LAYERS)} (docs/architecture.md)", file=sys.stderr)
        return 1
    print(f"layering: ok ({sum(1 for f in RANK for _ in source_files(root, f))} files, layers "
          f"{' < '.join('/'.join(l) for l in LAYERS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
