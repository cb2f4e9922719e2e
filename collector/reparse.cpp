// Parsing stored reports again (collector/reparse.hpp).
#include "collector/reparse.hpp"

#include "store/connection.hpp"
#include "tlsrpt/decode.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace stswatch {

namespace {

// reports.metadata back into the fields the report came with; the parser's "filled" notes
// are made again.
report_metadata metadata_of(const std::string& json)
{
    report_metadata m;
    try {
        Poco::JSON::Parser parser;
        const auto object = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
        for (const auto& [key, value] : *object)
            if (key != "filled" && value.isString())
                m.fields[key] = value.convert<std::string>();
    } catch (const Poco::Exception&) {
        // Not an object of strings: the report is parsed without metadata.
    }
    return m;
}

} // namespace

incoming_report incoming_from_stored(const stored_report& stored, const reparse_options& options)
{
    // raw_gzip holds the body as received when it came gzipped, else the JSON body the
    // store compressed: decoded the way the receiver decoded it, its warnings come again.
    const decoded_body decoded =
        stored.raw_encoding == "gzip"
            ? decode_body(stored.raw_gzip, options.max_report_bytes)
            : decode_body(inflate_gzip_coding(stored.raw_gzip, options.max_report_bytes), options.max_report_bytes);
    incoming_report in;
    in.metadata = metadata_of(stored.metadata_json);
    parsed_report parsed = parse_report(decoded.json, in.metadata, options.limits);
    if (!decoded.warning.empty())
        in.warnings.push_back(decoded.warning);
    in.warnings.insert(in.warnings.end(), parsed.warnings.begin(), parsed.warnings.end());
    in.report = std::move(parsed.report);
    return in;
}

reparse_totals reparse_reports(pqxx::connection& conn, const reparse_options& options,
                               const std::function<void(const reparsed_report&, const reparse_totals&)>& each)
{
    reparse_totals totals;
    totals.selected = count_stored_reports(conn, options.selection);
    std::int64_t after = 0;
    for (;;) {
        const auto keys = select_stored_reports(conn, options.selection, after, 500);
        if (keys.empty())
            break;
        for (const auto key : keys) {
            after = key;
            reparsed_report out;
            out.key = key;
            const auto stored = guarded("cannot read a stored report", [&] { return load_report(conn, key); });
            ++totals.examined;
            if (!stored) {
                out.result = reparse_result::missing;
                ++totals.missing;
                each(out, totals);
                continue;
            }
            out.organization = stored->row.organization_name;
            out.report_id = stored->row.report_id;
            incoming_report fresh;
            try {
                fresh = incoming_from_stored(*stored, options);
            } catch (const decode_error& e) {
                out.refusal = std::string("the kept body cannot be decoded: ") + e.what();
            } catch (const report_error& e) {
                out.refusal = std::string("not a valid TLS report: ") + e.what();
            }
            if (!out.refusal.empty()) {
                ++totals.refused;
                each(out, totals);
                continue;
            }
            try {
                auto outcome = reparse_stored_report(conn, key, fresh, !options.dry_run);
                out.result = outcome.result;
                out.changes = std::move(outcome.changes);
            } catch (const store_rejected& e) {
                out.refusal = e.what();
                ++totals.refused;
                each(out, totals);
                continue;
            }
            switch (out.result) {
            case reparse_result::unchanged: ++totals.unchanged; break;
            case reparse_result::changed: ++totals.changed; break;
            case reparse_result::identity_changed: ++totals.identity_changed; break;
            case reparse_result::missing: ++totals.missing; break;
            }
            each(out, totals);
        }
    }
    return totals;
}

namespace {

transport transport_named(const std::string& name)
{
    for (const auto t : {transport::https, transport::smtp, transport::import, transport::pipe})
        if (name == to_string(t))
            return t;
    return transport::import;
}

} // namespace

retried_report retry_rejected(pqxx::connection& conn, std::int64_t id, const retry_options& options)
{
    retried_report out;
    out.id = id;
    const auto kept = load_rejected(conn, id);
    if (!kept) {
        out.result = "missing";
        out.reason = "no refused report " + std::to_string(id) + " is kept";
        return out;
    }
    if (kept->row.truncated) {
        out.result = "truncated";
        out.reason = "only the first " + std::to_string(kept->raw.size()) + " of its " +
                     std::to_string(kept->row.size) + " bytes were kept (collector.rejected.max_bytes)";
        return out;
    }
    incoming_report in;
    in.metadata.fields = kept->metadata;
    try {
        const decoded_body decoded = decode_body(kept->raw, options.max_report_bytes);
        parsed_report parsed = parse_report(decoded.json, in.metadata, options.limits);
        if (!decoded.warning.empty())
            in.warnings.push_back(decoded.warning);
        in.warnings.insert(in.warnings.end(), parsed.warnings.begin(), parsed.warnings.end());
        in.report = std::move(parsed.report);
    } catch (const decode_error& e) {
        out.reason = std::string("cannot decode: ") + e.what();
    } catch (const report_error& e) {
        out.reason = std::string("not a valid TLS report: ") + e.what();
    }
    if (out.reason.empty()) {
        out.organization = in.report.organization_name;
        out.report_id = in.report.report_id;
        for (const auto& p : in.report.policies)
            if (!policy_domain_accepted(options.accept_domains, p.policy_domain))
                out.reason = "policy domain not accepted here (collector.accept_domains): " +
                             (p.policy_domain.empty() ? std::string("(none)") : p.policy_domain);
    }
    if (!out.reason.empty()) {
        out.result = "refused";
        note_retry(conn, id, out.reason, std::nullopt);
        return out;
    }
    in.raw = kept->raw;
    in.raw_is_gzip = sniff_body(kept->raw) == body_kind::gzip;
    in.via = transport_named(kept->row.transport);
    in.source_address = kept->row.source_address;
    in.received_at = kept->row.first_received_at;
    try {
        const auto stored = store_batch(conn, {&in}).at(0);
        out.result = stored.outcome == store_outcome::stored ? "stored" : "duplicate";
        out.report = stored.report_key;
    } catch (const store_rejected& e) {
        out.result = "refused";
        out.reason = e.what();
        note_retry(conn, id, out.reason, std::nullopt);
        return out;
    }
    note_retry(conn, id, out.result, out.report);
    return out;
}

} // namespace stswatch
