// Email messages and what read_report_message must find in them: one case per transport
// quirk of docs/senders.md and per rejection. Shared by the unit tests (tests/unit/test_mime.cpp)
// and the fuzz seeds (tests/fuzz/seeds_mime.cpp).
#pragma once

#include "tlsrpt/decode.hpp"
#include "mail/mime.hpp"
#include "tests/unit/decode_cases.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch::test::mime {

struct expected_report {
    std::string content_type;
    std::string file_name;
    std::string data;
};

// The value that says a header must not be in mail_message_info::headers.
inline const std::string absent = "(absent)";

struct mime_case {
    std::string name;
    std::string message;
    mime_limits limits{};
    std::string error;                            // words of the mime_error; "" = the message reads
    bool declared_tlsrpt = false;
    std::vector<expected_report> reports;
    std::map<std::string, std::string> headers;   // expected subset (value `absent`: not there)
    std::string warning;                          // words of one warning; "" = no warning at all
};

// Test messages are written with LF and sent with CRLF, as on the wire.
inline std::string crlf(std::string_view lf_text)
{
    std::string out;
    out.reserve(lf_text.size() + lf_text.size() / 40);
    for (const char c : lf_text) {
        if (c == '\n')
            out += '\r';
        out += c;
    }
    return out;
}

// RFC 2045 §6.8 base64 in lines of `width` characters (senders use 76), written here
// independently of the decoder under test.
inline std::string base64(std::string_view data, std::size_t width = 76, std::string_view eol = "\n")
{
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string flat;
    for (std::size_t i = 0; i < data.size(); i += 3) {
        const auto byte = [&](std::size_t k) {
            return k < data.size() ? static_cast<unsigned>(static_cast<unsigned char>(data[k])) : 0u;
        };
        const unsigned n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        flat += alphabet[(n >> 18) & 63];
        flat += alphabet[(n >> 12) & 63];
        flat += i + 1 < data.size() ? alphabet[(n >> 6) & 63] : '=';
        flat += i + 2 < data.size() ? alphabet[n & 63] : '=';
    }
    std::string out;
    for (std::size_t i = 0; i < flat.size(); i += width) {
        out += flat.substr(i, width);
        out += eol;
    }
    return out;
}

inline const std::string& report_json() { return sample_report_json; }

inline const std::string& report_gzip()
{
    static const std::string gz = gzip_compress(sample_report_json);
    return gz;
}

// A second, different report, for messages holding two.
inline const std::string& other_report_json()
{
    static const std::string json = [] {
        std::string j = sample_report_json;
        j.replace(j.find("2025-07-08T00:00:00Z_example.com"), 32, "2025-07-09T00:00:00Z_example.com");
        return j;
    }();
    return json;
}

inline const std::string google_file_name = "google.com!example.com!1751932800!1752019199!001.json.gz";

// The header block of a Google report (RFC 8460 §5.3), LF line ends, without Content-Type.
inline const std::string google_headers =
    "From: noreply-smtp-tls-reporting@google.com\n"
    "Date: Wed, 09 Jul 2025 03:12:45 -0700\n"
    "Message-ID: <000000000000a1b2c3d4e5f60718@google.com>\n"
    "Subject: Report Domain: example.com Submitter: google.com\n"
    " Report-ID: <2025.07.08T00.00.00Z+example.com@google.com>\n"
    "TLS-Report-Domain: example.com\n"
    "TLS-Report-Submitter: google.com\n"
    "MIME-Version: 1.0\n";

inline const std::string text_part =
    "Content-Type: text/plain; charset=\"UTF-8\"\n"
    "\n"
    "This is an aggregate TLS report from google.com\n";

inline std::string gzip_part(const std::string& type_line = "Content-Type: application/tlsrpt+gzip; name=\"" +
                                                            google_file_name + "\"\n")
{
    return type_line + "Content-Transfer-Encoding: base64\n\n" + base64(report_gzip());
}

// multipart/report with a text part and the given parts, LF line ends.
inline std::string report_message(const std::vector<std::string>& parts,
                                  const std::string& content_type =
                                      "Content-Type: multipart/report; boundary=\"b-1\"; report-type=tlsrpt\n",
                                  const std::string& boundary = "b-1", const std::string& text = text_part)
{
    std::string m = google_headers + content_type + "\n--" + boundary + "\n" + text;
    for (const auto& p : parts)
        m += "--" + boundary + "\n" + p;
    return m + "--" + boundary + "--\n";
}

inline expected_report gzip_report(std::string type = "application/tlsrpt+gzip", std::string name = google_file_name)
{
    return {std::move(type), std::move(name), report_gzip()};
}

inline const std::map<std::string, std::string> google_metadata = {
    {"from", "noreply-smtp-tls-reporting@google.com"},
    {"message-id", "<000000000000a1b2c3d4e5f60718@google.com>"},
    {"date", "Wed, 09 Jul 2025 03:12:45 -0700"},
    {"subject", "Report Domain: example.com Submitter: google.com Report-ID: "
                "<2025.07.08T00.00.00Z+example.com@google.com>"},
    {"tls-report-domain", "example.com"},
    {"tls-report-submitter", "google.com"},
    {"subject-report-id", "<2025.07.08T00.00.00Z+example.com@google.com>"},
    {"dkim-signature-count", "0"},
};

// `depth` multiparts nested in one another, the innermost holding a report.
inline std::string nested_message(unsigned depth)
{
    std::string inner = gzip_part();
    for (unsigned level = depth; level >= 1; --level) {
        const std::string b = "nest-" + std::to_string(level);
        inner = "Content-Type: multipart/mixed; boundary=" + b + "\n\n--" + b + "\n" + inner + "--" + b + "--\n";
    }
    return google_headers + inner;
}

// A multipart/mixed with n attachments of the report.
inline std::string many_parts_message(std::size_t n)
{
    std::string m = google_headers + "Content-Type: multipart/mixed; boundary=many\n\n";
    for (std::size_t i = 0; i < n; ++i)
        m += "--many\n" + gzip_part();
    return m + "--many--\n";
}

inline mime_case good(std::string name, std::string message, bool declared, std::vector<expected_report> reports,
                      std::map<std::string, std::string> headers = {}, std::string warning = {},
                      mime_limits limits = {})
{
    return {std::move(name), std::move(message), limits, {}, declared, std::move(reports), std::move(headers),
            std::move(warning)};
}

inline mime_case bad(std::string name, std::string message, std::string error, mime_limits limits = {})
{
    return {std::move(name), std::move(message), limits, std::move(error), false, {}, {}, {}};
}

inline std::vector<mime_case> mime_cases()
{
    std::vector<mime_case> cases;
    const auto add = [&cases](mime_case c) { cases.push_back(std::move(c)); };

    // ---- the RFC 8460 §5.3 shape and the metadata kept from it
    add(good("Google: multipart/report, report-type unquoted after the boundary, folded Subject",
             crlf(report_message({gzip_part()})), true, {gzip_report()}, google_metadata));
    add(good("report-type quoted and before the boundary, upper-case labels",
             crlf(report_message({gzip_part()},
                                 "CONTENT-TYPE: Multipart/Report; Report-Type=\"TLSRPT\"; BOUNDARY=\"b-1\"\n")),
             true, {gzip_report()}));
    add(good("folded Content-Type: every parameter on its own line",
             crlf(report_message({gzip_part()}, "Content-Type: multipart/report;\n\tboundary=\"b-1\";\n"
                                                "\treport-type=tlsrpt\n")),
             true, {gzip_report()}));
    add(good("folded name= and filename= parameters, trailing space after the type's ';'",
             crlf(report_message({"Content-Type: application/tlsrpt+gzip; \n\tname=\"" + google_file_name +
                                  "\"\nContent-Disposition: attachment; \n\tfilename=\"" + google_file_name +
                                  "\"\nContent-Transfer-Encoding: base64\n\n" + base64(report_gzip())})),
             true, {gzip_report()}));
    add(good("stray spaces, empty parameters and a trailing ';'",
             crlf(report_message({gzip_part("Content-Type:   application/tlsrpt+gzip ;; name = \"" +
                                            google_file_name + "\" ;\n")},
                                 "Content-Type: multipart/report ; boundary = b-1 ; ; report-type = tlsrpt ;\n")),
             true, {gzip_report()}));
    add(good("parameter names and values in any case, quoted-pair in a quoted value",
             crlf(report_message({gzip_part("Content-Type: Application/TLSRPT+GZIP; NAME=\"a\\\"b.json.gz\"\n")})),
             true, {gzip_report("application/tlsrpt+gzip", "a\"b.json.gz")}));
    add(good("Content-Disposition filename wins over Content-Type name",
             crlf(report_message({gzip_part("Content-Type: application/tlsrpt+gzip; name=\"old.json.gz\"\n"
                                            "Content-Disposition: attachment; filename=\"" +
                                            google_file_name + "\"\n")})),
             true, {gzip_report()}));
    add(good("RFC 2231 continuations of filename",
             crlf(report_message({gzip_part("Content-Type: application/tlsrpt+gzip\n"
                                            "Content-Disposition: attachment;\n"
                                            " filename*1=\"!1751932800!1752019199!001.json.gz\";\n"
                                            " filename*0=\"google.com!example.com\"\n")})),
             true, {gzip_report()}));
    add(good("RFC 2231 encoded and continued filename with a charset",
             crlf(report_message({gzip_part("Content-Type: application/tlsrpt+gzip\n"
                                            "Content-Disposition: attachment;\n"
                                            " filename*0*=utf-8''r%C3%A9port%21;\n"
                                            " filename*1*=%2Ejson.gz\n")})),
             true, {gzip_report("application/tlsrpt+gzip", "r\xC3\xA9port!.json.gz")}));
    add(good("RFC 2231 encoded name in Latin-1 becomes UTF-8",
             crlf(report_message({gzip_part("Content-Type: application/tlsrpt+gzip; name*=iso-8859-1'fr'r%E9port.json.gz\n")})),
             true, {gzip_report("application/tlsrpt+gzip", "r\xC3\xA9port.json.gz")}));
    add(good("headers: DKIM-Signature counted, names in any case, first occurrence kept",
             crlf("DKIM-Signature: v=1; d=google.com; s=a;\n b=AAAA\ndkim-signature: v=1; d=example.net; s=b; b=BBBB\n"
                  "from: first@google.com\nFrom: second@google.com\ntls-report-domain:   example.com  \n" +
                  report_message({gzip_part()}).substr(google_headers.find("Date:"))),
             true, {gzip_report()},
             {{"dkim-signature-count", "2"}, {"from", "first@google.com"}, {"tls-report-domain", "example.com"}}));
    add(good("no TLS-Report headers, no Report-ID in the Subject",
             crlf("From: a@b.example\nSubject: TLS report\nContent-Type: application/tlsrpt+gzip\n"
                  "Content-Transfer-Encoding: base64\n\n" + base64(report_gzip())),
             false, {{"application/tlsrpt+gzip", "", report_gzip()}},
             {{"tls-report-domain", absent}, {"subject-report-id", absent}, {"message-id", absent},
              {"dkim-signature-count", "0"}}));

    // ---- Subject encoded-words (RFC 2047) and the Report-ID in it
    add(good("Subject as a B encoded-word",
             crlf("Subject: =?utf-8?B?UmVwb3J0IERvbWFpbjogZXhhbXBsZS5jb20gU3VibWl0dGVyOiBnb29nbGUuY29tIFJlcG9ydC1JRDogPGFiY0BnPg==?=\n"
                  "Content-Type: application/tlsrpt+json\n\n" + report_json()),
             false, {{"application/tlsrpt+json", "", report_json()}},
             {{"subject", "Report Domain: example.com Submitter: google.com Report-ID: <abc@g>"},
              {"subject-report-id", "<abc@g>"}}));
    add(good("Subject as folded Q encoded-words: the space between them is not displayed",
             crlf("Subject: =?UTF-8?Q?Report_Domain:_example.com_Report-ID:?=\n =?UTF-8?q?_<id=40sender.example>?=\n"
                  "Content-Type: application/tlsrpt+json\n\n" + report_json()),
             false, {{"application/tlsrpt+json", "", report_json()}},
             {{"subject", "Report Domain: example.com Report-ID: <id@sender.example>"},
              {"subject-report-id", "<id@sender.example>"}}));
    add(good("Subject mixing plain text and a Latin-1 encoded-word; Report-ID without brackets",
             crlf("Subject: [ext] =?iso-8859-1?q?R=E9sum=E9?= Report-ID: plain-id-1 tail\n"
                  "Content-Type: application/tlsrpt+json\n\n" + report_json()),
             false, {{"application/tlsrpt+json", "", report_json()}},
             {{"subject", "[ext] R\xC3\xA9sum\xC3\xA9 Report-ID: plain-id-1 tail"}, {"subject-report-id", "plain-id-1"}}));
    add(good("Subject in windows-1252 and KOI8-R encoded-words, converted to UTF-8",
             crlf("Subject: =?windows-1252?Q?=80_report?= =?koi8-r?B?8NLJ18XU?=\n"
                  "Content-Type: application/tlsrpt+json\n\n" + report_json()),
             false, {{"application/tlsrpt+json", "", report_json()}},
             {{"subject", "\xE2\x82\xAC report\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"}}));
    add(good("Subject in ISO-2022-JP GB18030 Big5 EUC-KR ISO-8859-2 and windows-1251 encoded-words (iconv)",
             crlf("Subject: =?iso-2022-jp?B?GyRCJWwlXSE8JUgbKEI=?= =?gb18030?B?sai45g==?= =?big5?B?s/inaQ==?= =?euc-kr?B?uriw7byt?= =?iso-8859-2?B?WnBy4XZ5?= =?windows-1251?B?zvL3uPI=?=\n"
                  "Content-Type: application/tlsrpt+json\n\n" + report_json()),
             false, {{"application/tlsrpt+json", "", report_json()}},
             {{"subject", "\xE3\x83\xAC\xE3\x83\x9D\xE3\x83\xBC\xE3\x83\x88\xE6\x8A\xA5\xE5\x91\x8A\xE5\xA0\xB1\xE5\x91\x8A\xEB\xB3\xB4\xEA\xB3\xA0\xEC\x84\x9C\x5A\x70\x72\xC3\xA1\x76\x79\xD0\x9E\xD1\x82\xD1\x87\xD1\x91\xD1\x82"}}));
    add(good("Subject with a cut Shift_JIS sequence and an unknown charset: U+FFFD, bytes kept",
             crlf("Subject: =?shift_jis?B?gg==?= =?x-no-such-charset?Q?ok?=\n"
                  "Content-Type: application/tlsrpt+json\n\n" + report_json()),
             false, {{"application/tlsrpt+json", "", report_json()}},
             {{"subject", "\xEF\xBF\xBDok"}}));
    add(good("From with an encoded display name",
             crlf("From: =?utf-8?Q?Rapport_TLS?= <tlsrpt@sender.example>\nContent-Type: application/tlsrpt+json\n\n" +
                  report_json()),
             false, {{"application/tlsrpt+json", "", report_json()}},
             {{"from", "Rapport TLS <tlsrpt@sender.example>"}}));

    // ---- line ends and mbox copies
    add(good("LF-only line ends (mbox and maildir copies)", report_message({gzip_part()}), true, {gzip_report()},
             google_metadata));
    add(good("mbox From_ separator line before the header block",
             "From noreply-smtp-tls-reporting@google.com Wed Jul  9 10:12:46 2025\n" + report_message({gzip_part()}),
             true, {gzip_report()}, google_metadata));
    add(good("obsolete white space before a header colon (RFC 5322 §4.5)",
             crlf("From : someone@google.com\nContent-Type : application/tlsrpt+json\n\n" + report_json()), false,
             {{"application/tlsrpt+json", "", report_json()}}, {{"from", "someone@google.com"}}));

    // ---- transfer encodings
    add(good("base64 wrapped at 60 columns with CRLF and stray blanks",
             crlf(report_message({"Content-Type: application/tlsrpt+gzip; name=\"" + google_file_name +
                                  "\"\nContent-Transfer-Encoding: BASE64\n\n " + base64(report_gzip(), 60, " \t\n")})),
             true, {gzip_report()}));
    add(good("base64 on one line",
             crlf(report_message({"Content-Type: application/tlsrpt+gzip; name=\"" + google_file_name +
                                  "\"\nContent-Transfer-Encoding: base64\n\n" + base64(report_gzip(), 100000)})),
             true, {gzip_report()}));
    add(good("base64 with characters outside the alphabet: skipped, and said so",
             crlf(report_message({"Content-Type: application/tlsrpt+gzip; name=\"" + google_file_name +
                                  "\"\nContent-Transfer-Encoding: base64\n\n" + base64(report_gzip(), 76, "!\n")})),
             true, {gzip_report()}, {}, "characters that are not base64"));
    add(good("quoted-printable JSON with soft line breaks and =XX escapes",
             crlf(report_message({"Content-Type: application/tlsrpt+json; name=\"r.json\"\n"
                                  "Content-Transfer-Encoding: quoted-printable\n\n"
                                  "{\"organization-name\":\"Exa=3Dmple\",=  \n\"report-id\":\"x=\ny\"}=\n"})),
             true, {{"application/tlsrpt+json", "r.json", "{\"organization-name\":\"Exa=mple\",\"report-id\":\"xy\"}"}}));
    add(good("quoted-printable keeps a '=' that starts no escape and drops trailing blanks",
             crlf("Content-Type: application/json; name=r.json\nContent-Transfer-Encoding: quoted-printable\n\n"
                  "{\"a\":\"1=ZZ=4\"}  \n"),
             false, {{"application/json", "r.json", "{\"a\":\"1=ZZ=4\"}\r\n"}}));
    add(good("8bit and binary are taken as sent",
             crlf(report_message({"Content-Type: application/tlsrpt+json\nContent-Transfer-Encoding: 8bit\n\n" +
                                  report_json() + "\n"})),
             true, {{"application/tlsrpt+json", "", report_json()}}));

    // ---- generic attachment types (docs/senders.md)
    add(good("application/octet-stream found by its .json.gz file name",
             crlf(report_message({gzip_part("Content-Type: application/octet-stream; name=\"" + google_file_name +
                                            "\"\n")})),
             true, {gzip_report("application/octet-stream")}));
    add(good("application/octet-stream found by its .json file name",
             crlf(report_message({"Content-Type: application/octet-stream\nContent-Disposition: attachment; "
                                  "filename=report.json\n\n" + report_json() + "\n"})),
             true, {{"application/octet-stream", "report.json", report_json()}}));
    add(good("application/gzip without a file name, found by the gzip magic",
             crlf(report_message({gzip_part("Content-Type: application/gzip\n")})), true,
             {gzip_report("application/gzip", "")}));
    add(good("application/x-gzip without a file name, found by the gzip magic",
             crlf(report_message({gzip_part("Content-Type: application/x-gzip\n")})), true,
             {gzip_report("application/x-gzip", "")}));
    add(good("application/octet-stream without a file name, found by the gzip magic",
             crlf(report_message({gzip_part("Content-Type: application/octet-stream\n")})), true,
             {gzip_report("application/octet-stream", "")}));
    add(good("application/json without a name, found by '{' after blanks",
             crlf(report_message({"Content-Type: application/json\n\n \n" + report_json() + "\n"})), true,
             {{"application/json", "", " \r\n" + report_json()}}));
    add(good("text/json without a name", crlf(report_message({"Content-Type: text/json\n\n" + report_json() + "\n"})),
             true, {{"text/json", "", report_json()}}));
    add(good("text/plain attachment named .json with JSON in it",
             crlf(report_message({"Content-Type: text/plain; name=\"r.json\"\n\n" + report_json() + "\n"})), true,
             {{"text/plain", "r.json", report_json()}}));
    add(good("an unusual application type holding gzip",
             crlf(report_message({gzip_part("Content-Type: application/x-compressed\n")})), true,
             {gzip_report("application/x-compressed", "")}));

    // ---- where reports are, and are not
    add(good("a report as the whole body (base64)",
             crlf(google_headers + "Content-Type: application/tlsrpt+gzip\nContent-Transfer-Encoding: base64\n\n" +
                  base64(report_gzip())),
             false, {{"application/tlsrpt+gzip", "", report_gzip()}}, google_metadata));
    add(good("a report as the whole body (JSON)",
             crlf(google_headers + "Content-Type: application/tlsrpt+json\n\n" + report_json()), false,
             {{"application/tlsrpt+json", "", report_json()}}));
    add(good("two reports in one message",
             crlf(report_message({gzip_part(), "Content-Type: application/tlsrpt+json; name=\"second.json\"\n\n" +
                                                   other_report_json() + "\n"})),
             true, {gzip_report(), {"application/tlsrpt+json", "second.json", other_report_json()}}));
    add(good("a gateway banner in the text part, quoted-printable",
             crlf(report_message({gzip_part()}, "Content-Type: multipart/report; boundary=\"b-1\"; report-type=tlsrpt\n",
                                 "b-1",
                                 "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n"
                                 "\nCAUTION: This email originated from outside the organization. Do not =\nclick "
                                 "links. {\"report\":\"no\"}\n\nThis is an aggregate TLS report.\n")),
             true, {gzip_report()}, google_metadata));
    add(good("the report in multipart/report nested in multipart/mixed by a gateway",
             crlf(google_headers + "Content-Type: multipart/mixed; boundary=outer\n\n--outer\n"
                                   "Content-Type: text/plain\n\n[EXTERNAL SENDER]\n--outer\n" +
                  report_message({gzip_part()}).substr(google_headers.size()) + "--outer--\n"),
             true, {gzip_report()}));
    add(good("preamble, epilogue and transport padding after the delimiters",
             crlf(google_headers + "Content-Type: multipart/report; report-type=tlsrpt; boundary=pad\n\n"
                                   "This is a multi-part message in MIME format.\n--pad  \t\n" + text_part +
                  "--pad \n" + gzip_part() + "--pad--   \nepilogue text\n--pad\nContent-Type: application/gzip\n\n"
                                             "not a part\n"),
             true, {gzip_report()}));
    add(good("the closing delimiter missing: the last part runs to the end",
             crlf(google_headers + "Content-Type: multipart/report; report-type=tlsrpt; boundary=b-1\n\n--b-1\n" +
                  text_part + "--b-1\n" + gzip_part()),
             true, {gzip_report()}, {}, "closing boundary is missing"));
    add(good("a nested boundary that starts with the outer one",
             crlf(google_headers + "Content-Type: multipart/mixed; boundary=abc\n\n--abc\n"
                                   "Content-Type: multipart/report; report-type=tlsrpt; boundary=abc-1\n\n--abc-1\n" +
                  text_part + "--abc-1\n" + gzip_part() + "--abc-1--\n--abc--\n"),
             true, {gzip_report()}));
    add(good("a body part without header fields is text/plain",
             crlf(report_message({"\n{\"report-id\":\"looks like json\"}\n", gzip_part()})), true, {gzip_report()}));
    add(good("a body part whose header block lacks its empty line",
             crlf(report_message({"Content-Type: application/tlsrpt+gzip\nContent-Transfer-Encoding: base64\n" +
                                  base64(report_gzip())})),
             true, {{"application/tlsrpt+gzip", "", report_gzip()}}));
    add(good("a body part without a header block whose first line is longer than max_header_bytes",
             crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n" + base64(report_gzip(), 100000) +
                  "--b--\n"),
             false, {}, {}, {}, mime_limits{64, 8, 200}));
    add(good("a body part of JSON without any header block is text/plain",
             crlf(report_message({report_json() + "\n", gzip_part()})), true, {gzip_report()}));
    add(good("a forwarded message (message/rfc822) holding the report",
             crlf("From: postmaster@example.com\nSubject: Fwd: report\nContent-Type: multipart/mixed; boundary=fwd\n\n"
                  "--fwd\nContent-Type: text/plain\n\nSee attached.\n--fwd\nContent-Type: message/rfc822\n\n" +
                  report_message({gzip_part()}) + "--fwd--\n"),
             true, {gzip_report()}, {{"from", "postmaster@example.com"}, {"tls-report-domain", absent}}));
    add(good("a multipart without a boundary parameter holds nothing",
             crlf(google_headers + "Content-Type: multipart/mixed\n\n--x\n" + gzip_part() + "--x--\n"), false, {},
             {}, "without a boundary"));
    add(good("exactly max_parts parts", crlf(many_parts_message(4)), false,
             {gzip_report(), gzip_report(), gzip_report(), gzip_report()}, {}, {}, mime_limits{4, 8, 65536}));
    add(good("exactly max_depth nested multiparts", crlf(nested_message(3)), false, {gzip_report()}, {}, {},
             mime_limits{64, 3, 65536}));

    // ---- no report in a readable message
    add(good("a human-readable text part is no report, even when it looks like JSON",
             crlf(google_headers + "Content-Type: text/plain\n\n" + report_json() + "\n"), false, {},
             google_metadata));
    add(good("a DMARC aggregate report (.xml.gz) is no TLS report",
             crlf(report_message({gzip_part("Content-Type: application/gzip; name=\"google.com!example.com!1!2.xml.gz\"\n")},
                                 "Content-Type: multipart/mixed; boundary=b-1\n")),
             false, {}));
    add(good("application/octet-stream without a name and without gzip is not sniffed as JSON",
             crlf(report_message({"Content-Type: application/octet-stream\n\n" + report_json() + "\n"})), true, {}));
    add(good("an image attachment is not decoded", crlf(report_message({"Content-Type: image/png; name=x.png\n"
                                                                         "Content-Transfer-Encoding: base64\n\n" +
                                                                         base64(report_gzip())})),
             true, {}));
    add(good("a message with an empty body", crlf(google_headers + "\n"), false, {}, google_metadata));

    // ---- rejections
    add(bad("an empty message", "", "no empty line ends the header block"));
    add(bad("report JSON, not a message", report_json(), "line 1 is not a header field"));
    add(bad("gzip bytes, not a message", report_gzip(), "line 1 is not a header field"));
    add(bad("a header block that runs into the body without an empty line",
            crlf("From: a@b.example\nSubject: x\nthis is body text\n"), "no empty line between header and body"));
    add(bad("a header block that never ends", crlf("From: a@b.example\nSubject: x\n"),
            "no empty line ends the header block"));
    add(bad("a first line that is folded", crlf(" folded: x\nFrom: a@b.example\n\nbody\n"),
            "line 1 is folded but no header field precedes it"));
    add(bad("more parts than max_parts", crlf(many_parts_message(5)), "more than 4 MIME parts",
            mime_limits{4, 8, 65536}));
    add(bad("more parts than the default max_parts (64)", crlf(many_parts_message(65)), "more than 64 MIME parts"));
    add(bad("multiparts nested deeper than max_depth", crlf(nested_message(4)), "nesting deeper than 3 levels",
            mime_limits{64, 3, 65536}));
    add(bad("multiparts nested deeper than the default max_depth (8)", crlf(nested_message(9)),
            "nesting deeper than 8 levels"));
    add(bad("a forwarded message beyond max_depth",
            crlf("Content-Type: multipart/mixed; boundary=f\n\n--f\nContent-Type: message/rfc822\n\n" +
                 report_message({gzip_part()}) + "--f--\n"),
            "nesting deeper than 2 levels", mime_limits{64, 2, 65536}));
    add(bad("the message's header block over max_header_bytes",
            crlf("Subject: " + std::string(200, 'x') + "\n\nbody\n"), "header block of the message is over 100 bytes",
            mime_limits{64, 8, 100}));
    add(bad("a part's header block over max_header_bytes",
            crlf("Content-Type: multipart/mixed; boundary=h\n\n--h\nContent-Type: text/plain\n\nok\n--h\n"
                 "Content-Type: application/gzip; name=\"" + std::string(200, 'n') + "\"\n\nx\n--h--\n"),
            "header block of part 2 is over 120 bytes", mime_limits{64, 8, 120}));
    return cases;
}

} // namespace stswatch::test::mime
