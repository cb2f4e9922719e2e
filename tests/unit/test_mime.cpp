#include "tlsrpt/decode.hpp"
#include "mail/mime.hpp"
#include "tlsrpt/report_parser.hpp"
#include "tests/support/test_support.hpp"
#include "tests/unit/mime_cases.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace stswatch;
using stswatch::test::data_file;
namespace cases = stswatch::test::mime;

namespace {

std::string joined(const std::vector<std::string>& lines)
{
    std::string out;
    for (const auto& l : lines)
        out += l + "\n";
    return out;
}

// The headers a case expects: each with its value, or not there (cases::absent).
void check_headers(const std::map<std::string, std::string>& headers, const std::map<std::string, std::string>& expected)
{
    for (const auto& [key, value] : expected) {
        INFO("header " << key);
        const auto it = headers.find(key);
        if (value == cases::absent) {
            CHECK(it == headers.end());
        } else {
            REQUIRE(it != headers.end());
            CHECK(it->second == value);
        }
    }
}

} // namespace

TEST_CASE("read_report_message: transport quirks and rejections", "[mime]")
{
    REQUIRE(cases::mime_cases().size() >= 70);
    for (const auto& c : cases::mime_cases()) {
        DYNAMIC_SECTION(c.name)
        {
            if (!c.error.empty()) {
                try {
                    (void)read_report_message(c.message, c.limits);
                    FAIL("read, but expected mime_error with \"" << c.error << "\"");
                } catch (const mime_error& e) {
                    const std::string reason = e.what();
                    CHECK_THAT(reason, Catch::Matchers::Contains(c.error));
                    CHECK(reason.find('\n') == std::string::npos);
                }
                continue;
            }
            const mail_message_info info = read_report_message(c.message, c.limits);
            CHECK(info.declared_tlsrpt == c.declared_tlsrpt);
            REQUIRE(info.reports.size() == c.reports.size());
            for (std::size_t i = 0; i < c.reports.size(); ++i) {
                INFO("report " << i);
                CHECK(info.reports[i].content_type == c.reports[i].content_type);
                CHECK(info.reports[i].file_name == c.reports[i].file_name);
                CHECK(info.reports[i].data.size() == c.reports[i].data.size());
                CHECK(info.reports[i].data == c.reports[i].data);
            }
            check_headers(info.headers, c.headers);
            INFO("warnings:\n" << joined(info.warnings));
            if (c.warning.empty()) {
                CHECK(info.warnings.empty());
            } else {
                REQUIRE(info.warnings.size() == 1);
                CHECK_THAT(info.warnings[0], Catch::Matchers::Contains(c.warning));
            }
        }
    }
}

TEST_CASE("read_report_message: CRLF and LF-only copies of a message read the same", "[mime]")
{
    const auto without_cr = [](const std::string& s) {
        std::string out;
        for (const char c : s) {
            if (c != '\r')
                out += c;
        }
        return out;
    };
    REQUIRE(cases::mime_cases().size() >= 70);
    for (const auto& c : cases::mime_cases()) {
        if (!c.error.empty())
            continue;
        DYNAMIC_SECTION(c.name)
        {
            std::string lf;
            for (std::size_t i = 0; i < c.message.size(); ++i) {
                if (!(c.message[i] == '\r' && i + 1 < c.message.size() && c.message[i + 1] == '\n'))
                    lf += c.message[i];
            }
            const auto a = read_report_message(c.message, c.limits);
            const auto b = read_report_message(lf, c.limits);
            REQUIRE(a.reports.size() == b.reports.size());
            for (std::size_t i = 0; i < a.reports.size(); ++i) {
                // gzip travels base64-encoded: the same bytes whatever the line ends; text
                // parts keep the line ends they came with.
                if (sniff_body(a.reports[i].data) == body_kind::gzip)
                    CHECK(a.reports[i].data == b.reports[i].data);
                else
                    CHECK(without_cr(a.reports[i].data) == b.reports[i].data);
                CHECK(a.reports[i].file_name == b.reports[i].file_name);
            }
            CHECK(a.headers == b.headers);
            CHECK(a.declared_tlsrpt == b.declared_tlsrpt);
        }
    }
}

TEST_CASE("read_report_message: a large attachment", "[mime]")
{
    // 12 MB of report JSON, base64-encoded at 76 columns, as a big sender's daily report.
    std::string json = "{\"pad\":\"" + std::string(12 << 20, 'a') + "\"}";
    const std::string message = cases::crlf(cases::google_headers +
                                            "Content-Type: multipart/report; report-type=tlsrpt; boundary=big\n\n"
                                            "--big\n" + cases::text_part + "--big\n"
                                            "Content-Type: application/tlsrpt+json\nContent-Transfer-Encoding: "
                                            "base64\n\n" + cases::base64(json) + "--big--\n");
    const auto info = read_report_message(message);
    REQUIRE(info.reports.size() == 1);
    CHECK(info.reports[0].data == json);
    CHECK(info.warnings.empty());
}

namespace {

struct sample_report {
    std::string content_type, file_name, report_id;
};

struct sample_message {
    std::string file;
    bool declared_tlsrpt;
    std::map<std::string, std::string> headers;
    std::vector<sample_report> reports;
};

const std::string google_file = "google.com!example.com!1751932800!1752019199!001.json.gz";
const std::string google_id = "2025-07-08T00:00:00Z_example.com";
const std::map<std::string, std::string> google_headers = {
    {"tls-report-domain", "example.com"},
    {"tls-report-submitter", "google.com"},
    {"subject-report-id", "<2025.07.08T00.00.00Z+example.com@google.com>"},
    {"message-id", "<000000000000a1b2c3d4e5f60718@google.com>"},
    {"from", "noreply-smtp-tls-reporting@google.com"},
    {"dkim-signature-count", "1"},
};

std::vector<sample_message> sample_messages()
{
    auto gateway_headers = google_headers;
    gateway_headers["dkim-signature-count"] = "0";
    return {
        {"google.eml", true, google_headers, {{"application/tlsrpt+gzip", google_file, google_id}}},
        {"google-mbox-lf.eml", true, google_headers, {{"application/tlsrpt+gzip", google_file, google_id}}},
        {"microsoft.eml",
         true,
         {{"subject-report-id", "<133810389004212345+example.com>"},
          {"from", "TLSRPT Reporting <tlsrpt-noreply@microsoft.com>"},
          {"tls-report-domain", "example.com"},
          {"dkim-signature-count", "1"}},
         {{"application/tlsrpt+gzip", "microsoft.com!example.com!1673308800!1673395199!133810389004212345.json.gz",
           "133810389004212345+example.com"}}},
        {"yahoo.eml",
         true,
         {{"subject-report-id", "<1751932800.example.com.yahoo>"},
          {"subject", "Report Domain: example.com Submitter: yahoo.com Report-ID: <1751932800.example.com.yahoo>"},
          {"tls-report-submitter", "yahoo.com"}},
         {{"application/tlsrpt+gzip", "yahoo.com!example.com!1751932800!1752019199.json.gz",
           "1751932800.example.com.yahoo"}}},
        {"postfix-sys4.eml",
         true,
         {{"tls-report-domain", "example.org"},
          {"subject-report-id", "<2025-09-20T00:00:00Z_idx1_example.org@mail.sender.example>"},
          {"dkim-signature-count", "0"}},
         {{"application/tlsrpt+gzip", "mail.sender.example!example.org!1758326400!1758412799!idx1.json.gz",
           "2025-09-20T00:00:00Z_idx1_example.org"}}},
        {"gateway-banner.eml", true, gateway_headers, {{"application/tlsrpt+gzip", google_file, google_id}}},
        {"octet-stream.eml",
         false,
         {{"subject-report-id", "<mailru-report>"}},
         {{"application/octet-stream", "mail.ru!example.com!1751932800!1752019200.json.gz", "1714608000.example.org"}}},
        {"gzip-magic.eml",
         false,
         {{"subject-report-id", cases::absent}, {"from", "\"Report Sender\" <reports@stalwart.example>"}},
         {{"application/gzip", "", "17079.mail.example.net.4f2a"}}},
        {"whole-body.eml",
         false,
         {{"tls-report-submitter", "socketlabs.example"}},
         {{"application/tlsrpt+gzip", "", "5F2766C4A3E94B1A8D0C7E6F9B2A1D3C"}}},
        {"two-reports.eml",
         true,
         {{"subject-report-id", cases::absent}},
         {{"application/tlsrpt+gzip", "first.json.gz", "133810389004212345+example.com"},
          {"application/tlsrpt+json", "second.json", "133751040005551234+example.net"}}},
        {"no-report.eml", false, {{"message-id", "<dmarc-1234567890123456789@google.com>"}}, {}},
    };
}

} // namespace

TEST_CASE("read_report_message: real-shaped report mail under tests/data/mail", "[mime]")
{
    for (const auto& sample : sample_messages()) {
        DYNAMIC_SECTION(sample.file)
        {
            const auto info = read_report_message(data_file("mail/" + sample.file));
            CHECK(info.declared_tlsrpt == sample.declared_tlsrpt);
            CHECK(info.warnings.empty());
            check_headers(info.headers, sample.headers);
            REQUIRE(info.reports.size() == sample.reports.size());
            for (std::size_t i = 0; i < sample.reports.size(); ++i) {
                const auto& part = info.reports[i];
                CHECK(part.content_type == sample.reports[i].content_type);
                CHECK(part.file_name == sample.reports[i].file_name);
                // The part is the report the sender sent: it decodes and parses.
                const decoded_body body = decode_body(part.data, 1 << 24);
                CHECK(body.warning.empty());
                report_metadata metadata;
                metadata.fields = info.headers;
                metadata.fields["file-name"] = part.file_name;
                const parsed_report parsed = parse_report(body.json, metadata);
                CHECK(parsed.report.report_id == sample.reports[i].report_id);
            }
        }
    }
}

TEST_CASE("read_report_message: the LF-only mbox copy holds the same report as the original", "[mime]")
{
    const auto original = read_report_message(data_file("mail/google.eml"));
    const auto copy = read_report_message(data_file("mail/google-mbox-lf.eml"));
    REQUIRE(original.reports.size() == 1);
    REQUIRE(copy.reports.size() == 1);
    CHECK(original.reports[0].data == copy.reports[0].data);
    CHECK(original.headers == copy.headers);
}

TEST_CASE("a syntactically invalid Content-Type is read as text/plain (RFC 2045 §5.2)")
{
    // Found by fuzz_mime: the type began with a comment, and a report came out typeless.
    const std::string message = "Content-Type:(application/json; name=r.json\r\n"
                                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                                "{\"a\":\"1=ZZ=4\"}  \r\n";
    const auto info = stswatch::read_report_message(message);
    for (const auto& r : info.reports)
        CHECK(r.content_type == "text/plain");
}
