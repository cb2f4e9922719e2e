// A stored report as the API shows it (docs/api.md): the `stswatch parse` contract decoded
// again from the kept raw bytes, and the raw bytes themselves as a download.
#pragma once

#include "store/report_records.hpp"

#include <cstdint>
#include <string>

namespace stswatch::web {

// {"id":…,"received_at":…,"transports":[…],"dkim":{…}|null,"source":…,"report":{canonical},
//  "warnings":[…],"metadata":{…}} with a trailing newline. The raw gzip is inflated (at
// most max_inflated bytes) and parsed again, with the metadata kept at intake; warnings are
// the ones stored at intake followed by any new ones of this parse. Throws
// std::runtime_error when the kept bytes no longer decode or parse.
std::string report_view_json(const stored_report& r, std::uint64_t max_inflated, unsigned max_depth);

// The bytes as received: for raw_encoding "gzip" the body itself (application/tlsrpt+gzip),
// for "json" the inflated JSON body (application/tlsrpt+json).
struct raw_download {
    std::string content_type;
    std::string file_name;    // RFC 8460 §5.1-like: receiver!policy-domain!begin!end!unique-id.json[.gz]
    std::string body;
};
raw_download report_raw_download(const stored_report& r, std::uint64_t max_inflated);

// A report's row as an item of the report list (docs/api.md "Reports"), without newline.
std::string report_item_json(const report_row& row);

} // namespace stswatch::web
