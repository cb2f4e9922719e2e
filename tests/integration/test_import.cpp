// Reports from files and mailboxes: `stswatch import` over a generated maildir, mbox and
// report files (exact counts, rows in PostgreSQL, a second run all duplicates),
// `stswatch ingest-mail` exit codes as an MTA sees them, `stswatch parse` of .eml files.
#include "tlsrpt/decode.hpp"
#include "tests/support/sample_reports.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace stswatch::test;

namespace {

std::string bin() { return required_env("STSWATCH_BIN"); }

// A report without its date-range: a TLS report, but malformed.
std::string invalid_report_json(const std::string& report_id)
{
    return R"({"organization-name":"Example Sender","report-id":")" + report_id + R"(","policies":[]})";
}

// RFC 8460 §5.3 report mail: multipart/report; report-type=tlsrpt, one gzip attachment per
// report JSON given, base64 wrapped at 76 columns. LF line ends, as mbox and maildir keep them.
std::string report_mail(const std::vector<std::string>& reports, const std::string& tag,
                        const std::string& text = "This is an aggregate TLS report.")
{
    const std::string boundary = "----=_Part_" + tag;
    std::string m = "From: TLS Reporting <noreply-smtp-tls-reporting@sender.example>\n"
                    "To: tlsrpt@example.com\n"
                    "Subject: Report Domain: example.com Submitter: sender.example Report-ID: <" + tag + "@sender.example>\n"
                    "Message-ID: <" + tag + "@sender.example>\n"
                    "TLS-Report-Domain: example.com\n"
                    "TLS-Report-Submitter: sender.example\n"
                    "MIME-Version: 1.0\n"
                    "Content-Type: multipart/report; boundary=\"" + boundary + "\"; report-type=tlsrpt\n\n"
                    "--" + boundary + "\nContent-Type: text/plain; charset=UTF-8\n\n" + text + "\n\n";
    int n = 0;
    for (const auto& json : reports) {
        m += "--" + boundary + "\nContent-Type: application/tlsrpt+gzip\n"
             "Content-Disposition: attachment;\n filename=\"sender.example!example.com!1751932800!1752019199!" +
             tag + "-" + std::to_string(n++) + ".json.gz\"\nContent-Transfer-Encoding: base64\n\n" +
             base64_lines(stswatch::gzip_compress(json)) + "\n";
    }
    return m + "--" + boundary + "--\n";
}

std::string plain_mail(const std::string& tag)
{
    return "From: someone@example.net\nTo: tlsrpt@example.com\nSubject: hello " + tag +
           "\nMessage-ID: <" + tag + "@example.net>\n\nNot a report, just mail.\n";
}

std::string mbox_entry(const std::string& message)
{
    // mboxrd: body lines beginning with "From " (after any '>') get one more '>'.
    std::string quoted;
    std::istringstream in(message);
    for (std::string line; std::getline(in, line);) {
        const auto first = line.find_first_not_of('>');
        if (first != std::string::npos && line.compare(first, 5, "From ") == 0)
            line.insert(0, ">");
        quoted += line + "\n";
    }
    return "From noreply-smtp-tls-reporting@sender.example Thu Nov 26 14:31:07 2026\n" + quoted + "\n";
}

std::int64_t scalar(const std::string& url, const std::string& sql)
{
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql)[0].as<std::int64_t>();
}

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(prefix, 0) == 0)
            out.push_back(line);
    return out;
}

bool contains_line(const std::vector<std::string>& lines, const std::string& line)
{
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// The tree of the import test: see the counts in the test case.
struct import_tree {
    temp_dir dir;
    std::string maildir, mbox, files, big_message, invalid_message, two_parts_bad;

    import_tree()
    {
        maildir = (dir.path / "Maildir").string();
        int file = 0;
        auto deliver = [&](const std::string& sub, const std::string& message) {
            dir.write(fs::path("Maildir") / sub / (std::to_string(1764160000 + file++) + ".M1P1.host:2,S"), message);
        };
        for (int i = 0; i < 150; ++i)
            deliver("new", report_mail({expired_cert_report("m-" + std::to_string(i))}, "m" + std::to_string(i)));
        for (int i = 150; i < 270; ++i)
            deliver("cur", report_mail({expired_cert_report("m-" + std::to_string(i))}, "m" + std::to_string(i)));
        // The same reports delivered twice (a sender's retry, a forwarded copy).
        for (int i = 0; i < 20; ++i)
            deliver("cur", report_mail({expired_cert_report("m-" + std::to_string(i))}, "again" + std::to_string(i)));
        for (int i = 0; i < 5; ++i)
            deliver("cur", plain_mail("plain" + std::to_string(i)));
        for (int i = 0; i < 5; ++i)
            deliver("new", report_mail({invalid_report_json("bad-" + std::to_string(i))}, "bad" + std::to_string(i)));
        // Several reports in one message (docs/senders.md).
        deliver("cur", report_mail({expired_cert_report("m-270"), expired_cert_report("m-271")}, "pair1"));
        deliver("cur", report_mail({expired_cert_report("m-272"), expired_cert_report("m-273")}, "pair2"));
        big_message = (dir.path / "Maildir/cur/big:2,S").string();
        dir.write("Maildir/cur/big:2,S", report_mail({expired_cert_report("m-big")}, "big", std::string(120000, 'x')));
        // Not messages: deliveries in progress, and dot files.
        dir.write("Maildir/tmp/1764169999.M9P9.host", report_mail({expired_cert_report("m-tmp")}, "tmp"));
        dir.write("Maildir/new/.hidden", report_mail({expired_cert_report("m-hidden")}, "hidden"));
        dir.write("Maildir/dovecot-uidlist", "3 V1 N2\n");
        // A Maildir++ folder inside.
        for (int i = 300; i < 310; ++i)
            dir.write("Maildir/.Reports/new/" + std::to_string(i) + ":2,", report_mail({expired_cert_report("m-" + std::to_string(i))}, "f" + std::to_string(i)));
        fs::create_directories(dir.path / "Maildir/.Reports/cur");
        fs::create_directories(dir.path / "Maildir/.Reports/tmp");

        std::string box;
        for (int i = 0; i < 40; ++i) {
            // A body line beginning with "From " must survive the mbox quoting.
            box += mbox_entry(report_mail({expired_cert_report("b-" + std::to_string(i))}, "b" + std::to_string(i),
                                          "From the sender: TLS report.\n>From a quoted line"));
        }
        for (int i = 0; i < 5; ++i)
            box += mbox_entry(report_mail({expired_cert_report("b-" + std::to_string(i))}, "b-again" + std::to_string(i)));
        for (int i = 0; i < 3; ++i)
            box += mbox_entry(plain_mail("box-plain" + std::to_string(i)));
        box += mbox_entry(report_mail({expired_cert_report("b-big")}, "b-big", std::string(120000, 'y')));
        mbox = dir.write("archive/reports.mbox", box);

        files = (dir.path / "files").string();
        dir.write("files/a.json", expired_cert_report("f-1"));
        // RFC 8460 §5.1 name; the no-policy-found policy has no policy-domain (Postfix sys4):
        // it is taken from the file name.
        const std::string no_domain =
            R"({"organization-name":"Postfix","date-range":{"start-datetime":"2025-09-20T00:00:00Z",)"
            R"("end-datetime":"2025-09-20T23:59:59Z"},"report-id":"f-2","policies":[{"policy":)"
            R"({"policy-type":"no-policy-found"},"summary":{"total-successful-session-count":1,)"
            R"("total-failure-session-count":0}}]})";
        dir.write("files/mail.example!example.org!1758326400!1758412799!f2.json.gz", stswatch::gzip_compress(no_domain));
        dir.write("files/bad.json", invalid_report_json("f-3"));
        dir.write("files/README.txt", "reports collected by hand\n");
        dir.write("files/tmp/skipped.json", expired_cert_report("f-tmp"));
    }
};

// "326 stored" in the summary line → 326.
std::int64_t summary_count(const std::string& out, const std::string& word)
{
    std::smatch m;
    const std::string first = out.substr(0, out.find('\n'));
    if (!std::regex_search(first, m, std::regex("([0-9,]+) " + word)))
        return -1;
    std::string digits = m[1];
    digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
    return std::stoll(digits);
}

const std::string small_limit = "collector.max_body_bytes=100000";

} // namespace

TEST_CASE("import: a maildir, an mbox and report files, counted exactly, and a second run finds only duplicates")
{
    scratch_database db;
    import_tree tree;
    const std::vector<std::string> argv{bin(), "--db", db.url(), "--set", small_limit, "import",
                                        tree.dir.path.string()};

    // maildir: 313 files (150 + 120 + 20 duplicates + 5 plain + 5 invalid + 2 pairs + 10 in
    // the Maildir++ folder + 1 too large): 284 stored, 20 duplicates, 11 rejected.
    // mbox: 49 messages: 40 stored, 5 duplicates, 4 rejected (3 plain, 1 too large).
    // files: 3 read (2 stored, 1 rejected), README.txt skipped, tmp/ not read.
    const std::string first_counts = "imported 317 files (362 messages): 326 stored, 25 duplicates, 16 rejected, 1 skipped";
    auto r = run_program(argv);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 65);
    CHECK(r.out.rfind(first_counts + ",", 0) == 0);
    const auto rejected = lines_starting(r.out, "rejected: ");
    CHECK(rejected.size() == 16);
    CHECK(contains_line(rejected, "rejected: " + tree.files + "/bad.json: date-range: missing"));
    CHECK(contains_line(rejected, "rejected: " + tree.big_message + ": larger than collector.max_body_bytes (100000 bytes)"));
    CHECK(contains_line(rejected, "rejected: " + tree.mbox + ": message 49: larger than collector.max_body_bytes (100000 bytes)"));
    CHECK(contains_line(rejected, "rejected: " + tree.mbox + ": message 46: no TLS report in the message (RFC 8460 §5.3)"));
    CHECK(std::count_if(rejected.begin(), rejected.end(), [](const std::string& l) {
              return l.find(".json.gz: not a valid TLS report: date-range: missing") != std::string::npos;
          }) == 5);
    CHECK(r.err.find("stswatch: import: 16 rejected") != std::string::npos);

    CHECK(scalar(db.url(), "SELECT count(*) FROM reports") == 326);
    CHECK(scalar(db.url(), "SELECT count(*) FROM report_receipts WHERE transport = 'import'") == 326);
    CHECK(scalar(db.url(), "SELECT count(*) FROM report_receipts WHERE transport <> 'import'") == 0);
    CHECK(scalar(db.url(), "SELECT count(*) FROM reports WHERE report_id IN ('m-tmp', 'm-hidden', 'f-tmp', 'm-big', 'b-big')") == 0);
    CHECK(scalar(db.url(), "SELECT count(*) FROM reports WHERE report_id LIKE 'b-%'") == 40);
    CHECK(scalar(db.url(), "SELECT count(*) FROM reports WHERE report_id LIKE 'm-%'") == 284);
    CHECK(scalar(db.url(), "SELECT count(*) FROM reports WHERE report_id LIKE 'f-%'") == 2);
    // The policy domain of the Postfix report came from its RFC 8460 §5.1 file name.
    CHECK(scalar(db.url(), "SELECT count(*) FROM reports r JOIN report_policies p ON p.report = r.id "
                           "WHERE r.report_id = 'f-2' AND p.policy_domain = 'example.org'") == 1);

    auto again = run_program(argv);
    INFO(again.out << again.err);
    CHECK(again.exit_code == 65);
    CHECK(again.out.rfind("imported 317 files (362 messages): 0 stored, 351 duplicates, 16 rejected, 1 skipped,", 0) == 0);
    CHECK(lines_starting(again.out, "rejected: ") == rejected);
    CHECK(scalar(db.url(), "SELECT count(*) FROM reports") == 326);
}

TEST_CASE("import: exit 0 when everything is stored, one file or mbox at a time, no progress line off a terminal")
{
    scratch_database db;
    temp_dir dir;
    const auto json = dir.write("one.json", expired_cert_report("solo-1"));
    const auto eml = dir.write("one.eml", report_mail({expired_cert_report("solo-2"), expired_cert_report("solo-3")}, "solo"));
    const auto box = dir.write("box", mbox_entry(report_mail({expired_cert_report("solo-4")}, "s4")) +
                                          mbox_entry(report_mail({expired_cert_report("solo-5")}, "s5")));
    auto r = run_program({bin(), "--db", db.url(), "import", json, eml, box});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("imported 3 files (3 messages): 5 stored, 0 duplicates, 0 rejected,", 0) == 0);
    CHECK(r.err.empty());   // stderr is not a terminal here: no progress line
    CHECK(scalar(db.url(), "SELECT count(*) FROM reports") == 5);

    auto twice = run_program({bin(), "--db", db.url(), "import", "--jobs", "1", json, eml, box});
    CHECK(twice.exit_code == 0);
    CHECK(twice.out.rfind("imported 3 files (3 messages): 0 stored, 5 duplicates, 0 rejected,", 0) == 0);

    // collector.accept_domains holds for imports as for the receivers.
    const auto other = dir.write("other.json", expired_cert_report("solo-6", "example.org"));
    const auto other_mail = dir.write("other.eml", report_mail({expired_cert_report("solo-7", "example.org")}, "s7"));
    auto refused = run_program({bin(), "--db", db.url(), "--set", "collector.accept_domains=example.com", "import",
                                other, other_mail});
    INFO(refused.out << refused.err);
    CHECK(refused.exit_code == 65);
    CHECK(refused.out.find("rejected: " + other + ": policy domain not accepted here (collector.accept_domains): example.org\n") !=
          std::string::npos);
    CHECK(refused.out.find("rejected: " + other_mail + ": sender.example!example.com!1751932800!1752019199!s7-0.json.gz: "
                           "policy domain not accepted here: example.org\n") != std::string::npos);
    CHECK(scalar(db.url(), "SELECT count(*) FROM reports") == 5);
}

TEST_CASE("import: a missing path stops the run before anything is stored, and a database away is 75")
{
    scratch_database db;
    temp_dir dir;
    const auto json = dir.write("one.json", expired_cert_report("x-1"));
    auto missing = run_program({bin(), "--db", db.url(), "import", json, (dir.path / "nope").string()});
    CHECK(missing.exit_code == 66);
    CHECK(missing.err.find((dir.path / "nope").string() + ": no such file or directory") != std::string::npos);
    CHECK(scalar(db.url(), "SELECT count(*) FROM reports") == 0);

    const std::string away = "host=127.0.0.1 port=" + std::to_string(free_port()) + " user=postgres dbname=x connect_timeout=2";
    auto down = run_program({bin(), "--db", away, "import", json});
    CHECK(down.exit_code == 75);
    CHECK(down.err.find("stswatch: database: unavailable") != std::string::npos);

    CHECK(run_program({bin(), "--db", db.url(), "import"}).exit_code == 2);
    CHECK(run_program({bin(), "--db", db.url(), "import", "--jobs", "0", json}).exit_code == 2);
    CHECK(run_program({bin(), "--db", db.url(), "import", "--frobnicate", json}).exit_code == 2);
}

TEST_CASE("ingest-mail: sysexits codes an MTA acts on")
{
    scratch_database db;
    const std::string message = report_mail({expired_cert_report("pipe-1")}, "pipe1");

    auto stored = run_program({bin(), "--db", db.url(), "ingest-mail"}, message);
    INFO(stored.out << stored.err);
    CHECK(stored.exit_code == 0);
    CHECK(stored.out == "1 report: 1 stored\n");
    CHECK(scalar(db.url(), "SELECT count(*) FROM report_receipts r JOIN reports p ON p.id = r.report "
                           "WHERE p.report_id = 'pipe-1' AND r.transport = 'pipe'") == 1);

    // The MTA delivering the same message again (after a lost answer) is a success.
    auto duplicate = run_program({bin(), "--db", db.url(), "ingest-mail"}, message);
    CHECK(duplicate.exit_code == 0);
    CHECK(duplicate.out == "1 report: 1 duplicate\n");

    struct refused { std::string name, input, words; };
    const std::vector<refused> refusals{
        {"no report at all", plain_mail("p"), "no TLS report in the message"},
        {"empty input", "", "not a readable message"},
        {"a malformed report", report_mail({invalid_report_json("pipe-bad")}, "pbad"), "date-range: missing"},
        {"over collector.max_body_bytes", report_mail({expired_cert_report("pipe-big")}, "pbig", std::string(150000, 'z')),
         "larger than collector.max_body_bytes (100000 bytes)"},
    };
    for (const auto& c : refusals) {
        INFO(c.name);
        auto r = run_program({bin(), "--db", db.url(), "--set", small_limit, "ingest-mail"}, c.input);
        INFO(r.err);
        CHECK(r.exit_code == 65);
        CHECK(r.out.empty());
        CHECK(r.err.rfind("stswatch: ", 0) == 0);
        CHECK(r.err.find(c.words) != std::string::npos);
    }

    // The database away: try later, the MTA keeps the message.
    const std::string away = "host=127.0.0.1 port=" + std::to_string(free_port()) + " user=postgres dbname=x connect_timeout=2";
    auto later = run_program({bin(), "--db", away, "ingest-mail"}, message);
    CHECK(later.exit_code == 75);
    CHECK(later.err.find("database") != std::string::npos);

    // procmail and Postfix pipe(8) flags=F put the mbox From_ line first.
    auto with_from_line = run_program({bin(), "--db", db.url(), "ingest-mail"},
                                      "From tlsrpt@sender.example Thu Nov 26 14:31:07 2026\n" +
                                          report_mail({expired_cert_report("pipe-2")}, "pipe2"));
    CHECK(with_from_line.exit_code == 0);
    CHECK(with_from_line.out == "1 report: 1 stored\n");

    auto usage = run_program({bin(), "--db", db.url(), "ingest-mail", "extra"}, message);
    CHECK(usage.exit_code == 2);
    CHECK(scalar(db.url(), "SELECT count(*) FROM reports") == 2);
}

TEST_CASE("parse: an .eml gives one line per report, with the headers as metadata")
{
    temp_dir dir;
    const auto two = dir.write("two.eml", report_mail({expired_cert_report("e-1"), expired_cert_report("e-2", "example.net")}, "two"));
    auto r = run_program({bin(), "parse", two});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    const auto lines = lines_starting(r.out, "{");
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].find(R"("report-id":"e-1")") != std::string::npos);
    CHECK(lines[1].find(R"("report-id":"e-2")") != std::string::npos);
    CHECK(lines[1].find(R"("policy-domain":"example.net")") != std::string::npos);
    for (const auto& line : lines) {
        CHECK(line.rfind(R"({"source":")" + two + "\"", 0) == 0);
        CHECK(line.find(R"("tls-report-domain":"example.com")") != std::string::npos);
        CHECK(line.find(R"("tls-report-submitter":"sender.example")") != std::string::npos);
        CHECK(line.find(R"("attachment-file-name":"sender.example!example.com!1751932800!1752019199!two-)") != std::string::npos);
    }

    // One good part and one bad: the good one is printed, the bad one named, exit 65.
    const auto mixed = dir.write("mixed.eml", report_mail({expired_cert_report("e-3"), invalid_report_json("e-4")}, "mixed"));
    auto m = run_program({bin(), "parse", mixed});
    CHECK(m.exit_code == 65);
    CHECK(lines_starting(m.out, "{").size() == 1);
    CHECK(m.out.find(R"("report-id":"e-3")") != std::string::npos);
    CHECK(m.err == "stswatch: " + mixed + ": sender.example!example.com!1751932800!1752019199!mixed-1.json.gz: "
                   "not a valid TLS report: date-range: missing\n");

    const auto none = dir.write("none.eml", plain_mail("none"));
    auto n = run_program({bin(), "parse", none});
    CHECK(n.exit_code == 65);
    CHECK(n.out.empty());
    CHECK(n.err == "stswatch: " + none + ": no TLS report in the message (RFC 8460 §5.3)\n");

    // A message saved with its mbox From_ line, and a message on stdin.
    const auto saved = dir.write("saved.eml", mbox_entry(report_mail({expired_cert_report("e-5")}, "saved")));
    auto s = run_program({bin(), "parse", saved});
    CHECK(s.exit_code == 0);
    CHECK(s.out.find(R"("report-id":"e-5")") != std::string::npos);
    auto in = run_program({bin(), "parse", "-"}, report_mail({expired_cert_report("e-6")}, "stdin"));
    CHECK(in.exit_code == 0);
    CHECK(in.out.find(R"("report-id":"e-6")") != std::string::npos);
}

TEST_CASE("import: the database stopped during the run gives 75 and says what was stored, and a rerun completes")
{
    private_cluster cluster;
    const std::string url = cluster.create_database("stswatch");
    temp_dir dir;
    constexpr int messages = 3000;
    for (int i = 0; i < messages; ++i)
        dir.write("Maildir/new/" + std::to_string(i), report_mail({expired_cert_report("down-" + std::to_string(i))}, "d" + std::to_string(i)));
    fs::create_directories(dir.path / "Maildir/cur");
    fs::create_directories(dir.path / "Maildir/tmp");
    const std::vector<std::string> argv{bin(), "--db", url, "import", "--jobs", "2", (dir.path / "Maildir").string()};

    run_result during;
    std::thread importing([&] { during = run_program(argv); });
    // Stop the database once the import is well under way.
    std::int64_t seen = 0;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (seen < 100 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        try {
            seen = scalar(url, "SELECT count(*) FROM reports");
        } catch (const std::exception&) {
            seen = 0;   // not migrated yet
        }
    }
    cluster.stop();
    importing.join();
    INFO(during.out << during.err);
    REQUIRE(seen >= 100);
    CHECK(during.exit_code == 75);
    CHECK(during.err.find("stswatch: database: unavailable, import stopped early") != std::string::npos);
    const auto stored = summary_count(during.out, "stored");
    CHECK(stored >= 100);
    CHECK(stored < messages);

    cluster.start();
    // Every report counted as stored is in the database (one whose commit answer was lost
    // may be there too, uncounted).
    CHECK(scalar(url, "SELECT count(*) FROM reports") >= stored);
    auto rerun = run_program(argv);
    INFO(rerun.out << rerun.err);
    CHECK(rerun.exit_code == 0);
    CHECK(summary_count(rerun.out, "stored") + summary_count(rerun.out, "duplicates") == messages);
    CHECK(summary_count(rerun.out, "duplicates") >= stored);
    CHECK(scalar(url, "SELECT count(*) FROM reports") == messages);
}
