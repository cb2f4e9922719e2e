#include "bench/report_gen.hpp"

#include "tlsrpt/decode.hpp"

#include <ctime>
#include <stdexcept>
#include <string_view>

namespace stswatch::bench {

namespace {

using rng_type = std::mt19937_64;

// Raw engine output reduced by modulo: the bias is irrelevant here, and unlike the standard
// distributions the result is the same with every standard library.
std::uint64_t draw(rng_type& rng, std::uint64_t n) { return rng() % n; }
bool chance(rng_type& rng, unsigned percent) { return draw(rng, 100) < percent; }
std::int64_t between(rng_type& rng, std::int64_t lo, std::int64_t hi)
{
    return lo + static_cast<std::int64_t>(draw(rng, static_cast<std::uint64_t>(hi - lo + 1)));
}

template <typename T, std::size_t N>
const T& pick(rng_type& rng, const T (&items)[N]) { return items[draw(rng, N)]; }

std::string hex(std::uint64_t value, int digits)
{
    static constexpr char digit[] = "0123456789abcdef";
    std::string out(static_cast<std::size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i, value >>= 4) out[static_cast<std::size_t>(i)] = digit[value & 0xf];
    return out;
}

constexpr const char* domain_words[] = {
    "harbor", "lumen", "kestrel", "bluefin", "orchard", "granite", "meadow", "copper",
    "saffron", "tundra", "willow", "quartz", "falcon", "juniper", "marlin", "cobalt",
    "aurora", "cedar", "delta", "ember", "fjord", "glacier", "hazel", "indigo",
    "jasper", "kelp", "lagoon", "mistral", "nimbus", "onyx", "pioneer", "quill",
    "riverbend", "summit", "timber", "umber", "vantage", "wharf", "yonder", "zephyr",
};
constexpr const char* domain_tlds[] = {"com", "net", "org", "de", "fr", "nl", "io", "co.uk"};

// First octets of receiving MX addresses: ordinary hosting space, so the addresses look like
// the ones in real reports rather than documentation ranges.
constexpr int mx_first_octets[] = {5, 31, 46, 78, 88, 91, 95, 145, 176, 185, 193, 212, 217};

struct independent_sender {
    const char* host;          // the organization-name Stalwart and sys4 reporters write
    const char* domain;
    const char* ipv4_prefix;   // "a.b.c."
};
constexpr independent_sender independent_senders[] = {
    {"mail.kobold-hosting.de", "kobold-hosting.de", "185.26.156."},
    {"mx1.ostara.net", "ostara.net", "94.130.17."},
    {"smtp.lindqvist.se", "lindqvist.se", "46.246.119."},
    {"mta.brightwave.fr", "brightwave.fr", "51.91.42."},
    {"mail.portola.io", "portola.io", "138.68.23."},
    {"out.vanmeer.nl", "vanmeer.nl", "83.96.201."},
};

const char* general_result_type(rng_type& rng)
{
    const auto r = draw(rng, 100);
    if (r < 20) return "starttls-not-supported";
    if (r < 35) return "certificate-expired";
    if (r < 50) return "certificate-host-mismatch";
    if (r < 65) return "certificate-not-trusted";
    if (r < 80) return "validation-failure";
    if (r < 87) return "sts-webpki-invalid";
    if (r < 94) return "sts-policy-invalid";
    return "sts-policy-fetch-error";
}

const char* dane_result_type(rng_type& rng)
{
    static constexpr const char* types[] = {"tlsa-invalid", "dnssec-invalid", "dane-required"};
    return pick(rng, types);
}

std::string google_sending_ip(rng_type& rng)
{
    if (chance(rng, 20)) return "2a00:1450:4864:20::" + hex(between(rng, 0x100, 0xfff), 3);
    return "209.85." + std::to_string(between(rng, 128, 255)) + '.' + std::to_string(between(rng, 1, 254));
}

std::string microsoft_sending_ip(rng_type& rng)
{
    if (chance(rng, 15))
        return "2a01:111:f403:" + hex(between(rng, 0xc000, 0xcfff), 4) + "::" + hex(between(rng, 0x700, 0x7ff), 3);
    static constexpr const char* prefixes[] = {"40.107.", "52.101.", "52.100.", "40.92."};
    return std::string(pick(rng, prefixes)) + std::to_string(between(rng, 0, 255)) + '.' +
           std::to_string(between(rng, 1, 254));
}

std::string receiving_ip(std::size_t domain_index, int mx)
{
    const auto d = static_cast<int>(domain_index);
    const int first = mx_first_octets[(domain_index + static_cast<std::size_t>(mx)) % std::size(mx_first_octets)];
    return std::to_string(first) + '.' + std::to_string((d * 7 + mx) % 256) + '.' +
           std::to_string((d / 256 + 13 * mx) % 256) + '.' + std::to_string(1 + d % 254);
}

std::string date_text(std::int64_t seconds)
{
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

std::string datetime_text(std::int64_t seconds)
{
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return buf;
}

// Renders JSON either compact (as Google sends it) or indented (as most others do).
class json_writer {
public:
    explicit json_writer(bool pretty) : pretty_(pretty) {}

    void begin_object() { value_prefix(); out_ += '{'; has_items_.push_back(false); }
    void end_object() { close('}'); }
    void begin_array() { value_prefix(); out_ += '['; has_items_.push_back(false); }
    void end_array() { close(']'); }
    void key(std::string_view name)
    {
        item_prefix();
        append_string(name);
        out_ += pretty_ ? ": " : ":";
        after_key_ = true;
    }
    void string(std::string_view s) { value_prefix(); append_string(s); }
    void number(std::int64_t n) { value_prefix(); out_ += std::to_string(n); }
    void null() { value_prefix(); out_ += "null"; }

    std::string take() { return std::move(out_); }

private:
    void value_prefix()
    {
        if (after_key_) { after_key_ = false; return; }
        item_prefix();
    }
    void item_prefix()
    {
        if (has_items_.empty()) return;
        if (has_items_.back()) out_ += ',';
        has_items_.back() = true;
        newline();
    }
    void close(char c)
    {
        const bool had_items = has_items_.back();
        has_items_.pop_back();
        if (had_items) newline();
        out_ += c;
    }
    void newline()
    {
        if (!pretty_) return;
        out_ += '\n';
        out_.append(2 * has_items_.size(), ' ');
    }
    void append_string(std::string_view s)
    {
        out_ += '"';
        for (const char c : s) {
            switch (c) {
            case '"': out_ += "\\\""; break;
            case '\\': out_ += "\\\\"; break;
            case '\n': out_ += "\\n"; break;
            case '\t': out_ += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) out_ += "\\u00" + hex(static_cast<unsigned char>(c), 2);
                else out_ += c;
            }
        }
        out_ += '"';
    }

    bool pretty_;
    bool after_key_ = false;
    std::vector<bool> has_items_;
    std::string out_;
};

const char* policy_type_text(policy_type t)
{
    switch (t) {
    case policy_type::sts: return "sts";
    case policy_type::tlsa: return "tlsa";
    case policy_type::no_policy_found: return "no-policy-found";
    }
    return "sts";
}

std::string datetime_in_style(sender_style style, const utc_time& t)
{
    // Microsoft (2023): date-times without a zone, meant as UTC.
    if (style == sender_style::microsoft) return datetime_text(t.seconds);
    return datetime_text(t.seconds) + 'Z';
}

void write_optional(json_writer& w, sender_style style, std::string_view name,
                    const std::optional<std::string>& value)
{
    if (value) { w.key(name); w.string(*value); }
    // Stalwart-built senders write null for an absent optional field.
    else if (style == sender_style::stalwart) { w.key(name); w.null(); }
}

void write_string_array(json_writer& w, std::string_view name, const std::vector<std::string>& items,
                        sender_style style)
{
    // Stalwart-built senders write empty arrays where others leave the key out.
    if (items.empty() && style != sender_style::stalwart) return;
    w.key(name);
    w.begin_array();
    for (const auto& item : items) w.string(item);
    w.end_array();
}

void write_policy(json_writer& w, sender_style style, const report_policy& p)
{
    w.key("policy");
    w.begin_object();
    w.key("policy-type");
    w.string(policy_type_text(p.type));
    write_string_array(w, "policy-string", p.policy_string, style);
    w.key("policy-domain");
    w.string(p.policy_domain);
    write_string_array(w, "mx-host", p.mx_host, style);
    w.end_object();
}

void write_summary(json_writer& w, const report_policy& p)
{
    w.key("summary");
    w.begin_object();
    w.key("total-successful-session-count");
    w.number(p.total_successful_session_count);
    w.key("total-failure-session-count");
    w.number(p.total_failure_session_count);
    w.end_object();
}

void write_failure_detail(json_writer& w, sender_style style, const failure_detail& f)
{
    w.begin_object();
    w.key("result-type");
    w.string(f.result_type);
    if (f.sending_mta_ip) { w.key("sending-mta-ip"); w.string(*f.sending_mta_ip); }
    if (f.receiving_mx_hostname) { w.key("receiving-mx-hostname"); w.string(*f.receiving_mx_hostname); }
    write_optional(w, style, "receiving-mx-helo", f.receiving_mx_helo);
    if (f.receiving_ip) { w.key("receiving-ip"); w.string(*f.receiving_ip); }
    w.key("failed-session-count");
    w.number(f.failed_session_count);
    write_optional(w, style, "additional-information", f.additional_information);
    write_optional(w, style, "failure-reason-code", f.failure_reason_code);
    w.end_object();
}

// RFC 8460 §4.4 key order, with each sender's habits.
std::string render_json(sender_style style, const tls_report& r)
{
    const bool compact = style == sender_style::google || style == sender_style::mail_ru;
    json_writer w(!compact);
    w.begin_object();
    w.key("organization-name");
    w.string(r.organization_name);
    w.key("date-range");
    w.begin_object();
    w.key("start-datetime");
    w.string(datetime_in_style(style, r.start_datetime));
    w.key("end-datetime");
    w.string(datetime_in_style(style, r.end_datetime));
    w.end_object();
    write_optional(w, style, "contact-info", r.contact_info);
    w.key("report-id");
    w.string(r.report_id);
    w.key("policies");
    w.begin_array();
    for (const auto& p : r.policies) {
        w.begin_object();
        // Postfix with the sys4 reporter writes the summary before the policy.
        if (style == sender_style::postfix_sys4) {
            write_summary(w, p);
            write_policy(w, style, p);
        } else {
            write_policy(w, style, p);
            write_summary(w, p);
        }
        // Google: no failure-details key at all when there were no failures.
        if (!p.failure_details.empty() || style == sender_style::stalwart) {
            w.key("failure-details");
            w.begin_array();
            for (const auto& f : p.failure_details) write_failure_detail(w, style, f);
            w.end_array();
        }
        w.end_object();
    }
    w.end_array();
    w.end_object();
    return w.take();
}

std::vector<std::string> sts_policy_lines(rng_type& rng, const std::string& domain, bool wildcard,
                                          bool trailing_space)
{
    std::vector<std::string> lines{"version: STSv1", chance(rng, 80) ? "mode: enforce" : "mode: testing"};
    if (wildcard) {
        lines.push_back("mx: *." + domain);
    } else {
        // Google keeps policy lines verbatim, trailing spaces included.
        lines.push_back("mx: mx1." + domain + (trailing_space ? " " : ""));
        lines.push_back("mx: mx2." + domain);
    }
    lines.push_back(chance(rng, 70) ? "max_age: 604800" : "max_age: 86400");
    return lines;
}

std::vector<std::string> mx_patterns(const std::string& domain, bool wildcard)
{
    if (wildcard) return {"*." + domain};
    return {"mx1." + domain, "mx2." + domain};
}

std::int64_t failure_total(const std::vector<failure_detail>& details)
{
    std::int64_t total = 0;
    for (const auto& f : details) total += f.failed_session_count;
    return total;
}

// p as the next policy of r, its failure count the sum of its failure details.
void add_policy(tls_report& r, report_policy p)
{
    p.total_failure_session_count = failure_total(p.failure_details);
    r.policies.push_back(std::move(p));
}

} // namespace

const char* to_string(sender_style style)
{
    switch (style) {
    case sender_style::google: return "google";
    case sender_style::microsoft: return "microsoft";
    case sender_style::mail_ru: return "mail.ru";
    case sender_style::stalwart: return "stalwart";
    case sender_style::postfix_sys4: return "postfix-sys4";
    }
    return "unknown";
}

std::size_t generated_report::failure_detail_count() const
{
    std::size_t n = 0;
    for (const auto& p : report.policies) n += p.failure_details.size();
    return n;
}

std::size_t generated_report::row_count() const
{
    return 1 + report.policies.size() + failure_detail_count();
}

report_generator::report_generator(generator_options options)
    : options_(options), rng_(options.seed)
{
    if (options_.policy_domains == 0) throw std::invalid_argument("report generator: policy_domains must be at least 1");
    if (options_.min_failure_details == 0 || options_.min_failure_details > options_.max_failure_details)
        throw std::invalid_argument("report generator: failure details must be 1 <= min <= max");
    domains_.reserve(options_.policy_domains);
    const std::size_t words = std::size(domain_words);
    for (std::size_t k = 0; k < options_.policy_domains; ++k) {
        // The seed is part of every name, so that runs with different seeds never collide.
        domains_.push_back(std::string(domain_words[k % words]) + std::to_string(k / words) + "-s" +
                           std::to_string(options_.seed) + '.' +
                           domain_tlds[(k / words + k) % std::size(domain_tlds)]);
    }
}

generated_report report_generator::next()
{
    auto& rng = rng_;
    generated_report g;
    {
        const auto r = draw(rng, 100);
        g.style = r < 45   ? sender_style::google
                  : r < 75 ? sender_style::microsoft
                  : r < 80 ? sender_style::mail_ru
                  : r < 90 ? sender_style::stalwart
                           : sender_style::postfix_sys4;
    }
    // Each style walks (day, domain) pairs in order: identities never repeat within a run.
    const std::uint64_t serial = issued_[static_cast<std::size_t>(g.style)]++;
    const std::size_t domain_index = serial % domains_.size();
    const std::string& domain = domains_[domain_index];
    const std::int64_t first_day = 1735689600;   // 2025-01-01T00:00:00Z
    const std::int64_t day_start = first_day + static_cast<std::int64_t>(serial / domains_.size()) * 86400;
    const std::string day = date_text(day_start);

    tls_report& r = g.report;
    r.start_datetime = {day_start, 0};
    r.end_datetime = {day_start + 86399, 0};

    const auto detail_count = static_cast<std::size_t>(
        between(rng, options_.min_failure_details, options_.max_failure_details));
    const bool wildcard = chance(rng, 30);
    auto mx_name = [&](int mx) { return "mx" + std::to_string(mx) + '.' + domain; };

    auto ip_detail = [&](const std::string& sending_ip) {
        failure_detail f;
        const int mx = 1 + static_cast<int>(draw(rng, 2));
        f.result_type = general_result_type(rng);
        f.sending_mta_ip = sending_ip;
        f.receiving_mx_hostname = mx_name(mx);
        f.receiving_ip = receiving_ip(domain_index, mx);
        f.failed_session_count = between(rng, 1, 300);
        return f;
    };

    std::string submitter;
    switch (g.style) {
    case sender_style::google: {
        submitter = "google.com";
        r.organization_name = "Google Inc.";
        r.contact_info = "smtp-tls-reporting@google.com";
        r.report_id = day + "T00:00:00Z_" + domain;
        // Google: several policies for one domain in a report, e.g. no-policy-found for the
        // sessions before the policy was first fetched.
        if (chance(rng, 10)) {
            report_policy none;
            none.type = policy_type::no_policy_found;
            none.policy_domain = domain;
            none.total_successful_session_count = between(rng, 1, 500);
            r.policies.push_back(std::move(none));
        }
        report_policy p;
        p.type = policy_type::sts;
        p.policy_domain = domain;
        p.policy_string = sts_policy_lines(rng, domain, wildcard, chance(rng, 20));
        // Google: mx-host is an array in recent reports and absent in older ones.
        if (chance(rng, 80)) p.mx_host = mx_patterns(domain, wildcard);
        for (std::size_t i = 0; i < detail_count; ++i) p.failure_details.push_back(ip_detail(google_sending_ip(rng)));
        p.total_successful_session_count = between(rng, 0, 50000);
        add_policy(r, std::move(p));
        break;
    }
    case sender_style::microsoft: {
        submitter = "microsoft.com";
        r.organization_name = "Microsoft Corporation";
        r.contact_info = "tlsrpt-noreply@microsoft.com";
        // Microsoft: report-id like 133810389004212345+example.com, a Windows FILETIME
        // (100 ns ticks since 1601) taken during the day.
        const std::int64_t filetime = (day_start + 11644473600LL) * 10000000LL +
                                      static_cast<std::int64_t>(draw(rng, 86400ULL * 10000000ULL));
        r.report_id = std::to_string(filetime) + '+' + domain;
        const auto scenario = draw(rng, 100);
        if (scenario < 15) {
            // Microsoft: for sts-policy-fetch-error the policy has no policy-string and the
            // failure detail only result-type and failed-session-count.
            report_policy p;
            p.type = policy_type::sts;
            p.policy_domain = domain;
            failure_detail f;
            f.result_type = "sts-policy-fetch-error";
            f.failed_session_count = between(rng, 1, 2000);
            p.failure_details.push_back(std::move(f));
            add_policy(r, std::move(p));
        } else if (scenario < 25) {
            // Microsoft: a tlsa and an sts policy in one report count the same sessions; the
            // tlsa policy-string is one string holding a JSON array text of TLSA records.
            report_policy tlsa;
            tlsa.type = policy_type::tlsa;
            tlsa.policy_domain = domain;
            tlsa.policy_string = {"[\"3 1 1 " + hex(rng(), 16) + hex(rng(), 16) + hex(rng(), 16) + hex(rng(), 16) +
                                  "\",\"3 1 1 " + hex(rng(), 16) + hex(rng(), 16) + hex(rng(), 16) + hex(rng(), 16) + "\"]"};
            report_policy sts;
            sts.type = policy_type::sts;
            sts.policy_domain = domain;
            sts.policy_string = sts_policy_lines(rng, domain, wildcard, false);
            for (std::size_t i = 0; i < detail_count; ++i) {
                auto f = ip_detail(microsoft_sending_ip(rng));
                if (i % 2 == 0) {
                    f.result_type = dane_result_type(rng);
                    tlsa.failure_details.push_back(std::move(f));
                } else {
                    sts.failure_details.push_back(std::move(f));
                }
            }
            const std::int64_t failed = failure_total(tlsa.failure_details) + failure_total(sts.failure_details);
            const std::int64_t succeeded = between(rng, 0, 20000);
            for (auto* p : {&tlsa, &sts}) {
                p->total_successful_session_count = succeeded;
                p->total_failure_session_count = failed;
            }
            r.policies.push_back(std::move(tlsa));
            r.policies.push_back(std::move(sts));
        } else {
            report_policy p;
            p.type = policy_type::sts;
            p.policy_domain = domain;
            p.policy_string = sts_policy_lines(rng, domain, wildcard, false);
            // Microsoft: no mx-host.
            for (std::size_t i = 0; i < detail_count; ++i) p.failure_details.push_back(ip_detail(microsoft_sending_ip(rng)));
            p.total_successful_session_count = between(rng, 0, 20000);
            add_policy(r, std::move(p));
        }
        break;
    }
    case sender_style::mail_ru: {
        submitter = "mail.ru";
        r.organization_name = "Mail.Ru";
        r.contact_info = "tlsrpt@corp.mail.ru";
        r.report_id = std::to_string(day_start) + '.' + domain;
        // mail.ru: the range ends at the next midnight.
        r.end_datetime = {day_start + 86400, 0};
        // mail.ru: a policy with only its type and domain.
        report_policy p;
        p.type = policy_type::sts;
        p.policy_domain = domain;
        static constexpr const char* reasons[] = {
            "bad https response code: 404", "bad https response code: 503",
            "certificate verify failed", "connection timed out", "no STARTTLS support"};
        for (std::size_t i = 0; i < detail_count; ++i) {
            // mail.ru: failure details without IPs, free text in failure-reason-code.
            failure_detail f;
            f.result_type = general_result_type(rng);
            f.receiving_mx_hostname = mx_name(1 + static_cast<int>(draw(rng, 2)));
            f.failed_session_count = between(rng, 1, 100);
            f.failure_reason_code = pick(rng, reasons);
            p.failure_details.push_back(std::move(f));
        }
        p.total_successful_session_count = between(rng, 0, 8000);
        add_policy(r, std::move(p));
        break;
    }
    case sender_style::stalwart: {
        const auto& sender = independent_senders[draw(rng, std::size(independent_senders))];
        submitter = sender.domain;
        // Stalwart-built senders: the organization name is a host name, contact-info null.
        r.organization_name = sender.host;
        r.report_id = hex(options_.seed, 4) + hex(serial, 8) + hex(rng(), 8);
        report_policy p;
        p.policy_domain = domain;
        if (chance(rng, 40)) {
            p.type = policy_type::no_policy_found;
        } else {
            p.type = policy_type::sts;
            p.policy_string = sts_policy_lines(rng, domain, wildcard, false);
            p.mx_host = mx_patterns(domain, wildcard);
        }
        for (std::size_t i = 0; i < detail_count; ++i) {
            auto f = ip_detail(sender.ipv4_prefix + std::to_string(between(rng, 2, 250)));
            if (p.type == policy_type::no_policy_found && chance(rng, 60)) f.result_type = "starttls-not-supported";
            if (chance(rng, 50)) f.receiving_mx_helo = *f.receiving_mx_hostname;
            p.failure_details.push_back(std::move(f));
        }
        p.total_successful_session_count = between(rng, 0, 3000);
        add_policy(r, std::move(p));
        break;
    }
    case sender_style::postfix_sys4: {
        const auto& sender = independent_senders[draw(rng, std::size(independent_senders))];
        submitter = sender.domain;
        r.organization_name = sender.host;
        r.contact_info = std::string("postmaster@") + sender.domain;
        // Postfix with the sys4 reporter: report-id like 2025-09-20T00:00:00Z_idx1_example.org.
        r.report_id = day + "T00:00:00Z_idx1_" + domain;
        report_policy p;
        p.type = policy_type::sts;
        p.policy_domain = domain;
        p.policy_string = sts_policy_lines(rng, domain, wildcard, false);
        p.mx_host = mx_patterns(domain, wildcard);
        for (std::size_t i = 0; i < detail_count; ++i) {
            auto f = ip_detail(sender.ipv4_prefix + std::to_string(between(rng, 2, 250)));
            f.receiving_mx_helo = *f.receiving_mx_hostname;
            if (chance(rng, 10)) f.additional_information = "https://" + domain + "/tls-help";
            p.failure_details.push_back(std::move(f));
        }
        p.total_successful_session_count = between(rng, 0, 3000);
        add_policy(r, std::move(p));
        break;
    }
    }

    // RFC 8460 §5.1: sender "!" policy-domain "!" begin "!" end "!" unique-id "." extension.
    g.file_name = submitter + '!' + domain + '!' + std::to_string(r.start_datetime.seconds) + '!' +
                  std::to_string(r.end_datetime.seconds) + '!' + to_string(g.style) + '-' +
                  std::to_string(serial) + ".json";
    g.json = render_json(g.style, r);
    return g;
}

std::vector<generated_report> generate_reports(std::size_t count, const generator_options& options)
{
    report_generator generator(options);
    std::vector<generated_report> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) out.push_back(generator.next());
    return out;
}

std::string gzip_report(const generated_report& report, int level)
{
    return gzip_compress(report.json, level);
}

} // namespace stswatch::bench
