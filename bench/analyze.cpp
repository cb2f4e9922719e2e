// analyze: how fast the analysis answers over a year of reports (docs/analysis.md), beside
// floors measured in the same run: the bare SQL that reads the same rows.
//
//   analyze --db CONNINFO [--domains 1000] [--days 365] [--iterations 100] [--seed 7]
//           [--connections 2] [--rebuild] [--summary FILE]
//
// The database (migrated here, store/migrations.hpp) is filled by COPY with a synthetic year:
// per domain and day, one report from each of the domain's 3 to 6 sending organizations
// (reports, report_policies, failure_details, and the daily_rollups the collector would have
// written for them), reported_domains, monitored_domains, and one check snapshot a day with
// its findings and the change events between snapshots. About 30 % of the domains have
// failure bursts (an expired MX certificate, or a policy that left out an MX), with the
// findings and changes that explain them. A database that already holds exactly these rows
// is reused (--rebuild forces a new build).
//
// Then, each on random domains: trends of a year grouped by result type, explain of 30 days
// (after a refresh of every domain's incidents), domains for all domains, and the refresh
// of every domain after a day of new reports, as `stswatch serve`'s refresher does it.
//
// Prints figures, never a verdict: the exit status is 0 whenever the run completed, whatever
// the figures (2 for a usage error, 1 when the run itself could not be made).

#include "analyzer/explain.hpp"
#include "analyzer/health.hpp"
#include "analyzer/incidents.hpp"
#include "analyzer/trends.hpp"
#include "analyzer/web.hpp"
#include "analyzer/web_server.hpp"
#include "bench/bench_support.hpp"
#include "common/time.hpp"
#include "store/analysis_store.hpp"
#include "store/db_values.hpp"
#include "store/migrations.hpp"
#include "store/monitor_store.hpp"
#include "store/partitions.hpp"

#include <pqxx/pqxx>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <openssl/evp.h>

#include <array>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace stswatch;
using namespace stswatch::bench;
using store_detail::copy_data;
using namespace std::chrono_literals;

// Targets on this class of machine (bench/README.md).
constexpr double target_trends_ms = 10;
constexpr double target_explain_ms = 100;
constexpr double target_domains_ms = 200;
constexpr double target_refresh_s = 30;
constexpr double target_api_ms = 200;

struct analyze_options {
    std::string db_url, summary_file;
    unsigned domains = 1000;
    unsigned days = 365;
    std::size_t iterations = 100;
    std::uint64_t seed = 7;
    unsigned connections = 2;
    bool rebuild = false;
};

analyze_options read_options(int argc, char** argv)
{
    option_reader args(argc, argv, {"--db", "--domains", "--days", "--iterations", "--seed", "--connections", "--summary"},
                       {"--rebuild"});
    analyze_options o;
    o.db_url = args.required("--db");
    o.domains = static_cast<unsigned>(args.number("--domains", o.domains, 1));
    o.days = static_cast<unsigned>(args.number("--days", o.days, 90));
    if (o.days > 390) throw usage_error("--days: at most 390");
    o.iterations = static_cast<std::size_t>(args.number("--iterations", o.iterations, 1));
    o.seed = args.number("--seed", o.seed);
    o.connections = static_cast<unsigned>(args.number("--connections", o.connections, 1));
    o.summary_file = args.text("--summary", "");
    o.rebuild = args.has("--rebuild");
    return o;
}

// The 1, 5 and 15 minute load averages: figures taken while the machine is busy drift.
std::string load_average()
{
    std::ifstream in("/proc/loadavg");
    std::string one, five, fifteen;
    in >> one >> five >> fifteen;
    return in ? one + " " + five + " " + fifteen : std::string("n/a");
}

// What the bench is doing, on stderr (as bench/lib.sh's say).
void say_phase(const std::string& text) { std::cout << std::flush; std::cerr << "\033[1m==> " << text << "\033[0m\n"; }

// ---------------------------------------------------------------------------------------
// The synthetic year. Everything follows from (domain, day, organization) through hash(),
// so that a run can count the rows it expects without building them, and the day added
// for the refresh is the one the year would have had next.

std::uint64_t mix(std::uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

std::uint64_t hash(std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0, std::uint64_t d = 0)
{
    return mix(mix(mix(mix(a) ^ b) ^ c) ^ d);
}

// The last day of the year of reports is fixed, not today: the database can be reused from
// one run to the next, and every figure is over the same data.
constexpr utc_date first_day{std::chrono::year{2025} / std::chrono::November / 30};
constexpr int max_days = 400;   // report and snapshot ids leave room for the added day

struct organization {
    const char* name;
    const char* ip_prefix;
    const char* contact;
};
constexpr std::array<organization, 8> organizations{{
    {"Google Inc.", "209.85.220.", "smtp-tls-reporting@google.com"},
    {"Microsoft Corporation", "40.92.18.", "tlsrpt@microsoft.com"},
    {"Mail.Ru", "94.100.181.", "tlsrpt@corp.mail.ru"},
    {"mx.stalwart.example", "198.51.100.", "postmaster@stalwart.example"},
    {"sys4.de", "194.25.134.", "tlsrpt@sys4.de"},
    {"Yahoo", "98.137.65.", "tlsrpt@yahooinc.com"},
    {"Comcast", "96.114.157.", "tlsrpt@comcast.net"},
    {"GMX", "212.227.17.", "tlsrpt@gmx.net"},
}};

// The failures a domain has on ordinary days (two of these), and those of its bursts.
constexpr std::array<const char*, 5> ordinary_types{
    "starttls-not-supported", "sts-policy-fetch-error", "certificate-host-mismatch", "certificate-not-trusted",
    "sts-webpki-invalid"};

enum class burst_kind { expired_certificate, mx_left_out };

// Days on which one MX of the domain fails: an expired certificate (finding mx-cert-expired
// while it lasts, the renewal seen as mx-cert-rotated after), or a policy published without
// that MX's pattern (sts-mx-patterns-changed and sts-id-changed at the onset, finding
// mx-not-covered while it lasts, the pattern back after).
struct burst {
    int first = 0, last = 0;   // day indices, inclusive
    int mx = 0;
    burst_kind kind = burst_kind::expired_certificate;
};

struct domain_model {
    unsigned index = 0;
    std::string name;
    std::array<std::string, 2> mx;
    std::vector<int> orgs;              // into organizations
    std::vector<std::int64_t> volume;   // sessions per day of each organization
    std::array<int, 2> types{};
    std::vector<burst> bursts;
    int rotation_offset = 0;            // routine certificate renewals: every 90 days from here
};

domain_model make_domain(unsigned i, unsigned days, std::uint64_t seed)
{
    domain_model m;
    m.index = i;
    char name[40];
    std::snprintf(name, sizeof name, "d%04u.bench.example", i);
    m.name = name;
    m.mx = {"mx1." + m.name, "mx2." + m.name};
    const auto h = hash(seed, i);
    const int n_orgs = 3 + static_cast<int>(h % 4);
    const int first_org = static_cast<int>((h >> 8) % organizations.size());
    for (int k = 0; k < n_orgs; ++k) {
        m.orgs.push_back((first_org + k) % static_cast<int>(organizations.size()));
        m.volume.push_back(200 + static_cast<std::int64_t>(hash(seed, i, k, 1) % 1800));
    }
    m.types[0] = static_cast<int>((h >> 16) % ordinary_types.size());
    m.types[1] = (m.types[0] + 1 + static_cast<int>((h >> 20) % (ordinary_types.size() - 1))) %
                 static_cast<int>(ordinary_types.size());
    m.rotation_offset = static_cast<int>((h >> 40) % 90);
    const int d = static_cast<int>(days);
    if ((h >> 24) % 10 < 3) {
        const int count = 1 + static_cast<int>((h >> 28) % 3);
        for (int b = 0; b < count; ++b) {
            burst x;
            const auto hb = hash(seed, i, b, 2);
            // Half of these domains have a burst within the last 30 days: explain's window.
            x.first = (b == 0 && (h >> 32) % 2 == 0) ? d - 6 - static_cast<int>(hb % 20)
                                                     : 60 + static_cast<int>(hb % static_cast<std::uint64_t>(d - 100));
            x.last = x.first + 1 + static_cast<int>((hb >> 8) % 4);
            x.last = std::min(x.last, d - 1);
            x.mx = static_cast<int>((hb >> 16) % 2);
            x.kind = (hb >> 20) % 2 == 0 ? burst_kind::expired_certificate : burst_kind::mx_left_out;
            m.bursts.push_back(x);
        }
    }
    // One domain in twenty starts failing on the added day: the refresh opens incidents.
    if (h % 20 == 0) m.bursts.push_back({d, d + 2, static_cast<int>((h >> 44) % 2), burst_kind::expired_certificate});
    return m;
}

const burst* burst_on(const domain_model& m, int day)
{
    for (const auto& b : m.bursts)
        if (day >= b.first && day <= b.last) return &b;
    return nullptr;
}

utc_date day_at(int index) { return first_day + std::chrono::days{index}; }

std::string day_text(int index) { return format_day(day_at(index)); }

std::string time_text(int index, int hour)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, " %02d:00:00+00", hour);
    return day_text(index) + buf;
}

std::string rfc3339(int index, int hour)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "T%02d:00:00Z", hour);
    return day_text(index) + buf;
}

// Whether organization k of the domain sent its report of this day (about 1 % go missing).
bool reported(const domain_model& m, int day, int k, std::uint64_t seed)
{
    return hash(seed, m.index, static_cast<std::uint64_t>(day), static_cast<std::uint64_t>(k) + 100) % 100 != 0;
}

struct detail {
    const char* result_type;
    int mx;
    int ip;
    std::int64_t failed;
};

// One organization's report of one day for the domain: its failure details and sessions.
struct day_report {
    std::vector<detail> details;
    std::int64_t successful = 0, failed = 0;
};

day_report make_report(const domain_model& m, int day, int k, std::uint64_t seed)
{
    day_report r;
    const auto h = hash(seed, m.index, static_cast<std::uint64_t>(day), static_cast<std::uint64_t>(k));
    const int n = 5 + static_cast<int>(h % 4);
    const auto volume = m.volume[static_cast<std::size_t>(k)] * static_cast<std::int64_t>(90 + (h >> 8) % 21) / 100;
    const burst* b = burst_on(m, day);
    const std::int64_t burst_failed = std::max<std::int64_t>(5, volume * 3 / (10 * ((n + 1) / 2)));
    for (int d = 0; d < n; ++d) {
        detail x{ordinary_types[static_cast<std::size_t>(m.types[static_cast<std::size_t>(d % 2)])], (d / 2) % 2,
                 10 + (d * 7 + static_cast<int>(m.index)) % 200, 1 + static_cast<std::int64_t>((h >> (16 + d)) % 3)};
        if (b && x.mx == b->mx) {
            x.result_type = b->kind == burst_kind::expired_certificate ? "certificate-expired" : "validation-failure";
            x.failed = burst_failed;
        }
        r.failed += x.failed;
        r.details.push_back(x);
    }
    r.successful = std::max<std::int64_t>(0, volume - r.failed);
    return r;
}

std::int64_t report_key(const domain_model& m, int day, int k)
{
    return (static_cast<std::int64_t>(m.index) * max_days + day) * 8 + k + 1;
}

std::int64_t snapshot_key(const domain_model& m, int day)
{
    return static_cast<std::int64_t>(m.index) * max_days + day + 1;
}

// ---- The monitor's view of a domain, one check a day ----

struct snapshot_finding {
    const char* code;
    const char* severity;
    std::string subject;
    std::string message;
    const char* rfc;
};

struct day_check {
    bool policy_full = true;          // the policy's mx lines cover both MX
    int policy_epoch = 0;             // the day the policy last changed (its id)
    std::array<int, 2> cert_epoch{};  // the day each MX certificate was last renewed
    std::array<bool, 2> expired{};
    std::vector<snapshot_finding> findings;
};

int last_rotation(const domain_model& m, int day)
{
    // Routine renewals every 90 days, and the renewal that ends an expired-certificate burst.
    int last = 0;
    for (int r = m.rotation_offset; r <= day; r += 90) last = r;
    return last;
}

day_check check_on(const domain_model& m, int day)
{
    day_check c;
    const int rotation = last_rotation(m, day);
    c.cert_epoch = {rotation, rotation};
    for (const auto& b : m.bursts) {
        if (b.kind == burst_kind::mx_left_out) {
            if (day >= b.first) c.policy_epoch = std::max(c.policy_epoch, day > b.last ? b.last + 1 : b.first);
        } else if (day > b.last && b.last + 1 > c.cert_epoch[static_cast<std::size_t>(b.mx)]) {
            c.cert_epoch[static_cast<std::size_t>(b.mx)] = b.last + 1;
        }
    }
    if (const burst* b = burst_on(m, day)) {
        const auto& host = m.mx[static_cast<std::size_t>(b->mx)];
        if (b->kind == burst_kind::expired_certificate) {
            c.expired[static_cast<std::size_t>(b->mx)] = true;
            c.findings.push_back({"mx-cert-expired", "error", host,
                                  "The certificate of " + host + " has expired: senders in enforce mode refuse to deliver.",
                                  "RFC 8461 §4.2"});
        } else {
            c.policy_full = false;
            c.findings.push_back({"mx-not-covered", "error", host,
                                  host + " is an MX of " + m.name + " but matches none of the policy's mx patterns.",
                                  "RFC 8461 §4.1"});
        }
    }
    // The routine renewal is announced by a warning in the ten days before it.
    const int next = rotation + 90 <= day + 10 && rotation + 90 > day ? rotation + 90
                   : (m.rotation_offset > day && m.rotation_offset <= day + 10 ? m.rotation_offset : -1);
    if (next >= 0)
        c.findings.push_back({"mx-cert-expiring", "warning", m.mx[0],
                              "The certificate of " + m.mx[0] + " expires in " + std::to_string(next - day) + " days.",
                              "RFC 8461 §4.2"});
    return c;
}

std::string policy_text(const domain_model& m, bool full)
{
    std::string text = "version: STSv1\r\nmode: enforce\r\nmx: " + m.mx[0] + "\r\n";
    if (full) text += "mx: " + m.mx[1] + "\r\n";
    return text + "max_age: 604800\r\n";
}

std::string hex(const unsigned char* bytes, std::size_t n)
{
    static constexpr char digit[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += digit[bytes[i] >> 4];
        out += digit[bytes[i] & 0xf];
    }
    return out;
}

std::string sha256_hex(const std::string& text)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(text.data(), text.size(), md, &length, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    return hex(md, length);
}

std::string fake_fingerprint(std::uint64_t a, std::uint64_t b)
{
    std::array<unsigned char, 32> bytes{};
    for (std::size_t i = 0; i < bytes.size(); i += 8) {
        const auto h = hash(a, b, i);
        for (std::size_t j = 0; j < 8; ++j) bytes[i + j] = static_cast<unsigned char>(h >> (8 * j));
    }
    return hex(bytes.data(), bytes.size());
}

// The SHA-256 the probe shows for the certificate an MX got on day epoch.
std::string certificate_fingerprint(const domain_model& m, int epoch, std::size_t mx)
{
    return fake_fingerprint(m.index, (static_cast<std::uint64_t>(epoch) << 1) | mx);
}

std::string sts_id(int epoch) { return format_day(day_at(epoch)).erase(4, 1).erase(6, 1) + "T000000"; }

// The check result JSON of docs/check.md, as the monitor stores it (shorter messages).
std::string snapshot_json(const domain_model& m, int day, const day_check& c, const std::string& policy)
{
    std::string j = "{\"domain\": \"" + m.name + "\", \"checked_at\": \"" + rfc3339(day, 6) + "\", \"findings\": [";
    for (std::size_t i = 0; i < c.findings.size(); ++i) {
        const auto& f = c.findings[i];
        j += std::string(i ? ", " : "") + "{\"code\": \"" + f.code + "\", \"severity\": \"" + f.severity +
             "\", \"subject\": \"" + f.subject + "\", \"message\": \"" + f.message + "\", \"rfc\": \"" + f.rfc + "\"}";
    }
    std::string escaped_policy;
    for (const char ch : policy) escaped_policy += ch == '\r' ? std::string("\\r") : ch == '\n' ? std::string("\\n") : std::string(1, ch);
    const auto id = sts_id(c.policy_epoch);
    j += "], \"sts\": {\"record\": \"v=STSv1; id=" + id + "\", \"id\": \"" + id + "\", \"policy_text\": \"" +
         escaped_policy + "\", \"policy\": {\"version\": \"STSv1\", \"mode\": \"enforce\", \"max_age\": 604800, \"mx\": [\"" +
         m.mx[0] + "\"" + (c.policy_full ? ", \"" + m.mx[1] + "\"" : std::string()) +
         "]}, \"candidate\": false, \"fetch\": {\"url\": \"https://mta-sts." + m.name +
         "/.well-known/mta-sts.txt\", \"address\": \"192.0.2.10\", \"status\": \"ok\", \"http_status\": 200, "
         "\"content_type\": \"text/plain\", \"location\": \"\", \"error\": \"\"}}, \"tlsrpt\": {\"record\": "
         "\"v=TLSRPTv1; rua=mailto:tlsrpt@" + m.name + "\", \"rua\": [\"mailto:tlsrpt@" + m.name + "\"]}, \"mx\": [";
    for (std::size_t x = 0; x < 2; ++x) {
        const int epoch = c.cert_epoch[x];
        const bool covered = x == 0 || c.policy_full;
        j += std::string(x ? ", " : "") + "{\"host\": \"" + m.mx[x] + "\", \"preference\": " + std::to_string(10 * (x + 1)) +
             ", \"addresses\": [\"192.0.2." + std::to_string(20 + x) + "\"], \"covered_by\": " +
             (covered ? "\"" + m.mx[x] + "\"" : std::string("null")) +
             ", \"from_reports\": false, \"starttls\": true, \"tls_version\": \"TLSv1.3\", \"probe\": {\"status\": \"ok\", "
             "\"address\": \"192.0.2." + std::to_string(20 + x) + "\", \"error\": \"\", \"banner\": \"220 " + m.mx[x] +
             " ESMTP\", \"starttls_offered\": true, \"timed_out\": false}, \"certificate\": {\"subject_names\": [\"" +
             m.mx[x] + "\"], \"issuer\": \"CN=Bench CA\", \"subject\": \"CN=" + m.mx[x] + "\", \"not_before\": \"" +
             rfc3339(epoch, 0) + "\", \"not_after\": \"" + rfc3339(epoch + 90, 0) + "\", \"days_to_expiry\": " +
             std::to_string(epoch + 90 - day) + ", \"trusted\": true, \"name_matches\": true, \"expired\": " +
             (c.expired[x] ? "true" : "false") + ", \"sha256\": \"" + certificate_fingerprint(m, epoch, x) +
             "\", \"verify_error\": \"\"}, \"other_probes\": []}";
    }
    return j + "]}";
}

struct change {
    int day;
    const char* kind;
    std::string subject, before, after;
};

// The differences between consecutive checks of the domain, as the monitor records them.
std::vector<change> changes_of(const domain_model& m, unsigned days)
{
    std::vector<change> out;
    day_check previous = check_on(m, 0);
    for (int day = 1; day < static_cast<int>(days); ++day) {
        const day_check c = check_on(m, day);
        if (c.policy_epoch != previous.policy_epoch) {
            out.push_back({day, "sts-id-changed", "_mta-sts." + m.name, sts_id(previous.policy_epoch), sts_id(c.policy_epoch)});
            if (c.policy_full != previous.policy_full)
                out.push_back({day, "sts-mx-patterns-changed", m.name, previous.policy_full ? m.mx[0] + " " + m.mx[1] : m.mx[0],
                               c.policy_full ? m.mx[0] + " " + m.mx[1] : m.mx[0]});
        }
        for (std::size_t x = 0; x < 2; ++x)
            if (c.cert_epoch[x] != previous.cert_epoch[x])
                out.push_back({day, "mx-cert-rotated", m.mx[x], certificate_fingerprint(m, previous.cert_epoch[x], x),
                               certificate_fingerprint(m, c.cert_epoch[x], x)});
        previous = c;
    }
    return out;
}

// ---- Rows ----

struct row_counts {
    std::size_t reports = 0, details = 0, rollups = 0, snapshots = 0, findings = 0, changes = 0;
    row_counts& operator+=(const row_counts& o)
    {
        reports += o.reports; details += o.details; rollups += o.rollups;
        snapshots += o.snapshots; findings += o.findings; changes += o.changes;
        return *this;
    }
    bool operator==(const row_counts&) const = default;
};

// The rollup keys of one report: the summary and one row per (result type, MX).
std::map<std::pair<std::string, int>, std::int64_t> rollup_of(const day_report& r)
{
    std::map<std::pair<std::string, int>, std::int64_t> keys;
    for (const auto& d : r.details) keys[{d.result_type, d.mx}] += d.failed;
    return keys;
}

// The COPY data of some domains' reports for days [from, to).
struct report_rows {
    copy_data reports{1 << 20}, policies{1 << 20}, details{1 << 22}, rollups{1 << 21};
    row_counts count;
};

void add_reports(report_rows& out, const domain_model& m, int from, int to, std::uint64_t seed)
{
    const std::string policy_lines =
        store_detail::text_array({"version: STSv1", "mode: enforce", "mx: " + m.mx[0], "mx: " + m.mx[1], "max_age: 604800"});
    const std::string mx_hosts = store_detail::text_array({m.mx[0], m.mx[1]});
    for (int day = from; day < to; ++day) {
        const std::string date = day_text(day), start = time_text(day, 0);
        for (std::size_t k = 0; k < m.orgs.size(); ++k) {
            if (!reported(m, day, static_cast<int>(k), seed)) continue;
            const organization& org = organizations[static_cast<std::size_t>(m.orgs[k])];
            const day_report r = make_report(m, day, static_cast<int>(k), seed);
            const auto key = report_key(m, day, static_cast<int>(k));
            out.reports.number(key).text(org.name).text("bench-" + std::to_string(key)).text(start)
                .text(day_text(day) + " 23:59:59+00").text(org.contact).text(time_text(day + 1, 2)).number(1)
                .number(r.successful).number(r.failed).end_row();
            out.policies.number(key).number(0).text("sts").text(m.name).text(policy_lines).text(mx_hosts)
                .number(r.successful).number(r.failed).text(start).boolean(true).end_row();
            for (std::size_t d = 0; d < r.details.size(); ++d) {
                const detail& x = r.details[d];
                out.details.number(key).number(0).number(static_cast<std::int64_t>(d)).text(date).text(m.name)
                    .text(org.name).text(x.result_type).text(std::string(org.ip_prefix) + std::to_string(x.ip))
                    .text(m.mx[static_cast<std::size_t>(x.mx)]).text("192.0.2." + std::to_string(20 + x.mx))
                    .number(x.failed).null().boolean(true).end_row();
            }
            out.rollups.text(m.name).text(date).text("sts").text("").text("").text(org.name).boolean(true)
                .number(r.successful).number(r.failed).end_row();
            const auto keys = rollup_of(r);
            for (const auto& [key_of, failed] : keys)
                out.rollups.text(m.name).text(date).text("sts").text(key_of.first).text(m.mx[static_cast<std::size_t>(key_of.second)])
                    .text(org.name).boolean(true).number(0).number(failed).end_row();
            ++out.count.reports;
            out.count.details += r.details.size();
            out.count.rollups += 1 + keys.size();
        }
    }
}

void send_reports(pqxx::work& tx, const report_rows& rows)
{
    rows.reports.send(tx, "reports", {"id", "organization_name", "report_id", "start_datetime", "end_datetime", "contact_info",
                                      "received_at", "policy_count", "total_successful_session_count",
                                      "total_failure_session_count"});
    rows.policies.send(tx, "report_policies", {"report", "policy_index", "policy_type", "policy_domain", "policy_string",
                                               "mx_host", "total_successful_session_count",
                                               "total_failure_session_count", "report_start", "counted"});
    rows.details.send(tx, "failure_details", {"report", "policy_index", "detail_index", "day", "policy_domain",
                                              "organization_name", "result_type", "sending_mta_ip",
                                              "receiving_mx_hostname", "receiving_ip", "failed_session_count",
                                              "failure_reason_code", "counted"});
    rows.rollups.send(tx, "daily_rollups", {"policy_domain", "day", "policy_type", "result_type", "receiving_mx",
                                            "organization_name", "counted", "successful_sessions", "failed_sessions"});
}

struct check_rows {
    copy_data snapshots{1 << 22}, findings{1 << 18}, changes{1 << 16};
    row_counts count;
};

void add_checks(check_rows& out, const domain_model& m, unsigned days)
{
    const std::array<std::string, 2> policies{policy_text(m, false), policy_text(m, true)};
    const std::array<std::string, 2> digests{sha256_hex(policies[0]), sha256_hex(policies[1])};
    for (int day = 0; day < static_cast<int>(days); ++day) {
        const day_check c = check_on(m, day);
        const auto id = snapshot_key(m, day);
        const auto at = time_text(day, 6);
        std::int64_t errors = 0, warnings = 0;
        for (const auto& f : c.findings) {
            (std::string(f.severity) == "error" ? errors : warnings) += 1;
            out.findings.number(id).text(m.name).text(at).text(f.code).text(f.severity).text(f.subject).text(f.message)
                .text(f.rfc).end_row();
            ++out.count.findings;
        }
        out.snapshots.number(id).text(m.name).text(at).boolean(false).text(sts_id(c.policy_epoch))
            .text(digests[c.policy_full ? 1 : 0]).text(snapshot_json(m, day, c, policies[c.policy_full ? 1 : 0]))
            .number(errors).number(warnings).end_row();
        ++out.count.snapshots;
    }
    const auto changes = changes_of(m, days);
    if (changes.size() >= 100) throw std::logic_error("more change events than ids for " + m.name);
    for (std::size_t k = 0; k < changes.size(); ++k) {
        const auto& ch = changes[k];
        out.changes.number(static_cast<std::int64_t>(m.index) * 100 + static_cast<std::int64_t>(k) + 1).text(m.name)
            .text(time_text(ch.day, 6)).number(snapshot_key(m, ch.day)).text(ch.kind).text(ch.subject).text(ch.before)
            .text(ch.after).end_row();
        ++out.count.changes;
    }
}

void send_checks(pqxx::work& tx, const check_rows& rows)
{
    rows.snapshots.send(tx, "check_snapshots", {"id", "domain", "checked_at", "dns_unavailable", "sts_id",
                                                "policy_sha256", "snapshot", "errors", "warnings"});
    rows.findings.send(tx, "check_findings", {"snapshot_id", "domain", "checked_at", "code", "severity", "subject",
                                              "message", "rfc"});
    rows.changes.send(tx, "change_events", {"id", "domain", "detected_at", "snapshot_id", "kind", "subject", "before", "after"});
}

// The rows the year should have, counted without building them.
row_counts expected_counts(const std::vector<domain_model>& models, unsigned days, std::uint64_t seed)
{
    row_counts c;
    for (const auto& m : models) {
        for (int day = 0; day < static_cast<int>(days); ++day) {
            for (std::size_t k = 0; k < m.orgs.size(); ++k) {
                if (!reported(m, day, static_cast<int>(k), seed)) continue;
                const auto r = make_report(m, day, static_cast<int>(k), seed);
                ++c.reports;
                c.details += r.details.size();
                c.rollups += 1 + rollup_of(r).size();
            }
            c.findings += check_on(m, day).findings.size();
        }
        c.snapshots += days;
        c.changes += changes_of(m, days).size();
    }
    return c;
}

// ---------------------------------------------------------------------------------------
// Building the database

// The trends' per-type sums (sql/0004 daily_type_rollups) of the counted rollups from day
// from on, as ingest keeps them.
void fill_type_rollups(pqxx::work& tx, int from)
{
    tx.exec_params("INSERT INTO daily_type_rollups (policy_domain, day, result_type, successful_sessions, failed_sessions)"
                   " SELECT policy_domain, day, result_type, sum(successful_sessions), sum(failed_sessions)"
                   " FROM daily_rollups WHERE counted AND day >= $1::date GROUP BY 1, 2, 3"
                   " ON CONFLICT (policy_domain, day, result_type) DO UPDATE"
                   " SET successful_sessions = excluded.successful_sessions, failed_sessions = excluded.failed_sessions",
                   day_text(from));
}

const std::vector<std::string> loaded_tables{"reports", "report_policies", "failure_details", "daily_rollups",
                                             "check_snapshots", "check_findings", "change_events"};

row_counts stored_counts(pqxx::connection& conn)
{
    pqxx::nontransaction tx(conn);
    auto count = [&](const char* table) {
        return tx.exec1(std::string("SELECT count(*) FROM ") + table)[0].as<std::size_t>();
    };
    row_counts c;
    c.reports = count("reports");
    c.details = count("failure_details");
    c.rollups = count("daily_rollups");
    c.snapshots = count("check_snapshots");
    c.findings = count("check_findings");
    c.changes = count("change_events");
    return c;
}

// Whether every index is valid and every partition of failure_details has the indexes of
// the table (a build interrupted while making them leaves some missing).
bool valid_indexes(pqxx::connection& conn)
{
    pqxx::nontransaction tx(conn);
    return tx.exec1("SELECT NOT EXISTS (SELECT 1 FROM pg_index WHERE NOT indisvalid)"
                    " AND NOT EXISTS (SELECT 1 FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent"
                    "  WHERE p.relname = 'failure_details' AND (SELECT count(*) FROM pg_index WHERE indrelid = h.inhrelid)"
                    "  < (SELECT count(*) FROM pg_index WHERE indrelid = p.oid))")[0]
        .as<bool>();
}

std::string counts_line(const row_counts& c)
{
    return grouped(static_cast<double>(c.reports)) + " reports (and policies), " + grouped(static_cast<double>(c.details)) +
           " failure details, " + grouped(static_cast<double>(c.rollups)) + " rollups, " +
           grouped(static_cast<double>(c.snapshots)) + " snapshots, " + grouped(static_cast<double>(c.findings)) +
           " findings, " + grouped(static_cast<double>(c.changes)) + " changes";
}

// Runs work(c) for c in [0, connections) on one thread each, and rethrows the first error.
void in_parallel(unsigned connections, const std::function<void(unsigned)>& work)
{
    std::vector<std::exception_ptr> errors(connections);
    std::vector<std::thread> threads;
    for (unsigned c = 0; c < connections; ++c)
        threads.emplace_back([&, c] {
            try {
                work(c);
            } catch (...) {
                errors[c] = std::current_exception();
            }
        });
    for (auto& t : threads) t.join();
    for (const auto& e : errors)
        if (e) std::rethrow_exception(e);
}

// The secondary indexes of the loaded tables (those that back no constraint) as the schema
// defines them: dropped before the load and made again after it, which is several times
// faster than keeping them up to date row by row. Keys and unique constraints stay.
std::vector<std::pair<std::string, std::string>> secondary_indexes(pqxx::connection& conn)
{
    pqxx::nontransaction tx(conn);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& table : loaded_tables) {
        const auto rows = tx.exec_params(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid = $1::regclass"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
            " ORDER BY pg_relation_size(i.indexrelid) DESC, 1",
            "public." + table);
        for (const auto& r : rows) {
            // A partitioned table's index reads "ON ONLY failure_details": made so, it would
            // cover no partition. Made on the table, it is made on every partition.
            auto definition = r[1].as<std::string>();
            if (const auto only = definition.find(" ON ONLY "); only != std::string::npos) definition.erase(only + 3, 5);
            out.emplace_back(r[0].as<std::string>(), definition);
        }
    }
    return out;
}

// What the database's comment says once a build has completed: a database without it (or
// with another) is built again, whatever rows it holds (an interrupted build leaves some).
std::string build_marker(const analyze_options& o, int schema_version, const row_counts& c)
{
    // The migrations' text too: an unreleased one edited in place (an index added) changes
    // the schema without changing its version.
    std::uint64_t schema = 0;
    for (const auto& m : migrations())
        for (const char* p = m.sql; *p; ++p) schema = mix(schema ^ static_cast<unsigned char>(*p));
    // generator: the version of the synthetic year; change it with anything that changes the rows.
    return "stswatch bench/analyze: generator=1 domains=" + std::to_string(o.domains) + " days=" + std::to_string(o.days) +
           " seed=" + std::to_string(o.seed) + " schema=" + std::to_string(schema_version) + "/" +
           hex(reinterpret_cast<const unsigned char*>(&schema), sizeof schema) + " rows=" + counts_line(c);
}

std::string stored_marker(pqxx::connection& conn)
{
    pqxx::nontransaction tx(conn);
    const auto r = tx.exec1("SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database"
                            " WHERE datname = current_database()");
    return r[0].as<std::string>();
}

void set_marker(pqxx::connection& conn, const std::string& marker)
{
    pqxx::nontransaction tx(conn);
    tx.exec("SELECT set_config('bench.marker', " + tx.quote(marker) + ", false)");
    tx.exec0("DO $$ BEGIN EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(),"
             " nullif(current_setting('bench.marker'), '')); END $$");
}

// A fresh schema (every table and index as the migrations make them), then the rows.
double build_database(const analyze_options& o, const std::vector<domain_model>& models)
{
    const auto begin = bench_clock::now();
    pqxx::connection admin(o.db_url);
    set_marker(admin, "");
    {
        pqxx::work tx(admin);
        tx.exec0("DROP SCHEMA public CASCADE");
        tx.exec0("CREATE SCHEMA public");
        tx.commit();
    }
    migrate_database(o.db_url);
    std::set<int> months;
    for (int day = 0; day <= static_cast<int>(o.days); ++day) months.insert(store_detail::month_number(day_at(day)));
    store_detail::ensure_partitions(admin, months);

    const auto indexes = secondary_indexes(admin);
    {
        pqxx::work tx(admin);
        for (const auto& [name, definition] : indexes) tx.exec0("DROP INDEX " + name);
        tx.commit();
    }

    say_phase("loading " + std::to_string(models.size()) + " domains x " + std::to_string(o.days) + " days over " +
              std::to_string(o.connections) + " connections");
    std::atomic<std::size_t> next{0};
    constexpr std::size_t chunk = 10;   // domains per COPY: bounds the client's buffers
    in_parallel(o.connections, [&](unsigned) {
        pqxx::connection conn(o.db_url);
        pqxx::work tx(conn);
        // The rows are consistent by construction (every detail's report is loaded with it):
        // the foreign keys are not checked row by row during the load. They stay in the schema.
        tx.exec0("SET LOCAL session_replication_role = replica");
        for (;;) {
            const std::size_t first = next.fetch_add(chunk);
            if (first >= models.size()) break;
            report_rows reports;
            check_rows checks;
            for (std::size_t i = first; i < std::min(models.size(), first + chunk); ++i) {
                add_reports(reports, models[i], 0, static_cast<int>(o.days), o.seed);
                add_checks(checks, models[i], o.days);
            }
            send_reports(tx, reports);
            send_checks(tx, checks);
        }
        tx.commit();
    });
    const auto loaded = bench_clock::now();
    line("load (COPY)", fixed(seconds_between(begin, loaded), 1) + " s");

    {
        pqxx::work tx(admin);
        copy_data reported(1 << 16), monitored(1 << 16);
        const int last = static_cast<int>(o.days) - 1;
        for (const auto& m : models) {
            reported.text(m.name).text(day_text(0)).text(day_text(last)).text(time_text(last + 1, 2)).end_row();
            monitored.text(m.name).text(time_text(0, 0)).text(time_text(last + 1, 6)).text(time_text(last, 6))
                .number(snapshot_key(m, last)).end_row();
        }
        reported.send(tx, "reported_domains", {"domain", "first_day", "last_day", "last_received_at"});
        fill_type_rollups(tx, 0);
        monitored.send(tx, "monitored_domains", {"domain", "added_at", "next_check_at", "last_checked_at", "last_snapshot_id"});
        tx.exec("SELECT setval('reports_id_seq', (SELECT max(id) FROM reports))");
        tx.exec("SELECT setval('check_snapshots_id_seq', (SELECT max(id) FROM check_snapshots))");
        tx.exec("SELECT setval('change_events_id_seq', (SELECT max(id) FROM change_events))");
        tx.commit();
    }

    say_phase("indexes (" + std::to_string(indexes.size()) + ", as the schema defines them), then VACUUM ANALYZE");
    next = 0;
    in_parallel(o.connections, [&](unsigned) {
        pqxx::connection conn(o.db_url);
        pqxx::nontransaction tx(conn);
        tx.exec0("SET maintenance_work_mem = '512MB'");
        for (std::size_t i; (i = next.fetch_add(1)) < indexes.size();) tx.exec0(indexes[i].second);
    });
    const auto indexed = bench_clock::now();
    line("indexes", fixed(seconds_between(loaded, indexed), 1) + " s");
    next = 0;
    const std::vector<std::string> vacuumed{"failure_details", "daily_rollups", "daily_type_rollups", "check_snapshots", "reports",
                                            "report_policies", "check_findings", "change_events", "reported_domains",
                                            "monitored_domains"};
    in_parallel(o.connections, [&](unsigned) {
        pqxx::connection conn(o.db_url);
        pqxx::nontransaction tx(conn);
        for (std::size_t i; (i = next.fetch_add(1)) < vacuumed.size();) tx.exec0("VACUUM (ANALYZE) " + vacuumed[i]);
    });
    line("VACUUM ANALYZE", fixed(seconds_between(indexed, bench_clock::now()), 1) + " s");
    return seconds_between(begin, bench_clock::now());
}

// ---------------------------------------------------------------------------------------
// Measuring

struct measured {
    std::string name;
    latency_figures ours, floor;
    double target_ms = NAN;
};

// Runs ours(i) and floor(i) for i in [0, n), alternating which goes first, after warm_up
// unmeasured rounds of each; returns their latencies in ms.
measured measure(const std::string& name, std::size_t n, std::size_t warm_up, const std::function<void(std::size_t)>& ours,
                 const std::function<void(std::size_t)>& floor)
{
    for (std::size_t i = 0; i < warm_up; ++i) {
        ours(n + i);
        floor(n + i);
    }
    std::vector<double> ours_ms, floor_ms;
    auto timed = [](const std::function<void(std::size_t)>& f, std::size_t i) {
        const auto t0 = bench_clock::now();
        f(i);
        return seconds_between(t0, bench_clock::now()) * 1000.0;
    };
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 2 == 0) {
            ours_ms.push_back(timed(ours, i));
            floor_ms.push_back(timed(floor, i));
        } else {
            floor_ms.push_back(timed(floor, i));
            ours_ms.push_back(timed(ours, i));
        }
    }
    measured m;
    m.name = name;
    m.ours = latency_percentiles(ours_ms);
    m.floor = latency_percentiles(floor_ms);
    return m;
}

std::string ms_text(double ms) { return fixed(ms, ms < 10 ? 2 : 1) + " ms"; }

std::string ratio_text(double ours, double floor) { return floor > 0 ? fixed(ours / floor, 1) : std::string("n/a"); }

void print_measured(const measured& m, const std::string& what, const std::string& floor_what)
{
    std::cout << "  " << m.name << ": " << what << '\n';
    line("p50 / p95 / max", ms_text(m.ours.p50) + " / " + ms_text(m.ours.p95) + " / " + ms_text(m.ours.max));
    line("floor p50 / p95 / max", ms_text(m.floor.p50) + " / " + ms_text(m.floor.p95) + " / " + ms_text(m.floor.max),
         floor_what);
    line("ratio p50 / p95", ratio_text(m.ours.p50, m.floor.p50) + " / " + ratio_text(m.ours.p95, m.floor.p95));
    line("target", "p95 < " + fixed(m.target_ms, 0) + " ms: " + (m.ours.p95 < m.target_ms ? "met" : "NOT met"));
}

// Every domain's refresh after the added day, as `stswatch serve`'s refresher makes it:
// claim a batch of the queue, refresh each domain, finish the batch.
struct refresh_figures {
    double seconds = 0, floor_seconds = 0;
    latency_figures per_domain, floor_per_domain;
    std::size_t domains = 0, opened = 0, updated = 0, ended = 0, retracted = 0, unchanged = 0;
};

// The day after the year: every domain's reports of it, by COPY, with their rollups, and
// the domains queued for a refresh from that day, as ingest queues them.
double add_day(const analyze_options& o, const std::vector<domain_model>& models)
{
    const auto begin = bench_clock::now();
    const int day = static_cast<int>(o.days);
    std::atomic<std::size_t> next{0};
    in_parallel(o.connections, [&](unsigned) {
        pqxx::connection conn(o.db_url);
        pqxx::work tx(conn);
        report_rows rows;
        for (std::size_t i; (i = next.fetch_add(1)) < models.size();) add_reports(rows, models[i], day, day + 1, o.seed);
        send_reports(tx, rows);
        tx.commit();
    });
    pqxx::connection conn(o.db_url);
    pqxx::work tx(conn);
    tx.exec_params("UPDATE reported_domains SET last_day = $1, last_received_at = $2", day_text(day), time_text(day + 1, 2));
    fill_type_rollups(tx, day);
    tx.commit();
    return seconds_between(begin, bench_clock::now());
}

// Removes the added day again, so that the next run finds the year it built.
void remove_day(const analyze_options& o)
{
    const int day = static_cast<int>(o.days);
    pqxx::connection conn(o.db_url);
    pqxx::work tx(conn);
    tx.exec_params("DELETE FROM reports WHERE start_datetime >= $1::timestamptz", time_text(day, 0));
    tx.exec_params("DELETE FROM daily_rollups WHERE day >= $1::date", day_text(day));
    tx.exec_params("DELETE FROM daily_type_rollups WHERE day >= $1::date", day_text(day));
    tx.exec_params("UPDATE reported_domains SET last_day = $1, last_received_at = $2", day_text(day - 1), time_text(day, 2));
    tx.exec0("TRUNCATE analysis_queue");
    tx.commit();
}

std::vector<double> seconds_to_ms(std::vector<double> s)
{
    for (auto& x : s) x *= 1000.0;
    return s;
}

int run(int argc, char** argv)
{
    const analyze_options o = read_options(argc, argv);
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    std::cout << "analysis benchmark: " << o.domains << " domains x " << o.days << " days, " << cores << " cores, load average "
              << load_average() << '\n';

    const auto migrated = migrate_database(o.db_url);
    std::vector<domain_model> models;
    for (unsigned i = 0; i < o.domains; ++i) models.push_back(make_domain(i, o.days, o.seed));
    const row_counts expected = expected_counts(models, o.days, o.seed);

    pqxx::connection conn(o.db_url);
    {
        pqxx::nontransaction tx(conn);
        std::cout << "  PostgreSQL " << tx.exec1("SELECT current_setting('server_version')")[0].as<std::string>()
                  << ", fsync=" << tx.exec1("SELECT current_setting('fsync')")[0].as<std::string>()
                  << ", shared_buffers=" << tx.exec1("SELECT current_setting('shared_buffers')")[0].as<std::string>()
                  << ", schema version " << migrated.version << '\n';
    }
    const std::string marker = build_marker(o, migrated.version, expected);
    double build_seconds = NAN;
    if (!o.rebuild && stored_marker(conn) == marker && stored_counts(conn) == expected && valid_indexes(conn)) {
        std::cout << "  database reused (it holds the expected rows; --rebuild builds it again)\n";
    } else {
        say_phase("building the database");
        build_seconds = build_database(o, models);
        const row_counts now = stored_counts(conn);
        if (!(now == expected))
            throw std::runtime_error("the database holds other rows than built: " + counts_line(now) + "; expected " +
                                     counts_line(expected));
        set_marker(conn, marker);
    }
    std::cout << "  rows: " << counts_line(expected) << '\n';
    if (std::isfinite(build_seconds)) line("build time", fixed(build_seconds, 1) + " s");
    {
        pqxx::nontransaction tx(conn);
        line("database size", tx.exec1("SELECT pg_size_pretty(pg_database_size(current_database()))")[0].as<std::string>());
    }

    const int last = static_cast<int>(o.days) - 1;
    const utc_date today = day_at(last);
    std::mt19937_64 random(o.seed);
    std::vector<std::size_t> picks(o.iterations + 10);
    for (auto& p : picks) p = static_cast<std::size_t>(random() % models.size());
    auto domain_of = [&](std::size_t i) -> const std::string& { return models[picks[i]].name; };

    analysis_store store(o.db_url);
    // The floors' connection: prepared statements, one round trip each, every row read.
    pqxx::connection floor_conn(o.db_url);
    floor_conn.prepare("trends_rows",
                       "SELECT day, result_type, successful_sessions, failed_sessions FROM daily_type_rollups"
                       " WHERE policy_domain = $1 AND day BETWEEN $2 AND $3");
    floor_conn.prepare("incidents_rows",
                       "SELECT * FROM incidents WHERE domain = $1 AND onset <= $3 AND coalesce(end_day, last_day) >= $2"
                       " AND status <> 'retracted'");
    floor_conn.prepare("findings_rows",
                       "SELECT * FROM check_findings WHERE domain = $1 AND checked_at BETWEEN $2 AND $3");
    floor_conn.prepare("snapshots_rows",
                       "SELECT id, checked_at, sts_id, policy_sha256, snapshot FROM check_snapshots"
                       " WHERE domain = $1 AND checked_at BETWEEN $2 AND $3");
    floor_conn.prepare("changes_rows",
                       "SELECT * FROM change_events WHERE domain = $1 AND detected_at BETWEEN $2 AND $3");
    floor_conn.prepare("policies_rows",
                       "SELECT * FROM report_policies WHERE policy_domain = $1 AND report_start BETWEEN $2 AND $3");
    floor_conn.prepare("health_rows",
                       "SELECT policy_domain,"
                       " sum(successful_sessions) FILTER (WHERE day >= $2), sum(failed_sessions) FILTER (WHERE day >= $2),"
                       " sum(successful_sessions) FILTER (WHERE day < $2), sum(failed_sessions) FILTER (WHERE day < $2)"
                       " FROM daily_rollups WHERE counted AND result_type = '' AND day BETWEEN $1 AND $3"
                       " GROUP BY policy_domain ORDER BY policy_domain");
    floor_conn.prepare("refresh_rows",
                       "SELECT day, policy_type, result_type, receiving_mx, organization_name, successful_sessions,"
                       " failed_sessions FROM daily_rollups WHERE policy_domain = $1 AND day BETWEEN $2 AND $3 AND counted");
    std::size_t sink = 0;   // rows read by the floors, so that nothing is optimised away
    auto read_all = [&](const pqxx::result& r) {
        for (const auto& row : r)
            for (const auto& field : row) sink += field.size();
    };

    std::vector<measured> results;

    // -- trends: a year of one domain, by day, grouped by result type --
    say_phase("trends");
    const utc_date year_from = day_at(last - 364 < 0 ? 0 : last - 364);
    std::size_t trend_points = 0;
    auto trends = measure(
        "trends", o.iterations, 5,
        [&](std::size_t i) {
            analysis::trends_request request{domain_of(i % picks.size()), year_from, today, analysis::bucket::day,
                                             trend_group::result_type};
            trend_points += analysis::query_trends(store, request).series.size();
        },
        [&](std::size_t i) {
            pqxx::nontransaction tx(floor_conn);
            read_all(tx.exec_prepared("trends_rows", domain_of(i % picks.size()), format_day(year_from), format_day(today)));
        });
    trends.target_ms = target_trends_ms;
    results.push_back(trends);

    // -- explain: 30 days of one domain, after every domain's incidents were refreshed --
    say_phase("refresh of every domain's incidents (60 days), for explain");
    {
        pqxx::work tx(conn);
        tx.exec0("TRUNCATE incidents, analysis_queue RESTART IDENTITY");
        tx.commit();
    }
    std::vector<double> initial_s;
    const auto initial_begin = bench_clock::now();
    for (const auto& m : models) {
        const auto t0 = bench_clock::now();
        analysis::refresh_incidents(store, m.name, today - std::chrono::days{60}, today);
        initial_s.push_back(seconds_between(t0, bench_clock::now()));
    }
    const double initial_seconds = seconds_between(initial_begin, bench_clock::now());
    std::size_t stored_incidents = 0;
    {
        pqxx::nontransaction tx(conn);
        stored_incidents = tx.exec1("SELECT count(*) FROM incidents WHERE status <> 'retracted'")[0].as<std::size_t>();
    }

    say_phase("explain");
    const utc_date explain_from = today - std::chrono::days{29};
    // Random domains among those with incidents in the 30 days: explain's work is theirs (a
    // domain without any answers from two empty reads).
    std::vector<std::string> explain_domains;
    {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_params("SELECT DISTINCT domain FROM incidents WHERE status <> 'retracted'"
                                            " AND onset <= $2 AND coalesce(end_day, last_day) >= $1 ORDER BY 1",
                                            format_day(explain_from), format_day(today)))
            explain_domains.push_back(r[0].as<std::string>());
    }
    if (explain_domains.empty())
        for (const auto& m : models) explain_domains.push_back(m.name);
    std::vector<std::size_t> explain_picks(picks.size());
    for (auto& p : explain_picks) p = static_cast<std::size_t>(random() % explain_domains.size());
    auto explained_domain = [&](std::size_t i) -> const std::string& {
        return explain_domains[explain_picks[i % explain_picks.size()]];
    };
    const std::string window_from = format_day(explain_from - std::chrono::days{7}) + " 00:00:00+00";
    const std::string window_to = format_day(today) + " 23:59:59+00";
    std::size_t explained = 0, explained_with = 0, explain_calls = 0;
    auto explain = measure(
        "explain", o.iterations, 5,
        [&](std::size_t i) {
            const auto r = analysis::explain(store, explained_domain(i), explain_from, today);
            if (i < o.iterations) {
                ++explain_calls;
                explained += r.incidents.size();
                if (!r.incidents.empty()) ++explained_with;
            }
        },
        [&](std::size_t i) {
            const auto& d = explained_domain(i);
            pqxx::nontransaction tx(floor_conn);
            read_all(tx.exec_prepared("incidents_rows", d, format_day(explain_from), format_day(today)));
            read_all(tx.exec_prepared("findings_rows", d, window_from, window_to));
            read_all(tx.exec_prepared("snapshots_rows", d, window_from, window_to));
            read_all(tx.exec_prepared("changes_rows", d, window_from, window_to));
            read_all(tx.exec_prepared("policies_rows", d, window_from, window_to));
            read_all(tx.exec_prepared("trends_rows", d, format_day(explain_from), format_day(today)));
        });
    explain.target_ms = target_explain_ms;
    results.push_back(explain);

    // -- domains: every domain's health --
    say_phase("domains");
    const utc_date recent_from = today - std::chrono::days{analysis::health_recent_days - 1};
    const utc_date baseline_from = recent_from - std::chrono::days{analysis::health_baseline_days};
    std::size_t health_rows = 0;
    auto domains = measure(
        "domains", std::max<std::size_t>(50, o.iterations / 2), 2,
        [&](std::size_t) { health_rows = analysis::domains_health(store, today).size(); },
        [&](std::size_t) {
            pqxx::nontransaction tx(floor_conn);
            read_all(tx.exec_prepared("health_rows", format_day(baseline_from), format_day(recent_from), format_day(today)));
        });
    domains.target_ms = target_domains_ms;
    results.push_back(domains);

    // -- the JSON API over real HTTP, to a listener in this process (docs/api.md) --
    say_phase("the API over HTTP: the domain list, and a domain page's data");
    const std::string api_token = "bench-api-token-0123456789abcdef";
    stswatch::settings api_settings;
    api_settings.db_url = o.db_url;
    api_settings.api_token = api_token;
    web::services api(api_settings);
    api.pin_today(today);
    web::web_server_options api_options;
    api_options.listen = {"127.0.0.1", 0};
    api_options.threads = 4;
    web::web_server api_server(api_options, web::make_router(api));
    api_server.start();
    Poco::Net::HTTPClientSession http("127.0.0.1", api_server.port());
    http.setKeepAlive(true);
    http.setTimeout(Poco::Timespan(60, 0));
    std::size_t api_bytes = 0, api_calls = 0;
    auto api_get = [&](const std::string& path) {
        Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
        request.set("Authorization", "Bearer " + api_token);
        request.setKeepAlive(true);
        http.sendRequest(request);
        Poco::Net::HTTPResponse response;
        auto& in = http.receiveResponse(response);
        std::string body;
        Poco::StreamCopier::copyToString(in, body);
        if (response.getStatus() != 200)
            throw std::runtime_error("GET " + path + ": " + std::to_string(response.getStatus()) + " " + body);
        api_bytes += body.size();
        ++api_calls;
    };
    monitor_store monitor(o.db_url);
    auto api_list = measure(
        "api domains", std::max<std::size_t>(50, o.iterations / 2), 2, [&](std::size_t) { api_get("/api/v1/domains"); },
        [&](std::size_t) { sink += analysis::domains_json(analysis::domains_health(store, today), today).size(); });
    api_list.target_ms = target_api_ms;
    results.push_back(api_list);
    const std::size_t list_bytes = api_bytes / std::max<std::size_t>(1, api_calls);
    api_bytes = api_calls = 0;
    auto api_page = measure(
        "api domain page", o.iterations, 5,
        [&](std::size_t i) {
            const std::string base = "/api/v1/domains/" + explained_domain(i);
            api_get(base + "/trends");
            api_get(base + "/explain");
            api_get(base + "/checks");
        },
        [&](std::size_t i) {
            const auto& d = explained_domain(i);
            analysis::trends_request request{d, today - std::chrono::days{29}, today, analysis::bucket::day, std::nullopt};
            sink += analysis::trends_json(analysis::query_trends(store, request)).size();
            sink += analysis::explain_json(analysis::explain(store, d, today - std::chrono::days{29}, today)).size();
            if (const auto c = store.latest_check(d)) sink += c->findings.size();
            if (const auto m = monitor.get(d)) sink += m->domain.size();
            sink += monitor.change_history(d).size();
        });
    api_page.target_ms = target_api_ms;
    results.push_back(api_page);
    const std::size_t page_bytes = api_bytes / std::max<std::size_t>(1, api_calls / 3);
    api_server.stop();

    // -- the refresh after a day of new reports --
    say_phase("a day of new reports for every domain, then the refresh of every domain");
    refresh_figures rf;
    const double add_seconds = add_day(o, models);
    const utc_date new_day = day_at(static_cast<int>(o.days));
    std::vector<double> refresh_s, floor_s;
    try {
        for (const auto& m : models) store.enqueue(m.name, new_day);
        const auto begin = bench_clock::now();
        for (;;) {
            const auto batch = store.claim(100, std::chrono::seconds(600));
            if (batch.empty()) break;
            for (const auto& q : batch) {
                const auto t0 = bench_clock::now();
                const auto r = analysis::refresh_incidents(store, q.domain, q.since, new_day);
                refresh_s.push_back(seconds_between(t0, bench_clock::now()));
                rf.opened += r.opened;
                rf.updated += r.updated;
                rf.ended += r.ended;
                rf.retracted += r.retracted;
                rf.unchanged += r.unchanged;
            }
            store.finish(batch);
        }
        rf.seconds = seconds_between(begin, bench_clock::now());
        rf.domains = refresh_s.size();
        // The floor: the rollup rows each refresh reads (the evaluated days and the
        // baselines before them), domain after domain on one connection.
        const auto from = new_day - std::chrono::days{analysis::refresh_overlap_days + 2 * analysis::detect_params{}.baseline_days};
        const auto floor_begin = bench_clock::now();
        for (const auto& m : models) {
            const auto t0 = bench_clock::now();
            pqxx::nontransaction tx(floor_conn);
            read_all(tx.exec_prepared("refresh_rows", m.name, format_day(from), format_day(new_day)));
            floor_s.push_back(seconds_between(t0, bench_clock::now()));
        }
        rf.floor_seconds = seconds_between(floor_begin, bench_clock::now());
    } catch (...) {
        remove_day(o);
        throw;
    }
    remove_day(o);
    auto refresh_ms = seconds_to_ms(refresh_s), floor_ms = seconds_to_ms(floor_s);
    rf.per_domain = latency_percentiles(refresh_ms);
    rf.floor_per_domain = latency_percentiles(floor_ms);

    // -- figures --
    std::cout << "\n";
    print_measured(trends, grouped(static_cast<double>(o.iterations)) + " random domains, analysis::query_trends over " +
                               grouped(static_cast<double>(trend_points / std::max<std::size_t>(1, o.iterations + 5))) +
                               " days, grouped by result type",
                   "(the domain's year of counted rollup rows)");
    std::cout << "  refresh before explain: " << models.size() << " domains, 60 days each, " << fixed(initial_seconds, 1)
              << " s; " << grouped(static_cast<double>(stored_incidents)) << " incidents stored\n";
    print_measured(explain,
                   grouped(static_cast<double>(o.iterations)) + " calls, analysis::explain of 30 days of a random domain among the " +
                       grouped(static_cast<double>(explain_domains.size())) + " with incidents then (" +
                       grouped(static_cast<double>(explained_with)) + " calls explained some, " +
                       fixed(static_cast<double>(explained) / static_cast<double>(std::max<std::size_t>(1, explain_calls)), 2) +
                       " incidents each on average, related ones grouped)",
                   "(incidents, findings, snapshots, changes, policies, rollups)");
    print_measured(domains, "analysis::domains_health, " + grouped(static_cast<double>(health_rows)) + " domains",
                   "(the rollup aggregate per domain)");
    print_measured(api_list,
                   "GET /api/v1/domains over HTTP (keep-alive, bearer token) to an in-process listener, " +
                       grouped(static_cast<double>(list_bytes)) + " bytes each",
                   "(analysis::domains_health and domains_json in-process)");
    print_measured(api_page,
                   "a domain page's data: GET …/trends, …/explain and …/checks of one domain among those with incidents, "
                   "over HTTP, " + grouped(static_cast<double>(page_bytes)) + " bytes a page",
                   "(the same trends, explain and check reads and JSON in-process)");
    std::cout << "  refresh after a day of new reports (" << grouped(static_cast<double>(rf.domains))
              << " domains queued; the day added in " << fixed(add_seconds, 1) << " s)\n";
    line("total", fixed(rf.seconds, 2) + " s", "(claim, refresh_incidents, finish; one connection)");
    line("per domain p50 / p95 / max", ms_text(rf.per_domain.p50) + " / " + ms_text(rf.per_domain.p95) + " / " +
                                           ms_text(rf.per_domain.max));
    line("incidents opened / updated / ended / retracted / unchanged",
         std::to_string(rf.opened) + " / " + std::to_string(rf.updated) + " / " + std::to_string(rf.ended) + " / " +
             std::to_string(rf.retracted) + " / " + std::to_string(rf.unchanged));
    line("floor total", fixed(rf.floor_seconds, 2) + " s", "(each domain's rollup rows of the detection window)");
    line("floor per domain p50 / p95", ms_text(rf.floor_per_domain.p50) + " / " + ms_text(rf.floor_per_domain.p95));
    line("ratio total", ratio_text(rf.seconds, rf.floor_seconds));
    line("target", "< " + fixed(target_refresh_s, 0) + " s for the day: " + (rf.seconds < target_refresh_s ? "met" : "NOT met"));
    std::cout << "  ratio = analyzer figure / floor measured in this run (1.0 = as fast as reading the rows)\n";
    std::cout << "  load average at the end: " << load_average() << " (other work on the machine moves every figure)\n";
    if (sink == 0) std::cout << "  (the floors read no rows)\n";

    if (!o.summary_file.empty()) {
        std::ofstream summary(o.summary_file, std::ios::app);
        for (const auto& m : results)
            summary << "analyze\t" << m.name << '\t' << fixed(m.ours.p50, 2) << '\t' << fixed(m.ours.p95, 2) << '\t'
                    << fixed(m.floor.p50, 2) << '\t' << fixed(m.floor.p95, 2) << '\t' << ratio_text(m.ours.p95, m.floor.p95)
                    << '\t' << "p95 < " << fixed(m.target_ms, 0) << " ms" << '\t' << (m.ours.p95 < m.target_ms ? "met" : "NOT met")
                    << '\n';
        summary << "analyze\trefresh\t" << fixed(rf.per_domain.p50, 2) << '\t' << fixed(rf.per_domain.p95, 2) << '\t'
                << fixed(rf.floor_per_domain.p50, 2) << '\t' << fixed(rf.floor_per_domain.p95, 2) << '\t'
                << ratio_text(rf.seconds, rf.floor_seconds) << '\t' << "day < 30 s (took " << fixed(rf.seconds, 1) << " s)"
                << '\t' << (rf.seconds < target_refresh_s ? "met" : "NOT met") << '\n';
        if (!summary) throw std::runtime_error(o.summary_file + ": could not append the summary");
    }
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    return bench_main("analyze", "usage: analyze --db CONNINFO [--domains 1000] [--days 365] [--iterations 100] [--seed 7]\n"
                                 "               [--connections 2] [--rebuild] [--summary FILE]\n",
                      [&] { return run(argc, argv); });
}
