// RFC 8460 §4.4 report JSON, read the way real senders write it (docs/senders.md, "Report JSON").
//
// Decisions where the RFC leaves room or senders stray from it:
// - JSON null, an absent key and (for optional strings) "" all mean "not given"
//   (Stalwart sends null and empty values for absent fields).
// - Counts are JSON integers >= 0. An integral float (3.0, 1e3) is the same number and is
//   accepted; a count in quotes made of digits only ("12") is kept with a warning; negative
//   numbers, fractions, other strings and other types are rejected.
// - A report must describe at least one policy: an empty "policies" array is rejected, as
//   it carries neither a policy domain nor a session count.
// - Inconsistencies that lose no data (failure details adding up to more than the total,
//   a date range that ends before it starts, an unregistered result-type) are warnings.
#include "tlsrpt/report_parser.hpp"
#include "common/text.hpp"

#include "tlsrpt/report_json.hpp"
#include "common/domain.hpp"
#include "common/utf8.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>

namespace stswatch {

report_error::report_error(std::string field, std::string reason)
    : std::runtime_error(field.empty() ? reason : field + ": " + reason),
      field_(std::move(field)),
      reason_(std::move(reason))
{
}

namespace {

// The document is read with simdjson's DOM (RFC 8259 validated, UTF-8 checked); these are
// its nodes. They refer into the parser that read them, which outlives parse_report's use.
using Var = simdjson::dom::element;
using Object = simdjson::dom::object;
using Array = simdjson::dom::array;
using simdjson::dom::element_type;

constexpr std::int64_t max_count = std::numeric_limits<std::int64_t>::max();

// Untrusted text quoted in an error or a warning: printable ASCII only, bounded.
std::string excerpt(std::string_view s, std::size_t max = 60)
{
    std::string out;
    for (std::size_t i = 0; i < s.size() && i < max; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        out += c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?';
    }
    if (s.size() > max)
        out += "...";
    return out;
}

std::string quote_text(std::string_view s) { return "\"" + excerpt(s) + "\""; }

std::string member_path(const std::string& parent, std::string_view key)
{
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string index_path(const std::string& parent, std::size_t i)
{
    return parent + "[" + std::to_string(i) + "]";
}

bool is_object(const Var& v) { return v.type() == element_type::OBJECT; }
bool is_array(const Var& v) { return v.type() == element_type::ARRAY; }
bool is_null(const Var& v) { return v.type() == element_type::NULL_VALUE; }
bool is_string(const Var& v) { return v.type() == element_type::STRING; }

std::string type_name(const Var& v)
{
    switch (v.type()) {
    case element_type::NULL_VALUE: return "null";
    case element_type::OBJECT: return "an object";
    case element_type::ARRAY: return "an array";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    }
    return "an unexpected value";
}

[[noreturn]] void wrong_type(const std::string& path, const char* expected, const char* found)
{
    throw report_error(path, std::string("expected ") + expected + ", found " + found);
}

[[noreturn]] void wrong_type(const std::string& path, const char* expected, const Var& v)
{
    wrong_type(path, expected, type_name(v).c_str());
}

struct parse_context {
    const report_metadata& metadata;
    const parse_limits& limits;
    std::vector<std::string>& warnings;
    std::vector<std::string> filled;   // notes for metadata.filled, added once the report is accepted

    void warn(const std::string& path, const std::string& what)
    {
        warnings.push_back(path.empty() ? what : path + ": " + what);
    }
};

// The value of key as the document gives it, null included; of a key given twice, the last
// (RFC 8259 §4 leaves it open; the last is what a reader that assigns members in order keeps).
std::optional<Var> lookup(const Object& o, std::string_view key)
{
    std::optional<Var> found;
    for (const auto field : o) {
        if (field.key == key)
            found = field.value;
    }
    return found;
}

bool has(const Object& o, std::string_view key) { return lookup(o, key).has_value(); }

// The value of key, or nothing when it is absent or null.
std::optional<Var> member(const Object& o, std::string_view key)
{
    auto v = lookup(o, key);
    if (v && is_null(*v))
        return std::nullopt;
    return v;
}

Var required(const Object& o, std::string_view key, const std::string& path)
{
    const auto v = lookup(o, key);
    if (!v)
        throw report_error(path, "missing");
    if (is_null(*v))
        throw report_error(path, "missing (null)");
    return *v;
}

Object as_object(const Var& v, const std::string& path)
{
    Object o;
    if (v.get(o))
        wrong_type(path, "an object", v);
    return o;
}

Array as_array(const Var& v, const std::string& path)
{
    Array a;
    if (v.get(a))
        wrong_type(path, "an array", v);
    return a;
}

std::string as_string(const Var& v, const std::string& path)
{
    std::string_view s;
    if (v.get(s))
        wrong_type(path, "a string", v);
    // The parser checked the document's UTF-8 and every escape (RFC 8259 §8.1), and
    // check_no_nul every string: what is kept is written back unchanged.
    return std::string(s);
}

std::string required_string(const Object& o, const std::string& key, const std::string& path)
{
    std::string s = as_string(required(o, key, path), path);
    if (s.empty())
        throw report_error(path, "empty");
    return s;
}

std::optional<std::string> optional_string(const Object& o, const std::string& key, const std::string& path)
{
    const auto v = member(o, key);
    if (!v)
        return std::nullopt;
    std::string s = as_string(*v, path);
    // Stalwart-built senders: "" for a field they have no value for; it says no more than
    // an absent field, and the canonical form leaves both out.
    if (s.empty())
        return std::nullopt;
    return s;
}

// An optional field that tells about the sessions but counts none of them (contact-info,
// a failure detail's addresses, names and reason): of the wrong type it is dropped with a
// warning rather than refusing the report and losing its sessions.
std::optional<std::string> informational_string(const Object& o, const std::string& key, const std::string& path,
                                                parse_context& ctx)
{
    try {
        return optional_string(o, key, path);
    } catch (const report_error& e) {
        ctx.warn(path, e.reason() + "; dropped (an informational field: the sessions are kept)");
        return std::nullopt;
    }
}

// A number as the sender wrote it, for messages: the shortest text that reads back the same.
std::string number_text(double d)
{
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    for (int precision = 1; precision < 17; ++precision) {
        char shorter[40];
        std::snprintf(shorter, sizeof shorter, "%.*g", precision, d);
        if (std::strtod(shorter, nullptr) == d)
            return shorter;
    }
    return buf;
}

// RFC 8460 §4.4: counts are "integer, encoded as a JSON number".
std::int64_t as_count(const Var& v, const std::string& path, parse_context& ctx)
{
    switch (v.type()) {
    case element_type::INT64: {
        std::int64_t n = 0;
        if (v.get(n) != simdjson::SUCCESS)
            wrong_type(path, "a count (a JSON integer)", v);
        if (n < 0)
            throw report_error(path, "negative count " + std::to_string(n));
        return n;
    }
    case element_type::UINT64: {
        std::uint64_t n = 0;
        if (v.get(n) != simdjson::SUCCESS)
            wrong_type(path, "a count (a JSON integer)", v);
        if (n > static_cast<std::uint64_t>(max_count))
            throw report_error(path, "count " + std::to_string(n) + " too large");
        return static_cast<std::int64_t>(n);
    }
    case element_type::DOUBLE: {
        // Writers that hold every number as a float print 3 as 3.0: still an integer.
        double d = 0;
        if (v.get(d) != simdjson::SUCCESS)
            wrong_type(path, "a count (a JSON integer)", v);
        if (!std::isfinite(d))
            throw report_error(path, "not a finite number");
        if (d < 0)
            throw report_error(path, "negative count " + number_text(d));
        if (std::floor(d) != d)
            throw report_error(path, "not an integer: " + number_text(d));
        if (d >= 9223372036854775808.0)
            throw report_error(path, "count " + number_text(d) + " too large");
        return static_cast<std::int64_t>(d);
    }
    case element_type::STRING: {
        std::string_view s;
        if (v.get(s) != simdjson::SUCCESS)
            wrong_type(path, "a count (a JSON integer)", v);
        bool digits = !s.empty() && s.size() <= 18;
        for (char c : s)
            digits = digits && c >= '0' && c <= '9';
        if (!digits)
            throw report_error(path, "expected a count (a JSON integer), found the string " + quote_text(s));
        // A count in quotes names its number unambiguously: keep it, but say so.
        ctx.warn(path, "count written as a string " + quote_text(s) + ", read as a number");
        return std::stoll(std::string(s));
    }
    default:
        wrong_type(path, "a count (a JSON integer)", v);
    }
}

std::int64_t required_count(const Object& o, const std::string& key, const std::string& path, parse_context& ctx)
{
    return as_count(required(o, key, path), path, ctx);
}

utc_time required_datetime(const Object& o, const std::string& key, const std::string& path)
{
    const std::string text = required_string(o, key, path);
    const time_parse t = parse_rfc3339(text);
    if (!t.value)
        throw report_error(path, "not an RFC 3339 date-time: " + quote_text(text) + " (" + t.error + ")");
    // Microsoft (2023): date-times without a zone; read as UTC (t.zone_missing), which is
    // what the sender means, so no warning.
    return *t.value;
}

// A string or an array of strings, as a list: absent or null is an empty list.
std::vector<std::string> string_list(const Object& o, const std::string& key, const std::string& path)
{
    std::vector<std::string> items;
    const auto v = member(o, key);
    if (!v)
        return items;
    if (is_string(*v)) {
        // RFC 8460 Appendix B writes "mx-host" as a bare string (erratum 6241 made it an
        // array); a sender following the example does the same: one item.
        items.push_back(as_string(*v, path));
        return items;
    }
    if (!is_array(*v))
        wrong_type(path, "an array of strings", *v);
    const Array array = as_array(*v, path);
    std::size_t i = 0;
    for (const Var item : array)
        items.push_back(as_string(item, index_path(path, i++)));
    return items;
}

bool is_domain_label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80;
}

// Whether name (normalised) can serve as a policy domain. Host names (LDH) are the norm;
// a name with "_" labels or U-labels is still the sender's name for the domain, so it is
// kept with a warning, while anything with blanks, "@", "*", empty labels and the like is
// not a domain at all.
enum class domain_check { host_name, unusual, invalid };

domain_check check_policy_domain(std::string_view name)
{
    if (is_valid_domain(name))
        return domain_check::host_name;
    if (name.empty() || name.size() > 253)
        return domain_check::invalid;
    std::size_t label_size = 0;
    for (char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '.') {
            if (label_size == 0)
                return domain_check::invalid;
            label_size = 0;
            continue;
        }
        if (!is_domain_label_char(c) || ++label_size > 63)
            return domain_check::invalid;
    }
    return label_size == 0 ? domain_check::invalid : domain_check::unusual;
}

bool all_digits(std::string_view s)
{
    if (s.empty())
        return false;
    for (char c : s) {
        if (c < '0' || c > '9')
            return false;
    }
    return true;
}

bool ends_with_ignoring_case(std::string_view s, std::string_view suffix)
{
    if (s.size() < suffix.size())
        return false;
    return normalize_domain(s.substr(s.size() - suffix.size())) == suffix;
}

// RFC 8460 §5.1: sender "!" policy-domain "!" begin-timestamp "!" end-timestamp
// [ "!" unique-id ] "." ("json" / "json.gz"). Paths are reduced to their base name.
std::optional<std::string> domain_from_file_name(std::string_view name)
{
    const std::size_t slash = name.find_last_of("/\\");
    if (slash != std::string_view::npos)
        name.remove_prefix(slash + 1);
    name = text::trim(name);
    if (ends_with_ignoring_case(name, ".json.gz"))
        name.remove_suffix(8);
    else if (ends_with_ignoring_case(name, ".json"))
        name.remove_suffix(5);
    else
        return std::nullopt;
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const std::size_t bang = name.find('!', start);
        parts.push_back(name.substr(start, bang == std::string_view::npos ? std::string_view::npos : bang - start));
        if (bang == std::string_view::npos)
            break;
        start = bang + 1;
    }
    if (parts.size() != 4 && parts.size() != 5)
        return std::nullopt;
    if (!all_digits(parts[2]) || !all_digits(parts[3]) || (parts.size() == 5 && parts[4].empty()))
        return std::nullopt;
    std::string domain = normalize_domain(parts[1]);
    if (!is_valid_domain(domain))
        return std::nullopt;
    return domain;
}

struct filled_value {
    std::string value;
    std::string source;   // the metadata field it came from
};

// Postfix with the sys4 tlsrpt reporter (2025): "no-policy-found" policies without a
// "policy-domain". The email's TLS-Report-Domain header (RFC 8460 §5.3) names the policy
// domain; failing that, the report's file name does (RFC 8460 §5.1).
std::optional<filled_value> policy_domain_from_metadata(const report_metadata& metadata)
{
    if (const auto it = metadata.fields.find("tls-report-domain"); it != metadata.fields.end()) {
        std::string domain = normalize_domain(text::trim(it->second));
        if (is_valid_domain(domain))
            return filled_value{std::move(domain), "tls-report-domain"};
    }
    for (const char* key : {"file-name", "attachment-file-name"}) {
        if (const auto it = metadata.fields.find(key); it != metadata.fields.end()) {
            if (auto domain = domain_from_file_name(it->second))
                return filled_value{std::move(*domain), key};
        }
    }
    return std::nullopt;
}

std::string policy_domain(const Object& policy, const std::string& path, parse_context& ctx, bool& filled)
{
    filled = false;
    if (auto given = optional_string(policy, "policy-domain", path)) {
        std::string domain = normalize_domain(*given);
        switch (check_policy_domain(domain)) {
        case domain_check::host_name:
            return domain;
        case domain_check::unusual:
            // RFC 8460 §4.4: IDNs "MUST consist of the Punycode-encoded A-labels".
            ctx.warn(path, "not a host name: " + quote_text(*given) + " (kept as sent)");
            return domain;
        case domain_check::invalid:
            throw report_error(path, "not a domain name: " + quote_text(*given));
        }
    }
    filled = true;
    auto source = policy_domain_from_metadata(ctx.metadata);
    if (!source)
        return {};   // filled from the report itself once every policy is read
    ctx.filled.push_back(path + " from " + source->source);
    return std::move(source->value);
}

// The domain at the end of a report-id, after its last '_' or '+': Google and Postfix with
// the sys4 reporter write "2025-09-20T00:00:00Z_idx1_example.org", Microsoft
// "133810389004212345+example.com". A suffix without a dot, or not a host name, is none.
std::optional<std::string> domain_from_report_id(std::string_view id)
{
    const std::size_t cut = id.find_last_of("_+");
    if (cut == std::string_view::npos)
        return std::nullopt;
    std::string domain = normalize_domain(id.substr(cut + 1));
    if (domain.find('.') == std::string::npos || check_policy_domain(domain) != domain_check::host_name)
        return std::nullopt;
    return domain;
}

// Policies without a policy-domain that neither the email nor the file name could fill.
// In order: the one domain the report's other policies name (a report from the sys4
// reporter covers one domain); the domain at the end of the report-id; else the explicit
// unknown domain, so that the sessions are kept and counted apart from every real domain.
void fill_missing_policy_domains(tls_report& report, parse_context& ctx)
{
    std::vector<std::string> named;
    for (const auto& p : report.policies) {
        if (!p.policy_domain.empty() && std::find(named.begin(), named.end(), p.policy_domain) == named.end())
            named.push_back(p.policy_domain);
    }
    const auto from_id = domain_from_report_id(report.report_id);
    for (std::size_t i = 0; i < report.policies.size(); ++i) {
        report_policy& p = report.policies[i];
        if (!p.policy_domain.empty())
            continue;
        const std::string path = member_path(member_path(index_path("policies", i), "policy"), "policy-domain");
        if (named.size() == 1) {
            p.policy_domain = named.front();
            ctx.filled.push_back(path + " from the report's other policies");
            ctx.warn(path, "missing; taken from the report's other policies (" + p.policy_domain + ")");
        } else if (from_id) {
            p.policy_domain = *from_id;
            ctx.filled.push_back(path + " from report-id");
            ctx.warn(path, "missing; taken from the end of report-id " + quote_text(report.report_id));
        } else {
            p.policy_domain = std::string(unknown_policy_domain);
            ctx.filled.push_back(path + " as " + std::string(unknown_policy_domain));
            ctx.warn(path, std::string("missing, and neither the email, the file name, the other policies (")
                               + (named.empty() ? "none names a domain" : std::to_string(named.size()) + " domains")
                               + ") nor the report-id name it: kept under " + std::string(unknown_policy_domain));
        }
    }
}

policy_type read_policy_type(const Object& policy, const std::string& path)
{
    const std::string text = required_string(policy, "policy-type", path);
    // Case carries no meaning here ("STS" is "sts").
    std::string lower = text;
    for (char& c : lower)
        c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    if (auto t = policy_type_from_string(lower))
        return *t;
    throw report_error(path, "unknown policy-type " + quote_text(text) + " (RFC 8460 §4.4 allows sts, tlsa, no-policy-found)");
}

failure_detail read_failure_detail(const Var& v, const std::string& path, parse_context& ctx)
{
    const Object o = as_object(v, path);
    failure_detail d;
    // RFC 8460 §4.3: result types form an IANA registry that grows; kept as sent.
    d.result_type = required_string(o, "result-type", member_path(path, "result-type"));
    if (!result_type_known(d.result_type))
        ctx.warn(member_path(path, "result-type"), "unregistered result-type " + quote_text(d.result_type) + " (kept as sent)");
    d.sending_mta_ip = informational_string(o, "sending-mta-ip", member_path(path, "sending-mta-ip"), ctx);
    d.receiving_mx_hostname = informational_string(o, "receiving-mx-hostname", member_path(path, "receiving-mx-hostname"), ctx);
    if (!d.receiving_mx_hostname) {
        // SocketLabs (2020): "receiving-mx-host-name", with an extra hyphen.
        d.receiving_mx_hostname = informational_string(o, "receiving-mx-host-name", member_path(path, "receiving-mx-host-name"), ctx);
    }
    if (d.receiving_mx_hostname) {
        d.receiving_mx_hostname = normalize_domain(*d.receiving_mx_hostname);
        // "." is the root and names no MX: as absent as "".
        if (d.receiving_mx_hostname->empty())
            d.receiving_mx_hostname.reset();
    }
    d.receiving_mx_helo = informational_string(o, "receiving-mx-helo", member_path(path, "receiving-mx-helo"), ctx);
    d.receiving_ip = informational_string(o, "receiving-ip", member_path(path, "receiving-ip"), ctx);
    if (!has(o, "failed-session-count") && has(o, "session-count"))
        throw report_error(member_path(path, "session-count"),
                           "pre-RFC draft schema (draft-ietf-uta-smtp-tlsrpt): \"session-count\" instead of RFC 8460 \"failed-session-count\"");
    d.failed_session_count = required_count(o, "failed-session-count", member_path(path, "failed-session-count"), ctx);
    // RFC 8460 §4.4 names the key "additional-information" (its value an
    // "additional-info-uri"); the RFC's own example puts a "URI" with spaces in it: verbatim.
    d.additional_information = informational_string(o, "additional-information", member_path(path, "additional-information"), ctx);
    // mail.ru: free text such as "bad https response code: 404": verbatim.
    d.failure_reason_code = informational_string(o, "failure-reason-code", member_path(path, "failure-reason-code"), ctx);
    return d;
}

report_policy read_policy(const Var& v, const std::string& path, parse_context& ctx)
{
    // Postfix with the sys4 reporter writes "summary" before "policy": key order is free
    // (RFC 8259 §4), and Poco's objects are read by key.
    const Object o = as_object(v, path);
    report_policy p;

    const std::string policy_path = member_path(path, "policy");
    const Object policy = as_object(required(o, "policy", policy_path), policy_path);
    p.type = read_policy_type(policy, member_path(policy_path, "policy-type"));
    // Microsoft (sts-policy-fetch-error) and mail.ru: no "policy-string" at all; Stalwart: [].
    // Google: lines kept verbatim, trailing spaces and the domain's line order included.
    // Microsoft TLSA: one string that is itself a JSON array text of TLSA records, kept as is.
    p.policy_string = string_list(policy, "policy-string", member_path(policy_path, "policy-string"));
    p.policy_domain = policy_domain(policy, member_path(policy_path, "policy-domain"), ctx, p.policy_domain_filled);
    // Google: "mx-host" an array (recent) or absent (older); Microsoft: absent; Stalwart: [].
    p.mx_host = string_list(policy, "mx-host", member_path(policy_path, "mx-host"));
    for (auto& pattern : p.mx_host)
        pattern = normalize_domain(pattern);

    const std::string summary_path = member_path(path, "summary");
    const Object summary = as_object(required(o, "summary", summary_path), summary_path);
    if (!has(summary, "total-successful-session-count") && !has(summary, "total-failure-session-count")
        && (has(summary, "success-aggregate") || has(summary, "failure-aggregate")))
        throw report_error(summary_path,
                           "pre-RFC draft schema (draft-ietf-uta-smtp-tlsrpt): \"success-aggregate\"/\"failure-aggregate\" "
                           "instead of RFC 8460 \"total-successful-session-count\"/\"total-failure-session-count\"");
    p.total_successful_session_count = required_count(
        summary, "total-successful-session-count", member_path(summary_path, "total-successful-session-count"), ctx);
    p.total_failure_session_count = required_count(
        summary, "total-failure-session-count", member_path(summary_path, "total-failure-session-count"), ctx);

    // Google: no "failure-details" key when there were no failures; Stalwart: [] or null.
    const std::string details_path = member_path(path, "failure-details");
    if (const auto details = member(o, "failure-details")) {
        const Array array = as_array(*details, details_path);
        if (array.size() > ctx.limits.max_failure_details)
            throw report_error(details_path, std::to_string(array.size()) + " failure details, more than the limit of "
                                                 + std::to_string(ctx.limits.max_failure_details));
        p.failure_details.reserve(array.size());
        std::size_t i = 0;
        for (const Var detail : array)
            p.failure_details.push_back(read_failure_detail(detail, index_path(details_path, i++), ctx));
    }

    // mail.ru: failure details that add up to more than total-failure-session-count. Both
    // numbers are the sender's; neither is corrected, the inconsistency is reported.
    std::int64_t detailed = 0;
    for (const auto& d : p.failure_details) {
        if (__builtin_add_overflow(detailed, d.failed_session_count, &detailed))
            detailed = max_count;
    }
    if (detailed > p.total_failure_session_count)
        ctx.warn(path, "failure-details add up to " + std::to_string(detailed)
                           + " failed sessions, more than summary.total-failure-session-count "
                           + std::to_string(p.total_failure_session_count) + " (policy " + to_string(p.type) + " "
                           + excerpt(p.policy_domain) + "); both kept");
    return p;
}

// The offset of the first byte of json that does not begin a well-formed UTF-8 sequence.
std::size_t invalid_utf8_offset(std::string_view json)
{
    for (std::size_t i = 0; i < json.size();) {
        const std::size_t n = utf8_sequence_length(json, i);
        if (n == 0)
            return i;
        i += n;
    }
    return json.size();
}

// A NUL (escaped as \u0000: the parser refuses a raw one) has no place in a report and
// cannot be stored in a PostgreSQL text column.
bool holds_nul(const Var& v)
{
    std::string_view text;
    Array array;
    Object object;
    if (v.get(text) == simdjson::SUCCESS)
        return text.find('\0') != std::string_view::npos;
    if (v.get(array) == simdjson::SUCCESS) {
        for (const Var item : array)
            if (holds_nul(item))
                return true;
        return false;
    }
    if (v.get(object) == simdjson::SUCCESS) {
        for (const auto field : object)
            if (field.key.find('\0') != std::string_view::npos || holds_nul(field.value))
                return true;
    }
    return false;
}

// Documents up to this size are read by a parser kept per thread (its buffers, about 14
// bytes per byte of JSON, stay allocated); a larger one gets a parser of its own that goes
// with it, so that one large report does not pin its memory in every intake thread.
constexpr std::size_t reused_parser_capacity = 16 * 1024;

Var parse_json(std::string_view json, const parse_limits& limits, std::unique_ptr<simdjson::dom::parser>& own)
{
    // A UTF-8 byte order mark is not JSON (RFC 8259 §8.1) but some writers add one.
    if (json.substr(0, 3) == "\xEF\xBB\xBF")
        json.remove_prefix(3);
    const std::size_t first = json.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos)
        throw report_error("", "not JSON: empty document");
    if (json[first] != '{' && json[first] != '[')
        throw report_error("", "not a TLS report: expected a JSON object, found " + quote_text(json.substr(first, 16)));

    thread_local simdjson::dom::parser reused(reused_parser_capacity);
    simdjson::dom::parser* parser = &reused;
    if (json.size() > reused_parser_capacity) {
        own = std::make_unique<simdjson::dom::parser>(json.size());
        parser = own.get();
    }
    const std::size_t depth = std::max(1u, limits.max_depth);
    if (parser->max_depth() != depth || parser->capacity() < json.size()) {
        if (parser->allocate(std::max(json.size(), parser->capacity()), depth) != simdjson::SUCCESS)
            throw std::bad_alloc();
    }
    Var document;
    switch (const auto error = parser->parse(json.data(), json.size(), true).get(document)) {
    case simdjson::SUCCESS: break;
    case simdjson::DEPTH_ERROR:
        throw report_error("", "JSON nested deeper than the limit of " + std::to_string(limits.max_depth) + " levels");
    case simdjson::UTF8_ERROR:
        throw report_error("", "not JSON: invalid UTF-8 at byte offset " + std::to_string(invalid_utf8_offset(json)));
    case simdjson::MEMALLOC: throw std::bad_alloc();
    default: throw report_error("", std::string("not JSON: ") + simdjson::error_message(error));
    }
    if (json.find("\\u0000") != std::string_view::npos && holds_nul(document))
        throw report_error("", "not JSON: a string holds a NUL character (\\u0000)");
    return document;
}

std::string report_id(const Object& root, parse_context& ctx)
{
    if (auto id = optional_string(root, "report-id", "report-id"))
        return *id;
    // RFC 8460 §5.6: the Report-ID of the email Subject names the same report; the body's
    // report-id wins when there is one (Google writes them differently), and the Subject's
    // stands in when there is not.
    if (const auto it = ctx.metadata.fields.find("subject-report-id"); it != ctx.metadata.fields.end()) {
        std::string_view id = text::trim(it->second);
        if (id.size() >= 2 && id.front() == '<' && id.back() == '>')
            id = text::trim(id.substr(1, id.size() - 2));
        if (!id.empty() && is_valid_utf8(id)) {
            ctx.filled.push_back("report-id from subject-report-id");
            return std::string(id);
        }
    }
    const auto given = lookup(root, "report-id");
    if (given && !is_null(*given))
        throw report_error("report-id", "empty");
    throw report_error("report-id", given ? "missing (null)" : "missing");
}

} // namespace

parsed_report parse_report(std::string_view json, report_metadata& metadata, const parse_limits& limits)
{
    std::unique_ptr<simdjson::dom::parser> own_parser;   // for a large document only
    const Var document = parse_json(json, limits, own_parser);
    if (!is_object(document))
        throw report_error("", "not a TLS report: the JSON document is " + type_name(document) + ", not an object");
    const Object root = as_object(document, "");

    bool has_rfc_key = false;
    for (const char* key : {"organization-name", "date-range", "report-id", "policies", "policy", "contact-info"})
        has_rfc_key = has_rfc_key || has(root, key);
    if (!has_rfc_key)
        throw report_error("", "not a TLS report: none of the RFC 8460 §4.4 keys (organization-name, date-range, "
                               "report-id, policies)");
    if (!has(root, "policies") && (has(root, "policy") || has(root, "summary")))
        throw report_error("", "pre-RFC draft schema (draft-ietf-uta-smtp-tlsrpt): a single \"policy\" object "
                               "instead of the RFC 8460 \"policies\" array");

    parsed_report result;
    parse_context ctx{metadata, limits, result.warnings, {}};
    tls_report& report = result.report;

    // Stalwart-built senders: the organization name is a host name; kept as sent.
    report.organization_name = required_string(root, "organization-name", "organization-name");

    const Object range = as_object(required(root, "date-range", "date-range"), "date-range");
    // RFC 3339 §5.6 with numeric offsets and fractions normalised to UTC. mail.ru's range
    // ends at the next midnight rather than at 23:59:59Z: accepted as written.
    report.start_datetime = required_datetime(range, "start-datetime", "date-range.start-datetime");
    report.end_datetime = required_datetime(range, "end-datetime", "date-range.end-datetime");
    if (report.end_datetime < report.start_datetime)
        ctx.warn("date-range", "end-datetime " + format_rfc3339(report.end_datetime) + " is before start-datetime "
                                   + format_rfc3339(report.start_datetime));

    // Stalwart-built senders: "contact-info": null.
    report.contact_info = informational_string(root, "contact-info", "contact-info", ctx);
    // SocketLabs: upper-case hex ids; Microsoft: "<digits>+<domain>"; kept as sent.
    report.report_id = report_id(root, ctx);

    const Array policies = as_array(required(root, "policies", "policies"), "policies");
    if (policies.size() == 0)
        throw report_error("policies", "empty: an RFC 8460 report describes at least one policy");
    if (policies.size() > limits.max_policies)
        throw report_error("policies", std::to_string(policies.size()) + " policies, more than the limit of "
                                           + std::to_string(limits.max_policies));
    // Google: several entries for the same domain (no-policy-found and two sts policies when
    // the policy changed during the day); Microsoft: a tlsa and an sts entry counting the
    // same sessions. Each is kept as its own policy; none are merged or added up here.
    report.policies.reserve(policies.size());
    std::size_t i = 0;
    for (const Var policy : policies)
        report.policies.push_back(read_policy(policy, index_path("policies", i++), ctx));
    fill_missing_policy_domains(report, ctx);
    metadata.filled.insert(metadata.filled.end(), ctx.filled.begin(), ctx.filled.end());
    return result;
}

bool policy_domain_accepted(const std::vector<std::string>& accept_domains, std::string_view policy_domain)
{
    if (accept_domains.empty() || policy_domain == unknown_policy_domain)
        return true;
    const std::string wanted = normalize_domain(policy_domain);
    return !wanted.empty() && std::any_of(accept_domains.begin(), accept_domains.end(),
                                          [&](const std::string& d) { return normalize_domain(d) == wanted; });
}

} // namespace stswatch
