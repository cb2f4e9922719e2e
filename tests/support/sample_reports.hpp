// Reports as real senders write them, for the tests that deliver or import them.
#pragma once

#include <Poco/Base64Encoder.h>

#include <sstream>
#include <string>

namespace stswatch::test {

// Google: compact one-line JSON (sent gzipped), no failure-details, mx-host an array, a policy
// line with a trailing space (docs/senders.md).
inline std::string google_report(const std::string& id, const std::string& domain = "example.com")
{
    return R"({"organization-name":"Google Inc.","date-range":{"start-datetime":"2025-07-08T00:00:00Z",)"
           R"("end-datetime":"2025-07-08T23:59:59Z"},"contact-info":"smtp-tls-reporting@google.com",)"
           R"("report-id":")" + id + R"(","policies":[{"policy":{"policy-type":"sts","policy-string":)"
           R"(["version: STSv1","mode: enforce","mx: mx1.)" + domain + R"( ","max_age: 604800"],)"
           R"("policy-domain":")" + domain + R"(","mx-host":["mx1.)" + domain + R"("]},)"
           R"("summary":{"total-successful-session-count":120,"total-failure-session-count":0}}]})";
}

// The same report without mx-host, which RFC 8460 §4.4 makes optional.
inline std::string google_report_without_mx_host(const std::string& id, const std::string& domain = "example.com")
{
    return R"({"organization-name":"Google Inc.","date-range":{"start-datetime":"2025-07-08T00:00:00Z",)"
           R"("end-datetime":"2025-07-08T23:59:59Z"},"contact-info":"smtp-tls-reporting@google.com",)"
           R"("report-id":")" + id + R"(","policies":[{"policy":{"policy-type":"sts","policy-string":)"
           R"(["version: STSv1","mode: enforce","mx: mx1.)" + domain + R"( ","max_age: 604800"],)"
           R"("policy-domain":")" + domain + R"("},)"
           R"("summary":{"total-successful-session-count":120,"total-failure-session-count":0}}]})";
}

// A report of 40 sessions to mx1.<domain> that succeeded and 3 that failed on its expired
// certificate, from 198.51.100.9.
inline std::string expired_cert_report(const std::string& report_id, const std::string& domain = "example.com")
{
    return R"({"organization-name":"Example Sender","date-range":{"start-datetime":"2025-07-08T00:00:00Z",)"
           R"("end-datetime":"2025-07-08T23:59:59Z"},"contact-info":"tlsrpt@sender.example","report-id":")" +
           report_id + R"(","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1",)"
           R"("mode: enforce","mx: mx1.)" + domain + R"(","max_age: 604800"],"policy-domain":")" + domain +
           R"(","mx-host":["mx1.)" + domain + R"("]},"summary":{"total-successful-session-count":40,)"
           R"("total-failure-session-count":3},"failure-details":[{"result-type":"certificate-expired",)"
           R"("sending-mta-ip":"198.51.100.9","receiving-mx-hostname":"mx1.)" + domain +
           R"(","failed-session-count":3}]}]})";
}

// Microsoft: date-times without a zone, no mx-host, an sts-policy-fetch-error for 4 sessions
// without policy-string (docs/senders.md).
inline std::string microsoft_fetch_error_report(const std::string& id, const std::string& domain = "example.org")
{
    return R"({"organization-name":"Microsoft Corporation","date-range":{)"
           R"("start-datetime":"2023-01-10T00:00:00","end-datetime":"2023-01-10T23:59:59"},)"
           R"("contact-info":"tlsrpt-noreply@microsoft.com","report-id":")" + id + R"(",)"
           R"("policies":[{"policy":{"policy-type":"sts","policy-domain":")" + domain + R"("},)"
           R"("summary":{"total-successful-session-count":0,"total-failure-session-count":4},)"
           R"("failure-details":[{"result-type":"sts-policy-fetch-error","failed-session-count":4}]}]})";
}

// One sts policy for domain naming mx_host alone (policy-string and mx-host), with
// `successful` sessions that succeeded and `failed` ones that failed with result_type at
// mx_host, from 198.51.100.7.
inline std::string mx_failure_report(const std::string& report_id, const std::string& domain,
                                     const std::string& mx_host, const std::string& result_type = "validation-failure",
                                     long long successful = 10, long long failed = 2)
{
    return R"({"organization-name":"Sender Inc.","date-range":{"start-datetime":"2026-11-01T00:00:00Z",)"
           R"("end-datetime":"2026-11-01T23:59:59Z"},"contact-info":"tlsrpt@sender.example","report-id":")" +
           report_id + R"(","policies":[{"policy":{"policy-type":"sts","policy-domain":")" + domain +
           R"(","policy-string":["version: STSv1","mode: enforce","mx: )" + mx_host + R"(","max_age: 86400"],)"
           R"("mx-host":[")" + mx_host + R"("]},"summary":{"total-successful-session-count":)" +
           std::to_string(successful) + R"(,"total-failure-session-count":)" + std::to_string(failed) +
           R"(},"failure-details":[{"result-type":")" + result_type + R"(","sending-mta-ip":"198.51.100.7",)"
           R"("receiving-mx-hostname":")" + mx_host + R"(","failed-session-count":)" + std::to_string(failed) +
           "}]}]}";
}

// Base64 in lines of 76 characters (RFC 2045 §6.8), the way mail attachments are wrapped.
inline std::string base64_lines(const std::string& data)
{
    std::ostringstream out;
    Poco::Base64Encoder encoder(out);
    encoder.rdbuf()->setLineLength(76);
    encoder << data;
    encoder.close();
    return out.str();
}

} // namespace stswatch::test
