// The `stswatch` command as users and scripts see it (the CLI contract, docs/contracts.md): exit
// codes, stdout/stderr shapes, global options anywhere, and the newcomer's path: serve,
// POST with curl, see the report in `reports list`.
#include "tlsrpt/decode.hpp"
#include "tests/support/json_text.hpp"
#include "tests/support/sample_reports.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/test_support.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace stswatch::test;

namespace {

std::string bin() { return required_env("STSWATCH_BIN"); }

} // namespace

TEST_CASE("parse prints one canonical line per valid file and names each invalid one")
{
    temp_dir dir;
    auto good = dir.write("good.json", expired_cert_report("r-1", "Example.COM."));
    auto gz = dir.write("sender!example.org!1751932800!1752019199.json.gz",
                        stswatch::gzip_compress(expired_cert_report("r-2", "example.org")));
    auto bad = dir.write("bad.json", R"({"organization-name":"x"})");
    auto garbage = dir.write("garbage.bin", "\x89PNG\r\n\x1a\n");

    auto r = run_program({bin(), "parse", good, bad, gz, garbage});
    CHECK(r.exit_code == 65);
    auto out = nonempty_lines(r.out);
    REQUIRE(out.size() == 2);
    auto first = json_object(out[0]);
    CHECK(first->getValue<std::string>("source") == good);
    auto report = first->getObject("report");
    CHECK(report->getValue<std::string>("report-id") == "r-1");
    auto policy = report->getArray("policies")->getObject(0)->getObject("policy");
    CHECK(policy->getValue<std::string>("policy-domain") == "example.com");   // normalised
    CHECK(json_object(out[1])->getObject("report")->getValue<std::string>("report-id") == "r-2");

    auto err = nonempty_lines(r.err);
    REQUIRE(err.size() == 2);
    CHECK(err[0].rfind("stswatch: " + bad + ": ", 0) == 0);
    CHECK(err[1].rfind("stswatch: " + garbage + ": ", 0) == 0);
}

TEST_CASE("parse reads standard input, takes options anywhere, and exits by the contract")
{
    temp_dir dir;
    auto good = dir.write("good.json", expired_cert_report("r-3", "example.net"));

    auto from_stdin = run_program({bin(), "parse", "-"}, expired_cert_report("r-4", "example.net"));
    CHECK(from_stdin.exit_code == 0);
    CHECK(nonempty_lines(from_stdin.out).size() == 1);
    CHECK(from_stdin.err.empty());

    auto before = run_program({bin(), "--log-level", "warning", "parse", good});
    auto after = run_program({bin(), "parse", good, "--log-level=warning"});
    CHECK(before.exit_code == 0);
    CHECK(after.exit_code == 0);
    CHECK(before.out == after.out);

    auto missing = run_program({bin(), "parse", (dir.path / "nope.json").string()});
    CHECK(missing.exit_code == 66);
    CHECK(missing.err.find("nope.json") != std::string::npos);

    CHECK(run_program({bin(), "parse"}).exit_code == 2);
    CHECK(run_program({bin(), "frobnicate"}).exit_code == 2);
    CHECK(run_program({bin(), "parse", "--bogus", good}).exit_code == 2);
    auto no_config = run_program({bin(), "--config", "/nonexistent/stswatch.properties", "parse", good});
    CHECK(no_config.exit_code == 66);
    CHECK(no_config.err.find("/nonexistent/stswatch.properties") != std::string::npos);
}

TEST_CASE("db migrate applies the schema once, reports list reads it")
{
    scratch_database db(false);
    auto first = run_program({bin(), "db", "migrate", "--db", db.url()});
    INFO(first.err);
    REQUIRE(first.exit_code == 0);
    CHECK(first.out.find("applied 0001_") != std::string::npos);
    auto again = run_program({bin(), "--db", db.url(), "db", "migrate"});
    CHECK(again.exit_code == 0);
    CHECK(again.out.find("up to date") != std::string::npos);

    auto empty = run_program({bin(), "reports", "list", "--db", db.url(), "--json"});
    CHECK(empty.exit_code == 0);
    CHECK(empty.out == "[]\n");

    CHECK(run_program({bin(), "reports", "list", "--db", db.url(), "--since", "yesterday"}).exit_code == 2);
    auto down = run_program({bin(), "reports", "list", "--db", "host=127.0.0.1 port=1 connect_timeout=2"});
    CHECK(down.exit_code == 69);
    CHECK(down.err.rfind("stswatch: database: ", 0) == 0);
}

TEST_CASE("serve: a report POSTed with curl is stored and listed, SIGTERM stops cleanly")
{
    scratch_database db;
    temp_dir dir;
    auto port = std::to_string(free_port());
    Poco::Pipe out_pipe, err_pipe;
    std::vector<std::string> args = {
        "serve", "--db", db.url(), "--log-level", "information",
        "--set", "collector.https.listen=127.0.0.1:" + port,
        "--set", "collector.https.cert=" + tls_file("server.pem"),
        "--set", "collector.https.key=" + tls_file("server.key"),
        "--set", "collector.accept_domains=example.com",
        "--set", "collector.smtp.listen=127.0.0.1:" + std::to_string(free_port()),
        "--set", "collector.https.rate_limit=0",
    };
    auto handle = Poco::Process::launch(bin(), args, nullptr, &out_pipe, &err_pipe);
    std::string err_text;
    std::thread drain([&] {
        Poco::PipeInputStream in(err_pipe);
        std::string line;
        while (std::getline(in, line))
            err_text += line + "\n";
    });
    std::thread drain_out([&] {
        Poco::PipeInputStream in(out_pipe);
        std::string ignored;
        while (std::getline(in, ignored)) {
        }
    });

    std::string url = "https://localhost:" + port + "/v1/tlsrpt";
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
        auto h = run_program({"curl", "-sS", "--cacert", tls_file("ca.pem"), "-o", "/dev/null", "-w", "%{http_code}",
                              "https://localhost:" + port + "/healthz"});
        up = h.out == "200";
        if (!up)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(up);

    auto gz = dir.write("r.json.gz", stswatch::gzip_compress(expired_cert_report("cli-serve-1", "example.com")));
    auto post = [&](const std::string& file, const std::string& type) {
        return run_program({"curl", "-sS", "--cacert", tls_file("ca.pem"), "-o", "/dev/null", "-w", "%{http_code}",
                            "-H", "Content-Type: " + type, "--data-binary", "@" + file, url});
    };
    CHECK(post(gz, "application/tlsrpt+gzip").out == "201");
    CHECK(post(gz, "application/tlsrpt+gzip").out == "200");
    auto other = dir.write("o.json", expired_cert_report("cli-serve-2", "example.org"));
    CHECK(post(other, "application/tlsrpt+json").out == "403");

    auto listed = run_program({bin(), "reports", "list", "--db", db.url(), "--domain", "example.com", "--json"});
    REQUIRE(listed.exit_code == 0);
    auto rows = json_array(listed.out);
    REQUIRE(rows->size() == 1);
    auto row = rows->getObject(0);
    CHECK(row->getValue<std::string>("report-id") == "cli-serve-1");
    CHECK(row->getValue<long>("total-failure-session-count") == 3);
    CHECK(row->getArray("transports")->getElement<std::string>(0) == "https");

    auto table = run_program({bin(), "reports", "list", "--db", db.url()});
    CHECK(table.out.find("cli-serve-1") != std::string::npos);
    CHECK(table.out.find("1 report") != std::string::npos);

    Poco::Process::requestTermination(handle.id());
    int rc = handle.wait();
    drain.join();
    drain_out.join();
    INFO(err_text);
    CHECK(rc == 0);
    CHECK(err_text.find("https: listening address=127.0.0.1:" + port) != std::string::npos);
    CHECK(err_text.find("status=201") != std::string::npos);   // one log line per request
}
