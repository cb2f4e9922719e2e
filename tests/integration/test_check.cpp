// `stswatch check` end to end against real servers: one scenario per finding code of the
// catalogue (a broken record, policy host, policy or MX), a healthy domain, the JSON shape
// and the exit codes (0 healthy, 1 errors found, 69 DNS unavailable).
#include "mtasts/findings.hpp"
#include "common/utf8.hpp"
#include "tests/support/check_scenario.hpp"

#include <catch2/catch.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

using namespace stswatch;
using namespace stswatch::test;

namespace {

struct code_scenario {
    std::string name;       // the domain's first label; the code, or the code and a variant
    std::string code;       // the finding expected; "" for a healthy control with none
    std::string subject;    // its subject ("{domain}" = the scenario's domain)
    std::function<void(scenario&)> breakage;
    std::set<std::string> also = {};   // other codes the breakage rightly causes
};

// Scenarios that share one deployment and one run of the checker.
struct scenario_group {
    std::string name;
    std::vector<code_scenario> scenarios;
};

const std::string sts_subject = "_mta-sts.{domain}";
const std::string policy_subject = "mta-sts.{domain}";
const std::string tlsrpt_subject = "_smtp._tls.{domain}";
const std::string mx1_subject = "mx1.{domain}";

std::string policy(const std::string& mode, const std::string& max_age, const std::vector<std::string>& mx)
{
    std::string body = "version: STSv1\nmode: " + mode + "\n";
    for (const auto& m : mx)
        body += "mx: " + m + "\n";
    return body + "max_age: " + max_age + "\n";
}

const std::vector<scenario_group>& groups()
{
    static const std::vector<scenario_group> all = {
        {"records", {
            // Neither record nor policy host: MTA-STS is not deployed.
            {"sts-record-missing", "sts-record-missing", sts_subject, [](scenario& s) {
                 s.sts_records.clear();
                 s.policy_address = false;
             }},
            // The policy is served but the record is missing: MTA-STS is silently off.
            {"sts-record-missing-policy-served", "sts-record-missing-policy-served", sts_subject,
             [](scenario& s) { s.sts_records.clear(); }},
            {"sts-record-multiple", "sts-record-multiple", sts_subject,
             [](scenario& s) { s.sts_records = {"v=STSv1; id=20261126T120000", "v=STSv1; id=20261127T120000"}; }},
            {"sts-record-syntax", "sts-record-syntax", sts_subject,
             [](scenario& s) { s.sts_records = {"v=STSv1 id=20261126T120000"}; }},
            {"sts-record-version", "sts-record-version", sts_subject,
             [](scenario& s) { s.sts_records = {"v=STSv2; id=20261126T120000"}; }},
            {"sts-record-version-case", "sts-record-version", sts_subject,
             [](scenario& s) { s.sts_records = {"v=stsv1; id=20261126T120000"}; }},
            {"sts-record-id-missing", "sts-record-id-missing", sts_subject,
             [](scenario& s) { s.sts_records = {"v=STSv1;"}; }},
            {"sts-record-id-invalid", "sts-record-id-invalid", sts_subject,
             [](scenario& s) { s.sts_records = {"v=STSv1; id=2026-11-26"}; }},
            {"tlsrpt-record-missing", "tlsrpt-record-missing", tlsrpt_subject,
             [](scenario& s) { s.tlsrpt_records.clear(); }},
            {"tlsrpt-record-multiple", "tlsrpt-record-multiple", tlsrpt_subject,
             [](scenario& s) {
                 s.tlsrpt_records = {"v=TLSRPTv1; rua=mailto:a@{domain}", "v=TLSRPTv1; rua=mailto:b@{domain}"};
             }},
            {"tlsrpt-record-syntax", "tlsrpt-record-syntax", tlsrpt_subject,
             [](scenario& s) { s.tlsrpt_records = {"v=TLSRPTv1 rua=mailto:tlsrpt@{domain}"}; }},
            {"tlsrpt-rua-missing", "tlsrpt-rua-missing", tlsrpt_subject,
             [](scenario& s) { s.tlsrpt_records = {"v=TLSRPTv1;"}; }},
            {"tlsrpt-rua-invalid", "tlsrpt-rua-invalid", tlsrpt_subject,
             [](scenario& s) { s.tlsrpt_records = {"v=TLSRPTv1; rua=ftp://reports.{domain}/tlsrpt,mailto:tlsrpt@{domain}"}; }},
        }},
        {"policy-fetch", {
            {"sts-policy-fetch-failed", "sts-policy-fetch-failed", policy_subject,
             [](scenario& s) { s.policy_listening = false; }},
            {"sts-policy-fetch-failed-no-address", "sts-policy-fetch-failed", policy_subject,
             [](scenario& s) { s.policy_address = false; }},
            {"sts-policy-fetch-failed-timeout", "sts-policy-fetch-failed", policy_subject,
             [](scenario& s) { s.policy_delay_ms = 4000; }},
            {"sts-policy-cert-invalid", "sts-policy-cert-invalid", policy_subject,
             [](scenario& s) { s.policy_cert_names = {"www.{domain}"}; }},
            {"sts-policy-cert-invalid-expired", "sts-policy-cert-invalid", policy_subject,
             [](scenario& s) {
                 s.policy_cert_not_before_days = -30;
                 s.policy_cert_not_after_days = -1;
             }},
            {"sts-policy-cert-invalid-self-signed", "sts-policy-cert-invalid", policy_subject,
             [](scenario& s) { s.policy_cert_self_signed = true; }},
            {"sts-policy-http-status", "sts-policy-http-status", policy_subject,
             [](scenario& s) { s.policy_status = 404; }},
            {"sts-policy-http-status-500", "sts-policy-http-status", policy_subject,
             [](scenario& s) { s.policy_status = 500; }},
            {"sts-policy-redirect", "sts-policy-redirect", policy_subject,
             [](scenario& s) {
                 s.policy_status = 301;
                 s.policy_location = "https://www.{domain}/.well-known/mta-sts.txt";
             }},
            {"sts-policy-content-type", "sts-policy-content-type", policy_subject,
             [](scenario& s) { s.policy_content_type = "text/html"; }},
            {"sts-policy-too-large", "sts-policy-too-large", policy_subject,
             [](scenario& s) { s.policy_body = s.default_policy() + std::string(70000, '#'); }},
        }},
        {"policy-content", {
            {"sts-policy-syntax", "sts-policy-syntax", policy_subject,
             [](scenario& s) { s.policy_body = s.default_policy() + "this line is not key-value\n"; }},
            {"sts-policy-version", "sts-policy-version", policy_subject,
             [](scenario& s) { s.policy_body = "mode: enforce\nmx: mx1.{domain}\nmax_age: 1209600\n"; }},
            {"sts-policy-mode", "sts-policy-mode", policy_subject,
             [](scenario& s) { s.policy_body = policy("strict", "1209600", {"mx1.{domain}"}); }},
            {"sts-policy-max-age", "sts-policy-max-age", policy_subject,
             [](scenario& s) { s.policy_body = policy("enforce", "forever", {"mx1.{domain}"}); }},
            {"sts-policy-mx-missing", "sts-policy-mx-missing", policy_subject,
             [](scenario& s) { s.policy_body = policy("enforce", "1209600", {}); }},
            {"sts-policy-mx-invalid", "sts-policy-mx-invalid", policy_subject,
             [](scenario& s) { s.policy_body = policy("enforce", "1209600", {"mx1.{domain}", "mx1.{domain}."}); }},
            {"sts-mode-testing", "sts-mode-testing", policy_subject,
             [](scenario& s) { s.policy_body = policy("testing", "1209600", {"mx1.{domain}"}); }},
            {"sts-mode-none", "sts-mode-none", policy_subject,
             [](scenario& s) { s.policy_body = policy("none", "1209600", {"mx1.{domain}"}); }},
            {"sts-max-age-short", "sts-max-age-short", policy_subject,
             [](scenario& s) { s.policy_body = policy("enforce", "3600", {"mx1.{domain}"}); }},
        }},
        {"mx", {
            {"mx-missing", "mx-missing", "{domain}",
             [](scenario& s) {
                 s.mx.clear();
                 s.policy_body = policy("enforce", "1209600", {"mail.{domain}"});
             }},
            {"mx-not-covered", "mx-not-covered", "mx2.{domain}",
             [](scenario& s) {
                 scenario_mx second;
                 second.label = "mx2";
                 second.preference = 20;
                 s.mx.push_back(second);
                 s.policy_body = policy("enforce", "1209600", {"mx1.{domain}"});
             }},
            // RFC 8461 §4.1: "*." stands for exactly one label.
            {"mx-not-covered-wildcard-depth", "mx-not-covered", "a.mx.{domain}",
             [](scenario& s) {
                 s.mx[0].label = "a.mx";
                 s.policy_body = policy("enforce", "1209600", {"*.{domain}"});
             },
             {"policy-mx-unused"}},
            {"policy-mx-unused", "policy-mx-unused", "old.{domain}",
             [](scenario& s) { s.policy_body = policy("enforce", "1209600", {"mx1.{domain}", "old.{domain}"}); }},
            {"mx-no-address", "mx-no-address", mx1_subject, [](scenario& s) { s.mx[0].address = false; }},
            {"mx-unreachable", "mx-unreachable", mx1_subject, [](scenario& s) { s.mx[0].listening = false; }},
            {"mx-unreachable-no-greeting", "mx-unreachable", mx1_subject, [](scenario& s) { s.mx[0].greeting = ""; }},
            {"mx-starttls-missing", "mx-starttls-missing", mx1_subject,
             [](scenario& s) { s.mx[0].offer_starttls = false; }},
            {"mx-starttls-missing-refused", "mx-starttls-missing", mx1_subject,
             [](scenario& s) { s.mx[0].starttls_reply = 454; }},
            {"mx-tls-failed", "mx-tls-failed", mx1_subject, [](scenario& s) { s.mx[0].tls_garbage = true; }},
            {"mx-tls-version-old", "mx-tls-version-old", mx1_subject,
             [](scenario& s) { s.mx[0].max_tls_version = TLS1_1_VERSION; }},
            {"mx-cert-untrusted", "mx-cert-untrusted", mx1_subject,
             [](scenario& s) { s.mx[0].cert_self_signed = true; }},
            {"mx-cert-expired", "mx-cert-expired", mx1_subject,
             [](scenario& s) {
                 s.mx[0].cert_not_before_days = -30;
                 s.mx[0].cert_not_after_days = -1;
             }},
            {"mx-cert-expiring", "mx-cert-expiring", mx1_subject,
             [](scenario& s) {
                 s.mx[0].cert_not_before_days = -80;
                 s.mx[0].cert_not_after_days = 5;
             }},
            {"mx-cert-name-mismatch", "mx-cert-name-mismatch", mx1_subject,
             [](scenario& s) { s.mx[0].cert_names = {"other.{domain}"}; }},
            // Every address of an MX is probed: the second one's certificate has expired.
            {"mx-cert-expired-second-address", "mx-cert-expired", mx1_subject,
             [](scenario& s) { s.mx[0].second_address_cert_not_after_days = -1; }},
            // A check probes at most 20 MX hosts: the 21st by preference is reported, not probed.
            {"mx-not-probed", "mx-not-probed", "mx21.{domain}",
             [](scenario& s) {
                 s.mx.clear();
                 for (int i = 1; i <= 21; ++i) {
                     scenario_mx m;
                     m.label = "mx" + std::to_string(i);
                     m.preference = static_cast<std::uint16_t>(i);
                     m.listening = false;
                     s.mx.push_back(m);
                 }
             },
             {"mx-unreachable"}},
        }},
        // DANE (RFC 7672): zones signed by Knot, checked by a resolver that validates with
        // their DS as trust anchor. A healthy DANE MX publishes two records: one for the key
        // in use and one for the next.
        {"dane", {
            {"mx-tlsa-missing", "mx-tlsa-missing", mx1_subject, [](scenario& s) { s.dnssec = true; }},
            {"mx-tlsa-rollover-hazard", "mx-tlsa-rollover-hazard", mx1_subject,
             [](scenario& s) {
                 s.dnssec = true;
                 s.mx[0].tlsa = {"3 1 1 {spki_sha256}"};
             }},
            {"mx-tlsa-mismatch", "mx-tlsa-mismatch", mx1_subject,
             [](scenario& s) {
                 s.dnssec = true;
                 s.mx[0].tlsa = {"3 1 1 " + std::string(64, '0'), "3 1 1 " + std::string(64, 'a')};
             }},
            // A PKIX-EE record (usage 1) is one SMTP senders do not use, beside two good ones.
            {"mx-tlsa-malformed", "mx-tlsa-malformed", mx1_subject,
             [](scenario& s) {
                 s.dnssec = true;
                 s.mx[0].tlsa = {"1 1 1 {spki_sha256}", "3 1 1 {spki_sha256}", "3 1 1 " + std::string(64, 'b')};
             }},
            // TLSA records in a zone that is not signed, seen by the same validating resolver.
            {"mx-tlsa-unsigned", "mx-tlsa-unsigned", mx1_subject,
             [](scenario& s) { s.mx[0].tlsa = {"3 1 1 {spki_sha256}", "3 1 1 " + std::string(64, 'c')}; }},
            // The zone validates, but the trust anchor claims a zone cut at _tcp.mx1 with a
            // key that does not exist: the TLSA answer below it cannot validate.
            {"mx-dnssec-bogus", "mx-dnssec-bogus", mx1_subject,
             [](scenario& s) {
                 s.dnssec = true;
                 s.mx[0].tlsa = {"3 1 1 {spki_sha256}", "3 1 1 " + std::string(64, 'd')};
                 s.anchor_lines = "_tcp.mx1.{domain}. DS 12345 13 2 " + std::string(64, '0');
             }},
            // The control: a healthy DANE MX has no finding at all.
            {"dane-healthy", "", mx1_subject,
             [](scenario& s) {
                 s.dnssec = true;
                 s.mx[0].tlsa = {"3 1 1 {spki_sha256}", "3 1 1 " + std::string(64, 'e')};
             }},
        }},
    };
    return all;
}

const std::string zone_suffix = ".chk.test";

// Codes whose scenarios live elsewhere: a policy change between two checks is the monitor's
// (its tests), a DNS failure has its own test case below.
const std::set<std::string> covered_elsewhere = {"sts-policy-changed-without-id", "sts-policy-expired-at-senders",
                                                 "sts-record-dns-error"};
const scenario_group& group(const std::string& name)
{
    REQUIRE(groups().size() >= 4);
    for (const auto& g : groups()) {
        if (g.name == name)
            return g;
    }
    FAIL("no scenario group " << name);
    throw std::logic_error("unreachable");
}

// The deployment of a group and the output of one check of all its domains, made once per
// process (the sections of a group's test case each look at one scenario of it).
struct group_run {
    std::unique_ptr<deployment> servers;
    run_result result;
    std::vector<Poco::JSON::Object::Ptr> documents;
};

const group_run& run_group(const std::string& name)
{
    static std::map<std::string, group_run> runs;
    auto found = runs.find(name);
    if (found != runs.end())
        return found->second;

    std::vector<scenario> scenarios;
    std::vector<std::string> domains;
    for (const auto& cs : group(name).scenarios) {
        scenario s;
        s.domain = cs.name + zone_suffix;
        cs.breakage(s);
        domains.push_back(s.domain);
        scenarios.push_back(std::move(s));
    }
    group_run run;
    run.servers = std::make_unique<deployment>(std::move(scenarios));
    std::vector<std::string> extra;
    if (run.servers->signed_zones())
        extra = {"--set", "checks.trust_anchor=" + run.servers->trust_anchor_file()};
    run.result = run.servers->check(domains, extra);
    INFO("stderr: " << run.result.err);
    run.documents = check_documents(run.result.out, domains.size());
    REQUIRE(run.documents.size() == domains.size());
    return runs.emplace(name, std::move(run)).first->second;
}

// Every finding is a catalogued code with the catalogue's severity and RFC section, and says
// what is wrong.
void check_findings_are_catalogued(const Poco::JSON::Object::Ptr& doc)
{
    const auto findings = doc->getArray("findings");
    REQUIRE(findings);
    for (std::size_t i = 0; i < findings->size(); ++i) {
        const auto f = findings->getObject(static_cast<unsigned>(i));
        REQUIRE(f);
        const std::string code = f->getValue<std::string>("code");
        INFO("finding " << code);
        const finding_kind* kind = find_finding_kind(code);
        REQUIRE(kind != nullptr);
        // Without a policy in force the MX TLS errors are warnings, and say so.
        const bool softened = f->getValue<std::string>("message").find("no MTA-STS policy is in force") != std::string::npos;
        CHECK(f->getValue<std::string>("severity") == to_string(softened ? severity::warning : kind->level));
        CHECK(f->getValue<std::string>("rfc") == kind->rfc);
        CHECK_FALSE(f->getValue<std::string>("message").empty());
        CHECK_FALSE(f->getValue<std::string>("subject").empty());
    }
}

void check_group(const std::string& name)
{
    const group_run& run = run_group(name);
    INFO("stderr: " << run.result.err);
    // Every group holds at least one error-severity scenario.
    CHECK(run.result.exit_code == 1);
    for (const auto& cs : group(name).scenarios) {
        DYNAMIC_SECTION(cs.name) {
            const std::string domain = cs.name + zone_suffix;
            const auto doc = document_of(run.documents, domain);
            const std::string subject = with_domain(cs.subject, domain);
            INFO(domain << " findings:\n" << findings_summary(doc));
            if (!cs.code.empty())
                CHECK(has_finding(doc, cs.code, subject));
            check_findings_are_catalogued(doc);
            // The rest of the deployment is healthy: the breakage is all the checker finds.
            const auto findings = doc->getArray("findings");
            for (std::size_t i = 0; findings && i < findings->size(); ++i) {
                const std::string code = findings->getObject(static_cast<unsigned>(i))->getValue<std::string>("code");
                INFO("unexpected finding " << code);
                CHECK((code == cs.code || cs.also.count(code) == 1));
            }
        }
    }
}

std::string string_at(const Poco::JSON::Object::Ptr& o, const std::string& key)
{
    INFO("key " << key);
    REQUIRE(o->has(key));
    REQUIRE_FALSE(o->isNull(key));
    return o->getValue<std::string>(key);
}

} // namespace

TEST_CASE("every catalogued finding code has a check scenario")
{
    std::set<std::string> scenario_codes;
    std::set<std::string> names;
    REQUIRE(groups().size() >= 4);
    for (const auto& g : groups()) {
        for (const auto& cs : g.scenarios) {
            INFO("scenario " << cs.name);
            CHECK((cs.code.empty() || find_finding_kind(cs.code) != nullptr));
            CHECK(names.insert(cs.name).second);
            if (!cs.code.empty())
                scenario_codes.insert(cs.code);
        }
    }
    REQUIRE(finding_catalogue().size() >= 41);   // the catalogue as it stands
    for (const auto& kind : finding_catalogue()) {
        INFO("catalogued code " << kind.code);
        CHECK((scenario_codes.count(kind.code) == 1 || covered_elsewhere.count(kind.code) == 1));
    }
}

TEST_CASE("check finds broken _mta-sts and _smtp._tls records")
{
    check_group("records");
}

TEST_CASE("check finds policy hosts that do not serve the policy as RFC 8461 section 3.3 asks")
{
    check_group("policy-fetch");
}

TEST_CASE("check finds broken and weak policies")
{
    check_group("policy-content");
}

TEST_CASE("check finds MX hosts not covered, unreachable, without TLS or with bad certificates")
{
    check_group("mx");
}

TEST_CASE("check judges DANE on signed zones as a validating sender sees them")
{
    check_group("dane");
    // What the healthy control's MX shows: a secure answer, both records, one matching.
    const group_run& run = run_group("dane");
    const auto doc = document_of(run.documents, "dane-healthy" + zone_suffix);
    const auto mx = doc->getArray("mx")->getObject(0);
    REQUIRE(mx);
    const auto dane = mx->getObject("dane");
    REQUIRE(dane);
    CHECK(dane->getValue<bool>("validated"));
    CHECK(dane->getValue<bool>("secure"));
    CHECK_FALSE(dane->getValue<bool>("bogus"));
    CHECK(dane->getArray("records")->size() == 2);
    REQUIRE(dane->getArray("matching")->size() == 1);
    CHECK(dane->getArray("matching")->getElement<std::string>(0).rfind("3 1 1 ", 0) == 0);
    CHECK(dane->getArray("matching")->getElement<std::string>(0) != "3 1 1 " + std::string(64, 'e'));
    // The unsigned zone's records are shown, though no sender acts on them.
    const auto unsigned_mx = document_of(run.documents, "mx-tlsa-unsigned" + zone_suffix)->getArray("mx")->getObject(0);
    CHECK_FALSE(unsigned_mx->getObject("dane")->getValue<bool>("secure"));
}

TEST_CASE("check of a healthy domain exits 0 with the documented JSON")
{
    scenario s;
    s.domain = "healthy" + zone_suffix;
    scenario_mx second;
    second.label = "mx2";
    second.preference = 20;
    s.mx.push_back(second);
    s.tlsrpt_records = {"v=TLSRPTv1; rua=mailto:tlsrpt@{domain},https://reports.{domain}/v1/tlsrpt"};
    deployment servers({s});

    const run_result r = servers.check({s.domain});
    INFO("stderr: " << r.err << "\nstdout: " << r.out);
    const auto docs = check_documents(r.out, 1);
    REQUIRE(docs.size() == 1);
    const auto doc = docs.front();
    INFO("findings:\n" << findings_summary(doc));
    CHECK(r.exit_code == 0);

    CHECK(string_at(doc, "domain") == s.domain);
    const std::string checked_at = string_at(doc, "checked_at");
    CHECK(checked_at.size() == 20);   // 2026-11-26T17:00:00Z
    CHECK(checked_at.back() == 'Z');

    const auto findings = doc->getArray("findings");
    REQUIRE(findings);
    for (std::size_t i = 0; i < findings->size(); ++i) {
        const auto f = findings->getObject(static_cast<unsigned>(i));
        CHECK(f->getValue<std::string>("severity") == "info");
    }
    check_findings_are_catalogued(doc);

    const auto sts = doc->getObject("sts");
    REQUIRE(sts);
    CHECK(string_at(sts, "record") == "v=STSv1; id=20261126T120000");
    CHECK(string_at(sts, "policy_text") == s.default_policy());
    const auto policy = sts->getObject("policy");
    REQUIRE(policy);
    CHECK(string_at(policy, "mode") == "enforce");
    CHECK(policy->getValue<Poco::UInt64>("max_age") == 1209600);
    const auto patterns = policy->getArray("mx");
    REQUIRE(patterns);
    REQUIRE(patterns->size() == 2);
    CHECK(patterns->getElement<std::string>(0) == "mx1." + s.domain);
    CHECK(patterns->getElement<std::string>(1) == "mx2." + s.domain);

    const auto tlsrpt = doc->getObject("tlsrpt");
    REQUIRE(tlsrpt);
    CHECK(string_at(tlsrpt, "record") == with_domain(s.tlsrpt_records.front(), s.domain));
    const auto rua = tlsrpt->getArray("rua");
    REQUIRE(rua);
    REQUIRE(rua->size() == 2);
    CHECK(rua->getElement<std::string>(0) == "mailto:tlsrpt@" + s.domain);
    CHECK(rua->getElement<std::string>(1) == "https://reports." + s.domain + "/v1/tlsrpt");

    const auto mx = doc->getArray("mx");
    REQUIRE(mx);
    REQUIRE(mx->size() == 2);
    for (unsigned i = 0; i < 2; ++i) {
        const auto m = mx->getObject(i);
        const std::string host = (i == 0 ? "mx1." : "mx2.") + s.domain;
        INFO("mx " << host);
        CHECK(string_at(m, "host") == host);
        CHECK(m->getValue<int>("preference") == (i == 0 ? 10 : 20));
        const auto addresses = m->getArray("addresses");
        REQUIRE(addresses);
        REQUIRE(addresses->size() == 1);
        CHECK(addresses->getElement<std::string>(0).rfind("127.", 0) == 0);
        CHECK(string_at(m, "covered_by") == host);
        CHECK(m->getValue<bool>("starttls"));
        const auto cert = m->getObject("certificate");
        REQUIRE(cert);
        const auto names = cert->getArray("subject_names");
        REQUIRE(names);
        REQUIRE(names->size() == 1);
        CHECK(names->getElement<std::string>(0) == host);
        CHECK(string_at(cert, "issuer").find("stswatch test CA") != std::string::npos);
        CHECK(string_at(cert, "not_after").back() == 'Z');
        CHECK(cert->getValue<bool>("trusted"));
    }
}

TEST_CASE("check exits 1 for a domain with an error finding and 0 for warnings or a wildcard policy")
{
    scenario broken;
    broken.domain = "exit-broken" + zone_suffix;
    broken.mx[0].listening = false;
    scenario testing;
    testing.domain = "exit-testing" + zone_suffix;
    testing.policy_body = policy("testing", "1209600", {"mx1.{domain}"});
    // RFC 8461 §4.1: "*.<domain>" covers mx1.<domain>; a wildcard certificate names it too.
    scenario wildcard;
    wildcard.domain = "exit-wildcard" + zone_suffix;
    wildcard.policy_body = policy("enforce", "1209600", {"*.{domain}"});
    wildcard.mx[0].cert_names = {"*.{domain}"};
    deployment servers({broken, testing, wildcard});

    const run_result b = servers.check({broken.domain});
    INFO("stderr: " << b.err << "\nstdout: " << b.out);
    CHECK(b.exit_code == 1);
    const auto bdoc = check_documents(b.out, 1).front();
    CHECK(has_finding(bdoc, "mx-unreachable", "mx1." + broken.domain));

    const run_result t = servers.check({testing.domain});
    INFO("stderr: " << t.err << "\nstdout: " << t.out);
    CHECK(t.exit_code == 0);
    const auto tdoc = check_documents(t.out, 1).front();
    CHECK(has_finding(tdoc, "sts-mode-testing", "mta-sts." + testing.domain));

    const run_result w = servers.check({wildcard.domain});
    INFO("stderr: " << w.err << "\nstdout: " << w.out);
    CHECK(w.exit_code == 0);
    const auto wdoc = check_documents(w.out, 1).front();
    INFO("findings:\n" << findings_summary(wdoc));
    CHECK(wdoc->getArray("findings")->size() == 0);
    const auto mx = wdoc->getArray("mx");
    REQUIRE(mx);
    REQUIRE(mx->size() == 1);
    CHECK(string_at(mx->getObject(0), "covered_by") == "*." + wildcard.domain);
}

TEST_CASE("without MTA-STS the MX TLS findings are warnings and a served policy without its record is an error")
{
    // No record, no policy host, an expired MX certificate: not deployed, one warning for
    // MTA-STS, and the certificate a warning (senders deliver without checking it).
    scenario bare;
    bare.domain = "sev-bare" + zone_suffix;
    bare.sts_records.clear();
    bare.policy_address = false;
    bare.mx[0].cert_not_before_days = -30;
    bare.mx[0].cert_not_after_days = -1;
    // The policy is served, the record is missing: the error, with the record to publish.
    scenario served;
    served.domain = "sev-served" + zone_suffix;
    served.sts_records.clear();
    deployment servers({bare, served});

    const run_result b = servers.check({bare.domain});
    INFO("stderr: " << b.err << "\nstdout: " << b.out);
    const auto bdoc = check_documents(b.out, 1).front();
    INFO("findings:\n" << findings_summary(bdoc));
    CHECK(b.exit_code == 0);
    CHECK(has_finding(bdoc, "sts-record-missing", "_mta-sts." + bare.domain));
    CHECK_FALSE(has_finding(bdoc, "sts-record-missing-policy-served", "_mta-sts." + bare.domain));
    const auto findings = bdoc->getArray("findings");
    bool expired_seen = false;
    for (std::size_t i = 0; i < findings->size(); ++i) {
        const auto f = findings->getObject(static_cast<unsigned>(i));
        CHECK(f->getValue<std::string>("severity") != "error");
        if (f->getValue<std::string>("code") == "mx-cert-expired") {
            expired_seen = true;
            CHECK(f->getValue<std::string>("severity") == "warning");
            CHECK_THAT(f->getValue<std::string>("message"), Catch::Contains("no MTA-STS policy is in force"));
        }
    }
    CHECK(expired_seen);

    const run_result s = servers.check({served.domain});
    INFO("stderr: " << s.err << "\nstdout: " << s.out);
    const auto sdoc = check_documents(s.out, 1).front();
    INFO("findings:\n" << findings_summary(sdoc));
    CHECK(s.exit_code == 1);
    CHECK(has_finding(sdoc, "sts-record-missing-policy-served", "_mta-sts." + served.domain));
    CHECK_FALSE(has_finding(sdoc, "sts-record-missing", "_mta-sts." + served.domain));
    for (std::size_t i = 0; i < sdoc->getArray("findings")->size(); ++i) {
        const auto f = sdoc->getArray("findings")->getObject(static_cast<unsigned>(i));
        if (f->getValue<std::string>("code") == "sts-record-missing-policy-served")
            CHECK_THAT(f->getValue<std::string>("message"), Catch::Matches(".*publish \"v=STSv1; id=[0-9]{8}T[0-9]{6}\" at _mta-sts\\..*"));
    }
    CHECK(sdoc->getObject("sts")->isNull("policy"));   // not the domain's policy: senders never fetch it
}

TEST_CASE("check exits 69 with sts-record-dns-error when the resolver does not answer")
{
    // A UDP and TCP port with nothing behind it.
    const std::string resolver = "127.0.0.1:" + std::to_string(free_port());
    const std::string domain = "dns-down" + zone_suffix;
    const run_result r = deployment::run_check({domain}, resolver);
    INFO("stderr: " << r.err << "\nstdout: " << r.out);
    CHECK(r.exit_code == 69);
    const auto docs = check_documents(r.out, 1);
    REQUIRE(docs.size() == 1);
    CHECK(has_finding(docs.front(), "sts-record-dns-error", "_mta-sts." + domain));
    CHECK(r.err.find(domain) != std::string::npos);
}

TEST_CASE("check shows hostile peer text safely: no terminal escapes, valid UTF-8 JSON that jsonb takes")
{
    scenario s;
    s.domain = "hostile-text" + zone_suffix;
    // A greeting with an OSC title sequence, a bell and bytes that are not UTF-8, and a
    // policy with a colour escape, a NUL and invalid UTF-8 on an extra line.
    s.mx[0].greeting = std::string("554 \x1b]0;owned\x07 \xff\xfe go away");
    s.policy_body = std::string("version: STSv1\nmode: enforce\nmx: mx1.{domain}\nmax_age: 1209600\n") +
                    "\x1b[2J\xc3\x28" + std::string(1, '\0') + "junk\n";
    deployment servers({s});

    const run_result j = servers.check({s.domain});
    INFO("stderr: " << j.err << "\nstdout: " << j.out);
    CHECK(j.exit_code == 1);
    CHECK(is_valid_utf8(j.out));
    const auto doc = check_documents(j.out, 1).front();
    INFO("findings:\n" << findings_summary(doc));
    CHECK(has_finding(doc, "mx-unreachable", "mx1." + s.domain));
    CHECK(has_finding(doc, "sts-policy-syntax", "mta-sts." + s.domain));
    const std::string policy_text = string_at(doc->getObject("sts"), "policy_text");
    CHECK(is_valid_utf8(policy_text));
    CHECK(policy_text.find('\0') == std::string::npos);
    CHECK(policy_text.find("max_age: 1209600") != std::string::npos);
    const auto probe = doc->getArray("mx")->getObject(0)->getObject("probe");
    REQUIRE(probe);
    CHECK(is_valid_utf8(string_at(probe, "banner")));
    CHECK_FALSE(doc->getArray("mx")->getObject(0)->getValue<bool>("starttls"));

    // The monitor stores this document as jsonb, which refuses NUL and invalid UTF-8.
    scratch_database db(false);
    std::string literal;
    for (const char c : j.out)
        literal += c == '\'' ? std::string("''") : std::string(1, c);
    CHECK(query_text(db.url(), "SELECT ('" + literal + "'::jsonb)->'sts'->>'record'") == "v=STSv1; id=20261126T120000");

    // The text report carries no control character but the newlines between its lines.
    std::vector<std::string> argv = {required_env("STSWATCH_BIN"), "check", s.domain, "--allow-private",
                                     "--set", "checks.timeout=2", "--resolver", servers.resolver(),
                                     "--ca-file", test_ca_file()};
    const run_result t = run_program(argv);
    INFO("text: " << t.out);
    CHECK(t.exit_code == 1);
    CHECK(t.out.find("mx-unreachable") != std::string::npos);
    CHECK(std::none_of(t.out.begin(), t.out.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && u != '\n') || u == 0x7f;
    }));
    CHECK(t.out.find("\\x1b") != std::string::npos);   // shown, not obeyed
}

TEST_CASE("check probes every address of an MX and shows the others in other_probes")
{
    const group_run& run = run_group("mx");
    const std::string domain = "mx-cert-expired-second-address" + zone_suffix;
    const auto doc = document_of(run.documents, domain);
    INFO("findings:\n" << findings_summary(doc));
    const auto mx = doc->getArray("mx");
    REQUIRE(mx);
    REQUIRE(mx->size() == 1);
    const auto m = mx->getObject(0);
    REQUIRE(m->getArray("addresses")->size() == 2);
    const auto others = m->getArray("other_probes");
    REQUIRE(others);
    REQUIRE(others->size() == 1);
    const auto other = others->getObject(0);
    const auto first = m->getObject("probe");
    REQUIRE(first);
    CHECK(string_at(other, "address") != string_at(first, "address"));
    CHECK(string_at(other, "status") == "ok");
    // One of the two certificates is the expired one, and the finding names its address.
    const auto first_cert = m->getObject("certificate");
    const auto other_cert = other->getObject("certificate");
    REQUIRE(first_cert);
    REQUIRE(other_cert);
    CHECK(first_cert->getValue<bool>("expired") != other_cert->getValue<bool>("expired"));
    const std::string expired_address =
        first_cert->getValue<bool>("expired") ? string_at(first, "address") : string_at(other, "address");
    const auto findings = doc->getArray("findings");
    bool named = false;
    for (std::size_t i = 0; i < findings->size(); ++i) {
        const auto f = findings->getObject(static_cast<unsigned>(i));
        if (f->getValue<std::string>("code") == "mx-cert-expired")
            named = f->getValue<std::string>("message").find(expired_address) != std::string::npos;
    }
    CHECK(named);
}
