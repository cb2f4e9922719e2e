// Deployments of MTA-STS, TLS-RPT and MX for `stswatch check` to examine end to end: for each
// scenario domain, a zone served by a real DNS server (Knot), its policy host on a real nginx
// and its MX hosts as test SMTP servers, each on a loopback address of its own. A scenario
// starts healthy; its knobs break one thing at a time.
#pragma once

#include "tests/support/dns_server.hpp"
#include "tests/support/json_text.hpp"
#include "tests/support/loopback.hpp"
#include "tests/support/policy_host.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/support/test_mx.hpp"
#include "tests/support/test_support.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace stswatch::test {

// "{domain}" in any text of a scenario stands for the scenario's domain.
inline std::string with_domain(std::string text, const std::string& domain)
{
    for (std::size_t at = text.find("{domain}"); at != std::string::npos; at = text.find("{domain}", at + domain.size()))
        text.replace(at, 8, domain);
    return text;
}

struct scenario_mx {
    std::string label = "mx1";             // the host is <label>.<domain>
    std::uint16_t preference = 10;
    bool address = true;                   // an A record for the host
    bool listening = true;                 // an SMTP server on that address, port 25
    std::vector<std::string> cert_names;   // the certificate's names; empty = the host
    int cert_not_before_days = -1;
    int cert_not_after_days = 90;
    bool cert_self_signed = false;
    bool offer_starttls = true;
    int starttls_reply = 220;
    bool tls_garbage = false;
    int max_tls_version = 0;
    std::optional<std::string> greeting;   // default "220 <host> ESMTP"; "" = close at once
    // A second address for the host (a second A record), served like the first but with a
    // certificate ending this many days from now; 0: one address only.
    int second_address_cert_not_after_days = 0;
    // TLSA records at _25._tcp.<host>, as "usage selector matching-type hex"; "{spki_sha256}"
    // stands for the SHA-256 of the key of the certificate this MX presents.
    std::vector<std::string> tlsa;
};

struct scenario {
    std::string domain;                    // "mx-unreachable.chk.test"

    // TXT records at _mta-sts and _smtp._tls, one string per record (split into 255-byte
    // character-strings as needed).
    std::vector<std::string> sts_records = {"v=STSv1; id=20261126T120000"};
    std::vector<std::string> tlsrpt_records = {"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}"};

    // The policy host mta-sts.<domain>.
    bool policy_address = true;            // an A record
    bool policy_listening = true;          // nginx serves it
    std::optional<std::string> policy_body;   // default: enforce, every MX host, two weeks
    int policy_status = 200;
    std::string policy_content_type = "text/plain";
    std::string policy_location;           // for a 3xx status
    unsigned policy_delay_ms = 0;
    std::vector<std::string> policy_cert_names;   // empty = mta-sts.<domain>
    int policy_cert_not_before_days = -1;
    int policy_cert_not_after_days = 90;
    bool policy_cert_self_signed = false;

    std::vector<scenario_mx> mx = {scenario_mx{}};
    std::string extra_records;             // more zone lines

    // DNSSEC: the zone signed by Knot; its DS goes into the deployment's trust anchor file
    // (deployment::trust_anchor_file), with these lines ("{domain}" expanded) after it.
    bool dnssec = false;
    std::string anchor_lines;

    std::string mx_host(const scenario_mx& m) const { return m.label + "." + domain; }

    std::string default_policy() const
    {
        std::string body = "version: STSv1\r\nmode: enforce\r\n";
        for (const auto& m : mx)
            body += "mx: " + mx_host(m) + "\r\n";
        return body + "max_age: 1209600\r\n";
    }
};

// A TXT RDATA: the text as quoted character-strings of at most 255 bytes (RFC 1035 §3.3.14).
inline std::string txt_rdata(const std::string& text)
{
    std::string out;
    std::size_t at = 0;
    do {
        const std::string chunk = text.substr(at, 255);
        at += 255;
        out += out.empty() ? "\"" : " \"";
        for (const char c : chunk) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        out += '"';
    } while (at < text.size());
    return out;
}

// Every server of a set of scenarios, running until destroyed.
class deployment {
public:
    explicit deployment(std::vector<scenario> scenarios) : scenarios_(std::move(scenarios))
    {
        std::vector<policy_vhost> vhosts;
        std::vector<test_zone> zones;
        for (const auto& s : scenarios_) {
            const std::string& d = s.domain;
            std::ostringstream zone;
            zone << zone_file(d);
            for (const auto& r : s.sts_records)
                zone << "_mta-sts TXT " << txt_rdata(with_domain(r, d)) << "\n";
            for (const auto& r : s.tlsrpt_records)
                zone << "_smtp._tls TXT " << txt_rdata(with_domain(r, d)) << "\n";

            if (s.policy_address) {
                policy_vhost v;
                v.address = unique_loopback_address();
                v.server_name = "mta-sts." + d;
                std::vector<std::string> names;
                for (const auto& n : s.policy_cert_names)
                    names.push_back(with_domain(n, d));
                if (names.empty())
                    names.push_back(v.server_name);
                v.cert = make_test_cert(names, s.policy_cert_not_before_days, s.policy_cert_not_after_days,
                                        s.policy_cert_self_signed);
                v.status = s.policy_status;
                v.content_type = s.policy_content_type;
                v.body = with_domain(s.policy_body.value_or(s.default_policy()), d);
                v.location = with_domain(s.policy_location, d);
                v.delay_ms = s.policy_delay_ms;
                zone << "mta-sts A " << v.address << "\n";
                if (s.policy_listening)
                    vhosts.push_back(std::move(v));
            }

            for (const auto& m : s.mx) {
                const std::string host = s.mx_host(m);
                zone << "@ MX " << m.preference << " " << host << ".\n";
                if (!m.address)
                    continue;
                std::string address = unique_loopback_address();
                std::string spki;
                if (m.listening)
                    address = start_mx(s, m, spki);
                zone << m.label << " A " << address << "\n";
                for (std::string t : m.tlsa) {
                    if (const auto at = t.find("{spki_sha256}"); at != std::string::npos) {
                        REQUIRE_FALSE(spki.empty());   // only an MX that listens presents a key
                        t.replace(at, 13, spki);
                    }
                    zone << "_25._tcp." << m.label << " TLSA " << t << "\n";
                }
                if (m.second_address_cert_not_after_days != 0) {
                    scenario_mx second = m;
                    second.cert_not_before_days = std::min(-1, m.second_address_cert_not_after_days - 30);
                    second.cert_not_after_days = m.second_address_cert_not_after_days;
                    std::string ignored;
                    zone << m.label << " A " << start_mx(s, second, ignored) << "\n";
                }
            }
            zone << with_domain(s.extra_records, d) << "\n";
            zones.push_back({d, zone.str(), s.dnssec});
        }
        if (!vhosts.empty())
            policy_ = std::make_unique<policy_hosts>(std::move(vhosts));
        dns_ = std::make_unique<dns_server>(zones);
    }

    std::string resolver() const { return dns_->address(); }

    bool signed_zones() const
    {
        return std::any_of(scenarios_.begin(), scenarios_.end(), [](const scenario& s) { return s.dnssec; });
    }

    // A trust anchor file for checks.trust_anchor: the DS of every signed scenario zone, then
    // each scenario's anchor_lines.
    std::string trust_anchor_file() const
    {
        std::vector<std::string> zones;
        std::string extra;
        for (const auto& s : scenarios_) {
            if (s.dnssec)
                zones.push_back(s.domain);
            if (!s.anchor_lines.empty())
                extra += with_domain(s.anchor_lines, s.domain) + "\n";
        }
        return dns_->trust_anchor_file(zones, extra);
    }
    const std::vector<scenario>& scenarios() const { return scenarios_; }

    // Runs `stswatch check` on domains with this deployment's resolver and the test CA.
    run_result check(const std::vector<std::string>& domains, const std::vector<std::string>& extra = {}) const
    {
        return run_check(domains, resolver(), extra);
    }

    static run_result run_check(const std::vector<std::string>& domains, const std::string& resolver,
                                const std::vector<std::string>& extra = {})
    {
        std::vector<std::string> argv = {required_env("STSWATCH_BIN"), "check"};
        argv.insert(argv.end(), domains.begin(), domains.end());
        // A short probe timeout keeps scenarios that wait for one quick.
        for (const char* a : {"--json", "--allow-private", "--set", "checks.timeout=2"})
            argv.emplace_back(a);
        argv.insert(argv.end(), {"--resolver", resolver, "--ca-file", test_ca_file()});
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run_program(argv);
    }

private:
    // An SMTP server for m on an address of its own: another address when one is taken.
    // spki: the SHA-256 of its certificate's key, hex.
    std::string start_mx(const scenario& s, const scenario_mx& m, std::string& spki)
    {
        const std::string host = s.mx_host(m);
        std::vector<std::string> names;
        for (const auto& n : m.cert_names)
            names.push_back(with_domain(n, s.domain));
        if (names.empty())
            names.push_back(host);
        const test_cert cert = make_test_cert(names, m.cert_not_before_days, m.cert_not_after_days, m.cert_self_signed);
        test_mx_options o;
        o.greeting = m.greeting.value_or("220 " + host + " ESMTP");
        o.offer_starttls = m.offer_starttls;
        o.starttls_reply = m.starttls_reply;
        o.tls_garbage = m.tls_garbage;
        o.max_tls_version = m.max_tls_version;
        o.cert_file = cert.cert_file;
        o.key_file = cert.key_file;
        spki = spki_sha256_hex(cert.cert_file);
        try {
            return on_own_address([&](const std::string& address) {
                o.address = address;
                mx_.push_back(std::make_unique<test_mx>(o));
                return address;
            });
        } catch (const std::system_error& e) {
            FAIL("cannot start the test MX for " << host << ": " << e.what());
        }
        return {};
    }

    std::vector<scenario> scenarios_;
    std::vector<std::unique_ptr<test_mx>> mx_;
    std::unique_ptr<policy_hosts> policy_;
    std::unique_ptr<dns_server> dns_;
};

// The JSON documents of a `stswatch check --json` run: one document for one domain, one
// line each for several.
inline std::vector<Poco::JSON::Object::Ptr> check_documents(const std::string& out, std::size_t domains)
{
    std::vector<Poco::JSON::Object::Ptr> docs;
    INFO("stswatch check --json output");
    for (const auto& t : domains == 1 ? std::vector<std::string>{out} : nonempty_lines(out))
        docs.push_back(json_object(t));
    return docs;
}

// The document of domain among docs; FAILs when there is none.
inline Poco::JSON::Object::Ptr document_of(const std::vector<Poco::JSON::Object::Ptr>& docs, const std::string& domain)
{
    for (const auto& d : docs) {
        if (d->has("domain") && d->getValue<std::string>("domain") == domain)
            return d;
    }
    FAIL("no check result for " << domain);
    return {};
}

// The findings of a document as "code subject" lines, for failure messages.
inline std::string findings_summary(const Poco::JSON::Object::Ptr& doc)
{
    std::string out;
    const auto findings = doc->getArray("findings");
    for (std::size_t i = 0; findings && i < findings->size(); ++i) {
        const auto f = findings->getObject(static_cast<unsigned>(i));
        out += "  " + f->getValue<std::string>("severity") + " " + f->getValue<std::string>("code") + " " +
               f->getValue<std::string>("subject") + ": " + f->getValue<std::string>("message") + "\n";
    }
    return out.empty() ? "  (no findings)\n" : out;
}

inline bool has_finding(const Poco::JSON::Object::Ptr& doc, const std::string& code, const std::string& subject)
{
    const auto findings = doc->getArray("findings");
    for (std::size_t i = 0; findings && i < findings->size(); ++i) {
        const auto f = findings->getObject(static_cast<unsigned>(i));
        if (f->getValue<std::string>("code") == code && f->getValue<std::string>("subject") == subject)
            return true;
    }
    return false;
}

} // namespace stswatch::test
