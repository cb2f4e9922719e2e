// parse_mail_reports: from a message to the reports it holds, with their mail metadata, per
// part errors and the operator's policy (accepted domains, DKIM required). No database.
#include "tlsrpt/decode.hpp"
#include "collector/dkim_keys.hpp"
#include "collector/mail_intake.hpp"
#include "tests/support/sample_reports.hpp"

#include <catch2/catch.hpp>

#include <Poco/Base64Encoder.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#include <sstream>

using namespace stswatch;
using stswatch::test::base64_lines;
using stswatch::test::google_report_without_mx_host;

namespace {

// Postfix with the sys4 reporter: no-policy-found without policy-domain (docs/senders.md).
std::string postfix_json(const std::string& id)
{
    return R"({"organization-name":"mail.example.net","date-range":{"start-datetime":"2025-09-20T00:00:00Z",)"
           R"("end-datetime":"2025-09-20T23:59:59Z"},"contact-info":"postmaster@example.net",)"
           R"("report-id":")" + id + R"(","policies":[{"summary":{"total-successful-session-count":3,)"
           R"("total-failure-session-count":0},"policy":{"policy-type":"no-policy-found"}}]})";
}

struct attachment {
    std::string file_name, data;
};

std::string report_mail(const std::vector<attachment>& parts, const std::string& extra_headers = {},
                        const std::string& domain = "example.com")
{
    std::string m = extra_headers
                    + "From: \"Google\" <noreply-smtp-tls-reporting@google.com>\r\n"
                      "Subject: Report Domain: " + domain + " Submitter: google.com\r\n"
                      " Report-ID: <2025.07.08T00.00.00Z+" + domain + "@google.com>\r\n"
                      "TLS-Report-Domain: " + domain + "\r\n"
                      "TLS-Report-Submitter: google.com\r\n"
                      "Message-ID: <m1@google.com>\r\n"
                      "MIME-Version: 1.0\r\n"
                      "Content-Type: multipart/report; boundary=\"b\"; report-type=tlsrpt\r\n\r\n"
                      "--b\r\nContent-Type: text/plain\r\n\r\nA TLS report.\r\n";
    for (const auto& p : parts)
        m += "--b\r\nContent-Type: application/tlsrpt+gzip; name=\"" + p.file_name + "\"\r\n"
             "Content-Disposition: attachment; filename=\"" + p.file_name + "\"\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n" + base64_lines(gzip_compress(p.data)) + "\r\n";
    return m + "--b--\r\n";
}

const std::string file_name = "google.com!example.com!1751932800!1752019199!001.json.gz";

// A DKIM signer for the test (RFC 6376 §3.4.2 relaxed/relaxed, §3.7 hashes, rsa-sha256),
// written apart from the verifier so that a shared mistake cannot pass unnoticed.
struct pkey_free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct md_ctx_free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

std::string collapse_wsp(std::string_view s)
{
    std::string out;
    bool blank = false;
    for (const char c : s) {
        if (c == ' ' || c == '\t') {
            blank = true;
            continue;
        }
        if (blank && !out.empty()) out += ' ';
        blank = false;
        out += c;
    }
    return out;   // trailing blanks dropped
}

std::string relaxed_header(std::string_view field)
{
    std::string unfolded;
    for (const char c : field)
        if (c != '\r' && c != '\n') unfolded += c;
    const auto colon = unfolded.find(':');
    std::string name = unfolded.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return collapse_wsp(name) + ":" + collapse_wsp(unfolded.substr(colon + 1));
}

std::string relaxed_body(std::string_view body)
{
    std::string out;
    std::size_t begin = 0;
    while (begin < body.size()) {
        auto end = body.find("\r\n", begin);
        if (end == std::string_view::npos) end = body.size();
        std::string line;
        bool blank = false;
        for (const char c : body.substr(begin, end - begin)) {
            if (c == ' ' || c == '\t') {
                blank = true;
                continue;
            }
            if (blank) line += ' ';
            blank = false;
            line += c;
        }
        out += line + "\r\n";
        begin = end + 2;
    }
    while (out.size() >= 4 && out.compare(out.size() - 4, 4, "\r\n\r\n") == 0) out.resize(out.size() - 2);
    if (out == "\r\n") out.clear();
    return out;
}

std::string raw_base64(const std::string& data)
{
    std::ostringstream out;
    Poco::Base64Encoder encoder(out);
    encoder.rdbuf()->setLineLength(0);
    encoder << data;
    encoder.close();
    return out.str();
}

std::string sha256(const std::string& data)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<char*>(digest), size);
}

struct dkim_key_pair {
    pkey_ptr key{EVP_RSA_gen(2048)};
    std::string record() const
    {
        unsigned char* der = nullptr;
        const int size = i2d_PUBKEY(key.get(), &der);
        std::string bytes(reinterpret_cast<char*>(der), static_cast<std::size_t>(size));
        OPENSSL_free(der);
        return "v=DKIM1; k=rsa; p=" + raw_base64(bytes);
    }
};

// Prepends a DKIM-Signature of domain/selector over the named header fields and the body.
std::string dkim_sign(const std::string& message, const dkim_key_pair& pair, const std::string& domain,
                      const std::string& selector, const std::vector<std::string>& names)
{
    const auto split = message.find("\r\n\r\n");
    const auto header = message.substr(0, split + 2);
    const auto body = message.substr(split + 4);
    // The fields as they stand (with folds), first occurrence of each name.
    std::string signed_data;
    for (const auto& name : names) {
        std::size_t pos = 0;
        while (pos < header.size()) {
            auto end = header.find("\r\n", pos);
            while (end + 2 < header.size() && (header[end + 2] == ' ' || header[end + 2] == '\t'))
                end = header.find("\r\n", end + 2);
            const auto field = header.substr(pos, end - pos);
            const auto colon = field.find(':');
            std::string field_name = field.substr(0, colon);
            for (char& c : field_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (field_name == name) {
                signed_data += relaxed_header(field) + "\r\n";
                break;
            }
            pos = end + 2;
        }
    }
    std::string h;
    for (const auto& name : names) h += (h.empty() ? "" : ":") + name;
    const std::string value = " v=1; a=rsa-sha256; c=relaxed/relaxed; d=" + domain + "; s=" + selector
                              + "; t=1751932800; h=" + h + "; bh=" + raw_base64(sha256(relaxed_body(body))) + "; b=";
    signed_data += relaxed_header("DKIM-Signature:" + value);
    std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
    REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pair.key.get()) == 1);
    std::size_t size = 0;
    REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(signed_data.data()),
                           signed_data.size()) == 1);
    std::string signature(size, '\0');
    REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                           reinterpret_cast<const unsigned char*>(signed_data.data()), signed_data.size()) == 1);
    signature.resize(size);
    return "DKIM-Signature:" + value + raw_base64(signature) + "\r\n" + message;
}

} // namespace

TEST_CASE("parse_mail_reports: a Google report mail gives one report with its mail metadata")
{
    std::vector<incoming_report> out;
    dkim_verdict dkim;
    dkim.status = dkim_status::pass;   // overwritten: nothing was verified
    const auto outcomes = parse_mail_reports(report_mail({{file_name, google_report_without_mx_host("g-1")}}), {}, out, &dkim);
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].error.empty());
    CHECK(outcomes[0].part == file_name);
    CHECK(outcomes[0].report_id == "g-1");
    CHECK(outcomes[0].organization == "Google Inc.");
    REQUIRE(out.size() == 1);
    const auto& r = out[0];
    CHECK(r.report.report_id == "g-1");
    CHECK(r.via == transport::smtp);
    CHECK(r.raw_is_gzip);
    CHECK(decode_body(r.raw, 1 << 20).json == google_report_without_mx_host("g-1"));
    const auto& f = r.metadata.fields;
    CHECK(f.at("from") == "\"Google\" <noreply-smtp-tls-reporting@google.com>");
    CHECK(f.at("message-id") == "<m1@google.com>");
    CHECK(f.at("tls-report-domain") == "example.com");
    CHECK(f.at("tls-report-submitter") == "google.com");
    CHECK_THAT(f.at("subject"), Catch::Contains("Report Domain: example.com"));
    CHECK_THAT(f.at("subject-report-id"), Catch::Contains("2025.07.08T00.00.00Z+example.com@google.com"));
    CHECK(f.at("attachment-file-name") == file_name);
    // No key lookup configured: DKIM not verified.
    CHECK(dkim.status == dkim_status::none);
    CHECK(r.dkim_state == "none");
    CHECK(r.dkim_domain.empty());
}

TEST_CASE("parse_mail_reports: several reports, a bad part, a missing policy-domain")
{
    std::vector<incoming_report> out;
    const auto outcomes = parse_mail_reports(
        report_mail({{file_name, google_report_without_mx_host("one")},
                     {"broken.json.gz", R"({"organization-name":"x"})"},
                     {"mail.example.net!example.com!1758326400!1758412799.json.gz", postfix_json("pf-1")}}),
        {}, out);
    REQUIRE(outcomes.size() == 3);
    CHECK(outcomes[0].error.empty());
    CHECK_THAT(outcomes[1].error, Catch::StartsWith("not a valid TLS report"));
    CHECK(outcomes[1].part == "broken.json.gz");
    CHECK_FALSE(outcomes[1].refused_by_policy);
    CHECK(outcomes[2].error.empty());
    // out holds the good ones, in order.
    REQUIRE(out.size() == 2);
    CHECK(out[0].report.report_id == "one");
    CHECK(out[1].report.report_id == "pf-1");
    // Postfix (sys4): the policy-domain filled from TLS-Report-Domain, and said so.
    REQUIRE(out[1].report.policies.size() == 1);
    CHECK(out[1].report.policies[0].policy_domain == "example.com");
    REQUIRE_FALSE(out[1].metadata.filled.empty());
    CHECK_THAT(out[1].metadata.filled[0], Catch::Contains("tls-report-domain"));
}

TEST_CASE("parse_mail_reports: refusals by policy and by limits name their reason")
{
    struct row {
        const char* name;
        mail_intake_options options;
        std::string message;
        std::string reason;
        bool by_policy;
    };
    mail_intake_options domains;
    domains.accept_domains = {"example.org"};
    mail_intake_options dkim_required;
    dkim_required.require_dkim = true;
    dkim_required.dkim_lookup = [](const std::string&) -> std::vector<std::string> { return {}; };
    mail_intake_options small;
    small.max_report_bytes = 100;
    const std::vector<row> rows = {
        {"policy domain not accepted", domains, report_mail({{file_name, google_report_without_mx_host("d-1")}}),
         "policy domain not accepted here: example.com", true},
        {"DKIM required, message unsigned", dkim_required, report_mail({{file_name, google_report_without_mx_host("k-1")}}),
         "DKIM signature of the reporting domain required (dkim=none)", true},
        {"report over max_report_bytes", small, report_mail({{file_name, google_report_without_mx_host("s-1")}}), "too large", false},
        {"attachment named as a report but neither gzip nor JSON", {}, [] {
             auto m = report_mail({{file_name, "x"}});
             // The gzip of "x" replaced by the base64 of plain text.
             const auto begin = m.find("H4sI");
             return m.substr(0, begin) + base64_lines("hello, not a report") + "\r\n--b--\r\n";
         }(), "cannot decode", false},
    };
    for (const auto& r : rows) {
        INFO(r.name);
        std::vector<incoming_report> out;
        const auto outcomes = parse_mail_reports(r.message, r.options, out);
        REQUIRE(outcomes.size() == 1);
        CHECK(out.empty());
        CHECK_THAT(outcomes[0].error, Catch::Contains(r.reason));
        CHECK(outcomes[0].refused_by_policy == r.by_policy);
    }
}

TEST_CASE("parse_mail_reports: a message without a report has no outcomes")
{
    std::vector<incoming_report> out;
    const std::string plain = "From: a@example.net\r\nSubject: hi\r\n\r\nJust text.\r\n";
    CHECK(parse_mail_reports(plain, {}, out).empty());
    CHECK(out.empty());
}

TEST_CASE("parse_mail_reports: DKIM is verified once, with the key looked up by selector and domain")
{
    std::vector<std::string> asked;
    mail_intake_options options;
    options.dkim_lookup = [&](const std::string& name) -> std::vector<std::string> {
        asked.push_back(name);
        throw dkim_temporary_failure("SERVFAIL");
    };
    const std::string signature =
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=google.com; s=20230601;\r\n"
        "\th=from:subject:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
        "\tb=dGVzdA==\r\n";
    std::vector<incoming_report> out;
    dkim_verdict dkim;
    const auto outcomes = parse_mail_reports(
        report_mail({{file_name, google_report_without_mx_host("a")}, {file_name, google_report_without_mx_host("b")}}, signature), options, out, &dkim);
    REQUIRE(outcomes.size() == 2);
    CHECK(asked == std::vector<std::string>{"20230601._domainkey.google.com"});
    CHECK(dkim.status == dkim_status::temperror);
    REQUIRE(out.size() == 2);
    CHECK(out[0].dkim_state == "temperror");
    CHECK(out[1].dkim_state == "temperror");
    CHECK(out[0].dkim_domain.empty());
}

TEST_CASE("parse_mail_reports: a report mail signed by the reporting domain passes DKIM, tampered, it fails")
{
    const dkim_key_pair pair;
    std::vector<std::string> asked;
    mail_intake_options options;
    options.dkim_lookup = [&](const std::string& name) -> std::vector<std::string> {
        asked.push_back(name);
        if (name == "tlsrpt._domainkey.google.com") return {pair.record()};
        return {};
    };
    const auto signed_mail = dkim_sign(report_mail({{file_name, google_report_without_mx_host("dk-1")}}), pair, "google.com", "tlsrpt",
                                       {"from", "subject", "message-id", "tls-report-domain", "tls-report-submitter"});
    {
        std::vector<incoming_report> out;
        dkim_verdict dkim;
        parse_mail_reports(signed_mail, options, out, &dkim);
        INFO((dkim.signatures.empty() ? std::string() : dkim.signatures[0].reason));
        CHECK(asked == std::vector<std::string>{"tlsrpt._domainkey.google.com"});
        CHECK(dkim.status == dkim_status::pass);
        CHECK(dkim.signing_domain == "google.com");
        REQUIRE(out.size() == 1);
        CHECK(out[0].dkim_state == "pass");
        CHECK(out[0].dkim_domain == "google.com");
    }
    {
        // DKIM required: the signed report is taken.
        auto required = options;
        required.require_dkim = true;
        std::vector<incoming_report> out;
        const auto outcomes = parse_mail_reports(signed_mail, required, out);
        REQUIRE(outcomes.size() == 1);
        CHECK(outcomes[0].error.empty());
        CHECK(out.size() == 1);
    }
    {
        // DKIM required, but the key is in testing mode: RFC 6376 §3.6.1, treated as unsigned.
        auto required = options;
        required.require_dkim = true;
        required.dkim_lookup = [&](const std::string& name) -> std::vector<std::string> {
            if (name == "tlsrpt._domainkey.google.com") return {pair.record() + "; t=y"};
            return {};
        };
        std::vector<incoming_report> out;
        dkim_verdict dkim;
        const auto outcomes = parse_mail_reports(signed_mail, required, out, &dkim);
        REQUIRE(outcomes.size() == 1);
        CHECK(dkim.status == dkim_status::pass);
        CHECK(dkim.testing_key);
        CHECK(out.empty());
        CHECK(outcomes[0].refused_by_policy);
        CHECK_THAT(outcomes[0].error, Catch::Contains("testing mode (t=y)"));
    }
    {
        // DKIM not required, key in testing mode: stored with a verdict of its own.
        auto testing = options;
        testing.dkim_lookup = [&](const std::string& name) -> std::vector<std::string> {
            if (name == "tlsrpt._domainkey.google.com") return {pair.record() + "; t=y"};
            return {};
        };
        std::vector<incoming_report> out;
        dkim_verdict dkim;
        parse_mail_reports(signed_mail, testing, out, &dkim);
        CHECK(std::string(verdict_label(dkim)) == "pass-testing");
        REQUIRE(out.size() == 1);
        CHECK(out[0].dkim_state == "pass-testing");
        CHECK(out[0].dkim_domain == "google.com");
    }
    {
        // One byte of the text part changed after signing.
        auto tampered = signed_mail;
        const auto at = tampered.find("A TLS report.");
        REQUIRE(at != std::string::npos);
        tampered[at] = 'B';
        std::vector<incoming_report> out;
        dkim_verdict dkim;
        parse_mail_reports(tampered, options, out, &dkim);
        CHECK(dkim.status == dkim_status::fail);
        REQUIRE(out.size() == 1);
        CHECK(out[0].dkim_state == "fail");
        CHECK(out[0].dkim_domain.empty());
    }
}

TEST_CASE("caching_dkim_lookup: an answer is asked for once, an empty one too, a temporary failure every time")
{
    std::map<std::string, int> asked;
    bool failing = true;
    auto lookup = caching_dkim_lookup(
        [&](const std::string& name) -> std::vector<std::string> {
            ++asked[name];
            if (name == "flaky._domainkey.example.net" && failing)
                throw dkim_temporary_failure("TXT " + name + ": timed out");
            if (name == "s1._domainkey.example.net")
                return {"v=DKIM1; k=ed25519; p=AAAA"};
            return {};
        },
        16);

    CHECK(lookup("s1._domainkey.example.net") == std::vector<std::string>{"v=DKIM1; k=ed25519; p=AAAA"});
    CHECK(lookup("s1._domainkey.example.net") == std::vector<std::string>{"v=DKIM1; k=ed25519; p=AAAA"});
    CHECK(asked["s1._domainkey.example.net"] == 1);

    CHECK(lookup("none._domainkey.example.net").empty());
    CHECK(lookup("none._domainkey.example.net").empty());
    CHECK(asked["none._domainkey.example.net"] == 1);

    CHECK_THROWS_AS(lookup("flaky._domainkey.example.net"), dkim_temporary_failure);
    CHECK_THROWS_AS(lookup("flaky._domainkey.example.net"), dkim_temporary_failure);
    CHECK(asked["flaky._domainkey.example.net"] == 2);
    failing = false;
    CHECK(lookup("flaky._domainkey.example.net").empty());
    CHECK(lookup("flaky._domainkey.example.net").empty());
    CHECK(asked["flaky._domainkey.example.net"] == 3);
}

TEST_CASE("caching_dkim_lookup: at most max_entries kept, the oldest dropped first, expired answers asked again")
{
    std::map<std::string, int> asked;
    auto fetch = [&](const std::string& name) -> std::vector<std::string> {
        ++asked[name];
        return {"v=DKIM1; p=" + name};
    };

    auto two = caching_dkim_lookup(fetch, 2);
    two("a");
    two("b");
    two("c");   // "a" goes
    two("c");
    two("b");
    CHECK(asked["b"] == 1);
    CHECK(asked["c"] == 1);
    two("a");
    CHECK(asked["a"] == 2);

    asked.clear();
    auto expiring = caching_dkim_lookup(fetch, 16, std::chrono::seconds(1));
    CHECK(expiring("k") == std::vector<std::string>{"v=DKIM1; p=k"});
    expiring("k");
    CHECK(asked["k"] == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    CHECK(expiring("k") == std::vector<std::string>{"v=DKIM1; p=k"});
    CHECK(asked["k"] == 2);
}

TEST_CASE("caching_dkim_lookup: many threads share one cache")
{
    std::mutex m;
    std::map<std::string, int> asked;
    auto lookup = caching_dkim_lookup(
        [&](const std::string& name) -> std::vector<std::string> {
            std::lock_guard lock(m);
            ++asked[name];
            return {"v=DKIM1; p=" + name};
        },
        8);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 500; ++i) {
                const std::string name = "s" + std::to_string((i + t) % 12);
                if (lookup(name) != std::vector<std::string>{"v=DKIM1; p=" + name})
                    ++wrong;
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    CHECK(wrong == 0);
    CHECK(asked.size() == 12);
}
