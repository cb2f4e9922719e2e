// One check of a domain (RFC 8461 MTA-STS, RFC 8460 TLS-RPT, RFC 3207 STARTTLS): the
// orchestration of the record, policy and probe modules. The JSON codec is in
// checks/check_json.cpp; the terminal text is the command's (app/check_text.cpp).
#include "checks/checker.hpp"

#include "common/domain.hpp"
#include "common/settings.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "common/utf8.hpp"
#include "mtasts/dane.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <stdexcept>
#include <thread>

namespace stswatch {

check_options check_options::from(const settings& s)
{
    check_options o;
    o.ca_file = s.checks_ca_file;
    o.allow_private = s.checks_allow_private;
    o.timeout_ms = s.checks_timeout * 1000u;
    o.mx_concurrency = s.checks_mx_concurrency;
    o.cert_expiring_days = s.checks_cert_expiring_days;
    return o;
}

namespace {

std::string now_rfc3339()
{
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    return format_rfc3339(utc_time{static_cast<std::int64_t>(secs), 0});
}

void append(std::vector<finding>& to, std::vector<finding> from)
{
    for (auto& f : from)
        to.push_back(std::move(f));
}

std::string dns_error_text(const std::string& error)
{
    return error.empty() ? std::string("no answer from the resolver") : error;
}

// A failed lookup of one of the domain's own records: the resolver cannot tell whether the
// record exists, so nothing about it can be judged.
finding dns_error_finding(const std::string& name, const char* type, const std::string& error)
{
    return make_finding("sts-record-dns-error", name,
        std::string("the ") + type + " lookup of " + name + " failed (" + dns_error_text(error) +
        "); the records could not be checked: make sure the resolver is reachable and the "
        "domain's name servers answer, then check again");
}

finding fetch_finding(const std::string& domain, const policy_fetch_result& f)
{
    const std::string subject = "mta-sts." + domain;
    const std::string where = f.url + (f.address.empty() ? std::string() : " (" + f.address + ")");
    const std::string why = f.error.empty() ? std::string() : ": " + f.error;
    switch (f.status) {
    case policy_fetch_status::cert_invalid:
        return make_finding("sts-policy-cert-invalid", subject,
            "senders will not accept the certificate of " + where + why +
            "; install a certificate for " + f.host + " from a public CA, with its full chain");
    case policy_fetch_status::http_status:
        return make_finding("sts-policy-http-status", subject,
            where + " answered HTTP " + std::to_string(f.http_status) +
            "; serve the policy file at that URL with status 200");
    case policy_fetch_status::redirect:
        return make_finding("sts-policy-redirect", subject,
            where + " answered HTTP " + std::to_string(f.http_status) + " redirecting to " +
            (f.location.empty() ? std::string("(no Location)") : quote_untrusted(f.location)) +
            "; senders do not follow redirects (RFC 8461 §3.3): serve the policy file directly at that URL");
    case policy_fetch_status::content_type:
        return make_finding("sts-policy-content-type", subject,
            where + " was served as " + quote_untrusted(f.content_type) +
            "; serve it with Content-Type: text/plain");
    case policy_fetch_status::too_large:
        return make_finding("sts-policy-too-large", subject,
            where + " is larger than 64 KiB" + why + "; serve only the policy file, which is a few lines");
    case policy_fetch_status::no_address:
        if (f.dns == dns_status::temporary_failure)
            return make_finding("sts-policy-fetch-failed", subject,
                "could not fetch " + f.url + ": the address lookup of " + f.host + " failed" + why +
                "; make sure the domain's name servers answer, then check again");
        return make_finding("sts-policy-fetch-failed", subject,
            "could not fetch " + f.url + ": " + f.host + " has no A or AAAA record" + why +
            "; publish an address for " + f.host + " that serves the policy over HTTPS");
    case policy_fetch_status::private_address:
        return make_finding("sts-policy-fetch-failed", subject,
            "did not fetch " + f.url + ": " + f.host + " resolves to the private or loopback address " +
            f.address + ", which senders on the internet cannot reach; publish a public address "
            "(or use --allow-private, checks.allow_private, to check a test deployment)");
    case policy_fetch_status::connect_failed:
        return make_finding("sts-policy-fetch-failed", subject,
            "could not connect to " + where + why +
            "; make sure a web server for " + f.host + " listens on port 443 and is reachable");
    case policy_fetch_status::tls_failed:
        return make_finding("sts-policy-fetch-failed", subject,
            "the TLS handshake with " + where + " failed" + why +
            "; configure HTTPS for " + f.host + " with a certificate for that name");
    case policy_fetch_status::bad_response:
        return make_finding("sts-policy-fetch-failed", subject,
            "the answer of " + where + " is not a complete HTTP response" + why +
            "; check the web server for " + f.host);
    case policy_fetch_status::invalid_response:
        return make_finding("sts-policy-fetch-failed", subject,
            "the answer of " + where + " is not HTTP" + why +
            "; make the web server for " + f.host + " answer HTTPS requests on port 443");
    case policy_fetch_status::ok:
        break;
    }
    throw std::logic_error("fetch_finding called for a successful fetch");
}

// RFC 8461 §4.1: an MX host must match one of the policy's mx patterns.
// Whether senders apply an MTA-STS policy of the domain: a usable record and a usable
// policy whose mode is not none (testing mode counts: senders check and report, and
// testing exists to find what enforce would refuse).
bool policy_in_force(const check_result& r)
{
    return r.sts.record.has_value() && r.sts.policy.has_value() && r.sts.policy->mode != sts_mode::none;
}

// Without a policy in force, a standards-following sender delivers whatever the MX's TLS
// (RFC 8461 §5: MTA-STS is what makes TLS failures block delivery; DANE is checked apart):
// the MX TLS findings are then warnings, to be fixed before a policy is published.
void soften_tls_findings(std::vector<finding>& findings)
{
    static const std::vector<std::string> tls_codes = {"mx-starttls-missing", "mx-tls-failed", "mx-cert-untrusted",
                                                       "mx-cert-expired", "mx-cert-name-mismatch"};
    for (auto& f : findings) {
        if (f.level != severity::error || std::find(tls_codes.begin(), tls_codes.end(), f.code) == tls_codes.end())
            continue;
        f.level = severity::warning;
        f.message += " (a warning while no MTA-STS policy is in force: senders deliver without checking; "
                     "fix it before publishing one)";
    }
}

// The record is missing but mta-sts.<domain> serves a usable policy: MTA-STS is silently
// off. The finding replaces sts-record-missing and names the record to publish.
void record_missing_but_policy_served(check_result& r, const policy_fetch_result& served, const sts_policy& policy)
{
    r.findings.erase(std::remove_if(r.findings.begin(), r.findings.end(),
                                    [](const finding& f) { return f.code == "sts-record-missing"; }),
                     r.findings.end());
    std::string id = r.checked_at.substr(0, r.checked_at.find('.'));   // 20261204T035800
    id.erase(std::remove_if(id.begin(), id.end(), [](char c) { return c == '-' || c == ':' || c == 'Z'; }), id.end());
    r.findings.push_back(make_finding(
        "sts-record-missing-policy-served", "_mta-sts." + r.domain,
        served.url + " serves a valid policy (mode " + to_string(policy.mode) +
            "), but no TXT record at _mta-sts." + r.domain +
            " begins with v=STSv1, so senders never fetch it and MTA-STS is off; publish \"v=STSv1; id=" + id +
            "\" at _mta-sts." + r.domain));
}

void check_coverage(check_result& r)
{
    const sts_policy& policy = *r.sts.policy;
    const std::string patterns = policy.mx.empty() ? std::string("none") : text::join(policy.mx, ", ");
    const std::string record_name = "_mta-sts." + r.domain;
    bool any_live = false;
    for (auto& mx : r.mx) {
        if (mx.host.empty())
            continue;
        any_live = any_live || !mx.from_reports;
        mx.covered_by = covering_pattern(policy.mx, mx.host);
        // RFC 8461 §5: with mode "none" senders act as if there were no policy.
        if (mx.covered_by || policy.mode == sts_mode::none)
            continue;
        if (mx.from_reports)
            r.findings.push_back(make_finding("mx-not-covered", mx.host,
                mx.host + " was seen as the receiving MX in the domain's TLS reports but matches none of the "
                "policy's mx patterns (" + patterns + "); senders that still deliver to it will fail: add a "
                "pattern for it to the policy and change the id in " + record_name));
        else
            r.findings.push_back(make_finding("mx-not-covered", mx.host,
                mx.host + " is an MX of " + r.domain + " but matches none of the policy's mx patterns (" +
                patterns + "); " +
                // RFC 8461 §5: in testing mode senders still deliver, and report the failure.
                (policy.mode == sts_mode::testing
                     ? "senders still deliver to it in testing mode but report every delivery as a failure, "
                       "and will refuse it once the mode is enforce"
                     : "senders will refuse to deliver to it") +
                ": add a pattern for it to the policy and change the id in " + record_name));
    }
    if (!any_live || policy.mode == sts_mode::none)
        return;   // mx-missing already says why no pattern is used
    for (const auto& pattern : policy.mx) {
        const bool used = std::any_of(r.mx.begin(), r.mx.end(), [&](const mx_check& mx) {
            return !mx.host.empty() && mx_pattern_matches(pattern, mx.host);
        });
        if (!used)
            r.findings.push_back(make_finding("policy-mx-unused", pattern,
                "the policy's mx pattern \"" + pattern + "\" matches none of the MX hosts of " + r.domain +
                "; remove it from the policy (and change the id in " + record_name + ") unless an MX is about to be added"));
    }
}

// Bounds on one check, whatever the domain publishes: a monitor that checks many domains
// must not spend an hour on one that lists hundreds of MX hosts or addresses.
constexpr std::size_t max_checked_mx = 20;             // MX hosts resolved and probed, by preference
constexpr std::size_t max_probed_addresses = 4;        // addresses probed per MX host
constexpr unsigned probe_budget_timeouts = 4;          // no probe starts after 4 x checks.timeout
constexpr unsigned resolve_budget_timeouts = 2;        // no MX lookup starts after 2 x checks.timeout

using steady = std::chrono::steady_clock;

steady::time_point budget_after(unsigned timeouts, const check_options& options)
{
    return steady::now() + std::chrono::milliseconds(std::uint64_t{timeouts} * options.timeout_ms);
}

void resolve_addresses(check_result& r, dns_resolver& resolver, std::vector<finding>& findings,
                       const check_options& options)
{
    // The lookups are one after another (the resolver serialises them), each bounded by the
    // resolver's timeout: with a slow authority, the MX hosts left when the budget is spent
    // are reported rather than waited for.
    const auto budget_end = budget_after(resolve_budget_timeouts, options);
    std::size_t checked = 0;
    for (auto& mx : r.mx) {
        if (mx.host.empty() || mx.from_reports)
            continue;
        if (steady::now() >= budget_end) {
            findings.push_back(make_finding("mx-not-probed", mx.host,
                "not checked: the address lookups of the other MX hosts of " + r.domain + " used up this check's time (" +
                std::to_string(resolve_budget_timeouts * options.timeout_ms / 1000) +
                " s); make sure the name servers of the MX hosts answer quickly, then check again"));
            continue;
        }
        if (checked == max_checked_mx) {
            findings.push_back(make_finding("mx-not-probed", mx.host,
                "not checked: " + r.domain + " has more than " + std::to_string(max_checked_mx) +
                " MX hosts and a check resolves and probes the first " + std::to_string(max_checked_mx) +
                " by preference; senders rarely get this far down the list, but check " + mx.host + " on its own"));
            continue;
        }
        ++checked;
        auto a = resolver.a(mx.host);
        auto aaaa = resolver.aaaa(mx.host);
        // Sorted within each family: resolvers rotate the order (round robin), and a snapshot
        // should change only when the addresses do.
        if (a.status == dns_status::ok) {
            std::sort(a.records.begin(), a.records.end());
            mx.addresses.insert(mx.addresses.end(), a.records.begin(), a.records.end());
        }
        if (aaaa.status == dns_status::ok) {
            std::sort(aaaa.records.begin(), aaaa.records.end());
            mx.addresses.insert(mx.addresses.end(), aaaa.records.begin(), aaaa.records.end());
        }
        if (!mx.addresses.empty())
            continue;
        std::string why = "it has no A or AAAA record";
        if (a.status == dns_status::temporary_failure || aaaa.status == dns_status::temporary_failure)
            why = "its address lookup failed (" +
                  dns_error_text(a.status == dns_status::temporary_failure ? a.error : aaaa.error) + ")";
        findings.push_back(make_finding("mx-no-address", mx.host,
            mx.host + " is an MX of " + r.domain + " but " + why +
            "; publish an address for it or remove it from the MX records"));
    }
}

// The outcome of probing one MX: the probe (when one was made) and why not otherwise.
struct probe_outcome {
    std::optional<starttls_probe_result> probe;
    std::vector<starttls_probe_result> others;   // the MX's other addresses that answered
    bool refused_private = false;
    bool over_budget = false;   // not started: the check's time for probes had run out
};

probe_outcome probe_mx(const mx_check& mx, const check_options& options, steady::time_point budget_end)
{
    probe_outcome out;
    starttls_probe_options po;
    po.ca_file = options.ca_file;
    po.timeout_ms = options.timeout_ms;
    po.port = options.smtp_port;
    // RFC 5321 §5.1: a sender tries the addresses in turn until one answers, and different
    // senders get different first addresses (DNS round robin, IPv4 or IPv6). One address
    // with a stale certificate or without STARTTLS fails some of them, so every address is
    // probed (up to max_probed_addresses); the first that answers is the MX's probe.
    // IPv4 and IPv6 in turn: with many A records, the AAAA ones would otherwise never be
    // among the addresses probed, though senders with IPv6 use them.
    std::vector<std::string> v4, v6, order;
    for (const auto& address : mx.addresses)
        (address.find(':') == std::string::npos ? v4 : v6).push_back(address);
    for (std::size_t i = 0; i < std::max(v4.size(), v6.size()); ++i) {
        if (i < v4.size())
            order.push_back(v4[i]);
        if (i < v6.size())
            order.push_back(v6[i]);
    }
    std::size_t tried = 0;
    for (const auto& address : order) {
        if (tried == max_probed_addresses)
            break;
        // Each probe ends within its own bound (3 x checks.timeout); none starts after the
        // check's budget, except the MX's first, which decided that it is probed at all.
        if (tried > 0 && steady::now() >= budget_end)
            break;
        // The same SSRF guard as the policy fetch: a check must not be a way to reach
        // internal hosts.
        if (!options.allow_private && is_private_address(address)) {
            out.refused_private = true;
            continue;
        }
        ++tried;
        starttls_probe_result result;
        try {
            result = probe_starttls(mx.host, address, po);
        } catch (const std::exception& e) {
            // What a peer sends must never abort the whole check.
            result.status = starttls_status::smtp_error;
            result.host = mx.host;
            result.address = address;
            result.error = e.what();
        }
        if (!out.probe || (out.probe->status == starttls_status::unreachable && result.status != starttls_status::unreachable))
            out.probe = std::move(result);   // the first address a sender gets an answer from (or the first tried)
        else if (result.status != starttls_status::unreachable)
            out.others.push_back(std::move(result));   // a sender moves on from an unreachable one
    }
    return out;
}

void address_findings(std::vector<finding>& findings, const mx_check& mx, const starttls_probe_result& p,
                      const check_options& options);

void probe_findings(std::vector<finding>& findings, const mx_check& mx, const probe_outcome& outcome,
                    const check_options& options)
{
    if (outcome.over_budget) {
        findings.push_back(make_finding("mx-not-probed", mx.host,
            "not probed: the probes of the other MX hosts used up this check's time (" +
            std::to_string(probe_budget_timeouts * options.timeout_ms / 1000) +
            " s); check " + mx.host + " on its own, or raise checks.timeout"));
        return;
    }
    if (!outcome.probe) {
        if (outcome.refused_private)
            findings.push_back(make_finding("mx-unreachable", mx.host,
                "not probed: private address (" + text::join(mx.addresses, ", ") +
                "); use --allow-private (checks.allow_private) to probe MX hosts on private or loopback addresses"));
        return;
    }
    address_findings(findings, mx, *outcome.probe, options);
    // Another address of the same MX: only what it adds (a code the first address did not
    // get), with that address in the message.
    for (const auto& other : outcome.others) {
        std::vector<finding> more;
        address_findings(more, mx, other, options);
        for (auto& f : more) {
            const bool known = std::any_of(findings.begin(), findings.end(), [&](const finding& g) {
                return g.code == f.code && g.subject == f.subject;
            });
            if (!known)
                findings.push_back(std::move(f));
        }
    }
}

// The findings of one address of an MX.
void address_findings(std::vector<finding>& findings, const mx_check& mx, const starttls_probe_result& p,
                      const check_options& options)
{
    const std::string where = mx.host + " (" + p.address + ")";
    const std::string why = p.error.empty() ? std::string() : " (" + p.error + ")";
    switch (p.status) {
    case starttls_status::unreachable:
        findings.push_back(make_finding("mx-unreachable", mx.host,
            "could not reach " + where + " on port " + std::to_string(options.smtp_port) + why +
            "; make sure the MX accepts SMTP connections from the internet"));
        return;
    case starttls_status::smtp_error:
        findings.push_back(make_finding("mx-unreachable", mx.host,
            where + " did not answer as an SMTP server" + why +
            (p.banner.empty() ? std::string() : " (greeting " + quote_untrusted(p.banner) + ")") +
            "; check the mail server on that host"));
        return;
    case starttls_status::starttls_missing:
        findings.push_back(make_finding("mx-starttls-missing", mx.host,
            where + " does not offer STARTTLS in its EHLO answer; enable STARTTLS with a certificate for " + mx.host));
        return;
    case starttls_status::starttls_refused:
        findings.push_back(make_finding("mx-starttls-missing", mx.host,
            where + " offers STARTTLS but refused the command" + why +
            "; fix the TLS configuration of the mail server"));
        return;
    case starttls_status::tls_failed:
        findings.push_back(make_finding("mx-tls-failed", mx.host,
            "the TLS handshake after STARTTLS with " + where + " failed" + why +
            "; fix the TLS configuration of the mail server (certificate, key, protocols)"));
        return;
    case starttls_status::ok:
        break;
    }
    // RFC 8996: TLS 1.0 and 1.1 are deprecated.
    if (p.tls_version == "SSLv3" || p.tls_version == "TLSv1" || p.tls_version == "TLSv1.1")
        findings.push_back(make_finding("mx-tls-version-old", mx.host,
            where + " negotiated " + p.tls_version + ", a deprecated version; enable TLS 1.2 and 1.3 on it"));
    const certificate_info& c = p.certificate;
    if (!c.present) {
        findings.push_back(make_finding("mx-cert-untrusted", mx.host,
            where + " sent no certificate; install a certificate for " + mx.host + " from a public CA"));
        return;
    }
    if (c.expired) {
        findings.push_back(make_finding("mx-cert-expired", mx.host,
            "the certificate of " + where + " is not valid now (valid " + c.not_before + " to " + c.not_after +
            "); renew it"));
    } else if (!c.trusted) {
        findings.push_back(make_finding("mx-cert-untrusted", mx.host,
            "the certificate of " + where + " (issuer " + c.issuer + ") does not chain to a trusted CA" +
            (c.verify_error.empty() ? std::string() : " (" + c.verify_error + ")") +
            "; use a certificate from a public CA and send the intermediate certificates"));
    } else if (c.days_to_expiry < static_cast<std::int64_t>(options.cert_expiring_days)) {
        findings.push_back(make_finding("mx-cert-expiring", mx.host,
            "the certificate of " + where + " expires on " + c.not_after + ", in " +
            std::to_string(c.days_to_expiry) + " day" + (c.days_to_expiry == 1 ? "" : "s") +
            "; renew it (and check that renewal is automated)"));
    }
    if (!c.name_matches)
        findings.push_back(make_finding("mx-cert-name-mismatch", mx.host,
            "the certificate of " + where + " is not valid for " + mx.host + " (names: " +
            (c.subject_names.empty() ? std::string("none") : text::join(c.subject_names, ", ")) +
            "); add " + mx.host + " to the certificate's subject alternative names"));
}

void run_probes(check_result& r, const check_options& options, std::vector<finding>& findings)
{
    // resolve_addresses left the MX hosts beyond max_checked_mx without addresses.
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < r.mx.size(); ++i)
        if (!r.mx[i].host.empty() && !r.mx[i].from_reports && !r.mx[i].addresses.empty())
            todo.push_back(i);
    // Each probe is bounded by its own deadline (3 x checks.timeout); no new one starts after
    // the budget, so the probes end within 4 + 3 x checks.timeout whatever the MX hosts do.
    const auto budget_end = budget_after(probe_budget_timeouts, options);
    std::vector<probe_outcome> outcomes(todo.size());
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (std::size_t k = next++; k < todo.size(); k = next++) {
            if (steady::now() >= budget_end)
                outcomes[k].over_budget = true;
            else
                outcomes[k] = probe_mx(r.mx[todo[k]], options, budget_end);
        }
    };
    const std::size_t n = std::min<std::size_t>(std::max(1u, options.mx_concurrency), todo.size());
    {
        std::vector<std::jthread> pool;
        for (std::size_t t = 1; t < n; ++t)
            pool.emplace_back(worker);
        worker();
    }
    for (std::size_t k = 0; k < todo.size(); ++k) {
        mx_check& mx = r.mx[todo[k]];
        probe_findings(findings, mx, outcomes[k], options);
        mx.probe = std::move(outcomes[k].probe);
        mx.other_probes = std::move(outcomes[k].others);
    }
}

// RFC 7672: the TLSA records of each live MX with addresses, judged as DANE senders judge
// them when the resolver validates DNSSEC.
void check_dane(check_result& r, dns_resolver& resolver, std::vector<finding>& findings)
{
    for (auto& mx : r.mx) {
        if (mx.host.empty() || mx.from_reports || mx.addresses.empty())
            continue;
        const std::string name = "_25._tcp." + mx.host;
        const auto answer = resolver.tlsa(name);
        mx_check::dane_part d;
        d.status = answer.status;
        d.validated = resolver.validating();
        d.secure = answer.secure;
        d.bogus = answer.bogus;
        std::vector<tlsa_association> records;
        for (const auto& t : answer.records)
            records.push_back({t.usage, t.selector, t.matching_type, t.data});
        for (const auto& t : records)
            d.records.push_back(tlsa_text(t));
        std::sort(d.records.begin(), d.records.end());
        if (d.validated && d.bogus) {
            findings.push_back(make_finding("mx-dnssec-bogus", mx.host,
                "DNSSEC validation of the TLSA lookup for " + name + " failed" +
                (answer.error.empty() ? std::string() : " (" + answer.error + ")") +
                ": DANE senders defer mail to " + mx.host + " until it validates; fix the zone's signatures and DS records"));
        } else if (d.validated && answer.status == dns_status::ok && !records.empty()) {
            if (!d.secure) {
                findings.push_back(make_finding("mx-tlsa-unsigned", mx.host,
                    name + " has " + std::to_string(records.size()) +
                    " TLSA record(s) but the answer is not DNSSEC-signed: senders ignore them; sign the zone of " +
                    mx.host + " or remove the records"));
            } else {
                // Every address that presented a certificate: each must match, since a
                // sender may reach any of them.
                std::vector<const starttls_probe_result*> probes;
                if (mx.probe && mx.probe->status == starttls_status::ok && mx.probe->certificate.present)
                    probes.push_back(&*mx.probe);
                for (const auto& p : mx.other_probes)
                    if (p.status == starttls_status::ok && p.certificate.present)
                        probes.push_back(&p);
                dane_evaluation first;
                bool evaluated = false;
                std::set<std::string> matching;
                for (const auto* p : probes) {
                    std::vector<presented_certificate> chain;
                    for (const auto& c : p->certificate.chain)
                        chain.push_back({c.der, c.spki});
                    const auto e = evaluate_tlsa(records, chain);
                    if (!evaluated) {
                        first = e;
                        evaluated = true;
                    }
                    for (const auto i : e.matching)
                        matching.insert(tlsa_text(records[i]));
                    if (e.usable > 0 && e.matching.empty())
                        findings.push_back(make_finding("mx-tlsa-mismatch", mx.host,
                            "none of the " + std::to_string(e.usable) + " usable TLSA record(s) of " + name +
                            " matches the certificate " + mx.host + " presented at " + p->address + " (sha256 " +
                            p->certificate.sha256 + "): DANE senders refuse to deliver to it; publish a record for "
                            "the key in use"));
                }
                if (!evaluated)
                    first = evaluate_tlsa(records, {});
                for (std::size_t k = 0; k < first.unusable.size(); ++k)
                    findings.push_back(make_finding("mx-tlsa-malformed", mx.host,
                        "TLSA record \"" + quote_untrusted(tlsa_text(records[first.unusable[k]])) + "\" of " + name +
                        ": " + first.reasons[k] + (first.usable == 0 ? "; no usable record is left, so DANE "
                        "senders deliver with unauthenticated TLS" : "")));
                if (evaluated && first.usable == 1 && first.matching.size() == 1)
                    findings.push_back(make_finding("mx-tlsa-rollover-hazard", mx.host,
                        name + " has a single usable TLSA record, matching the current certificate of " + mx.host +
                        ": publish the record for the next key (or a DANE-TA record for the issuer) before changing it"));
                d.matching.assign(matching.begin(), matching.end());
            }
        } else if (d.validated && d.secure &&
                   (answer.status == dns_status::nxdomain || answer.status == dns_status::nodata ||
                    (answer.status == dns_status::ok && records.empty()))) {
            findings.push_back(make_finding("mx-tlsa-missing", mx.host,
                "the zone of " + mx.host + " is DNSSEC-signed but " + name +
                " has no TLSA record: DANE senders deliver to it with unauthenticated TLS"));
        }
        mx.dane = std::move(d);
    }
}

void make_valid(std::string& s) { s = to_valid_utf8(s); }
void make_valid(std::optional<std::string>& s)
{
    if (s)
        make_valid(*s);
}
void make_valid(std::vector<std::string>& v)
{
    for (auto& s : v)
        make_valid(s);
}
void make_valid(certificate_info& c)
{
    make_valid(c.subject_names);
    make_valid(c.subject);
    make_valid(c.issuer);
    make_valid(c.verify_error);
}

void make_valid(starttls_probe_result& p)
{
    make_valid(p.host);
    make_valid(p.banner);
    make_valid(p.error);
    make_valid(p.tls_version);
    make_valid(p.cipher);
    make_valid(p.certificate);
}

// Everything a peer sent (DNS records, the policy body, HTTP headers, SMTP replies,
// certificate names, and the messages quoting them) as valid UTF-8 without NUL: the result
// goes into JSON and into PostgreSQL jsonb, which refuses anything else. The checks have
// already looked at the bytes as sent; only what is shown and stored changes.
void make_text_valid(check_result& r)
{
    for (auto& f : r.findings) {
        make_valid(f.subject);
        make_valid(f.message);
    }
    make_valid(r.sts.record);
    make_valid(r.sts.id);
    make_valid(r.sts.policy_text);
    if (r.sts.policy)
        make_valid(r.sts.policy->mx);
    if (r.sts.fetch) {
        auto& f = *r.sts.fetch;
        make_valid(f.address);
        make_valid(f.content_type);
        make_valid(f.location);
        make_valid(f.body);
        make_valid(f.error);
        make_valid(f.certificate);
    }
    make_valid(r.tlsrpt.record);
    make_valid(r.tlsrpt.rua);
    for (auto& m : r.mx) {
        make_valid(m.host);
        make_valid(m.addresses);
        make_valid(m.covered_by);
        if (m.probe)
            make_valid(*m.probe);
        for (auto& p : m.other_probes)
            make_valid(p);
    }
}

} // namespace

check_result run_check(const std::string& domain, dns_resolver& resolver, const check_options& options)
{
    check_result r;
    r.domain = normalize_domain(domain);
    if (!is_valid_domain(r.domain))
        throw std::invalid_argument("\"" + domain + "\" is not a valid domain name");
    r.checked_at = now_rfc3339();

    // RFC 8461 §3.1: the _mta-sts TXT record.
    const std::string sts_name = "_mta-sts." + r.domain;
    auto sts_txt = resolver.txt(sts_name);
    sts_record_evaluation sts_eval;
    if (sts_txt.status == dns_status::temporary_failure) {
        r.dns_unavailable = true;
        r.findings.push_back(dns_error_finding(sts_name, "TXT", sts_txt.error));
    } else {
        sts_eval = evaluate_sts_records(r.domain, sts_txt.status == dns_status::ok ? sts_txt.records
                                                                                  : std::vector<std::string>{});
        r.sts.record = sts_eval.text;
        if (sts_eval.record)
            r.sts.id = sts_eval.record->id;
        append(r.findings, std::move(sts_eval.findings));
    }

    // RFC 8460 §3: the _smtp._tls TXT record.
    const std::string tlsrpt_name = "_smtp._tls." + r.domain;
    auto tlsrpt_txt = resolver.txt(tlsrpt_name);
    if (tlsrpt_txt.status == dns_status::temporary_failure) {
        r.dns_unavailable = true;
        r.findings.push_back(dns_error_finding(tlsrpt_name, "TXT", tlsrpt_txt.error));
    } else {
        auto ev = evaluate_tlsrpt_records(r.domain, tlsrpt_txt.status == dns_status::ok ? tlsrpt_txt.records
                                                                                       : std::vector<std::string>{});
        r.tlsrpt.record = ev.text;
        if (ev.record)
            r.tlsrpt.rua = ev.record->rua;
        append(r.findings, std::move(ev.findings));
    }

    // RFC 8461 §4 and RFC 5321 §5.1: the MX set that the policy must cover.
    auto mx = resolver.mx(r.domain);
    if (mx.status == dns_status::temporary_failure) {
        r.dns_unavailable = true;
        r.findings.push_back(dns_error_finding(r.domain, "MX", mx.error));
    } else if (mx.status != dns_status::ok || mx.records.empty()) {
        r.findings.push_back(make_finding("mx-missing", r.domain,
            r.domain + " has no MX record (" + std::string(to_string(mx.status)) +
            "); MTA-STS applies to MX hosts: publish MX records for the hosts that receive its mail"));
    } else {
        for (const auto& rec : mx.records) {
            auto same = std::find_if(r.mx.begin(), r.mx.end(), [&](const mx_check& m) { return m.host == rec.host; });
            if (same != r.mx.end()) {
                same->preference = std::min(same->preference, rec.preference);
                continue;
            }
            mx_check m;
            m.host = rec.host;
            m.preference = rec.preference;
            r.mx.push_back(std::move(m));
        }
        std::stable_sort(r.mx.begin(), r.mx.end(), [](const mx_check& a, const mx_check& b) {
            return a.preference != b.preference ? a.preference < b.preference : a.host < b.host;
        });
        // RFC 7505: a single MX "." says the domain accepts no mail.
        if (std::any_of(r.mx.begin(), r.mx.end(), [](const mx_check& m) { return m.host.empty(); }))
            r.findings.push_back(make_finding("mx-missing", r.domain,
                r.domain + " publishes a null MX (RFC 7505: it accepts no mail); MTA-STS and TLS-RPT "
                "are pointless for it: remove the _mta-sts and _smtp._tls records, or publish real MX hosts"));
    }
    for (const auto& extra : options.extra_mx_hosts) {
        const std::string host = normalize_domain(extra);
        if (host.empty() || !is_valid_domain(host))
            continue;
        if (std::any_of(r.mx.begin(), r.mx.end(), [&](const mx_check& m) { return m.host == host; }))
            continue;
        mx_check m;
        m.host = host;
        m.from_reports = true;
        r.mx.push_back(std::move(m));
    }

    // RFC 8461 §3.3: the policy, fetched when the record says there is one.
    // Also with several v=STSv1 records (which senders treat as none): the policy's own
    // problems are worth knowing while the records are being fixed.
    const bool has_record = r.sts.record.has_value() ||
        std::any_of(sts_txt.records.begin(), sts_txt.records.end(),
                    [](const std::string& t) { return t.rfind("v=STSv1", 0) == 0; });
    // The fetch runs while the MX hosts are resolved and probed (the resolver answers
    // queries from several threads at once); its findings still come before theirs.
    // Without a record the policy host is asked too: a policy served there means the
    // operator meant to deploy MTA-STS and only the record is missing (an error), while
    // neither record nor policy means MTA-STS is simply not deployed (one warning).
    const bool probe_policy_host = !has_record && !options.candidate_policy;
    std::future<policy_fetch_result> fetch;
    if (has_record || probe_policy_host) {
        policy_fetch_options fo;
        fo.ca_file = options.ca_file;
        fo.allow_private = options.allow_private;
        fo.timeout_ms = options.timeout_ms;
        fo.port = options.https_port;
        fetch = std::async(std::launch::async, [&r, &resolver, fo] {
            try {
                return fetch_policy(r.domain, resolver, fo);
            } catch (const std::exception& e) {
                policy_fetch_result failed;
                failed.status = policy_fetch_status::bad_response;
                failed.host = "mta-sts." + r.domain;
                failed.url = "https://" + failed.host + "/.well-known/mta-sts.txt";
                failed.error = e.what();
                return failed;
            }
        });
    }

    std::vector<finding> mx_findings;
    resolve_addresses(r, resolver, mx_findings, options);
    if (options.probe_mx)
        run_probes(r, options, mx_findings);
    check_dane(r, resolver, mx_findings);

    if (fetch.valid() && probe_policy_host) {
        // Only a usable policy counts: a host that answers with anything else is no sign
        // of an intended deployment. The result is not the domain's policy (senders never
        // fetch it), so it is neither shown as the fetch nor evaluated against the MX set.
        const policy_fetch_result served = fetch.get();
        if (served.status == policy_fetch_status::ok) {
            const auto ev = evaluate_policy(r.domain, served.body);
            if (ev.policy)
                record_missing_but_policy_served(r, served, *ev.policy);
        }
    } else if (fetch.valid()) {
        r.sts.fetch = fetch.get();
        if (r.sts.fetch->status != policy_fetch_status::ok)
            r.findings.push_back(fetch_finding(r.domain, *r.sts.fetch));
    }
    if (options.candidate_policy) {
        r.sts.policy_text = *options.candidate_policy;
        r.sts.candidate = true;
    } else if (r.sts.fetch && r.sts.fetch->status == policy_fetch_status::ok) {
        r.sts.policy_text = r.sts.fetch->body;
    }
    if (r.sts.policy_text) {
        auto ev = evaluate_policy(r.domain, *r.sts.policy_text);
        r.sts.policy = std::move(ev.policy);
        append(r.findings, std::move(ev.findings));
    }
    if (r.sts.policy)
        check_coverage(r);
    if (!policy_in_force(r))
        soften_tls_findings(mx_findings);
    append(r.findings, std::move(mx_findings));

    sort_findings(r.findings);
    make_text_valid(r);
    return r;
}

void sort_findings(std::vector<finding>& findings)
{
    std::stable_sort(findings.begin(), findings.end(), [](const finding& a, const finding& b) {
        return static_cast<int>(a.level) < static_cast<int>(b.level);
    });
}

} // namespace stswatch
