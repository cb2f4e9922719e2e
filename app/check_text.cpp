// The terminal text of `stswatch check` (without --json): findings grouped by severity and
// subject, then the records, the policy and the MX table, in ANSI colour on a terminal.
#include "app/check_text.hpp"

#include "checks/checker.hpp"
#include "common/text.hpp"
#include "common/utf8.hpp"

#include <algorithm>
#include <sstream>

namespace stswatch {

namespace {

constexpr severity all_severities[] = {severity::error, severity::warning, severity::info};

struct palette {
    bool on;
    std::string paint(const char* code, const std::string& text) const
    {
        return on ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
    }
    std::string bold(const std::string& t) const { return paint("1", t); }
    std::string level(severity s, const std::string& t) const
    {
        switch (s) {
        case severity::error: return paint("31", t);
        case severity::warning: return paint("33", t);
        case severity::info: return paint("36", t);
        }
        return t;
    }
};

std::string shown(std::string_view text, bool keep_newlines = false)
{
    return terminal_safe(text, keep_newlines);
}

std::string plural(std::size_t n, const char* word)
{
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string pad(const std::string& s, std::size_t width)
{
    return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

std::string duration_words(std::uint64_t seconds)
{
    if (seconds >= 86400 && seconds % 86400 == 0)
        return plural(seconds / 86400, "day");
    if (seconds >= 3600 && seconds % 3600 == 0)
        return plural(seconds / 3600, "hour");
    return plural(seconds, "second");
}

const char* starttls_words(starttls_status s)
{
    switch (s) {
    case starttls_status::ok: return "yes";
    case starttls_status::unreachable: return "unreachable";
    case starttls_status::smtp_error: return "SMTP error";
    case starttls_status::starttls_missing: return "no";
    case starttls_status::starttls_refused: return "refused";
    case starttls_status::tls_failed: return "TLS failed";
    }
    return "?";
}

// Continuation lines of a message stay under its first line.
std::string indented(const std::string& text, const std::string& indent)
{
    std::string out;
    for (char ch : text) {
        out += ch;
        if (ch == '\n')
            out += indent;
    }
    return out;
}

std::string certificate_summary(const certificate_info& c)
{
    if (!c.present)
        return "-";
    std::string s = c.expired ? "EXPIRED " + c.not_after.substr(0, 10)
                              : "expires " + c.not_after.substr(0, 10) + " (" + std::to_string(c.days_to_expiry) + "d)";
    s += c.trusted ? ", trusted" : ", UNTRUSTED";
    if (!c.name_matches)
        s += ", NAME MISMATCH";
    return s;
}

} // namespace

std::string to_text(const check_result& r, bool colour)
{
    const palette p{colour};
    std::size_t counts[3] = {0, 0, 0};
    for (const auto& f : r.findings)
        ++counts[static_cast<int>(f.level)];

    std::ostringstream out;
    std::string verdict;
    if (r.dns_unavailable)
        verdict = p.level(severity::error, "DNS UNAVAILABLE") + ", ";
    if (counts[0] == 0)
        verdict += p.paint("32", "OK");
    else
        verdict += p.level(severity::error, plural(counts[0], "error"));
    verdict += ", " + plural(counts[1], "warning") + ", " + std::to_string(counts[2]) + " info";
    out << p.bold(r.domain) << ": " << verdict << "  (checked " << r.checked_at << ")\n";

    // Findings, by severity, then by subject in the order the checks met them.
    const char* headings[3] = {"Errors", "Warnings", "Info"};
    for (severity s : all_severities) {
        if (counts[static_cast<int>(s)] == 0)
            continue;
        out << "\n" << p.level(s, p.bold(headings[static_cast<int>(s)])) << "\n";
        std::vector<std::string> subjects;
        for (const auto& f : r.findings)
            if (f.level == s && std::find(subjects.begin(), subjects.end(), f.subject) == subjects.end())
                subjects.push_back(f.subject);
        for (const auto& subject : subjects) {
            out << "  " << shown(subject) << "\n";
            for (const auto& f : r.findings)
                if (f.level == s && f.subject == subject)
                    out << "    " << p.level(s, f.code) << ": " << indented(shown(f.message, true), "      ")
                        << (f.rfc.empty() ? "" : " [" + f.rfc + "]") << "\n";
        }
    }

    // A record whose lookup failed is unknown, not absent.
    auto record_line = [&](const std::string& name, const std::optional<std::string>& record) {
        const bool failed = std::any_of(r.findings.begin(), r.findings.end(), [&](const finding& f) {
            return f.code == "sts-record-dns-error" && f.subject == name;
        });
        out << "  " << pad(name, 32) << (record ? shown(*record) : failed ? "(unknown: the lookup failed)" : "(none)") << "\n";
    };
    out << "\n" << p.bold("Records") << "\n";
    record_line("_mta-sts." + r.domain, r.sts.record);
    record_line("_smtp._tls." + r.domain, r.tlsrpt.record);

    out << "\n" << p.bold(r.sts.candidate ? "Policy (candidate from --policy-file)" : "Policy") << "\n";
    if (r.sts.fetch) {
        const auto& f = *r.sts.fetch;
        out << "  fetch      " << f.url;
        if (!f.address.empty())
            out << " from " << shown(f.address);
        out << ": " << to_string(f.status);
        if (f.http_status)
            out << " (HTTP " << f.http_status << ")";
        out << "\n";
        if (f.certificate.present)
            out << "  cert       " << certificate_summary(f.certificate) << "\n";
    }
    if (r.sts.policy) {
        const auto& pol = *r.sts.policy;
        out << "  mode       " << to_string(pol.mode) << "\n";
        out << "  max_age    " << pol.max_age << " (" << duration_words(pol.max_age) << ")\n";
        out << "  mx         " << (pol.mx.empty() ? std::string("(none)") : shown(text::join(pol.mx, ", "))) << "\n";
    } else if (r.sts.policy_text) {
        out << "  (not usable: see the findings)\n";
    } else if (r.sts.fetch) {
        out << "  (none: the fetch failed, see the findings)\n";
    } else {
        out << "  (none)\n";
    }

    out << "\n" << p.bold("MX") << "\n";
    if (r.mx.empty()) {
        out << "  (none)\n";
    } else {
        std::size_t host_width = 4;
        std::size_t cover_width = 10;
        for (const auto& m : r.mx) {
            host_width = std::max(host_width, m.host.size() + (m.from_reports ? 10 : 0));
            cover_width = std::max(cover_width, m.covered_by ? m.covered_by->size() : 1);
        }
        out << "  " << pad("HOST", host_width + 2) << pad("PREF", 6) << pad("COVERED BY", cover_width + 2)
            << pad("STARTTLS", 13) << pad("TLS", 9) << "CERTIFICATE\n";
        for (const auto& m : r.mx) {
            const std::string host = m.host.empty() ? std::string(".") : shown(m.host) + (m.from_reports ? " (reports)" : "");
            std::string starttls = "-", tls = "-", cert = "-";
            if (m.probe) {
                starttls = starttls_words(m.probe->status);
                if (!m.probe->tls_version.empty())
                    tls = m.probe->tls_version;
                cert = certificate_summary(m.probe->certificate);
            } else if (!m.from_reports && !m.host.empty()) {
                starttls = "not probed";
            }
            out << "  " << pad(host, host_width + 2) << pad(m.from_reports ? "-" : std::to_string(m.preference), 6)
                << pad(m.covered_by ? shown(*m.covered_by) : "-", cover_width + 2) << pad(starttls, 13) << pad(tls, 9)
                << cert << "\n";
            if (m.probe && !m.other_probes.empty())
                out << "    first answer from " << shown(m.probe->address) << "\n";
            for (const auto& other : m.other_probes)
                out << "    also " << pad(shown(other.address), 16) << starttls_words(other.status)
                    << (other.tls_version.empty() ? std::string() : ", " + other.tls_version) << ", "
                    << certificate_summary(other.certificate) << "\n";
        }
    }
    return out.str();
}

} // namespace stswatch
