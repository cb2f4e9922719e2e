// From one email message to stored reports: the path shared by the SMTP receiver,
// `stswatch ingest-mail` and `stswatch import` (.eml, mbox, maildir).
//
// read_report_message() finds the report parts, DKIM is verified once for the message,
// each part is decoded (decode_body) and parsed (parse_report, a missing policy-domain
// filled from TLS-Report-Domain or the attachment's RFC 8460 §5.1 file name), and every
// report goes to the store. The message is acknowledged only when every report in it is
// durable (stored, duplicate, or spooled).
#pragma once

#include "mail/dkim.hpp"
#include "mail/mime.hpp"
#include "store/report_store.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

class spool;

struct mail_intake_options {
    std::uint64_t max_report_bytes = 20971520;   // inflated
    unsigned max_json_depth = 32;
    std::vector<std::string> accept_domains;     // normalised; empty = any
    bool require_dkim = false;                   // collector.smtp.require_dkim
    dkim_key_lookup dkim_lookup;                 // empty: DKIM not verified (status none)
    mime_limits mime;
};

enum class mail_verdict {
    stored,       // every report durable (some may be duplicates or spooled)
    no_report,    // the message holds no report at all: SMTP 554, exit 65
    rejected,     // reports present but none acceptable (invalid, domain refused, DKIM required): 550/554, 65
    try_later,    // storage unavailable and not spooled: SMTP 451, exit 75
};

struct mail_report_outcome {
    std::string part;             // file name or "part N", for messages and summaries
    std::string report_id, organization;
    std::optional<store_outcome> stored;   // set when stored or duplicate
    bool spooled = false;
    std::string error;            // why this part was not taken
    // A part the parser refused: its bytes and metadata, kept for another try.
    std::string refused_raw;
    std::map<std::string, std::string> refused_metadata;
    // Refused by this site's policy (policy domain not accepted, DKIM required) rather than
    // unreadable: SMTP 550 5.7.1 instead of 554 5.6.0.
    bool refused_by_policy = false;
    // Why it was not taken, as docs/metrics.md names it (with an error only).
    const char* refusal = "rejected";
};

struct mail_intake_result {
    mail_verdict verdict = mail_verdict::no_report;
    dkim_verdict dkim;
    std::vector<mail_report_outcome> reports;
    std::string summary;          // one line for the SMTP reply / CLI output
};

// Finds, decodes and parses every report of the message (no storing). Returns one outcome
// per report part; out receives the reports of the outcomes without an error, in the same
// order. DKIM is verified when options.dkim_lookup is set (dkim receives the verdict).
// Throws mime_error when the message cannot be read at all; a part that is not a valid
// report has its reason in its outcome's error. Exposed for `stswatch parse` of .eml files.
std::vector<mail_report_outcome> parse_mail_reports(std::string_view message, const mail_intake_options& options,
                                                    std::vector<incoming_report>& out, dkim_verdict* dkim = nullptr);

// Parses and stores. spool may be null. Never throws for bad input; throws only for bugs.
mail_intake_result intake_mail(std::string_view message, transport via, const std::string& source_address,
                               const mail_intake_options& options, report_store& store, spool* spool);

} // namespace stswatch
