// Differential test: for every fixture domain, the verdict of a real MTA-STS client
// (postfix-mta-sts-resolver, driven by tests/differential/resolver_driver.py) and the verdict
// of `stswatch check --json` agree: either both find a usable policy with the same mode and
// mx patterns, or neither does. Real Knot DNS, real nginx policy hosts, real certificates.
// Where the two legitimately differ, the table says so and cites the RFC rule.
#include "common/text.hpp"
#include "tests/support/dns_server.hpp"
#include "tests/support/json_text.hpp"
#include "tests/support/loopback.hpp"
#include "tests/support/policy_host.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace stswatch::test;

namespace {

const std::string zone_name = "diff.test";

enum class cert_kind { valid, self_signed, wrong_name, none };

// What a sender ends up with: a policy it applies (mode and mx patterns), or none at all
// (no record, or a fetch or validation failure: the sender treats the domain as not
// having MTA-STS, RFC 8461 §5).
struct verdict {
    bool has_policy = false;
    std::string mode;
    std::set<std::string> mx;
    long long max_age = -1;
    std::string id;   // of the _mta-sts record the policy belongs to

    std::string describe() const
    {
        if (!has_policy)
            return "no policy";
        std::string s = "policy id=" + id + " mode=" + mode + " max_age=" + std::to_string(max_age) + " mx={";
        for (const auto& m : mx)
            s += m + (m == *mx.rbegin() ? "" : ",");
        return s + "}";
    }
};

struct fixture {
    std::string label;                  // the domain is <label>.diff.test
    std::vector<std::string> sts_txt;   // TXT records of _mta-sts.<domain>
    cert_kind cert = cert_kind::valid;  // none: no policy host (no A record for mta-sts.<domain>)
    int status = 200;
    std::string content_type = "text/plain";
    std::string body;
    std::string location;
    bool resolver_gets_policy = true;   // what the real client is expected to conclude
    bool stswatch_gets_policy = true;   // equal unless `difference` says why not
    std::string difference;             // empty: the two must agree
};

std::string policy(const std::string& mode, const std::vector<std::string>& mx, const std::string& max_age = "86400",
                   const std::string& eol = "\n", const std::string& version = "STSv1")
{
    std::string s = "version: " + version + eol + "mode: " + mode + eol;
    for (const auto& m : mx)
        s += "mx: " + m + eol;
    return s + "max_age: " + max_age + eol;
}

std::string dom(const std::string& label) { return label + "." + zone_name; }

std::vector<fixture> fixtures()
{
    const std::string rec = "v=STSv1; id=20260101T000000";
    std::vector<fixture> f;
    auto add = [&](fixture x) { f.push_back(std::move(x)); };

    add({"enforce", {rec}, cert_kind::valid, 200, "text/plain",
         policy("enforce", {"mx1.enforce.diff.test", "mx2.enforce.diff.test"}), "", true, true, ""});
    add({"testing", {rec}, cert_kind::valid, 200, "text/plain", policy("testing", {"mx.testing.diff.test"}), "",
         true, true, ""});
    add({"none", {rec}, cert_kind::valid, 200, "text/plain", policy("none", {"mx.none.diff.test"}), "", true, true,
         ""});
    add({"wildcard", {rec}, cert_kind::valid, 200, "text/plain", policy("enforce", {"*.wildcard.diff.test"}), "",
         true, true, ""});
    add({"crlf", {rec}, cert_kind::valid, 200, "text/plain",
         policy("enforce", {"mx.crlf.diff.test"}, "604800", "\r\n"), "", true, true, ""});
    // RFC 8461 §3.2: unknown keys are ignored.
    add({"unknown-keys", {rec}, cert_kind::valid, 200, "text/plain",
         policy("enforce", {"mx.unknown-keys.diff.test"}) + "x-extension: something\ncolour: blue\n", "", true, true,
         ""});
    // RFC 8461 §3.3: media type parameters are allowed.
    add({"charset", {rec}, cert_kind::valid, 200, "text/plain; charset=utf-8",
         policy("enforce", {"mx.charset.diff.test"}), "", true, true, ""});
    add({"bad-version", {rec}, cert_kind::valid, 200, "text/plain",
         policy("enforce", {"mx.bad-version.diff.test"}, "86400", "\n", "STSv2"), "", false, false, ""});
    add({"bad-mode", {rec}, cert_kind::valid, 200, "text/plain", policy("enforcing", {"mx.bad-mode.diff.test"}), "",
         false, false, ""});
    add({"max-age-too-big", {rec}, cert_kind::valid, 200, "text/plain",
         policy("enforce", {"mx.max-age-too-big.diff.test"}, "31557601"), "", false, false, ""});
    add({"missing-mx", {rec}, cert_kind::valid, 200, "text/plain", policy("enforce", {}), "", false, false, ""});
    add({"not-found", {rec}, cert_kind::valid, 404, "text/plain", "not found\n", "", false, false, ""});
    add({"content-type", {rec}, cert_kind::valid, 200, "text/html",
         policy("enforce", {"mx.content-type.diff.test"}), "", false, false, ""});
    add({"redirect", {rec}, cert_kind::valid, 301, "text/plain", "",
         "https://mta-sts.enforce.diff.test/.well-known/mta-sts.txt", false, false, ""});
    add({"too-large", {rec}, cert_kind::valid, 200, "text/plain",
         policy("enforce", {"mx.too-large.diff.test"}) + std::string(70000, '#') + "\n", "", false, false, ""});
    add({"untrusted-cert", {rec}, cert_kind::self_signed, 200, "text/plain",
         policy("enforce", {"mx.untrusted-cert.diff.test"}), "", false, false, ""});
    add({"wrong-name-cert", {rec}, cert_kind::wrong_name, 200, "text/plain",
         policy("enforce", {"mx.wrong-name-cert.diff.test"}), "", false, false, ""});
    add({"no-record", {}, cert_kind::none, 200, "text/plain", "", "", false, false, ""});
    add({"record-version", {"v=STSv2; id=20260101"}, cert_kind::valid, 200, "text/plain",
         policy("enforce", {"mx.record-version.diff.test"}), "", false, false, ""});
    add({"two-records", {rec, "v=STSv1; id=20260202"}, cert_kind::valid, 200, "text/plain",
         policy("enforce", {"mx.two-records.diff.test"}), "", false, false, ""});
    // RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT). postfix-mta-sts-resolver only checks that
    // an id is present (it compares ids for equality and never validates them), so it fetches
    // and applies the policy; stswatch reports sts-record-id-invalid, an error: the record is
    // invalid and a stricter sender would not use the policy.
    add({"id-invalid", {"v=STSv1; id=not-valid!"}, cert_kind::valid, 200, "text/plain",
         policy("enforce", {"mx.id-invalid.diff.test"}), "", true, false,
         "RFC 8461 §3.1 id syntax: the resolver does not validate ids"});
    // A field other than mx given twice. postfix-mta-sts-resolver keeps the last occurrence
    // (here enforce); stswatch reports sts-policy-syntax, an error, because senders differ on
    // which occurrence counts, so the policy means different things to different senders
    // (RFC 8461 §3.2 defines one version, mode and max_age field each).
    add({"duplicate-mode", {rec}, cert_kind::valid, 200, "text/plain",
         "version: STSv1\nmode: testing\nmode: enforce\nmx: mx.duplicate-mode.diff.test\nmax_age: 86400\n", "",
         true, false, "RFC 8461 §3.2 repeated field: the resolver takes the last occurrence"});
    return f;
}

std::string zone_text(const std::vector<fixture>& fs, const std::map<std::string, std::string>& addresses)
{
    std::ostringstream z;
    z << zone_file(zone_name);
    for (const auto& f : fs) {
        for (const auto& txt : f.sts_txt)
            z << "_mta-sts." << f.label << " TXT \"" << txt << "\"\n";
        if (auto it = addresses.find(f.label); it != addresses.end())
            z << "mta-sts." << f.label << " A " << it->second << "\n";
        z << f.label << " MX 10 mx." << f.label << "\n";
        z << "mx." << f.label << " A 127.0.0.1\n";
    }
    return z.str();
}

// The client's verdict from one line of the driver's output.
verdict resolver_verdict(const Poco::JSON::Object::Ptr& line)
{
    verdict v;
    if (line->getValue<std::string>("result") != "VALID")
        return v;
    const auto pol = line->getObject("policy");
    REQUIRE(pol);
    v.has_policy = true;
    v.mode = pol->getValue<std::string>("mode");
    v.max_age = pol->getValue<long long>("max_age");
    if (!line->isNull("id"))
        v.id = line->getValue<std::string>("id");
    if (const auto mx = pol->getArray("mx"))
        for (std::size_t i = 0; i < mx->size(); ++i)
            v.mx.insert(stswatch::text::lowered(mx->getElement<std::string>(static_cast<unsigned>(i))));
    return v;
}

// stswatch's verdict: a policy a sender would apply, unless an error of the record or policy
// families says the deployment is broken (a sender would then have no usable policy).
verdict stswatch_verdict(const Poco::JSON::Object::Ptr& result, std::vector<std::string>& sts_errors)
{
    verdict v;
    if (const auto findings = result->getArray("findings")) {
        for (std::size_t i = 0; i < findings->size(); ++i) {
            const auto f = findings->getObject(static_cast<unsigned>(i));
            const auto code = f->getValue<std::string>("code");
            const bool sts_family = code.rfind("sts-record-", 0) == 0 || code.rfind("sts-policy-", 0) == 0;
            if (sts_family && f->getValue<std::string>("severity") == "error")
                sts_errors.push_back(code);
        }
    }
    const auto sts = result->getObject("sts");
    REQUIRE(sts);
    const auto pol = sts->getObject("policy");   // null when JSON null
    if (!pol || !sts_errors.empty())
        return v;
    v.has_policy = true;
    v.mode = pol->getValue<std::string>("mode");
    v.max_age = pol->getValue<long long>("max_age");
    if (sts->has("id") && !sts->isNull("id"))
        v.id = sts->getValue<std::string>("id");
    if (const auto mx = pol->getArray("mx"))
        for (std::size_t i = 0; i < mx->size(); ++i)
            v.mx.insert(stswatch::text::lowered(mx->getElement<std::string>(static_cast<unsigned>(i))));
    return v;
}

} // namespace

TEST_CASE("postfix-mta-sts-resolver and stswatch check agree on every fixture domain", "[differential]")
{
    const std::string stswatch = required_env("STSWATCH_BIN");
    const std::string python = "/usr/bin/python3";
    const std::string driver = std::string(STSWATCH_SOURCE_DIR) + "/tests/differential/resolver_driver.py";
    // Not a skip: without the real client there is nothing to compare with, and that must show.
    REQUIRE(std::filesystem::exists(python));
    REQUIRE(std::filesystem::exists("/usr/lib/python3/dist-packages/postfix_mta_sts_resolver/resolver.py"));

    const auto fs = fixtures();
    REQUIRE(fs.size() >= 12);

    std::vector<policy_vhost> vhosts;
    std::map<std::string, std::string> addresses;
    for (const auto& f : fs) {
        if (f.cert == cert_kind::none)
            continue;
        const std::string host = "mta-sts." + dom(f.label);
        policy_vhost v;
        v.address = unique_loopback_address();
        v.server_name = host;
        switch (f.cert) {
        case cert_kind::valid: v.cert = make_test_cert({host}); break;
        case cert_kind::self_signed: v.cert = make_test_cert({host}, -1, 90, true); break;
        case cert_kind::wrong_name: v.cert = make_test_cert({"mta-sts.elsewhere.test"}); break;
        case cert_kind::none: break;
        }
        v.status = f.status;
        v.content_type = f.content_type;
        v.body = f.body;
        v.location = f.location;
        addresses[f.label] = v.address;
        vhosts.push_back(std::move(v));
    }
    policy_hosts hosts(std::move(vhosts));
    dns_server dns({{zone_name, zone_text(fs, addresses), false}});
    const std::string ca = test_ca_file();

    // The real client, all domains in one run.
    std::vector<std::string> argv = {python, driver, "--dns", dns.address(), "--ca-file", ca, "--timeout", "5"};
    for (const auto& f : fs)
        argv.push_back(dom(f.label));
    const run_result client = run_program(argv);
    INFO("resolver_driver.py stderr: " << client.err);
    REQUIRE(client.exit_code == 0);
    std::map<std::string, Poco::JSON::Object::Ptr> client_lines;
    {
        std::istringstream in(client.out);
        for (std::string line; std::getline(in, line);) {
            if (line.empty())
                continue;
            INFO("resolver_driver.py output");
            auto obj = json_object(line);
            client_lines[obj->getValue<std::string>("domain")] = obj;
        }
    }
    REQUIRE(client_lines.size() == fs.size());

    std::size_t agreed = 0, documented = 0;
    for (const auto& f : fs) {
        const std::string domain = dom(f.label);
        INFO("fixture " << f.label << " (" << domain << ")");
        const verdict theirs = resolver_verdict(client_lines.at(domain));

        const run_result ours = run_program({stswatch, "check", domain, "--json", "--no-probe", "--resolver",
                                             dns.address(), "--ca-file", ca, "--allow-private", "--set",
                                             "checks.timeout=3"});
        INFO("stswatch check exit " << ours.exit_code << ", stderr: " << ours.err);
        REQUIRE((ours.exit_code == 0 || ours.exit_code == 1));
        std::vector<std::string> sts_errors;
        const verdict mine = stswatch_verdict(json_object(ours.out), sts_errors);
        std::string errors;
        for (const auto& e : sts_errors)
            errors += e + " ";
        INFO("postfix-mta-sts-resolver: " << theirs.describe() << " | stswatch: " << mine.describe()
                                          << (errors.empty() ? "" : " (errors: " + errors + ")"));

        // The fixture does what it is meant to: a broken harness (everything failing) must not
        // pass as "agreement".
        CHECK(theirs.has_policy == f.resolver_gets_policy);
        CHECK(mine.has_policy == f.stswatch_gets_policy);
        if (f.difference.empty()) {
            CHECK(mine.has_policy == theirs.has_policy);
            if (mine.has_policy && theirs.has_policy) {
                CHECK(mine.mode == theirs.mode);
                CHECK(mine.mx == theirs.mx);
                CHECK(mine.max_age == theirs.max_age);
                CHECK(mine.id == theirs.id);
            }
            ++agreed;
        } else {
            INFO("documented difference: " << f.difference);
            CHECK(mine.has_policy != theirs.has_policy);
            ++documented;
        }
    }
    CHECK(agreed + documented == fs.size());
    CHECK(documented == 2);
}
