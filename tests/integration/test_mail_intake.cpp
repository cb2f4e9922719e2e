// intake_mail against a real store: the verdict that decides the SMTP reply and the exit
// code of ingest-mail and import, duplicates, per-part refusals, and the spool fallback.
#include "tlsrpt/decode.hpp"
#include "collector/mail_intake.hpp"
#include "store/report_store.hpp"
#include "collector/spool.hpp"
#include "tests/support/sample_reports.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/scratch_store.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>


#include <filesystem>
#include <fstream>
#include <sstream>

#include <pqxx/pqxx>


using namespace stswatch;
using stswatch::test::base64_lines;
using stswatch::test::google_report_without_mx_host;
using stswatch::test::temp_dir;

namespace {

// LF-only line ends, as mbox and maildir copies have them (docs/senders.md).
std::string report_mail(const std::vector<std::string>& reports, const std::string& extra_headers = {})
{
    std::string m = extra_headers
                    + "From: noreply-smtp-tls-reporting@google.com\n"
                      "Subject: Report Domain: example.com Submitter: google.com Report-ID: <x@google.com>\n"
                      "TLS-Report-Domain: example.com\nTLS-Report-Submitter: google.com\n"
                      "Message-ID: <m@google.com>\nMIME-Version: 1.0\n"
                      "Content-Type: multipart/report; report-type=tlsrpt; boundary=b\n\n";
    int n = 0;
    for (const auto& r : reports)
        m += "--b\nContent-Type: application/tlsrpt+gzip\nContent-Disposition: attachment;\n filename=\"google.com!example.com!1751932800!1752019199!"
             + std::to_string(++n) + ".json.gz\"\nContent-Transfer-Encoding: base64\n\n" + base64_lines(gzip_compress(r)) + "\n";
    return m + "--b--\n";
}

struct db_store : test::scratch_store {
    explicit db_store(std::string url = {}) : scratch_store(std::chrono::milliseconds(2000), std::move(url)) {}
};

} // namespace

TEST_CASE("intake_mail: stored, then a duplicate, transport and source recorded")
{
    db_store db;
    const auto message = report_mail({google_report_without_mx_host("i-1")});
    const auto first = intake_mail(message, transport::import, "/var/mail/tlsrpt/cur/1", {}, *db.store, nullptr);
    CHECK(first.verdict == mail_verdict::stored);
    REQUIRE(first.reports.size() == 1);
    CHECK(first.reports[0].stored == store_outcome::stored);
    CHECK(first.summary == "1 report: 1 stored");

    const auto again = intake_mail(message, transport::smtp, "192.0.2.7", {}, *db.store, nullptr);
    CHECK(again.verdict == mail_verdict::stored);
    CHECK(again.reports[0].stored == store_outcome::duplicate);
    CHECK(again.summary == "1 report: 1 duplicate");

    CHECK(db.count("SELECT count(*) FROM reports") == 1);
    CHECK(db.count("SELECT count(*) FROM report_receipts WHERE transport = 'import'"
                   " AND source_address = '/var/mail/tlsrpt/cur/1'") == 1);
    CHECK(db.count("SELECT count(*) FROM report_receipts WHERE transport = 'smtp' AND source_address = '192.0.2.7'") == 1);
}

TEST_CASE("intake_mail: good and bad parts, no report, nothing acceptable")
{
    db_store db;
    const auto mixed = intake_mail(report_mail({google_report_without_mx_host("m-1"), R"({"organization-name":"x"})", google_report_without_mx_host("m-2")}),
                                   transport::smtp, "192.0.2.1", {}, *db.store, nullptr);
    CHECK(mixed.verdict == mail_verdict::stored);
    CHECK(mixed.summary == "3 reports: 2 stored, 1 refused");
    CHECK_THAT(mixed.reports[1].error, Catch::StartsWith("not a valid TLS report"));
    CHECK(db.count("SELECT count(*) FROM reports") == 2);

    const auto none = intake_mail("From: a@example.net\nSubject: hello\n\nno report\n", transport::smtp, "192.0.2.1",
                                  {}, *db.store, nullptr);
    CHECK(none.verdict == mail_verdict::no_report);
    CHECK(none.reports.empty());
    CHECK_THAT(none.summary, Catch::Contains("no TLS report"));

    mail_intake_options org_only;
    org_only.accept_domains = {"example.org"};
    const auto refused = intake_mail(report_mail({google_report_without_mx_host("r-1")}), transport::smtp, "192.0.2.1", org_only,
                                     *db.store, nullptr);
    CHECK(refused.verdict == mail_verdict::rejected);
    CHECK(refused.reports[0].refused_by_policy);
    CHECK_THAT(refused.summary, Catch::Contains("1 report refused: google.com!example.com!1751932800!1752019199!1.json.gz: "
                                                "policy domain not accepted here: example.com"));
    CHECK(db.count("SELECT count(*) FROM reports") == 2);
}

TEST_CASE("intake_mail: with the database down, try later, or spool every report")
{
    const auto closed = "host=127.0.0.1 port=" + std::to_string(test::free_port())
                        + " user=postgres dbname=postgres connect_timeout=2";
    db_store db(closed);
    const auto message = report_mail({google_report_without_mx_host("s-1"), google_report_without_mx_host("s-2")});

    const auto later = intake_mail(message, transport::smtp, "192.0.2.1", {}, *db.store, nullptr);
    CHECK(later.verdict == mail_verdict::try_later);
    CHECK(later.summary == "cannot store 2 reports now; try again later");

    temp_dir dir;
    spool waiting(dir.path, 0);
    const auto spooled = intake_mail(message, transport::smtp, "192.0.2.1", {}, *db.store, &waiting);
    CHECK(spooled.verdict == mail_verdict::stored);
    CHECK(spooled.summary == "2 reports: 2 spooled");
    CHECK(spooled.reports[0].spooled);
    CHECK(spooled.reports[1].spooled);
    REQUIRE(waiting.count() == 2);
    // The mail metadata and the DKIM verdict wait with the bytes.
    for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const auto e = spool::read_entry(bytes);
        CHECK(e.via == transport::smtp);
        CHECK(e.metadata.at("tls-report-domain") == "example.com");
        CHECK(e.metadata.at("dkim-state") == "none");
        CHECK(decode_body(e.raw, 1 << 20).json.find("\"report-id\":\"s-") != std::string::npos);
    }

    // A full spool is no acknowledgement.
    temp_dir tiny_dir;
    spool tiny(tiny_dir.path, 10);
    const auto full = intake_mail(message, transport::smtp, "192.0.2.1", {}, *db.store, &tiny);
    CHECK(full.verdict == mail_verdict::try_later);
}

TEST_CASE("intake_mail: DKIM required and the key lookup failing now: try later")
{
    db_store db;
    mail_intake_options options;
    options.require_dkim = true;
    options.dkim_lookup = [](const std::string&) -> std::vector<std::string> {
        throw dkim_temporary_failure("SERVFAIL");
    };
    const std::string signature =
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=google.com; s=sel;\n"
        "\th=from:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==\n";
    const auto r = intake_mail(report_mail({google_report_without_mx_host("k-1")}, signature), transport::smtp, "192.0.2.1", options,
                               *db.store, nullptr);
    CHECK(r.verdict == mail_verdict::try_later);
    CHECK(r.dkim.status == dkim_status::temperror);

    // Unsigned: refused for good.
    const auto unsigned_mail = intake_mail(report_mail({google_report_without_mx_host("k-2")}), transport::smtp, "192.0.2.1", options,
                                           *db.store, nullptr);
    CHECK(unsigned_mail.verdict == mail_verdict::rejected);
    CHECK(unsigned_mail.reports[0].refused_by_policy);
    CHECK(db.count("SELECT count(*) FROM reports") == 0);
}
