// The checker's outputs on hand-built results: the JSON shape that `stswatch check --json`
// prints and the monitor stores, reading it back, the text report, the order of findings.
#include "app/check_text.hpp"
#include "checks/checker.hpp"
#include "common/settings.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <catch2/catch.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace stswatch;
using Poco::JSON::Object;

namespace {

finding f(const char* code, severity level, const char* subject, const char* message, const char* rfc = "RFC 8461 §4.1")
{
    return finding{code, level, subject, message, rfc};
}

certificate_info cert(std::vector<std::string> names, bool trusted = true)
{
    certificate_info c;
    c.present = true;
    c.subject_names = std::move(names);
    c.subject = "CN=" + c.subject_names.front();
    c.issuer = "CN=stswatch test CA,O=Example \"Test\" CA";
    c.not_before = "2026-01-01T00:00:00Z";
    c.not_after = "2026-12-31T23:59:59Z";
    c.days_to_expiry = 35;
    c.trusted = trusted;
    c.verify_error = trusted ? "" : "unable to get local issuer certificate";
    c.name_matches = true;
    c.sha256 = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    return c;
}

mx_check mx(const char* host, std::uint16_t preference, std::vector<std::string> addresses,
            std::optional<std::string> covered_by)
{
    mx_check m;
    m.host = host;
    m.preference = preference;
    m.addresses = std::move(addresses);
    m.covered_by = std::move(covered_by);
    return m;
}

// The probe of the first address of m.
starttls_probe_result probe(starttls_status status, const mx_check& m, const char* banner)
{
    starttls_probe_result p;
    p.status = status;
    p.host = m.host;
    p.address = m.addresses.at(0);
    p.banner = banner;
    return p;
}

// A result with every part filled: both records, a fetched policy with its certificate, a
// probed MX, an MX whose probe failed, an unprobed one and one seen only in reports.
check_result rich_result()
{
    check_result r;
    r.domain = "example.com";
    r.checked_at = "2026-11-26T12:00:00Z";
    r.findings = {
        f("mx-not-covered", severity::error, "mx3.example.com", "mx3.example.com matches none of the policy's mx patterns"),
        f("mx-starttls-missing", severity::error, "mx2.example.com", "mx2.example.com does not offer STARTTLS", "RFC 8461 §4.2"),
        f("mx-cert-expiring", severity::warning, "mx1.example.com", "expires in 35 days\nrenew it", "RFC 8461 §4.2"),
        f("sts-mode-testing", severity::info, "mta-sts.example.com", "mode is testing", "RFC 8461 §5"),
    };
    r.sts.record = "v=STSv1; id=20261126";
    r.sts.id = "20261126";
    r.sts.policy_text = "version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmx: *.backup.example.com\r\nmax_age: 604800\r\n";
    r.sts.policy = sts_policy{sts_mode::testing, 604800, {"mx1.example.com", "*.backup.example.com"}};
    policy_fetch_result fetch;
    fetch.status = policy_fetch_status::ok;
    fetch.url = "https://mta-sts.example.com/.well-known/mta-sts.txt";
    fetch.host = "mta-sts.example.com";
    fetch.address = "192.0.2.10";
    fetch.http_status = 200;
    fetch.content_type = "text/plain; charset=utf-8";
    fetch.body = *r.sts.policy_text;
    fetch.certificate = cert({"mta-sts.example.com"});
    r.sts.fetch = fetch;
    r.tlsrpt.record = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://reports.example.com/v1/tlsrpt";
    r.tlsrpt.rua = {"mailto:tlsrpt@example.com", "https://reports.example.com/v1/tlsrpt"};

    mx_check mx1 = mx("mx1.example.com", 10, {"192.0.2.25", "2001:db8::25"}, "mx1.example.com");
    starttls_probe_result p1 = probe(starttls_status::ok, mx1, "220 mx1.example.com ESMTP");
    p1.starttls_offered = true;
    p1.tls_version = "TLSv1.3";
    p1.certificate = cert({"mx1.example.com", "*.example.com"}, false);
    mx1.probe = p1;
    starttls_probe_result p1v6 = p1;   // the second address: its handshake ran out of time
    p1v6.address = "2001:db8::25";
    p1v6.status = starttls_status::tls_failed;
    p1v6.timed_out = true;
    p1v6.tls_version.clear();
    p1v6.certificate = {};
    p1v6.error = "TLS handshake timed out";
    mx1.other_probes = {p1v6};

    mx_check mx2 = mx("mx2.backup.example.com", 20, {"192.0.2.26"}, "*.backup.example.com");
    starttls_probe_result p2 = probe(starttls_status::starttls_missing, mx2, "220 mx2 ESMTP");
    p2.error = "EHLO does not list STARTTLS";
    mx2.probe = p2;

    mx_check mx3 = mx("mx3.example.com", 30, {}, std::nullopt);

    mx_check reported;
    reported.host = "old-mx.example.com";
    reported.from_reports = true;

    r.mx = {mx1, mx2, mx3, reported};
    return r;
}

Object::Ptr parse(const std::string& text)
{
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Object::Ptr>();
}

std::size_t count_of(const std::string& haystack, const std::string& needle)
{
    std::size_t n = 0;
    for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1))
        ++n;
    return n;
}

} // namespace

TEST_CASE("check JSON has the documented top-level shape", "[checker][json]")
{
    const auto o = parse(to_json_text(rich_result()));
    for (const char* key : {"domain", "checked_at", "findings", "sts", "tlsrpt", "mx"})
        CHECK(o->has(key));
    CHECK(o->getValue<std::string>("domain") == "example.com");
    CHECK(o->getValue<std::string>("checked_at") == "2026-11-26T12:00:00Z");

    const auto findings = o->getArray("findings");
    REQUIRE(findings->size() == 4);
    const auto first = findings->getObject(0);
    CHECK(first->getValue<std::string>("code") == "mx-not-covered");
    CHECK(first->getValue<std::string>("severity") == "error");
    CHECK(first->getValue<std::string>("subject") == "mx3.example.com");
    CHECK(first->getValue<std::string>("rfc") == "RFC 8461 §4.1");
    CHECK(findings->getObject(2)->getValue<std::string>("message") == "expires in 35 days\nrenew it");
    CHECK(findings->getObject(3)->getValue<std::string>("severity") == "info");
}

TEST_CASE("check JSON sts and tlsrpt parts", "[checker][json]")
{
    const auto o = parse(to_json_text(rich_result()));
    const auto sts = o->getObject("sts");
    CHECK(sts->getValue<std::string>("record") == "v=STSv1; id=20261126");
    CHECK(sts->getValue<std::string>("id") == "20261126");
    CHECK(sts->getValue<std::string>("policy_text").find("mode: testing\r\n") != std::string::npos);
    CHECK(sts->getValue<bool>("candidate") == false);
    const auto policy = sts->getObject("policy");
    REQUIRE(policy);
    CHECK(policy->getValue<std::string>("version") == "STSv1");
    CHECK(policy->getValue<std::string>("mode") == "testing");
    CHECK(policy->getValue<std::uint64_t>("max_age") == 604800);
    REQUIRE(policy->getArray("mx")->size() == 2);
    CHECK(policy->getArray("mx")->getElement<std::string>(1) == "*.backup.example.com");

    const auto fetch = sts->getObject("fetch");
    REQUIRE(fetch);
    CHECK(fetch->getValue<std::string>("url") == "https://mta-sts.example.com/.well-known/mta-sts.txt");
    CHECK(fetch->getValue<std::string>("address") == "192.0.2.10");
    CHECK(fetch->getValue<std::string>("status") == "ok");
    CHECK(fetch->getValue<int>("http_status") == 200);
    CHECK(fetch->getValue<std::string>("content_type") == "text/plain; charset=utf-8");
    for (const char* key : {"location", "error"})
        CHECK(fetch->getValue<std::string>(key).empty());
    CHECK(fetch->getObject("certificate")->getValue<bool>("trusted"));

    const auto tlsrpt = o->getObject("tlsrpt");
    CHECK(tlsrpt->getValue<std::string>("record").rfind("v=TLSRPTv1;", 0) == 0);
    REQUIRE(tlsrpt->getArray("rua")->size() == 2);
    CHECK(tlsrpt->getArray("rua")->getElement<std::string>(0) == "mailto:tlsrpt@example.com");
}

TEST_CASE("check JSON mx entries say probed, failed and not probed apart", "[checker][json]")
{
    const auto mx = parse(to_json_text(rich_result()))->getArray("mx");
    REQUIRE(mx->size() == 4);

    const auto mx1 = mx->getObject(0);
    CHECK(mx1->getValue<std::string>("host") == "mx1.example.com");
    CHECK(mx1->getValue<int>("preference") == 10);
    CHECK(mx1->getArray("addresses")->size() == 2);
    CHECK(mx1->getValue<std::string>("covered_by") == "mx1.example.com");
    CHECK(mx1->getValue<bool>("from_reports") == false);
    CHECK(mx1->getValue<bool>("starttls") == true);
    CHECK(mx1->getValue<std::string>("tls_version") == "TLSv1.3");
    const auto probe = mx1->getObject("probe");
    REQUIRE(probe);
    CHECK(probe->getValue<std::string>("status") == "ok");
    CHECK(probe->getValue<std::string>("banner") == "220 mx1.example.com ESMTP");
    const auto c = mx1->getObject("certificate");
    REQUIRE(c);
    CHECK(c->getArray("subject_names")->size() == 2);
    CHECK(c->getValue<std::string>("issuer") == "CN=stswatch test CA,O=Example \"Test\" CA");
    CHECK(c->getValue<std::string>("not_after") == "2026-12-31T23:59:59Z");
    CHECK(c->getValue<bool>("trusted") == false);
    CHECK(c->getValue<std::string>("verify_error") == "unable to get local issuer certificate");
    CHECK(c->getValue<std::int64_t>("days_to_expiry") == 35);
    for (const char* key : {"subject", "not_before", "name_matches", "expired", "sha256"})
        CHECK(c->has(key));

    const auto mx2 = mx->getObject(1);
    CHECK(mx2->getValue<bool>("starttls") == false);
    CHECK(mx2->isNull("tls_version"));
    CHECK(mx2->isNull("certificate"));
    CHECK(mx2->getObject("probe")->getValue<std::string>("status") == "starttls_missing");
    CHECK(mx2->getObject("probe")->getValue<std::string>("error") == "EHLO does not list STARTTLS");

    const auto mx3 = mx->getObject(2);
    for (const char* key : {"covered_by", "starttls", "tls_version", "probe", "certificate"})
        CHECK(mx3->isNull(key));

    CHECK(mx->getObject(3)->getValue<bool>("from_reports") == true);
}

TEST_CASE("check JSON of an empty result uses null for absent parts", "[checker][json]")
{
    check_result r;
    r.domain = "nothing.example";
    r.checked_at = "2026-11-26T12:00:00Z";
    const auto o = parse(to_json_text(r));
    const auto sts = o->getObject("sts");
    for (const char* key : {"record", "id", "policy_text", "policy", "fetch"})
        CHECK(sts->isNull(key));
    CHECK(o->getObject("tlsrpt")->isNull("record"));
    CHECK(o->getObject("tlsrpt")->getArray("rua")->size() == 0);
    CHECK(o->getArray("findings")->size() == 0);
    CHECK(o->getArray("mx")->size() == 0);
    CHECK(to_json_text(r).find('\n') == std::string::npos);
}

TEST_CASE("check JSON reads back to the same JSON", "[checker][json]")
{
    check_result candidate = rich_result();
    candidate.sts.candidate = true;
    candidate.sts.fetch->status = policy_fetch_status::redirect;
    candidate.sts.fetch->http_status = 301;
    candidate.sts.fetch->location = "https://www.example.com/";
    candidate.sts.fetch->error = "redirect not followed";
    check_result dns_down = rich_result();
    dns_down.sts.fetch->status = policy_fetch_status::no_address;
    dns_down.sts.fetch->dns = dns_status::temporary_failure;
    check_result null_mx;
    null_mx.domain = "nomail.example";
    null_mx.checked_at = "2026-11-26T12:00:00Z";
    null_mx.mx = {mx_check{}};
    null_mx.findings = {f("sts-record-dns-error", severity::error, "_mta-sts.nomail.example", "SERVFAIL", "RFC 8461 §3.1")};

    for (const check_result& r : {rich_result(), candidate, dns_down, null_mx}) {
        const std::string text = to_json_text(r);
        const check_result back = check_result_from_json(text);
        CHECK(to_json_text(back) == text);
    }

    // What the monitor diffs is really there, not only re-serialised.
    const check_result back = check_result_from_json(to_json_text(rich_result()));
    CHECK(back.domain == "example.com");
    CHECK(back.sts.id == std::optional<std::string>("20261126"));
    REQUIRE(back.sts.policy);
    CHECK(back.sts.policy->mode == sts_mode::testing);
    CHECK(back.sts.policy->max_age == 604800);
    CHECK(back.sts.policy->mx == std::vector<std::string>{"mx1.example.com", "*.backup.example.com"});
    CHECK(back.sts.policy_text == rich_result().sts.policy_text);
    REQUIRE(back.sts.fetch);
    CHECK(back.sts.fetch->host == "mta-sts.example.com");
    CHECK(back.sts.fetch->certificate.present);
    REQUIRE(back.findings.size() == 4);
    CHECK(back.findings[2].level == severity::warning);
    CHECK(back.findings[2].message == "expires in 35 days\nrenew it");
    REQUIRE(back.mx.size() == 4);
    CHECK(back.mx[0].addresses == std::vector<std::string>{"192.0.2.25", "2001:db8::25"});
    REQUIRE(back.mx[0].probe);
    CHECK(back.mx[0].probe->certificate.sha256 == rich_result().mx[0].probe->certificate.sha256);
    CHECK_FALSE(back.mx[0].probe->timed_out);
    REQUIRE(back.mx[0].other_probes.size() == 1);
    CHECK(back.mx[0].other_probes[0].address == "2001:db8::25");
    CHECK(back.mx[0].other_probes[0].status == starttls_status::tls_failed);
    CHECK(back.mx[0].other_probes[0].timed_out);
    CHECK_FALSE(back.mx[0].other_probes[0].certificate.present);
    CHECK(back.mx[1].other_probes.empty());
    CHECK(back.mx[0].probe->certificate.subject_names == std::vector<std::string>{"mx1.example.com", "*.example.com"});
    CHECK(back.mx[1].covered_by == std::optional<std::string>("*.backup.example.com"));
    CHECK(back.mx[1].probe->status == starttls_status::starttls_missing);
    CHECK_FALSE(back.mx[2].probe);
    CHECK(back.mx[3].from_reports);
    CHECK_FALSE(back.dns_unavailable);
    CHECK(check_result_from_json(to_json_text(null_mx)).dns_unavailable);
    // The monitor tells our resolver failing from the policy host disappearing by this.
    CHECK(check_result_from_json(to_json_text(dns_down)).sts.fetch->dns == dns_status::temporary_failure);
    CHECK(back.sts.fetch->dns == dns_status::ok);
}

TEST_CASE("check JSON that is not a check result is refused", "[checker][json]")
{
    const std::string good = to_json_text(rich_result());
    auto replaced = [&](const std::string& from, const std::string& to) {
        std::string s = good;
        const auto pos = s.find(from);
        REQUIRE(pos != std::string::npos);
        return s.replace(pos, from.size(), to);
    };
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"", "empty"},
        {"[1,2]", "an array"},
        {"{\"domain\":\"x\"", "truncated"},
        {replaced("\"domain\":\"example.com\",", ""), "no domain"},
        {replaced("\"severity\":\"error\"", "\"severity\":\"fatal\""), "unknown severity"},
        {replaced("\"mode\":\"testing\"", "\"mode\":\"strict\""), "unknown mode"},
        {replaced("\"max_age\":604800", "\"max_age\":\"604800\""), "max_age a string"},
        {replaced("\"preference\":10", "\"preference\":70000"), "preference out of range"},
        {replaced("\"status\":\"starttls_missing\"", "\"status\":\"maybe\""), "unknown probe status"},
        {replaced("\"mx\":[{", "\"mx\":[7,{"), "mx entry not an object"},
    };
    for (const auto& [text, why] : bad) {
        INFO(why);
        CHECK_THROWS_AS(check_result_from_json(text), std::runtime_error);
    }
}

TEST_CASE("findings are ordered errors, warnings, info and stable within", "[checker]")
{
    std::vector<finding> findings = {
        f("sts-mode-testing", severity::info, "mta-sts.example.com", "1"),
        f("mx-cert-expiring", severity::warning, "mx1.example.com", "2"),
        f("mx-not-covered", severity::error, "mx3.example.com", "3"),
        f("policy-mx-unused", severity::warning, "*.old.example.com", "4"),
        f("mx-unreachable", severity::error, "mx2.example.com", "5"),
        f("sts-max-age-short", severity::info, "mta-sts.example.com", "6"),
    };
    sort_findings(findings);
    std::string order;
    for (const auto& x : findings)
        order += x.message;
    CHECK(order == "352416");
}

TEST_CASE("check options come from the checks settings", "[checker]")
{
    settings s;
    s.checks_ca_file = "/etc/ca.pem";
    s.checks_allow_private = true;
    s.checks_timeout = 3;
    s.checks_mx_concurrency = 2;
    s.checks_cert_expiring_days = 30;
    const auto o = check_options::from(s);
    CHECK(o.ca_file == "/etc/ca.pem");
    CHECK(o.allow_private);
    CHECK(o.timeout_ms == 3000);
    CHECK(o.mx_concurrency == 2);
    CHECK(o.cert_expiring_days == 30);
    CHECK(o.probe_mx);
    CHECK(o.https_port == 443);
    CHECK(o.smtp_port == 25);
}

TEST_CASE("text report groups findings by severity then subject", "[checker][text]")
{
    check_result r = rich_result();
    r.findings.insert(r.findings.begin() + 1,
                      f("mx-cert-name-mismatch", severity::error, "mx3.example.com", "wrong name", "RFC 8461 §4.2"));
    const std::string text = to_text(r, false);

    CHECK(text.rfind("example.com: 3 errors, 1 warning, 1 info", 0) == 0);
    const auto errors = text.find("\nErrors\n");
    const auto warnings = text.find("\nWarnings\n");
    const auto info = text.find("\nInfo\n");
    REQUIRE(errors != std::string::npos);
    REQUIRE(warnings != std::string::npos);
    REQUIRE(info != std::string::npos);
    CHECK(errors < warnings);
    CHECK(warnings < info);
    // Both mx3 findings sit under one subject line, before mx2's.
    CHECK(count_of(text, "\n  mx3.example.com\n") == 1);
    const auto mx3 = text.find("\n  mx3.example.com\n");
    CHECK(text.find("mx-not-covered: mx3.example.com matches none", mx3) < text.find("\n  mx2.example.com\n"));
    CHECK(text.find("mx-cert-name-mismatch: wrong name [RFC 8461 §4.2]", mx3) < text.find("\n  mx2.example.com\n"));
    CHECK(text.find("sts-mode-testing: mode is testing") > info);
    // A message on several lines stays indented under its finding.
    CHECK(text.find("mx-cert-expiring: expires in 35 days\n      renew it [RFC 8461 §4.2]") != std::string::npos);
}

TEST_CASE("text report shows records, policy and the MX table", "[checker][text]")
{
    const std::string text = to_text(rich_result(), false);
    CHECK(text.find("_mta-sts.example.com") != std::string::npos);
    CHECK(text.find("v=STSv1; id=20261126") != std::string::npos);
    CHECK(text.find("v=TLSRPTv1; rua=mailto:tlsrpt@example.com") != std::string::npos);
    CHECK(text.find("mode       testing") != std::string::npos);
    CHECK(text.find("max_age    604800 (7 days)") != std::string::npos);
    CHECK(text.find("mx         mx1.example.com, *.backup.example.com") != std::string::npos);
    CHECK(text.find("from 192.0.2.10: ok (HTTP 200)") != std::string::npos);
    CHECK(text.find("HOST") != std::string::npos);
    CHECK(text.find("COVERED BY") != std::string::npos);

    const auto table = text.find("\n  HOST");
    REQUIRE(table != std::string::npos);
    auto row = [&](const std::string& host) {
        const auto start = text.find("\n  " + host, table);
        REQUIRE(start != std::string::npos);
        return text.substr(start + 1, text.find('\n', start + 1) - start - 1);
    };
    const std::string mx1 = row("mx1.example.com");
    CHECK(mx1.find(" 10 ") != std::string::npos);
    CHECK(mx1.find("TLSv1.3") != std::string::npos);
    CHECK(mx1.find("expires 2026-12-31 (35d), UNTRUSTED") != std::string::npos);
    const std::string mx2 = row("mx2.backup.example.com");
    CHECK(mx2.find("*.backup.example.com") != std::string::npos);
    CHECK(mx2.find(" no ") != std::string::npos);   // STARTTLS not offered
    CHECK(row("mx3.example.com").find("not probed") != std::string::npos);
    CHECK(row("old-mx.example.com").find("(reports)") != std::string::npos);
}

TEST_CASE("text report colour only when asked", "[checker][text]")
{
    const check_result r = rich_result();
    CHECK(to_text(r, false).find('\033') == std::string::npos);
    const std::string coloured = to_text(r, true);
    CHECK(coloured.find("\033[31m") != std::string::npos);   // errors red
    CHECK(coloured.find("\033[33m") != std::string::npos);   // warnings yellow
    CHECK(coloured.find("\033[36m") != std::string::npos);   // info cyan

    check_result clean;
    clean.domain = "ok.example";
    clean.checked_at = "2026-11-26T12:00:00Z";
    const std::string text = to_text(clean, false);
    CHECK(text.rfind("ok.example: OK, 0 warnings, 0 info", 0) == 0);
    CHECK(text.find("Errors") == std::string::npos);

    clean.dns_unavailable = true;
    CHECK(to_text(clean, false).find("DNS UNAVAILABLE") != std::string::npos);
}

TEST_CASE("snapshots written before starttls_offered, timed_out and other_probes still read", "[checker][json]")
{
    // The shape of an older snapshot: "starttls" said whether STARTTLS was offered, and the
    // probe had no starttls_offered, timed_out or other_probes. mx2 offered STARTTLS but
    // refused the command: old "starttls" true, though no TLS session followed.
    check_result result = rich_result();
    result.mx[1].probe->status = starttls_status::starttls_refused;
    result.mx[1].probe->starttls_offered = true;
    std::string old = to_json_text(result);
    const auto mx2 = old.find("\"host\":\"mx2.backup.example.com\"");
    REQUIRE(mx2 != std::string::npos);
    const auto mx2_starttls = old.find("\"starttls\":false", mx2);
    REQUIRE(mx2_starttls != std::string::npos);
    old.replace(mx2_starttls, std::string("\"starttls\":false").size(), "\"starttls\":true");
    for (const std::string key : {",\"starttls_offered\":true", ",\"starttls_offered\":false", ",\"timed_out\":false",
                                  ",\"timed_out\":true"}) {
        for (auto at = old.find(key); at != std::string::npos; at = old.find(key))
            old.erase(at, key.size());
    }
    const auto others = old.find(",\"other_probes\":[{");
    REQUIRE(others != std::string::npos);
    old.erase(others, old.find("}]", others) + 2 - others);
    for (auto at = old.find(",\"other_probes\":[]"); at != std::string::npos; at = old.find(",\"other_probes\":[]"))
        old.erase(at, std::string(",\"other_probes\":[]").size());
    REQUIRE(old.find("starttls_offered") == std::string::npos);
    REQUIRE(old.find("other_probes") == std::string::npos);

    const check_result back = check_result_from_json(old);
    REQUIRE(back.mx.size() == 4);
    REQUIRE(back.mx[0].probe);
    CHECK(back.mx[0].probe->starttls_offered);        // from "starttls": true
    CHECK_FALSE(back.mx[0].probe->timed_out);
    CHECK(back.mx[0].other_probes.empty());
    REQUIRE(back.mx[1].probe);
    CHECK(back.mx[1].probe->status == starttls_status::starttls_refused);
    CHECK(back.mx[1].probe->starttls_offered);        // from "starttls": true, not from the status
}
