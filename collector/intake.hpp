// The HTTPS intake's decision for one request body (RFC 8460 §5.4): POST of a gzipped or
// plain report JSON. Apart from HTTP, so that it can be tested directly.
//
// Status codes (docs/contracts.md): 201 stored, 200 already stored, 400 not a valid report (body
// says why), 403 policy domain not accepted, 413 body or inflated report over the limit,
// 415 a type that cannot be a report, 503 + Retry-After when it cannot be made durable.
// A 2xx is sent only once the report is durable: its transaction has committed (201, 200),
// or, with the database unavailable, it is fsynced in the spool (202).
#pragma once

#include "store/report_store.hpp"
#include "collector/intake_metrics.hpp"
#include "collector/spool.hpp"
#include "common/settings.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

struct https_receiver_options {
    listen_address listen;
    std::string cert_file, key_file;   // PEM
    std::string path = "/v1/tlsrpt";
    // Normalised; empty = any. Every policy domain of a report must be in it (403 otherwise):
    // one foreign domain would let anyone store data about domains nobody here runs.
    std::vector<std::string> accept_domains;
    std::uint64_t max_body_bytes = 10485760;
    std::uint64_t max_report_bytes = 20971520;
    unsigned max_json_depth = 32;
    unsigned threads = 64;              // concurrent connections served
    unsigned max_queued = 256;          // accepted connections waiting for a thread
    // request_timeout counts from the moment a connection may send a request: its accept, or
    // the end of the previous response (then the keep-alive wait, up to idle_timeout, counts too).
    unsigned request_timeout = 30;      // seconds for a whole request
    unsigned idle_timeout = 15;         // seconds between bytes (a TLS read may wait twice); keep-alive idle
    unsigned handshake_timeout = 5;     // seconds from accept to the end of the TLS handshake
    unsigned max_connections = 256;     // tracked at once: served plus waiting (threads + max_queued)
    unsigned max_per_address = 32;      // connections one client address may hold
    unsigned max_header_fields = 64;
    // Where a report waits, fsynced, while the database is unavailable (not owned; may be
    // null: then such a report gets 503). docs/contracts.md: a spooled report is durable, so 202.
    stswatch::spool* spool = nullptr;
    // Requests a minute from one client address, and the burst allowed (429 past them);
    // 0: no limit.
    unsigned rate_limit_per_minute = 0;
    unsigned rate_burst = 500;

    static https_receiver_options from(const settings& s);
};

// The decision for one request body, separate from HTTP so it can be tested directly.
struct intake_response {
    int status = 0;
    std::string body;                  // text/plain, one line: what happened or what is wrong
    std::string report_id;             // for the log line, when known
    std::string organization;
};

// Everything decided before storing: either a refusal to answer as is, or the report to store.
struct intake_decision {
    std::optional<intake_response> refusal;
    incoming_report report;            // meaningful only without a refusal
    // The refusal is the parser's: report holds the body and metadata, kept for another
    // try (store/rejected_store.hpp).
    bool keep_refused = false;
};

// Sniffs, decodes within limits, parses and checks the accepted domains; no I/O.
// content_type and content_encoding are the request's headers (may be empty).
intake_decision examine_report_body(const https_receiver_options& options,
                                    std::string_view content_type, std::string_view content_encoding,
                                    std::string body, const std::string& peer_address,
                                    std::string_view user_agent = {});

// examine_report_body, then store: 201 stored, 200 duplicate, 503 store unavailable.
intake_response handle_report_body(const https_receiver_options& options, report_store& store,
                                   std::string_view content_type, std::string_view content_encoding,
                                   std::string body, const std::string& peer_address,
                                   std::string_view user_agent = {});

} // namespace stswatch
