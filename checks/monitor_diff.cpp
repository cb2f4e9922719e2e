// Change detection between snapshots (checks/monitor_diff.hpp).
#include "checks/monitor_diff.hpp"

#include "common/text.hpp"
#include "common/time.hpp"

#include <algorithm>
#include <set>

namespace stswatch {

// ---------------------------------------------------------------------------------------
// Change detection
// ---------------------------------------------------------------------------------------

const std::string* published_policy_text(const check_result& r)
{
    if (r.sts.candidate || !r.sts.policy_text)
        return nullptr;
    if (r.sts.fetch && r.sts.fetch->status != policy_fetch_status::ok)
        return nullptr;
    return &*r.sts.policy_text;
}

namespace {

// What a check says about the published policy.
enum class policy_state {
    published,   // fetched
    absent,      // the domain's own answer is "none"
    unknown,     // the fetch failed on the way: nothing is known
};

// RFC 8461 §5.1: a sender that cannot fetch the policy keeps applying its cached copy, so a
// fetch that failed on the way (connection refused or timed out, the TLS handshake failed,
// the response was cut short or timed out) or because our own resolver failed says nothing
// about whether the domain still publishes one. Every other failure is the domain's own
// answer, the same for every sender: no mta-sts host (NXDOMAIN, NODATA), an address only
// reachable privately, an invalid certificate, a redirect, an HTTP error, the wrong content
// type, a body over 64 KiB, an answer that is not HTTP.
policy_state policy_state_of(const check_result& r)
{
    if (published_policy_text(r))
        return policy_state::published;
    if (r.sts.candidate || !r.sts.fetch)
        return policy_state::absent;
    switch (r.sts.fetch->status) {
    case policy_fetch_status::connect_failed:
    case policy_fetch_status::tls_failed:
    case policy_fetch_status::bad_response:
        return policy_state::unknown;
    case policy_fetch_status::no_address:
        return r.sts.fetch->dns == dns_status::temporary_failure ? policy_state::unknown : policy_state::absent;
    default:
        return policy_state::absent;
    }
}

std::string sorted_patterns(const sts_policy& p)
{
    std::vector<std::string> mx = p.mx;
    std::sort(mx.begin(), mx.end());
    mx.erase(std::unique(mx.begin(), mx.end()), mx.end());
    return text::join(mx, ",");
}

// The live MX set by host ("" is a null MX, RFC 7505); entries added from reports are not
// published and do not count.
std::map<std::string, const mx_check*> live_mx(const check_result& r)
{
    std::map<std::string, const mx_check*> out;
    for (const auto& m : r.mx)
        if (!m.from_reports)
            out.emplace(m.host, &m);
    return out;
}

std::string mx_value(const mx_check& m)
{
    return std::to_string(m.preference) + " " + (m.host.empty() ? "." : m.host);
}

// The certificates an MX presented, by address: its first probe's and the others'. The
// servers behind the addresses of one MX may each have their own certificate, so only
// certificates seen at the same address are ever compared.
std::map<std::string, const certificate_info*> certificates_by_address(const mx_check& m)
{
    std::map<std::string, const certificate_info*> out;
    auto add = [&](const starttls_probe_result& p) {
        if (p.status == starttls_status::ok && p.certificate.present && !p.certificate.sha256.empty())
            out.emplace(p.address, &p.certificate);
    };
    if (m.probe)
        add(*m.probe);
    for (const auto& p : m.other_probes)
        add(p);
    return out;
}

// The key of a carried certificate: the MX host and the address that presented it.
std::string carried_key(const std::string& host, const std::string& address)
{
    return host + " " + address;
}

std::string certificate_value(const certificate_info& c)
{
    return "sha256 " + c.sha256 + " not_after " + c.not_after;
}

void compare(std::vector<change_event>& out, const char* kind, const std::string& subject,
             const std::optional<std::string>& before, const std::optional<std::string>& after,
             const char* added, const char* removed)
{
    if (before && !after)
        out.push_back({removed, subject, *before, ""});
    else if (!before && after)
        out.push_back({added, subject, "", *after});
    else if (before && after && *before != *after)
        out.push_back({kind, subject, *before, *after});
}

// RFC 8461 §3.2: what a sender takes from a policy text. Line endings (CRLF or LF), the
// order of the mx lines and keys it ignores do not change it; a text that is not a usable
// policy (another version, bad syntax) gives none.
bool read_alike(const std::optional<sts_policy>& a, const std::optional<sts_policy>& b)
{
    if (!a || !b)
        return !a && !b;
    return a->mode == b->mode && a->max_age == b->max_age && sorted_patterns(*a) == sorted_patterns(*b);
}

void compare_policies(std::vector<change_event>& out, std::vector<finding>& findings_out,
                      const check_result& before, const check_result& after, const std::string& domain)
{
    const std::string sts_name = "_mta-sts." + domain;
    const std::string policy_host = "mta-sts." + domain;
    const std::string* old_text = published_policy_text(before);
    const std::string* new_text = published_policy_text(after);
    if (old_text && !new_text)
        out.push_back({"sts-policy-removed", policy_host, *old_text, ""});
    else if (!old_text && new_text)
        out.push_back({"sts-policy-added", policy_host, "", *new_text});
    else if (old_text && new_text && *old_text != *new_text) {
        // The text is what the domain serves: any change to it is recorded.
        out.push_back({"sts-policy-changed", policy_host, *old_text, *new_text});
        // RFC 8461 §3.1: senders fetch the policy again only when the id changes; with the
        // same id, those that cached it keep applying the old one for max_age. That only
        // matters when they would read the new text differently; a change of form alone
        // (line endings, the order of mx lines) is no finding.
        const std::string old_id = before.sts.id.value_or("");
        if (!old_id.empty() && old_id == after.sts.id.value_or("") && !read_alike(before.sts.policy, after.sts.policy)) {
            std::string max_age = before.sts.policy ? std::to_string(before.sts.policy->max_age) + " s" : "its max_age";
            findings_out.push_back(make_finding(
                "sts-policy-changed-without-id", sts_name,
                "the policy at https://" + policy_host + "/.well-known/mta-sts.txt changed but the id in " +
                    sts_name + " stayed \"" + old_id + "\": senders that cached the old policy keep using it for "
                    "up to max_age (" + max_age + "); publish a new id in " + sts_name + " whenever the policy changes"));
        }
    }
    if (old_text && new_text && before.sts.policy && after.sts.policy) {
        const auto& p = *before.sts.policy;
        const auto& q = *after.sts.policy;
        if (p.mode != q.mode)
            out.push_back({"sts-mode-changed", policy_host, to_string(p.mode), to_string(q.mode)});
        if (p.max_age != q.max_age)
            out.push_back({"sts-max-age-changed", policy_host, std::to_string(p.max_age), std::to_string(q.max_age)});
        const auto old_mx = sorted_patterns(p);
        const auto new_mx = sorted_patterns(q);
        if (old_mx != new_mx)
            out.push_back({"sts-mx-patterns-changed", policy_host, old_mx, new_mx});
    }
}

std::optional<std::int64_t> checked_seconds(const check_result& r)
{
    const auto t = parse_rfc3339(r.checked_at);
    if (!t.value)
        return std::nullopt;
    return t.value->seconds;
}

// The last policy senders could fetch, and when their cached copies of it run out: RFC 8461
// §5.1, a sender keeps a cached policy for its max_age, fetching it again when it can;
// past max_age without a successful fetch, the copy is gone and MTA-STS is off for it.
struct cached_policy {
    std::int64_t fetched_at = 0, expires_at = 0;
    std::uint64_t max_age = 0;
};

std::optional<cached_policy> last_fetchable_policy(const diff_base& base)
{
    const check_result& source = base.policy_source ? base.policy_source->result : base.previous.result;
    if (policy_state_of(source) != policy_state::published || !source.sts.policy)
        return std::nullopt;
    const auto at = checked_seconds(source);
    if (!at)
        return std::nullopt;
    const auto max_age = std::min<std::uint64_t>(source.sts.policy->max_age, 31557600ULL * 100);
    return cached_policy{*at, *at + static_cast<std::int64_t>(max_age), source.sts.policy->max_age};
}

std::string time_text(std::int64_t seconds) { return format_rfc3339(utc_time{seconds, 0}); }

// sts-policy-expired-at-senders when a policy host unreachable on the way (policy_state
// unknown) has stayed so past the last fetched policy's max_age, with the finding at every
// check while it lasts; sts-policy-recovered at the first check that knows the policy again.
void compare_cached_policy(std::vector<change_event>& out, std::vector<finding>& findings_out,
                           const diff_base& base, const check_result& after, const std::string& domain)
{
    const auto cached = last_fetchable_policy(base);
    if (!cached)
        return;
    const check_result& before = base.previous.result;
    const auto before_at = checked_seconds(before);
    const bool expired_before = policy_state_of(before) == policy_state::unknown && before_at &&
                                *before_at >= cached->expires_at;
    const auto after_at = checked_seconds(after);
    const std::string policy_host = "mta-sts." + domain;
    const std::string fetched = "fetched " + time_text(cached->fetched_at) + ", max_age " +
                                std::to_string(cached->max_age) + " s";
    const std::string expired = "cached copies expired " + time_text(cached->expires_at);
    if (policy_state_of(after) == policy_state::unknown) {
        if (!after_at || *after_at < cached->expires_at)
            return;
        if (!expired_before)
            out.push_back({"sts-policy-expired-at-senders", policy_host, fetched, "unreachable, " + expired});
        findings_out.push_back(make_finding(
            "sts-policy-expired-at-senders", policy_host,
            "https://" + policy_host + "/.well-known/mta-sts.txt has not been fetched since " +
                time_text(cached->fetched_at) + " and its max_age (" + std::to_string(cached->max_age) +
                " s) ran out at " + time_text(cached->expires_at) +
                ": every sender's cached copy has expired, so MTA-STS is off for them until the policy "
                "can be fetched again; make the policy host reachable over HTTPS"));
        return;
    }
    if (expired_before)
        out.push_back({"sts-policy-recovered", policy_host, "unreachable, " + expired,
                       policy_state_of(after) == policy_state::published ? "fetched again"
                                                                          : "reachable, serving no policy"});
}

// What a change event needs of a certificate.
certificate_info certificate_fingerprint(const certificate_info& c)
{
    certificate_info out;
    out.present = true;
    out.sha256 = c.sha256;
    out.not_after = c.not_after;
    return out;
}

// The TLSA records of an MX as the monitor compares them, sorted and joined with "; "
// ("" for none), or nothing when the check could not settle them.
std::optional<std::string> tlsa_set(const mx_check& m)
{
    if (!m.dane || !m.dane->validated || m.dane->bogus)
        return std::nullopt;
    const auto status = m.dane->status;
    if (status != dns_status::ok && status != dns_status::nxdomain && status != dns_status::nodata)
        return std::nullopt;
    std::string joined;
    for (const auto& r : m.dane->records)
        joined += (joined.empty() ? "" : "; ") + r;
    return joined;
}

} // namespace

diff_base next_diff_base(const diff_base* base, const stored_snapshot& snapshot)
{
    // A check whose resolver failed shows nothing: the next one is compared with the same.
    if (snapshot.result.dns_unavailable && base)
        return *base;
    diff_base next;
    next.previous = snapshot;
    if (!base)
        return next;
    if (policy_state_of(snapshot.result) == policy_state::unknown) {
        if (base->policy_source)
            next.policy_source = base->policy_source;
        else if (policy_state_of(base->previous.result) != policy_state::unknown)
            next.policy_source = base->previous;
    }
    // For each address of a live MX that presented no certificate this time: the last one it
    // presented, carried from before.
    const auto earlier = live_mx(base->previous.result);
    for (const auto& [host, m] : live_mx(snapshot.result)) {
        const auto now = certificates_by_address(*m);
        const auto e = earlier.find(host);
        const auto then = e != earlier.end() ? certificates_by_address(*e->second)
                                             : std::map<std::string, const certificate_info*>{};
        for (const auto& address : m->addresses) {
            if (now.count(address))
                continue;
            const std::string key = carried_key(host, address);
            if (auto carried = base->certificates.find(key); carried != base->certificates.end())
                next.certificates.emplace(key, carried->second);
            else if (auto seen = then.find(address); seen != then.end())
                next.certificates.emplace(key, certificate_fingerprint(*seen->second));
        }
    }
    return next;
}

std::vector<change_event> diff_snapshots(const check_result& before, const check_result& after,
                                         std::vector<finding>& findings_out)
{
    diff_base base;
    base.previous.result = before;
    return diff_snapshots(base, after, findings_out);
}

std::vector<change_event> diff_snapshots(const diff_base& base, const check_result& after,
                                         std::vector<finding>& findings_out)
{
    std::vector<change_event> out;
    const check_result& before = base.previous.result;
    // A check where the resolver itself failed says nothing about the domain.
    if (before.dns_unavailable || after.dns_unavailable)
        return out;

    const std::string& domain = after.domain.empty() ? before.domain : after.domain;
    const std::string sts_name = "_mta-sts." + domain;

    if (before.sts.record && !after.sts.record)
        out.push_back({"sts-record-removed", sts_name, *before.sts.record, ""});
    else if (!before.sts.record && after.sts.record)
        out.push_back({"sts-record-added", sts_name, "", *after.sts.record});
    // Of a record present on both sides, what matters to senders is its id (RFC 8461 §3.1:
    // a new id tells them to fetch the policy again).
    else if (before.sts.record && after.sts.record && before.sts.id.value_or("") != after.sts.id.value_or(""))
        out.push_back({"sts-id-changed", sts_name, before.sts.id.value_or(""), after.sts.id.value_or("")});

    // The policy is compared with the last one known, with the id it was fetched under: a
    // fetch that failed on the way in between neither removed it nor changed it. An
    // unavailable policy that is the domain's own answer counts as removed (senders keep
    // their cached copy for max_age, new senders get none).
    const check_result& policy_before = base.policy_source ? base.policy_source->result : before;
    if (policy_state_of(policy_before) != policy_state::unknown && policy_state_of(after) != policy_state::unknown)
        compare_policies(out, findings_out, policy_before, after, domain);
    compare_cached_policy(out, findings_out, base, after, domain);

    const auto old_mx = live_mx(before);
    const auto new_mx = live_mx(after);
    std::set<std::string> hosts;
    for (const auto& [host, m] : old_mx)
        hosts.insert(host);
    for (const auto& [host, m] : new_mx)
        hosts.insert(host);
    for (const auto& host : hosts) {
        const std::string subject = host.empty() ? domain : host;
        auto b = old_mx.find(host);
        auto a = new_mx.find(host);
        if (a == new_mx.end()) {
            out.push_back({"mx-removed", subject, mx_value(*b->second), ""});
            continue;
        }
        if (b == old_mx.end()) {
            out.push_back({"mx-added", subject, "", mx_value(*a->second)});
            continue;
        }
        if (b->second->preference != a->second->preference)
            out.push_back({"mx-preference-changed", subject, mx_value(*b->second), mx_value(*a->second)});
        // Only two certificates seen at the same address are compared: an address
        // unreachable for a moment has not rotated anything (after it, the last certificate
        // it presented is the one to compare with), and two addresses may rightly present
        // different certificates. A certificate rolled out to every address is one event.
        const auto old_certs = certificates_by_address(*b->second);
        std::set<std::pair<std::string, std::string>> rotations;
        for (const auto& [address, new_cert] : certificates_by_address(*a->second)) {
            const certificate_info* old_cert = nullptr;
            if (auto seen = old_certs.find(address); seen != old_certs.end())
                old_cert = seen->second;
            else if (auto carried = base.certificates.find(carried_key(host, address)); carried != base.certificates.end())
                old_cert = &carried->second;
            if (old_cert && old_cert->sha256 != new_cert->sha256 &&
                rotations.emplace(certificate_value(*old_cert), certificate_value(*new_cert)).second)
                out.push_back({"mx-cert-rotated", subject, certificate_value(*old_cert), certificate_value(*new_cert)});
        }
        // The TLSA set, compared only between two answers that settle it (records, or none
        // under a name that exists or not); a failed lookup, or a check of a resolver that
        // does not validate, says nothing about it.
        if (auto old_tlsa = tlsa_set(*b->second), new_tlsa = tlsa_set(*a->second);
            old_tlsa && new_tlsa && *old_tlsa != *new_tlsa)
            out.push_back({"mx-tlsa-changed", subject, *old_tlsa, *new_tlsa});
    }

    compare(out, "tlsrpt-record-changed", "_smtp._tls." + domain, before.tlsrpt.record, after.tlsrpt.record,
            "tlsrpt-record-added", "tlsrpt-record-removed");
    return out;
}

} // namespace stswatch
