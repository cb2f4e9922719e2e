#!/usr/bin/env python3
"""The layering check fails on each kind of wrong-way use, planted in a copy of the tree."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CHECK = os.path.join(HERE, "check_layers.py")
FOLDERS = ["common", "tlsrpt", "mtasts", "mail", "net", "store", "collector", "checks", "analyzer", "app"]


def run(root):
    return subprocess.run([sys.executable, CHECK, "--root", root], capture_output=True, text=True, timeout=60)


class planted(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="stswatch-layering-")
        for folder in FOLDERS:
            src = os.path.join(ROOT, folder)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(self.tmp, folder))
        # The copy starts clean: every planted problem below is the only one.
        result = run(self.tmp)
        self.assertEqual(result.returncode, 0, result.stderr)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def append(self, rel, text):
        with open(os.path.join(self.tmp, rel), "a", encoding="utf-8") as f:
            f.write(text)

    def assert_fails(self, *expected):
        result = run(self.tmp)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        for text in expected:
            self.assertIn(text, result.stderr)

    def test_upward_include(self):
        self.append("common/log.hpp", '\n#include "app/cli.hpp"\n')
        self.assert_fails("common/log.hpp:", "includes app/cli.hpp", "common (layer 0) may not use app (layer 5)")

    def test_include_between_peers(self):
        self.append("collector/spool.hpp", '\n#include "checks/checker.hpp"\n')
        self.assert_fails("collector/spool.hpp:", "collector (layer 4) may not use checks (layer 4)")

    def test_model_including_store(self):
        self.append("tlsrpt/report.hpp", '\n#include "store/report_store.hpp"\n')
        self.assert_fails("tlsrpt/report.hpp:", "tlsrpt (layer 1) may not use store (layer 3)")

    def test_sql_outside_store(self):
        self.append("checks/checker.cpp", "\n#include <pqxx/pqxx>\n")
        self.assert_fails("checks/checker.cpp:", "only store/ speaks SQL")

    def test_socket_in_pure_code(self):
        self.append("mail/mime.cpp", "\n#include <sys/socket.h>\n")
        self.assert_fails("mail/mime.cpp:", "mail/ is pure")

    def test_upward_link(self):
        self.append("net/CMakeLists.txt", "\ntarget_link_libraries(stswatch_dns PUBLIC stswatch_store)\n")
        self.assert_fails("net/CMakeLists.txt:", "stswatch_dns links stswatch_store",
                          "net (layer 2) may not use store (layer 3)")

    def test_pure_library_linking_the_network(self):
        self.append("mtasts/CMakeLists.txt", "\ntarget_link_libraries(stswatch_mtasts PUBLIC Poco::Net)\n")
        self.assert_fails("mtasts/CMakeLists.txt:", "links Poco::Net", "mtasts/ is pure")

    def test_includes_in_the_same_folder_and_downward_pass(self):
        self.append("app/cli.cpp", '\n#include "store/migrations.hpp"\n#include "common/log.hpp"\n')
        self.append("store/migrations.cpp", '\n#include "tlsrpt/report.hpp"\n')
        result = run(self.tmp)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("layering: ok", result.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
