// From one email message to stored reports (RFC 8460 §5.3 report mail).
#include "collector/mail_intake.hpp"

#include "tlsrpt/decode.hpp"
#include "tlsrpt/report_parser.hpp"
#include "collector/intake_metrics.hpp"
#include "collector/spool.hpp"
#include "common/domain.hpp"
#include "common/text.hpp"
#include "common/log.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace stswatch {

namespace {

constexpr std::string_view component = "mail";
// Metadata values and reasons are one line of bounded length, whatever the message held; a
// header's UTF-8 (RFC 6532) is kept.
constexpr auto keep = text::high_bytes::keep;

// "Reporter <tlsrpt@example.com>", "tlsrpt@example.com (Reporter)" → "example.com".
std::string from_domain(std::string_view from)
{
    std::string_view address = from;
    if (const auto open = from.rfind('<'); open != std::string_view::npos) {
        const auto close = from.find('>', open);
        address = from.substr(open + 1, close == std::string_view::npos ? std::string_view::npos : close - open - 1);
    } else {
        const auto at = from.find('@');
        if (at == std::string_view::npos) return {};
        auto begin = from.rfind(' ', at);
        begin = begin == std::string_view::npos ? 0 : begin + 1;
        const auto end = from.find_first_of(" \t(", at);
        address = from.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    }
    const auto at = address.rfind('@');
    if (at == std::string_view::npos) return {};
    const auto domain = normalize_domain(address.substr(at + 1));
    return is_valid_domain(domain) ? domain : std::string{};
}

// The headers kept with each report of the message (docs/contracts.md: metadata).
report_metadata message_metadata(const mail_message_info& info)
{
    report_metadata m;
    for (const char* key : {"from", "message-id", "subject", "tls-report-domain", "tls-report-submitter",
                            "subject-report-id"}) {
        const auto it = info.headers.find(key);
        if (it != info.headers.end() && !it->second.empty()) m.fields[key] = text::one_line(it->second, 512, keep);
    }
    return m;
}

std::string plural(std::size_t n, std::string_view word)
{
    return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

} // namespace

std::vector<mail_report_outcome> parse_mail_reports(std::string_view message, const mail_intake_options& options,
                                                    std::vector<incoming_report>& out, dkim_verdict* dkim)
{
    const auto info = read_report_message(message, options.mime);

    // RFC 8460 §3: report mail is to be DKIM-signed by the reporting domain; verified once
    // for the message, recorded on each of its reports.
    dkim_verdict verdict;
    if (options.dkim_lookup && !info.reports.empty()) {
        std::vector<std::string> reporting_domains;
        if (const auto it = info.headers.find("tls-report-submitter"); it != info.headers.end()) {
            const auto submitter = normalize_domain(it->second);
            if (is_valid_domain(submitter)) reporting_domains.push_back(submitter);
        }
        if (const auto it = info.headers.find("from"); it != info.headers.end()) {
            auto domain = from_domain(it->second);
            if (!domain.empty() && std::find(reporting_domains.begin(), reporting_domains.end(), domain)
                                       == reporting_domains.end())
                reporting_domains.push_back(std::move(domain));
        }
        verdict = verify_dkim(message, reporting_domains, options.dkim_lookup, std::chrono::system_clock::now());
    }
    if (dkim) *dkim = verdict;

    const auto common = message_metadata(info);
    parse_limits limits;
    limits.max_depth = options.max_json_depth;

    std::vector<mail_report_outcome> outcomes;
    std::size_t index = 0;
    for (const auto& part : info.reports) {
        ++index;
        mail_report_outcome outcome;
        outcome.part = part.file_name.empty() ? "part " + std::to_string(index) : text::one_line(part.file_name, 255, keep);
        incoming_report report;
        report.metadata = common;
        if (!part.file_name.empty()) report.metadata.fields["attachment-file-name"] = text::one_line(part.file_name, 255, keep);
        try {
            auto decoded = decode_body(part.data, options.max_report_bytes);
            auto parsed = parse_report(decoded.json, report.metadata, limits);
            outcome.report_id = parsed.report.report_id;
            outcome.organization = parsed.report.organization_name;
            std::vector<std::string> refused;
            for (const auto& policy : parsed.report.policies)
                if (!policy_domain_accepted(options.accept_domains, policy.policy_domain))
                    refused.push_back(policy.policy_domain.empty() ? "(no policy-domain)"
                                                                   : text::one_line(policy.policy_domain, 255, keep));
            if (!options.accept_domains.empty() && parsed.report.policies.empty())
                refused.emplace_back("(no policy-domain)");
            if (!refused.empty()) {
                std::string list;
                for (const auto& d : refused) list += (list.empty() ? "" : ", ") + d;
                outcome.error = "policy domain not accepted here: " + list;
                outcome.refused_by_policy = true;
                outcome.refusal = "refused-domain";
            } else if (options.require_dkim && (verdict.status != dkim_status::pass || verdict.testing_key)) {
                // collector.smtp.require_dkim: the operator accepts only reports signed by the
                // reporting domain (RFC 8460 §3); a key in testing mode counts as no signature
                // (RFC 6376 §3.6.1).
                outcome.error = std::string("DKIM signature of the reporting domain required (dkim=")
                                + to_string(verdict.status) +
                                (verdict.testing_key ? ", by a key in testing mode (t=y)" : "") + ")";
                outcome.refused_by_policy = true;
                outcome.refusal = "refused-dkim";
            } else {
                if (!decoded.warning.empty()) report.warnings.push_back(std::move(decoded.warning));
                report.warnings.insert(report.warnings.end(), std::make_move_iterator(parsed.warnings.begin()),
                                       std::make_move_iterator(parsed.warnings.end()));
                report.report = std::move(parsed.report);
                report.raw = part.data;
                report.raw_is_gzip = decoded.was_gzip;
                report.via = transport::smtp;
                report.dkim_state = verdict_label(verdict);   // "pass-testing" for t=y keys only
                if (verdict.status == dkim_status::pass) report.dkim_domain = verdict.signing_domain;
                out.push_back(std::move(report));
            }
        } catch (const decode_error& e) {
            outcome.error = text::one_line(std::string(e.kind() == decode_failure::too_large ? "too large: " : "cannot decode: ")
                                     + e.what(), 400, keep);
            if (e.kind() == decode_failure::too_large) outcome.refusal = "too-large";
        } catch (const report_error& e) {
            outcome.error = text::one_line(std::string("not a valid TLS report: ") + e.what(), 400, keep);
            outcome.refused_raw = part.data;
            outcome.refused_metadata = report.metadata.fields;
        }
        outcomes.push_back(std::move(outcome));
    }
    return outcomes;
}

namespace {

// docs/metrics.md: one count per report of the message; a message without any report
// counts as one rejected.
void count_outcomes(const mail_intake_result& result, transport via)
{
    if (result.reports.empty()) {
        count_received(via, "rejected");
        return;
    }
    for (const auto& o : result.reports) {
        if (o.stored)
            count_received(via, *o.stored == store_outcome::stored ? "stored" : "duplicate");
        else if (o.spooled)
            count_received(via, "spooled");
        else
            count_received(via, o.refusal);
    }
}

mail_intake_result intake_mail_uncounted(std::string_view message, transport via, const std::string& source_address,
                                         const mail_intake_options& options, report_store& store, spool* spool);

} // namespace

mail_intake_result intake_mail(std::string_view message, transport via, const std::string& source_address,
                               const mail_intake_options& options, report_store& store, spool* spool)
{
    auto result = intake_mail_uncounted(message, via, source_address, options, store, spool);
    count_outcomes(result, via);
    return result;
}

namespace {

mail_intake_result intake_mail_uncounted(std::string_view message, transport via, const std::string& source_address,
                                         const mail_intake_options& options, report_store& store, spool* spool)
{
    mail_intake_result result;
    std::vector<incoming_report> reports;
    try {
        result.reports = parse_mail_reports(message, options, reports, &result.dkim);
    } catch (const mime_error& e) {
        result.verdict = mail_verdict::no_report;
        result.summary = text::one_line(std::string("not a readable message: ") + e.what(), 400, keep);
        return result;
    }
    if (result.reports.empty()) {
        result.verdict = mail_verdict::no_report;
        result.summary = "no TLS report in the message (RFC 8460 §5.3)";
        return result;
    }
    // A key that cannot be fetched now may verify on a retry: with signatures required, the
    // sender is asked to come back rather than told the report is refused.
    if (options.require_dkim && result.dkim.status == dkim_status::temperror) {
        result.verdict = mail_verdict::try_later;
        result.summary = "DKIM key lookup failed temporarily; try again later";
        for (auto& o : result.reports)
            if (o.error.empty()) o.refusal = "unavailable";
        return result;
    }

    spool_entry received_now;
    set_received_now(received_now);
    std::size_t stored = 0, duplicates = 0, spooled = 0, refused = 0, waiting = 0;
    bool store_down = false;
    auto next = reports.begin();
    for (auto& outcome : result.reports) {
        if (!outcome.error.empty()) {
            ++refused;
            if (!outcome.refused_raw.empty()) {
                rejected_input kept;
                kept.raw = std::move(outcome.refused_raw);
                kept.via = via;
                kept.source_address = source_address;
                kept.reason = outcome.error;
                kept.metadata = std::move(outcome.refused_metadata);
                store.keep_rejected(kept);
            }
            continue;
        }
        auto& report = *next++;
        report.via = via;
        report.source_address = source_address;
        std::optional<spool_entry> fallback;
        if (spool) {
            fallback.emplace();
            fallback->raw = report.raw;
            fallback->via = via;
            fallback->source_address = source_address;
            fallback->received_at = received_now.received_at;
            fallback->received_micros = received_now.received_micros;
            fallback->metadata = report.metadata.fields;
            // Kept beside the headers so that the verdict survives the wait in the spool.
            fallback->metadata["dkim-state"] = report.dkim_state;
            if (!report.dkim_domain.empty()) fallback->metadata["dkim-domain"] = report.dkim_domain;
        }
        try {
            // Once the database has failed for this message, the rest go straight to the
            // spool instead of each waiting for the store's timeout.
            if (store_down) throw store_unavailable("the database failed earlier in this message");
            const auto r = store.store(std::move(report));
            outcome.stored = r.outcome;
            ++(r.outcome == store_outcome::stored ? stored : duplicates);
        } catch (const store_unavailable& e) {
            // During an outage every report comes here: one line per interval, with a count.
            static log::summarised store_unavailable_lines;
            if (!store_down)
                store_unavailable_lines.write(log::level::warning, component, "cannot store report",
                                              {{"report_id", text::one_line(outcome.report_id, 200, keep)},
                                               {"peer", source_address}, {"error", text::one_line(e.what(), 400, keep)}});
            store_down = true;
            bool put = false;
            if (fallback) {
                try {
                    put = spool->put(*fallback);
                    static log::summarised spool_full;
                    if (!put) spool_full.write(log::level::error, component, "spool full", {{"spool", spool->directory()}});
                } catch (const std::exception& spool_error) {
                    static log::summarised spool_failing;
                    spool_failing.write(log::level::error, component, "cannot spool report",
                                        {{"error", text::one_line(spool_error.what(), 400, keep)}});
                }
            }
            if (put) {
                outcome.spooled = true;
                ++spooled;
            } else {
                outcome.error = "cannot be stored now; try again later";
                outcome.refusal = "unavailable";
                ++waiting;
            }
        } catch (const store_rejected& e) {
            // Retrying cannot help: the database refuses a value of this report.
            outcome.error = text::one_line(std::string("not storable: ") + e.what(), 400, keep);
            ++refused;
        }
    }

    std::string done;
    const auto add = [&](std::size_t n, std::string_view what) {
        if (n == 0) return;
        done += (done.empty() ? "" : ", ") + std::to_string(n) + " " + std::string(what);
    };
    add(stored, "stored");
    add(duplicates, duplicates == 1 ? "duplicate" : "duplicates");
    add(spooled, "spooled");
    add(refused, "refused");
    if (waiting > 0) {
        // docs/contracts.md: acknowledged only when every report is durable; the ones already stored
        // are duplicates when the sender retries.
        result.verdict = mail_verdict::try_later;
        result.summary = "cannot store " + plural(waiting, "report") + " now; try again later";
    } else if (stored + duplicates + spooled > 0) {
        result.verdict = mail_verdict::stored;
        result.summary = plural(result.reports.size(), "report") + ": " + done;
    } else {
        result.verdict = mail_verdict::rejected;
        // The first reason names what is wrong; the others are in the outcomes.
        const auto first = std::find_if(result.reports.begin(), result.reports.end(),
                                        [](const mail_report_outcome& o) { return !o.error.empty(); });
        result.summary = plural(result.reports.size(), "report") + " refused: " + first->part + ": " + first->error;
    }
    return result;
}

} // namespace

} // namespace stswatch
