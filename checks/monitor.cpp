// Monitoring: change detection between snapshots (pure), the PostgreSQL store of
// sql/0002_monitoring.sql and sql/0003_monitor_known_policy.sql, and the scheduler that
// `stswatch serve` runs.
#include "checks/monitor.hpp"

#include "common/domain.hpp"
#include "common/log.hpp"
#include "common/text.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <openssl/evp.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace stswatch {

// ---------------------------------------------------------------------------------------
// Change detection
// ---------------------------------------------------------------------------------------

namespace {

// The policy a sender would have fetched: only a successful fetch of the live policy
// counts. A --policy-file candidate is not what the domain published.
const std::string* published_policy_text(const check_result& r)
{
    if (r.sts.candidate || !r.sts.policy_text)
        return nullptr;
    if (r.sts.fetch && r.sts.fetch->status != policy_fetch_status::ok)
        return nullptr;
    return &*r.sts.policy_text;
}

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

// What a change event needs of a certificate.
certificate_info certificate_fingerprint(const certificate_info& c)
{
    certificate_info out;
    out.present = true;
    out.sha256 = c.sha256;
    out.not_after = c.not_after;
    return out;
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
    }

    compare(out, "tlsrpt-record-changed", "_smtp._tls." + domain, before.tlsrpt.record, after.tlsrpt.record,
            "tlsrpt-record-added", "tlsrpt-record-removed");
    return out;
}

// ---------------------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------------------

namespace {

std::string sha256_hex(const std::string& data)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < length; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

double epoch_seconds(std::chrono::system_clock::time_point t)
{
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// A timestamptz column as RFC 3339 text in UTC, whole seconds.
#define STSWATCH_RFC3339(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

// The certificates a snapshot carries (diff_base::certificates) as a jsonb object
// {"<host>": {"sha256": …, "not_after": …}}; "" when there are none.
std::string certificates_json(const std::map<std::string, certificate_info>& certificates)
{
    if (certificates.empty())
        return {};
    Poco::JSON::Object out;
    for (const auto& [host, c] : certificates) {
        Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
        o->set("sha256", c.sha256);
        o->set("not_after", c.not_after);
        out.set(host, o);
    }
    std::ostringstream text;
    out.stringify(text);
    return text.str();
}

std::map<std::string, certificate_info> certificates_from_json(const std::string& text)
{
    std::map<std::string, certificate_info> out;
    const auto root = Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
    for (const auto& [host, value] : *root) {
        const auto o = value.extract<Poco::JSON::Object::Ptr>();
        certificate_info c;
        c.present = true;
        c.sha256 = o->getValue<std::string>("sha256");
        c.not_after = o->getValue<std::string>("not_after");
        out.emplace(host, std::move(c));
    }
    return out;
}

std::string checked_domain(const std::string& domain)
{
    std::string d = normalize_domain(domain);
    if (d.empty() || !is_valid_domain(d) || d.find('.') == std::string::npos)
        throw std::invalid_argument("\"" + domain + "\" is not a valid domain name");
    return d;
}

} // namespace

struct monitor_store::impl {
    explicit impl(const std::string& url) : conn(url) {}
    pqxx::connection conn;
};

monitor_store::monitor_store(const std::string& db_url) : impl_(std::make_unique<impl>(db_url)) {}
monitor_store::~monitor_store() = default;

bool monitor_store::add(const std::string& domain)
{
    const std::string d = checked_domain(domain);
    pqxx::work tx(impl_->conn, "monitor_add");
    auto r = tx.exec_params("INSERT INTO monitored_domains (domain) VALUES ($1) ON CONFLICT (domain) DO NOTHING", d);
    tx.commit();
    return r.affected_rows() == 1;
}

bool monitor_store::remove(const std::string& domain)
{
    // The history stays: the analyzer still explains past failures with it.
    pqxx::work tx(impl_->conn, "monitor_remove");
    auto r = tx.exec_params("DELETE FROM monitored_domains WHERE domain = $1", normalize_domain(domain));
    tx.commit();
    return r.affected_rows() == 1;
}

std::vector<monitored_domain> monitor_store::list()
{
    pqxx::read_transaction tx(impl_->conn, "monitor_list");
    auto rows = tx.exec(
        "SELECT m.domain, " STSWATCH_RFC3339("m.added_at") ", " STSWATCH_RFC3339("m.last_checked_at") ", "
        STSWATCH_RFC3339("m.next_check_at") ", coalesce(s.errors, 0), coalesce(s.warnings, 0)"
        " FROM monitored_domains m LEFT JOIN check_snapshots s ON s.id = m.last_snapshot_id"
        " ORDER BY m.domain");
    std::vector<monitored_domain> out;
    for (const auto& row : rows) {
        monitored_domain m;
        m.domain = row[0].as<std::string>();
        m.added_at = row[1].as<std::string>();
        if (!row[2].is_null())
            m.last_checked_at = row[2].as<std::string>();
        if (!row[3].is_null())
            m.next_check_at = row[3].as<std::string>();
        m.errors = row[4].as<unsigned>();
        m.warnings = row[5].as<unsigned>();
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<std::string> monitor_store::due(std::size_t limit)
{
    pqxx::read_transaction tx(impl_->conn, "monitor_due");
    auto rows = tx.exec_params("SELECT domain FROM monitored_domains WHERE next_check_at <= now()"
                               " ORDER BY next_check_at, domain LIMIT $1",
                               static_cast<long long>(limit));
    std::vector<std::string> out;
    for (const auto& row : rows)
        out.push_back(row[0].as<std::string>());
    return out;
}

std::vector<std::string> monitor_store::claim_due(std::size_t limit, std::chrono::seconds lease)
{
    pqxx::work tx(impl_->conn, "monitor_claim");
    // SKIP LOCKED: rows another scheduler is claiming right now are its own.
    auto rows = tx.exec_params(
        "WITH due AS (SELECT domain, next_check_at FROM monitored_domains WHERE next_check_at <= now()"
        "             ORDER BY next_check_at, domain LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " UPDATE monitored_domains m SET next_check_at = now() + make_interval(secs => $2)"
        " FROM due WHERE m.domain = due.domain"
        " RETURNING m.domain, due.next_check_at",
        static_cast<long long>(limit), static_cast<double>(lease.count()));
    tx.commit();
    std::vector<std::pair<std::string, std::string>> claimed;
    for (const auto& row : rows)
        claimed.emplace_back(row[1].as<std::string>(), row[0].as<std::string>());
    std::sort(claimed.begin(), claimed.end());   // oldest due first
    std::vector<std::string> out;
    for (auto& c : claimed)
        out.push_back(std::move(c.second));
    return out;
}

void monitor_store::reschedule(const std::string& domain, std::chrono::system_clock::time_point next_check)
{
    pqxx::work tx(impl_->conn, "monitor_reschedule");
    tx.exec_params("UPDATE monitored_domains SET next_check_at = to_timestamp($2) WHERE domain = $1",
                   normalize_domain(domain), epoch_seconds(next_check));
    tx.commit();
}

long long monitor_store::save(const check_result& result, const std::vector<change_event>& changes,
                              std::chrono::system_clock::time_point next_check, const diff_base* base)
{
    const std::string domain = normalize_domain(result.domain);
    unsigned errors = 0, warnings = 0;
    for (const auto& f : result.findings) {
        if (f.level == severity::error)
            ++errors;
        else if (f.level == severity::warning)
            ++warnings;
    }
    const std::string* policy = published_policy_text(result);
    const std::string json = to_json_text(result);
    // What this snapshot carries past its own transient failures (a dns_unavailable one is
    // never compared with, so it carries nothing).
    long long policy_source_id = 0;
    std::string carried_certificates;
    if (base && !result.dns_unavailable) {
        const diff_base next = next_diff_base(base, {0, result});
        if (next.policy_source)
            policy_source_id = next.policy_source->id;
        carried_certificates = certificates_json(next.certificates);
    }

    pqxx::work tx(impl_->conn, "monitor_save");
    // A check_result without a time (hand-made) is stamped with the transaction's.
    const auto snapshot = tx.exec_params1(
        "INSERT INTO check_snapshots (domain, checked_at, dns_unavailable, sts_id, policy_sha256, snapshot,"
        " errors, warnings, policy_source_id, carried_certificates)"
        " VALUES ($1, coalesce(nullif($2, '')::timestamptz, now()), $3, nullif($4, ''), nullif($5, ''),"
        " $6::jsonb, $7, $8, nullif($9::bigint, 0), nullif($10, '')::jsonb)"
        " RETURNING id, checked_at",
        domain, result.checked_at, result.dns_unavailable, result.sts.id.value_or(""),
        policy ? sha256_hex(*policy) : std::string(), json, errors, warnings, policy_source_id,
        carried_certificates);
    const long long id = snapshot[0].as<long long>();
    const std::string checked_at = snapshot[1].as<std::string>();

    for (const auto& f : result.findings)
        tx.exec_params("INSERT INTO check_findings (snapshot_id, domain, checked_at, code, severity, subject,"
                       " message, rfc) VALUES ($1, $2, $3::timestamptz, $4, $5, $6, $7, $8)",
                       id, domain, checked_at, f.code, std::string(to_string(f.level)), f.subject, f.message, f.rfc);
    for (const auto& c : changes)
        tx.exec_params("INSERT INTO change_events (domain, detected_at, snapshot_id, kind, subject, before, after)"
                       " VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7)",
                       domain, checked_at, id, c.kind, c.subject, c.before, c.after);
    // A domain removed while it was being checked stays removed (no row to update).
    tx.exec_params("UPDATE monitored_domains SET last_checked_at = $2::timestamptz, last_snapshot_id = $3,"
                   " next_check_at = to_timestamp($4) WHERE domain = $1",
                   domain, checked_at, id, epoch_seconds(next_check));
    tx.commit();
    return id;
}

std::optional<stored_snapshot> monitor_store::latest(const std::string& domain)
{
    pqxx::read_transaction tx(impl_->conn, "monitor_latest");
    auto rows = tx.exec_params("SELECT id, snapshot::text FROM check_snapshots"
                               " WHERE domain = $1 AND NOT dns_unavailable"
                               " ORDER BY checked_at DESC, id DESC LIMIT 1",
                               normalize_domain(domain));
    if (rows.empty())
        return std::nullopt;
    stored_snapshot s;
    s.id = rows[0][0].as<long long>();
    s.result = check_result_from_json(rows[0][1].as<std::string>());
    return s;
}

std::optional<diff_base> monitor_store::comparison_base(const std::string& domain)
{
    pqxx::read_transaction tx(impl_->conn, "monitor_comparison_base");
    // A policy source removed with old history (ON DELETE SET NULL) leaves the snapshot's
    // own policy, unknown: nothing is said about the policy until it is fetched again.
    auto rows = tx.exec_params("SELECT s.id, s.snapshot::text, s.carried_certificates::text, p.id, p.snapshot::text"
                               " FROM check_snapshots s LEFT JOIN check_snapshots p ON p.id = s.policy_source_id"
                               " WHERE s.domain = $1 AND NOT s.dns_unavailable"
                               " ORDER BY s.checked_at DESC, s.id DESC LIMIT 1",
                               normalize_domain(domain));
    if (rows.empty())
        return std::nullopt;
    const auto& row = rows[0];
    // A stored part that cannot be read (written by another version, edited by hand) must
    // not stop every later check of the domain: it is left out, and said so. Without the
    // previous snapshot there is nothing to compare with; the next one becomes the base.
    auto unreadable = [&](const char* part, const std::exception& e) {
        log::warning("monitor", "stored snapshot part unreadable, ignored",
                     {{"domain", normalize_domain(domain)}, {"snapshot", row[0].as<std::string>()}, {"part", part},
                      {"error", e.what()}});
    };
    diff_base base;
    base.previous.id = row[0].as<long long>();
    try {
        base.previous.result = check_result_from_json(row[1].as<std::string>());
    } catch (const std::exception& e) {
        unreadable("snapshot", e);
        return std::nullopt;
    }
    if (!row[2].is_null()) {
        try {
            base.certificates = certificates_from_json(row[2].as<std::string>());
        } catch (const std::exception& e) {
            unreadable("carried_certificates", e);
        }
    }
    if (!row[3].is_null()) {
        try {
            base.policy_source = stored_snapshot{row[3].as<long long>(), check_result_from_json(row[4].as<std::string>())};
        } catch (const std::exception& e) {
            unreadable("policy source", e);
        }
    }
    return base;
}

std::vector<stored_change> monitor_store::change_history(const std::string& domain, std::size_t limit)
{
    pqxx::read_transaction tx(impl_->conn, "monitor_changes");
    auto rows = tx.exec_params("SELECT kind, subject, before, after, " STSWATCH_RFC3339("detected_at") ", snapshot_id"
                               " FROM change_events WHERE domain = $1"
                               " ORDER BY detected_at DESC, snapshot_id DESC, id LIMIT $2",
                               normalize_domain(domain), static_cast<long long>(limit));
    std::vector<stored_change> out;
    for (const auto& row : rows) {
        stored_change c;
        c.event = {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                   row[3].as<std::string>()};
        c.detected_at = row[4].as<std::string>();
        c.snapshot_id = row[5].as<long long>();
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<change_event> monitor_store::changes(const std::string& domain, std::size_t limit)
{
    std::vector<change_event> out;
    for (auto& c : change_history(domain, limit))
        out.push_back(std::move(c.event));
    return out;
}

std::vector<std::string> monitor_store::reported_mx_hosts(const std::string& domain)
{
    pqxx::read_transaction tx(impl_->conn, "monitor_reported_mx");
    auto rows = tx.exec_params("SELECT DISTINCT receiving_mx_hostname FROM failure_details"
                               " WHERE policy_domain = $1 AND receiving_mx_hostname IS NOT NULL",
                               normalize_domain(domain));
    std::set<std::string> hosts;
    for (const auto& row : rows) {
        std::string host = row[0].as<std::string>();
        const auto first = host.find_first_not_of(" \t");
        const auto last = host.find_last_not_of(" \t");
        host = first == std::string::npos ? "" : host.substr(first, last - first + 1);
        host = normalize_domain(host);
        // Senders put IPs, ports and garbage in this field: only host names are hosts.
        if (!host.empty() && is_valid_domain(host))
            hosts.insert(host);
    }
    return {hosts.begin(), hosts.end()};
}

// ---------------------------------------------------------------------------------------
// Scheduler
// ---------------------------------------------------------------------------------------

struct monitor::impl {
    monitor_options options;
    check_function check;

    std::mutex mutex;
    std::condition_variable wake;         // the scheduler: stop, or a worker became free
    std::condition_variable work_ready;   // the workers: a domain queued, or stop
    std::deque<std::string> queue;
    std::size_t busy = 0;
    bool stopping = false;
    bool slot_freed = false;
    bool started = false;
    std::thread scheduler;
    std::vector<std::thread> workers;
    std::mt19937_64 random{std::random_device{}()};

    std::chrono::system_clock::time_point next_check_time()
    {
        const double interval = options.interval_s;
        const double spread = interval * std::min(options.jitter_percent, 100u) / 100.0;
        double offset = 0;
        {
            std::lock_guard lock(mutex);
            offset = std::uniform_real_distribution<double>(-spread, spread)(random);
        }
        const auto delay = std::chrono::duration<double>(std::max(1.0, interval + offset));
        return std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(delay);
    }

    // Long enough for the slowest check (every step timing out), so that no second
    // scheduler takes a domain still being checked.
    std::chrono::seconds lease() const { return std::chrono::seconds(std::max(900u, options.interval_s)); }

    void run_scheduler()
    {
        std::unique_ptr<monitor_store> store;
        std::unique_lock lock(mutex);
        while (!stopping) {
            const std::size_t running = queue.size() + busy;
            const std::size_t free = options.concurrency > running ? options.concurrency - running : 0;
            if (free > 0) {
                lock.unlock();
                std::vector<std::string> claimed;
                try {
                    if (!store)
                        store = std::make_unique<monitor_store>(options.db_url);
                    claimed = store->claim_due(free, lease());
                } catch (const std::exception& e) {
                    store.reset();   // a fresh connection next time
                    log::warning("monitor", "cannot read the due domains", {{"error", e.what()}});
                }
                lock.lock();
                for (auto& d : claimed)
                    queue.push_back(std::move(d));
                if (!claimed.empty())
                    work_ready.notify_all();
            }
            wake.wait_for(lock, std::chrono::milliseconds(options.poll_ms), [&] { return stopping || slot_freed; });
            slot_freed = false;
        }
    }

    void check_one(std::unique_ptr<monitor_store>& store, const std::string& domain)
    {
        const auto started_at = std::chrono::steady_clock::now();
        try {
            if (!store)
                store = std::make_unique<monitor_store>(options.db_url);
            check_result result = check(domain);
            if (result.domain.empty())
                result.domain = domain;
            std::vector<change_event> changes;
            std::optional<diff_base> base;
            if (!result.dns_unavailable) {
                // Diffed against the last usable snapshot (checks in between whose resolver
                // failed are skipped), with what transient failures hid carried from earlier.
                base = store->comparison_base(domain);
                if (base) {
                    std::vector<finding> extra;
                    changes = diff_snapshots(*base, result, extra);
                    if (!extra.empty()) {
                        result.findings.insert(result.findings.end(), extra.begin(), extra.end());
                        // Errors first, then warnings, then info.
                        std::stable_sort(result.findings.begin(), result.findings.end(),
                                         [](const finding& a, const finding& b) { return a.level < b.level; });
                    }
                }
            }
            store->save(result, changes, next_check_time(), base ? &*base : nullptr);
            unsigned errors = 0, warnings = 0;
            for (const auto& f : result.findings) {
                errors += f.level == severity::error;
                warnings += f.level == severity::warning;
            }
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_at);
            log::info("monitor", result.dns_unavailable ? "checked, DNS unavailable" : "checked",
                      {{"domain", domain},
                       {"errors", std::to_string(errors)},
                       {"warnings", std::to_string(warnings)},
                       {"changes", std::to_string(changes.size())},
                       {"ms", std::to_string(ms.count())}});
        } catch (const std::exception& e) {
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_at);
            log::error("monitor", "check failed", {{"domain", domain}, {"error", e.what()}, {"ms", std::to_string(ms.count())}});
            try {
                if (!store)
                    store = std::make_unique<monitor_store>(options.db_url);
                store->reschedule(domain, next_check_time());
            } catch (const std::exception& again) {
                // The claim's lease brings the domain back anyway.
                store.reset();
                log::warning("monitor", "cannot reschedule", {{"domain", domain}, {"error", again.what()}});
            }
        }
    }

    void run_worker()
    {
        std::unique_ptr<monitor_store> store;   // one connection per thread
        std::unique_lock lock(mutex);
        for (;;) {
            work_ready.wait(lock, [&] { return stopping || !queue.empty(); });
            if (stopping)
                return;   // stop() releases the domains still queued
            std::string domain = std::move(queue.front());
            queue.pop_front();
            ++busy;
            lock.unlock();
            check_one(store, domain);
            lock.lock();
            --busy;
            slot_freed = true;
            wake.notify_all();   // a slot is free: look for due domains now
        }
    }
};

monitor::monitor(monitor_options options, check_function check) : impl_(std::make_unique<impl>())
{
    if (options.concurrency == 0)
        options.concurrency = 1;
    if (options.poll_ms == 0)
        options.poll_ms = 1;
    impl_->options = std::move(options);
    impl_->check = std::move(check);
}

monitor::~monitor() { stop(); }

void monitor::start()
{
    std::lock_guard lock(impl_->mutex);
    if (impl_->started)
        return;
    impl_->started = true;
    impl_->stopping = false;
    for (unsigned i = 0; i < impl_->options.concurrency; ++i)
        impl_->workers.emplace_back([this] { impl_->run_worker(); });
    impl_->scheduler = std::thread([this] { impl_->run_scheduler(); });
}

void monitor::stop()
{
    {
        std::lock_guard lock(impl_->mutex);
        if (!impl_->started)
            return;
        impl_->stopping = true;
    }
    impl_->wake.notify_all();
    impl_->work_ready.notify_all();
    if (impl_->scheduler.joinable())
        impl_->scheduler.join();
    for (auto& w : impl_->workers)
        if (w.joinable())
            w.join();
    std::deque<std::string> unstarted;
    {
        std::lock_guard lock(impl_->mutex);
        impl_->workers.clear();
        unstarted.swap(impl_->queue);
        impl_->started = false;
    }
    // Claimed but never checked: due again now rather than when their lease ends.
    if (!unstarted.empty()) {
        try {
            monitor_store store(impl_->options.db_url);
            for (const auto& domain : unstarted)
                store.reschedule(domain, std::chrono::system_clock::now());
        } catch (const std::exception& e) {
            log::warning("monitor", "cannot release unchecked domains", {{"error", e.what()}});
        }
    }
}

#undef STSWATCH_RFC3339

} // namespace stswatch
