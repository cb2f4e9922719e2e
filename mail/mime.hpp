// Finding TLS reports in an email message (RFC 8460 §5.3, RFC 2045/2046, RFC 6522).
//
// Pure: no I/O. Reads `multipart/report; report-type=tlsrpt` and every transport quirk of
// docs/senders.md (folded and unquoted parameters, parameters after the boundary, a trailing
// space after `application/tlsrpt+gzip;`, base64 wrapped at 76 columns, LF-only line ends,
// generic attachment types found by file name or gzip magic, a report as the whole body,
// several reports in one message, banners injected by gateways).
#pragma once

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

struct mime_limits {
    std::size_t max_parts = 64;           // MIME parts in the whole message
    unsigned max_depth = 8;               // multipart nesting
    std::size_t max_header_bytes = 65536; // one part's header block
};

// One report body found in the message, transfer-decoded (base64/quoted-printable undone)
// but not inflated: gzip or JSON, as decode_body() takes it.
struct mail_report_part {
    std::string content_type;   // lower-case type/subtype as labelled
    std::string file_name;      // from filename= or name= (RFC 2231 continuations joined), or ""
    std::string data;
};

struct mail_message_info {
    // Lower-case keys, values unfolded and trimmed: "from", "message-id", "subject",
    // "date", "tls-report-domain", "tls-report-submitter", "subject-report-id" (the
    // Report-ID in the Subject, RFC 8460 §5.3), "dkim-signature-count".
    std::map<std::string, std::string> headers;
    bool declared_tlsrpt = false;         // multipart/report; report-type=tlsrpt
    std::vector<mail_report_part> reports;
    // What was tolerated on the way, one line each, naming the part: characters skipped in
    // base64, a multipart without its closing delimiter, a multipart without a boundary.
    std::vector<std::string> warnings;
};

// The message is not MIME we can read at all (no header block, a limit exceeded).
class mime_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws mime_error. A readable message with no report in it returns reports empty.
mail_message_info read_report_message(std::string_view message, const mime_limits& limits = {});

} // namespace stswatch
