// read_report_message on arbitrary bytes, with small limits: it either reads the message or
// throws mime_error with a reason, never anything else; what it finds is within the limits,
// no larger than what was sent, and the same when read again.
#include "mail/mime.hpp"
#include "tests/fuzz/invariant.hpp"

#include <cctype>

namespace {

bool is_lower_case(std::string_view s)
{
    for (const char c : s) {
        if (std::isupper(static_cast<unsigned char>(c)))
            return false;
    }
    return true;
}

} // namespace

STSWATCH_FUZZ_TARGET(fuzz_mime, message)
{
    mime_limits limits;
    limits.max_parts = 16;
    limits.max_depth = 4;
    limits.max_header_bytes = 4096;
    try {
        const mail_message_info info = read_report_message(message, limits);
        // Every report is a leaf part, or the whole body when there are no parts.
        check(info.reports.size() <= limits.max_parts + 1, "no more reports than parts allowed");
        for (const auto& r : info.reports) {
            check(r.data.size() <= size, "a transfer-decoded part is never larger than the message");
            check(is_lower_case(r.content_type), "content types are lower case");
            check(!r.content_type.empty(), "every report has a content type");
        }
        check(info.headers.count("dkim-signature-count") == 1, "DKIM signatures are always counted");
        for (const auto& [name, value] : info.headers) {
            check(is_lower_case(name), "header keys are lower case");
            check(value.find('\n') == std::string::npos || name == "subject" || name == "from",
                  "header values are unfolded");
        }
        const mail_message_info again = read_report_message(message, limits);
        check(again.reports.size() == info.reports.size(), "reading is deterministic");
        for (std::size_t i = 0; i < info.reports.size(); ++i)
            check(again.reports[i].data == info.reports[i].data, "reading is deterministic");
    } catch (const mime_error& e) {
        check(e.what()[0] != '\0', "a failure names its reason");
    }
    return 0;
}
