// The JSON of a check result (docs/check.md): written for `stswatch check --json` and the
// monitor's snapshots, and read back from those snapshots.
#include "checks/check_json.hpp"

#include "checks/checker.hpp"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace stswatch {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;
using Poco::Dynamic::Var;

Object new_object() { return Object(Poco::JSON_PRESERVE_KEY_ORDER); }

Var opt(const std::optional<std::string>& v) { return v ? Var(*v) : Var(); }

Array strings(const std::vector<std::string>& items)
{
    Array a;
    for (const auto& s : items)
        a.add(s);
    return a;
}

Object certificate_json(const certificate_info& c)
{
    Object o = new_object();
    o.set("subject_names", strings(c.subject_names));
    o.set("issuer", c.issuer);
    o.set("subject", c.subject);
    o.set("not_before", c.not_before);
    o.set("not_after", c.not_after);
    o.set("days_to_expiry", static_cast<Poco::Int64>(c.days_to_expiry));
    o.set("trusted", c.trusted);
    o.set("name_matches", c.name_matches);
    o.set("expired", c.expired);
    o.set("sha256", c.sha256);
    o.set("verify_error", c.verify_error);
    return o;
}

Var certificate_var(const certificate_info& c) { return c.present ? Var(certificate_json(c)) : Var(); }

Object fetch_json(const policy_fetch_result& f)
{
    Object o = new_object();
    o.set("url", f.url);
    o.set("address", f.address);
    o.set("status", std::string(to_string(f.status)));
    // The lookup of the policy host: "temporary_failure" says our resolver failed, not the
    // domain (the monitor does not read that as the policy disappearing).
    o.set("dns", std::string(to_string(f.dns)));
    o.set("http_status", f.http_status);
    o.set("content_type", f.content_type);
    o.set("location", f.location);
    o.set("error", f.error);
    o.set("certificate", certificate_var(f.certificate));
    return o;
}

Object policy_json(const sts_policy& p)
{
    Object o = new_object();
    o.set("version", std::string("STSv1"));
    o.set("mode", std::string(to_string(p.mode)));
    o.set("max_age", static_cast<Poco::UInt64>(p.max_age));
    o.set("mx", strings(p.mx));
    return o;
}

Object probe_json(const starttls_probe_result& probe)
{
    Object p = new_object();
    p.set("status", std::string(to_string(probe.status)));
    p.set("address", probe.address);
    p.set("error", probe.error);
    p.set("banner", probe.banner);
    p.set("starttls_offered", probe.starttls_offered);
    p.set("timed_out", probe.timed_out);
    return p;
}

Object mx_json(const mx_check& m)
{
    Object o = new_object();
    o.set("host", m.host);
    o.set("preference", static_cast<int>(m.preference));
    o.set("addresses", strings(m.addresses));
    o.set("covered_by", opt(m.covered_by));
    o.set("from_reports", m.from_reports);
    if (m.probe) {
        // A TLS session after STARTTLS, as a sender gets one; whether the EHLO offered
        // STARTTLS at all is probe.starttls_offered.
        o.set("starttls", m.probe->status == starttls_status::ok);
        o.set("tls_version", m.probe->tls_version.empty() ? Var() : Var(m.probe->tls_version));
        o.set("probe", probe_json(*m.probe));
        o.set("certificate", certificate_var(m.probe->certificate));
    } else {
        o.set("starttls", Var());
        o.set("tls_version", Var());
        o.set("probe", Var());
        o.set("certificate", Var());
    }
    // The MX's other addresses, each with what "probe", "tls_version" and "certificate"
    // say of the first.
    Array others;
    for (const auto& other : m.other_probes) {
        Object p = probe_json(other);
        p.set("tls_version", other.tls_version.empty() ? Var() : Var(other.tls_version));
        p.set("certificate", certificate_var(other.certificate));
        others.add(p);
    }
    o.set("other_probes", others);
    // RFC 7672: the TLSA records of _25._tcp.<host> (docs/findings.md, DANE).
    if (m.dane) {
        Object d = new_object();
        d.set("status", to_string(m.dane->status));
        d.set("validated", m.dane->validated);
        d.set("secure", m.dane->secure);
        d.set("bogus", m.dane->bogus);
        d.set("records", strings(m.dane->records));
        d.set("matching", strings(m.dane->matching));
        o.set("dane", d);
    } else {
        o.set("dane", Var());
    }
    return o;
}

// Reading back.

[[noreturn]] void malformed(const std::string& what)
{
    throw std::runtime_error("check result JSON: " + what);
}

// The value of a key that must be there.
Var value_at(const Object::Ptr& o, const std::string& key)
{
    if (!o->has(key))
        malformed("\"" + key + "\" is missing");
    return o->get(key);
}

Object::Ptr object_at(const Object::Ptr& o, const std::string& key, bool nullable = false)
{
    if (!o->has(key))
        malformed("\"" + key + "\" is missing");
    if (o->isNull(key)) {
        if (nullable)
            return {};
        malformed("\"" + key + "\" is null");
    }
    if (!o->isObject(key))
        malformed("\"" + key + "\" is not an object");
    return o->getObject(key);
}

Poco::JSON::Array::Ptr array_at(const Object::Ptr& o, const std::string& key)
{
    if (!o->has(key) || !o->isArray(key))
        malformed("\"" + key + "\" is not an array");
    return o->getArray(key);
}

std::string string_at(const Object::Ptr& o, const std::string& key)
{
    const Var v = value_at(o, key);
    if (!v.isString())
        malformed("\"" + key + "\" is not a string");
    return v.extract<std::string>();
}

std::optional<std::string> opt_string_at(const Object::Ptr& o, const std::string& key)
{
    if (!o->has(key) || o->isNull(key))
        return std::nullopt;
    return string_at(o, key);
}

template <typename Int>
Int int_at(const Object::Ptr& o, const std::string& key)
{
    const Var v = value_at(o, key);
    if (!v.isInteger())
        malformed("\"" + key + "\" is not an integer");
    try {
        return v.convert<Int>();
    } catch (const Poco::Exception&) {
        malformed("\"" + key + "\" is out of range");
    }
}

bool bool_at(const Object::Ptr& o, const std::string& key)
{
    const Var v = value_at(o, key);
    if (!v.isBoolean())
        malformed("\"" + key + "\" is not a boolean");
    return v.extract<bool>();
}

std::vector<std::string> strings_at(const Object::Ptr& o, const std::string& key)
{
    std::vector<std::string> out;
    const auto a = array_at(o, key);
    for (std::size_t i = 0; i < a->size(); ++i) {
        const Var v = a->get(static_cast<unsigned>(i));
        if (!v.isString())
            malformed("\"" + key + "\" holds a value that is not a string");
        out.push_back(v.extract<std::string>());
    }
    return out;
}

// Calls each(object) for the elements of the array at key, in order; `entry` names one in
// the error when it is not an object ("a finding").
template <typename Each>
void for_each_object_at(const Object::Ptr& o, const std::string& key, const char* entry, Each each)
{
    const auto a = array_at(o, key);
    for (std::size_t i = 0; i < a->size(); ++i) {
        const auto item = a->getObject(static_cast<unsigned>(i));
        if (!item)
            malformed(std::string(entry) + " is not an object");
        each(item);
    }
}

template <typename Enum, std::size_t N>
Enum enum_from(const std::string& text, const Enum (&values)[N], const std::string& key)
{
    for (Enum e : values)
        if (text == to_string(e))
            return e;
    malformed("\"" + key + "\" has the unknown value \"" + text + "\"");
}

certificate_info certificate_from(const Object::Ptr& o)
{
    certificate_info c;
    c.present = true;
    c.subject_names = strings_at(o, "subject_names");
    c.issuer = string_at(o, "issuer");
    c.subject = string_at(o, "subject");
    c.not_before = string_at(o, "not_before");
    c.not_after = string_at(o, "not_after");
    c.days_to_expiry = int_at<std::int64_t>(o, "days_to_expiry");
    c.trusted = bool_at(o, "trusted");
    c.name_matches = bool_at(o, "name_matches");
    c.expired = bool_at(o, "expired");
    c.sha256 = string_at(o, "sha256");
    c.verify_error = string_at(o, "verify_error");
    return c;
}

constexpr severity all_severities[] = {severity::error, severity::warning, severity::info};
constexpr sts_mode all_modes[] = {sts_mode::enforce, sts_mode::testing, sts_mode::none};
constexpr policy_fetch_status all_fetch_statuses[] = {
    policy_fetch_status::ok, policy_fetch_status::no_address, policy_fetch_status::private_address,
    policy_fetch_status::connect_failed, policy_fetch_status::tls_failed, policy_fetch_status::cert_invalid,
    policy_fetch_status::redirect, policy_fetch_status::http_status, policy_fetch_status::content_type,
    policy_fetch_status::too_large, policy_fetch_status::bad_response, policy_fetch_status::invalid_response};
constexpr dns_status all_dns_statuses[] = {dns_status::ok, dns_status::nxdomain, dns_status::nodata,
                                           dns_status::temporary_failure};
constexpr starttls_status all_starttls_statuses[] = {
    starttls_status::ok, starttls_status::unreachable, starttls_status::smtp_error,
    starttls_status::starttls_missing, starttls_status::starttls_refused, starttls_status::tls_failed};

starttls_probe_result probe_from(const Object::Ptr& p, const std::string& host)
{
    starttls_probe_result probe;
    probe.host = host;
    probe.status = enum_from(string_at(p, "status"), all_starttls_statuses, "status");
    probe.address = p->has("address") ? string_at(p, "address") : std::string();
    probe.error = string_at(p, "error");
    probe.banner = string_at(p, "banner");
    probe.starttls_offered = p->has("starttls_offered") && bool_at(p, "starttls_offered");
    probe.timed_out = p->has("timed_out") && bool_at(p, "timed_out");   // absent in older snapshots
    return probe;
}

} // namespace

Poco::JSON::Object to_json(const check_result& r)
{
    Object o = new_object();
    o.set("domain", r.domain);
    o.set("checked_at", r.checked_at);
    Array findings;
    for (const auto& f : r.findings) {
        Object fo = new_object();
        fo.set("code", f.code);
        fo.set("severity", std::string(to_string(f.level)));
        fo.set("subject", f.subject);
        fo.set("message", f.message);
        fo.set("rfc", f.rfc);
        findings.add(fo);
    }
    o.set("findings", findings);

    Object sts = new_object();
    sts.set("record", opt(r.sts.record));
    sts.set("id", opt(r.sts.id));
    sts.set("policy_text", opt(r.sts.policy_text));
    sts.set("policy", r.sts.policy ? Var(policy_json(*r.sts.policy)) : Var());
    sts.set("candidate", r.sts.candidate);
    sts.set("fetch", r.sts.fetch ? Var(fetch_json(*r.sts.fetch)) : Var());
    o.set("sts", sts);

    Object tlsrpt = new_object();
    tlsrpt.set("record", opt(r.tlsrpt.record));
    tlsrpt.set("rua", strings(r.tlsrpt.rua));
    o.set("tlsrpt", tlsrpt);

    Array mx;
    for (const auto& m : r.mx)
        mx.add(mx_json(m));
    o.set("mx", mx);
    return o;
}

std::string to_json_text(const check_result& r)
{
    std::ostringstream out;
    to_json(r).stringify(out, 0);
    return out.str();
}

check_result check_result_from_json(const std::string& text)
{
    Object::Ptr root;
    try {
        Poco::JSON::Parser parser;
        const Var v = parser.parse(text);
        if (v.type() != typeid(Object::Ptr))
            malformed("not a JSON object");
        root = v.extract<Object::Ptr>();
    } catch (const Poco::Exception& e) {
        malformed(e.displayText());
    }

    check_result r;
    r.domain = string_at(root, "domain");
    r.checked_at = string_at(root, "checked_at");
    for_each_object_at(root, "findings", "a finding", [&](const Object::Ptr& fo) {
        finding f;
        f.code = string_at(fo, "code");
        f.level = enum_from(string_at(fo, "severity"), all_severities, "severity");
        f.subject = string_at(fo, "subject");
        f.message = string_at(fo, "message");
        f.rfc = string_at(fo, "rfc");
        r.findings.push_back(std::move(f));
    });
    r.dns_unavailable = std::any_of(r.findings.begin(), r.findings.end(),
                                    [](const finding& f) { return f.code == "sts-record-dns-error"; });

    const auto sts = object_at(root, "sts");
    r.sts.record = opt_string_at(sts, "record");
    r.sts.id = opt_string_at(sts, "id");
    r.sts.policy_text = opt_string_at(sts, "policy_text");
    if (const auto p = object_at(sts, "policy", true)) {
        sts_policy policy;
        policy.mode = enum_from(string_at(p, "mode"), all_modes, "mode");
        policy.max_age = int_at<std::uint64_t>(p, "max_age");
        policy.mx = strings_at(p, "mx");
        r.sts.policy = std::move(policy);
    }
    r.sts.candidate = sts->has("candidate") && bool_at(sts, "candidate");
    if (const auto f = object_at(sts, "fetch", true)) {
        policy_fetch_result fetch;
        fetch.url = string_at(f, "url");
        const std::string prefix = "https://";
        if (fetch.url.rfind(prefix, 0) == 0)
            fetch.host = fetch.url.substr(prefix.size(), fetch.url.find('/', prefix.size()) - prefix.size());
        fetch.address = string_at(f, "address");
        fetch.status = enum_from(string_at(f, "status"), all_fetch_statuses, "status");
        if (f->has("dns"))   // absent in snapshots stored before it was recorded
            fetch.dns = enum_from(string_at(f, "dns"), all_dns_statuses, "dns");
        fetch.http_status = int_at<int>(f, "http_status");
        fetch.content_type = string_at(f, "content_type");
        fetch.location = string_at(f, "location");
        fetch.error = string_at(f, "error");
        if (const auto c = object_at(f, "certificate", true))
            fetch.certificate = certificate_from(c);
        if (fetch.status == policy_fetch_status::ok && r.sts.policy_text && !r.sts.candidate)
            fetch.body = *r.sts.policy_text;
        r.sts.fetch = std::move(fetch);
    }

    const auto tlsrpt = object_at(root, "tlsrpt");
    r.tlsrpt.record = opt_string_at(tlsrpt, "record");
    r.tlsrpt.rua = strings_at(tlsrpt, "rua");

    for_each_object_at(root, "mx", "an mx entry", [&](const Object::Ptr& mo) {
        mx_check m;
        m.host = string_at(mo, "host");
        m.preference = int_at<std::uint16_t>(mo, "preference");
        m.addresses = strings_at(mo, "addresses");
        m.covered_by = opt_string_at(mo, "covered_by");
        m.from_reports = mo->has("from_reports") && bool_at(mo, "from_reports");
        if (const auto p = object_at(mo, "probe", true)) {
            starttls_probe_result probe = probe_from(p, m.host);
            // Snapshots written before probe.starttls_offered existed had it as "starttls".
            if (!p->has("starttls_offered"))
                probe.starttls_offered = mo->has("starttls") && !mo->isNull("starttls") && bool_at(mo, "starttls");
            probe.tls_version = opt_string_at(mo, "tls_version").value_or("");
            if (const auto c = object_at(mo, "certificate", true))
                probe.certificate = certificate_from(c);
            m.probe = std::move(probe);
        }
        if (mo->has("other_probes")) {   // absent in older snapshots
            for_each_object_at(mo, "other_probes", "an other_probes entry", [&](const Object::Ptr& p) {
                starttls_probe_result probe = probe_from(p, m.host);
                probe.tls_version = opt_string_at(p, "tls_version").value_or("");
                if (const auto c = object_at(p, "certificate", true))
                    probe.certificate = certificate_from(c);
                m.other_probes.push_back(std::move(probe));
            });
        }
        if (const auto d = mo->has("dane") ? object_at(mo, "dane", true) : Object::Ptr()) {   // absent in older snapshots
            mx_check::dane_part dane;
            dane.status = enum_from(string_at(d, "status"), all_dns_statuses, "dane.status");
            dane.validated = bool_at(d, "validated");
            dane.secure = bool_at(d, "secure");
            dane.bogus = bool_at(d, "bogus");
            dane.records = strings_at(d, "records");
            dane.matching = strings_at(d, "matching");
            m.dane = std::move(dane);
        }
        r.mx.push_back(std::move(m));
    });
    return r;
}

} // namespace stswatch
