// The HTTPS intake's decision for one request body (RFC 8460 §5.4), apart from HTTP: the
// media type and content coding, sniffing, limits, parsing, the accepted domains, and then
// the store (or the spool) and the status that tells the sender what happened.
#include "collector/intake.hpp"

#include "tlsrpt/decode.hpp"
#include "tlsrpt/report_parser.hpp"
#include "common/domain.hpp"
#include "common/log.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <utility>

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>

namespace stswatch {

namespace {

constexpr std::string_view component = "https";

// Response bodies and metadata are in UTF-8 (text/plain; charset=utf-8): bytes past ASCII
// are kept, controls become spaces.
constexpr auto keep = text::high_bytes::keep;

// "Application/TLSRPT+GZIP ; charset=binary" -> "application/tlsrpt+gzip"
std::string media_type_of(std::string_view content_type)
{
    return text::lowered(text::trim(content_type.substr(0, content_type.find(';'))));
}

enum class media_label {
    report,        // says it is a report (or gzip/JSON): a body that is neither is malformed
    generic,       // says nothing useful: a body that is neither gzip nor JSON is of the wrong type
    not_a_report,  // a type that cannot carry a report
};

media_label classify_media_type(const std::string& media)
{
    // RFC 8460 §5.4 (and §6.4, §6.5 for the media types): the report is POSTed as
    // application/tlsrpt+gzip or application/tlsrpt+json.
    static constexpr std::array<std::string_view, 5> report_types{
        "application/tlsrpt+gzip", "application/tlsrpt+json",
        // Senders label reports with the generic types of their format (docs/senders.md); the body
        // is sniffed anyway.
        "application/json", "application/gzip", "application/x-gzip"};
    if (std::find(report_types.begin(), report_types.end(), media) != report_types.end())
        return media_label::report;

    // Types that are documents, forms or media, never a report body.
    static constexpr std::array<std::string_view, 8> refused_types{
        "text/html", "text/xml", "application/xml", "application/xhtml+xml", "application/pdf",
        "application/zip", "text/css", "text/javascript"};
    static constexpr std::array<std::string_view, 6> refused_families{
        "multipart/", "image/", "audio/", "video/", "font/", "model/"};
    if (std::find(refused_types.begin(), refused_types.end(), media) != refused_types.end())
        return media_label::not_a_report;
    for (const auto family : refused_families)
        if (media.rfind(family, 0) == 0) return media_label::not_a_report;

    // Everything else (application/octet-stream, text/plain, no type at all, and
    // application/x-www-form-urlencoded that `curl --data-binary` sends by default) may carry a
    // report: losing a report to a careless label is worse than sniffing a few bytes.
    return media_label::generic;
}

std::string host_of(const std::string& peer_address)
{
    try {
        return Poco::Net::SocketAddress(peer_address).host().toString();
    } catch (const Poco::Exception&) {
        return peer_address;
    }
}

} // namespace

https_receiver_options https_receiver_options::from(const settings& s)
{
    https_receiver_options o;
    o.listen = s.https_listen;
    o.cert_file = s.https_cert;
    o.key_file = s.https_key;
    o.path = s.https_path;
    for (const auto& d : s.accept_domains) o.accept_domains.push_back(normalize_domain(d));
    o.max_body_bytes = s.max_body_bytes;
    o.max_report_bytes = s.max_report_bytes;
    o.max_json_depth = s.max_json_depth;
    o.threads = std::max(1u, s.https_threads);
    // collector.https.max_connections counts the connections being served and those waiting.
    o.max_queued = s.https_max_connections > o.threads ? s.https_max_connections - o.threads : 1;
    o.request_timeout = std::max(1u, s.https_request_timeout);
    o.idle_timeout = std::max(1u, s.https_idle_timeout);
    o.handshake_timeout = std::max(1u, s.https_handshake_timeout);
    o.max_connections = std::max(1u, s.https_max_connections);
    o.max_per_address = std::max(1u, s.https_max_per_address);
    o.max_header_fields = s.https_max_header_fields;
    o.rate_limit_per_minute = s.https_rate_limit;
    o.rate_burst = s.https_rate_burst;
    return o;
}

intake_decision examine_report_body(const https_receiver_options& options,
                                    std::string_view content_type, std::string_view content_encoding,
                                    std::string body, const std::string& peer_address,
                                    std::string_view user_agent)
{
    const auto refuse = [](int status, std::string_view why) {
        intake_decision refused;
        refused.refusal = intake_response{status, text::one_line(why, 400, keep), {}, {}};
        return refused;
    };

    const auto media = media_type_of(content_type);
    const auto label = classify_media_type(media);
    if (label == media_label::not_a_report)
        return refuse(415, "Content-Type " + media + " cannot carry a TLS report "
                           "(RFC 8460 §5.4: application/tlsrpt+gzip or application/tlsrpt+json)");

    const auto coding = text::lowered(text::trim(content_encoding));
    if (!coding.empty() && coding != "identity" && coding != "gzip" && coding != "x-gzip")
        return refuse(415, "Content-Encoding " + coding + " is not supported (gzip or none)");

    if (body.empty()) return refuse(400, "the request body is empty");
    if (body.size() > options.max_body_bytes)
        return refuse(413, "the request body is larger than " + std::to_string(options.max_body_bytes)
                               + " bytes");

    // The first bytes decide, not the labels (docs/senders.md: gzip sent as application/octet-stream
    // or application/json; Content-Encoding: gzip on JSON). raw ends up as the report the way a
    // sender would write it to a file, gzip or JSON, without the HTTP content coding.
    std::string raw = std::move(body);
    const auto sent_kind = sniff_body(raw);
    bool raw_is_gzip = false;
    decoded_body decoded;
    try {
        if ((coding == "gzip" || coding == "x-gzip") && sent_kind == body_kind::gzip) {
            auto content = inflate_gzip_coding(raw, options.max_report_bytes);
            // A coded JSON report is a gzip report already; a coded gzip report is the content.
            if (sniff_body(content) == body_kind::gzip) raw = std::move(content);
        }
        // A coding announced on a body that is not gzip is ignored: the bytes decide.
        const auto kind = sniff_body(raw);
        if (kind == body_kind::unknown) {
            if (label == media_label::report)
                return refuse(400, "the body of a " + media + " request is neither gzip nor JSON");
            return refuse(415, "the body is neither gzip nor JSON, so it cannot be a TLS report"
                               + (media.empty() ? std::string() : " (Content-Type " + media + ")"));
        }
        // RFC 8460 §5.2: reports may be gzip-compressed (application/tlsrpt+gzip).
        decoded = decode_body(raw, options.max_report_bytes);
        raw_is_gzip = kind == body_kind::gzip;
    } catch (const decode_error& e) {
        switch (e.kind()) {
        case decode_failure::too_large:
            return refuse(413, std::string(sent_kind == body_kind::gzip ? "the report inflates to more than "
                                                                        : "the report is larger than ")
                                   + std::to_string(options.max_report_bytes) + " bytes");
        case decode_failure::not_a_report:
            // Only what was inside gzip gets here: the body itself was sniffed above.
            return refuse(400, std::string("the gzip content is not a report: ") + e.what());
        case decode_failure::truncated:
        case decode_failure::corrupt:
            break;
        }
        return refuse(400, std::string("the gzip body cannot be inflated: ") + e.what());
    }
    std::vector<std::string> warnings;
    if (!decoded.warning.empty()) warnings.push_back(std::move(decoded.warning));

    report_metadata metadata;
    if (!content_type.empty()) metadata.fields["content-type"] = text::one_line(text::trim(content_type), 256, keep);
    if (!coding.empty()) metadata.fields["content-encoding"] = coding;
    if (!user_agent.empty()) metadata.fields["user-agent"] = text::one_line(text::trim(user_agent), 256, keep);

    parse_limits limits;
    limits.max_depth = options.max_json_depth;
    parsed_report parsed;
    try {
        parsed = parse_report(decoded.json, metadata, limits);
    } catch (const report_error& e) {
        auto refused = refuse(400, std::string("not a valid TLS report: ") + e.what());
        refused.keep_refused = true;
        refused.report.raw = std::move(raw);
        refused.report.metadata = std::move(metadata);
        refused.report.source_address = host_of(peer_address);
        return refused;
    }

    if (!options.accept_domains.empty()) {
        std::vector<std::string> refused;
        for (const auto& policy : parsed.report.policies) {
            if (policy_domain_accepted(options.accept_domains, policy.policy_domain)) continue;
            auto name = policy.policy_domain.empty() ? std::string("(no policy-domain)")
                                                     : text::one_line(policy.policy_domain, 255, keep);
            if (std::find(refused.begin(), refused.end(), name) == refused.end())
                refused.push_back(std::move(name));
        }
        if (parsed.report.policies.empty()) refused.emplace_back("(no policy-domain)");
        if (!refused.empty()) {
            auto forbidden = refuse(403, "policy domain not accepted here: " + text::join(refused, ", "));
            forbidden.refusal->report_id = parsed.report.report_id;
            forbidden.refusal->organization = parsed.report.organization_name;
            return forbidden;
        }
    }

    intake_decision decision;
    warnings.insert(warnings.end(), std::make_move_iterator(parsed.warnings.begin()),
                    std::make_move_iterator(parsed.warnings.end()));
    decision.report.report = std::move(parsed.report);
    decision.report.warnings = std::move(warnings);
    decision.report.metadata = std::move(metadata);
    decision.report.raw = std::move(raw);
    decision.report.raw_is_gzip = raw_is_gzip;
    decision.report.via = transport::https;
    decision.report.source_address = host_of(peer_address);
    return decision;
}

intake_response handle_report_body(const https_receiver_options& options, report_store& store,
                                   std::string_view content_type, std::string_view content_encoding,
                                   std::string body, const std::string& peer_address,
                                   std::string_view user_agent)
{
    auto decision = examine_report_body(options, content_type, content_encoding, std::move(body),
                                        peer_address, user_agent);
    if (decision.refusal) {
        if (decision.keep_refused) {
            rejected_input kept;
            kept.raw = std::move(decision.report.raw);
            kept.via = transport::https;
            kept.source_address = std::move(decision.report.source_address);
            kept.reason = decision.refusal->body;
            kept.metadata = std::move(decision.report.metadata.fields);
            store.keep_rejected(kept);
        }
        return std::move(*decision.refusal);
    }

    intake_response response;
    response.report_id = decision.report.report.report_id;
    response.organization = decision.report.report.organization_name;
    const auto what = "report " + text::one_line(response.report_id, 200, keep) + " from "
                      + text::one_line(response.organization, 200, keep);
    // Kept aside only when there is a spool to fall back on: the store takes the report.
    std::optional<spool_entry> fallback;
    if (options.spool) {
        fallback.emplace();
        fallback->raw = decision.report.raw;
        fallback->via = decision.report.via;
        fallback->source_address = decision.report.source_address;
        set_received_now(*fallback);
        fallback->metadata = decision.report.metadata.fields;
    }
    try {
        // A 2xx only once the report's transaction has committed (docs/contracts.md, acknowledgement).
        const auto result = store.store(std::move(decision.report));
        if (result.outcome == store_outcome::stored) {
            response.status = 201;
            response.body = "stored " + what;
        } else {
            // Idempotent on organization-name + report-id: a sender retrying after a lost
            // answer (RFC 8460 §5.5) gets a success, not an error.
            response.status = 200;
            response.body = "already stored: " + what;
        }
    } catch (const store_unavailable& e) {
        // During an outage every report comes here: one line per interval, with a count.
        static log::summarised store_down;
        store_down.write(log::level::warning, component, "cannot store report",
                         {{"report_id", response.report_id}, {"org", response.organization},
                          {"peer", peer_address}, {"error", e.what()}});
        // The database detail stays in the log: the peer is anyone on the internet.
        response.status = 503;
        response.body = "cannot store " + what + " now; retry later";
        if (fallback) {
            try {
                if (options.spool->put(*fallback)) {
                    response.status = 202;
                    response.body = "accepted " + what + "; it will be stored when the database is back";
                } else {
                    static log::summarised spool_full;
                    spool_full.write(log::level::error, component, "spool full", {{"spool", options.spool->directory()}});
                }
            } catch (const std::exception& spool_error) {
                static log::summarised spool_failing;
                spool_failing.write(log::level::error, component, "cannot spool report", {{"error", spool_error.what()}});
            }
        }
    } catch (const store_rejected& e) {
        // The database refuses a value of this report (a count past 2^63, a year past 9999):
        // retrying cannot help, so the sender is told what is wrong.
        response.status = 400;
        response.body = std::string("not storable: ") + e.what();
    }
    return response;
}

} // namespace stswatch
