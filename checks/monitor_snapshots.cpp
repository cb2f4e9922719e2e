// Check results <-> the monitor's stored rows (checks/monitor_snapshots.hpp).
#include "checks/monitor_snapshots.hpp"

#include "common/domain.hpp"
#include "common/log.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <openssl/evp.h>

#include <sstream>
#include <stdexcept>

namespace stswatch {

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

} // namespace

snapshot_row to_snapshot_row(const check_result& result, const diff_base* base)
{
    snapshot_row row;
    row.domain = normalize_domain(result.domain);
    row.checked_at = result.checked_at;
    row.dns_unavailable = result.dns_unavailable;
    row.sts_id = result.sts.id.value_or("");
    for (const auto& f : result.findings) {
        if (f.level == severity::error)
            ++row.errors;
        else if (f.level == severity::warning)
            ++row.warnings;
    }
    if (const std::string* policy = published_policy_text(result))
        row.policy_sha256 = sha256_hex(*policy);
    row.snapshot_json = to_json_text(result);
    // What this snapshot carries past its own transient failures (a dns_unavailable one is
    // never compared with, so it carries nothing).
    if (base && !result.dns_unavailable) {
        const diff_base next = next_diff_base(base, {0, result});
        if (next.policy_source)
            row.policy_source_id = next.policy_source->id;
        row.carried_certificates_json = certificates_json(next.certificates);
    }
    row.findings = result.findings;
    return row;
}

long long save_snapshot(monitor_store& store, const check_result& result, const std::vector<change_event>& changes,
                        std::chrono::system_clock::time_point next_check, const diff_base* base)
{
    return store.save(to_snapshot_row(result, base), changes, next_check);
}

std::optional<stored_snapshot> latest_snapshot(monitor_store& store, const std::string& domain)
{
    const auto row = store.latest(domain);
    if (!row)
        return std::nullopt;
    return stored_snapshot{row->id, check_result_from_json(row->json)};
}

std::optional<diff_base> comparison_base(monitor_store& store, const std::string& domain)
{
    const auto row = store.comparison(domain);
    if (!row)
        return std::nullopt;
    // A stored part that cannot be read (written by another version, edited by hand) must
    // not stop every later check of the domain: it is left out, and said so. Without the
    // previous snapshot there is nothing to compare with; the next one becomes the base.
    auto unreadable = [&](const char* part, const std::exception& e) {
        log::warning("monitor", "stored snapshot part unreadable, ignored",
                     {{"domain", normalize_domain(domain)}, {"snapshot", std::to_string(row->previous.id)},
                      {"part", part}, {"error", e.what()}});
    };
    diff_base base;
    base.previous.id = row->previous.id;
    try {
        base.previous.result = check_result_from_json(row->previous.json);
    } catch (const std::exception& e) {
        unreadable("snapshot", e);
        return std::nullopt;
    }
    if (row->carried_certificates_json) {
        try {
            base.certificates = certificates_from_json(*row->carried_certificates_json);
        } catch (const std::exception& e) {
            unreadable("carried_certificates", e);
        }
    }
    if (row->policy_source) {
        try {
            base.policy_source = stored_snapshot{row->policy_source->id, check_result_from_json(row->policy_source->json)};
        } catch (const std::exception& e) {
            unreadable("policy source", e);
        }
    }
    return base;
}

} // namespace stswatch
