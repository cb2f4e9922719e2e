// SMTP report intake (RFC 8460 §5.3 reports by mail; RFC 5321 SMTP, RFC 1870 SIZE,
// RFC 2920 PIPELINING, RFC 6152 8BITMIME, RFC 3207 STARTTLS, RFC 3463 enhanced codes).
//
// Accepts mail only for the configured report addresses (never a relay) and answers 250
// after DATA only once every report of the message is durable (docs/contracts.md): 554 when the
// message holds no report, 550/554 when its reports are refused, 451 when they cannot be
// made durable now.
#pragma once

#include "collector/mail_intake.hpp"
#include "store/report_store.hpp"
#include "common/settings.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace stswatch {

class spool;

struct smtp_receiver_options {
    listen_address listen;
    std::string hostname;                    // in the greeting and EHLO reply
    std::vector<std::string> recipients;     // local part as written, domain normalised
    std::string cert_file, key_file;         // PEM; STARTTLS is offered when both are set
    std::uint64_t max_message_bytes = 10485760;   // SIZE (RFC 1870), as received
    unsigned max_recipients = 50;            // per message; more get 452 (RFC 5321 §4.5.3.1.10)
    unsigned max_sessions = 64;              // served at once (more wait in the listen queue)
    unsigned idle_timeout = 300;             // seconds waiting for a command or data line
    unsigned session_timeout = 1800;         // seconds for a whole session
    std::size_t max_line_length = 1000;      // command line octets (RFC 5321 §4.5.3.1.4: 512 at least)
    unsigned max_errors = 20;                // bad commands before the session is closed
    mail_intake_options intake;              // limits, accepted domains, DKIM policy and lookup
    stswatch::spool* spool = nullptr;        // not owned; null: 451 while the database is down

    // Everything but intake.dkim_lookup, which the caller sets from its resolver.
    static smtp_receiver_options from(const settings& s);
};

class smtp_receiver {
public:
    smtp_receiver(smtp_receiver_options options, report_store& store);
    ~smtp_receiver();   // stops
    smtp_receiver(const smtp_receiver&) = delete;
    smtp_receiver& operator=(const smtp_receiver&) = delete;

    // Throws std::runtime_error naming the address or the certificate when it cannot start.
    void start();
    // Sessions in a DATA intake finish it; idle ones are closed.
    void stop();
    std::uint16_t port() const;   // the bound port (useful with port 0)

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch
