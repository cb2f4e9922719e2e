// The _mta-sts TXT record (RFC 8461 §3.1) and the TLS-RPT _smtp._tls TXT record
// (RFC 8460 §3): parsers and the selection among a name's TXT records. Pure (fuzzed).
#pragma once

#include "mtasts/findings.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stswatch {

struct sts_record {
    std::string id;   // 1*32 ALPHA / DIGIT
    std::vector<std::pair<std::string, std::string>> extensions;   // other key=value, in order
};

struct tlsrpt_record {
    std::vector<std::string> rua;   // each a valid mailto: or https: URI, in order
    std::vector<std::pair<std::string, std::string>> extensions;
};

// The outcome of looking at all TXT records of _mta-sts.<domain> (or _smtp._tls.<domain>).
template <typename Record>
struct record_evaluation {
    std::optional<std::string> text;      // the record selected (the one starting with the
                                          // version tag), even when it does not parse
    std::optional<Record> record;         // when text parsed and is usable
    std::vector<finding> findings;        // sts-record-* / tlsrpt-* codes; subject is the
                                          // record name ("_mta-sts.example.com")
};
using sts_record_evaluation = record_evaluation<sts_record>;
using tlsrpt_record_evaluation = record_evaluation<tlsrpt_record>;

// RFC 8461 §3.1: records not starting with "v=STSv1" are discarded; none left gives
// sts-record-missing (or sts-record-version when one has another STS version or spelling,
// such as "v=STSv2" or "v=stsv1", and sts-record-syntax when one has white space before
// "v=STSv1"; text is then that record), more than one gives sts-record-multiple (text
// unset); then the one record is parsed: sts-record-syntax, sts-record-id-missing,
// sts-record-id-invalid. A repeated id is a sts-record-syntax error, the first one counts
// and the record stays usable.
// txts: each TXT record's strings already joined (dns_resolver::txt).
sts_record_evaluation evaluate_sts_records(std::string_view domain, const std::vector<std::string>& txts);

// RFC 8460 §3: same selection with "v=TLSRPTv1": tlsrpt-record-missing,
// tlsrpt-record-multiple, tlsrpt-record-syntax (also for another version or spelling),
// tlsrpt-rua-missing (no rua, or none of its URIs valid), tlsrpt-rua-invalid (a URI neither
// mailto: with an address nor https: with a host; record still usable when at least one
// rua is valid, and record.rua holds the valid ones).
tlsrpt_record_evaluation evaluate_tlsrpt_records(std::string_view domain, const std::vector<std::string>& txts);

} // namespace stswatch
