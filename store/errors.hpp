// The errors of the store, without libpqxx: what every caller of store/ catches. A function of
// store/ lets no libpqxx exception out; it throws one of these (docs/architecture.md):
//   store_unavailable  the database cannot serve now (down, connection lost, out of resources,
//                      no schema): try later. The CLI prints "stswatch: database: <what>" and
//                      exits 69 (app/cli.hpp); the receivers answer 503 / 451.
//   store_rejected     the database refuses a value of this request: trying again fails again.
//   store_error        anything else the database said (a bug, a schema out of step): the base
//                      of both.
#pragma once

#include <stdexcept>
#include <string>

namespace stswatch {

class store_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The database cannot make the report durable now (down, broken connection, timeout):
// the caller should answer "try later" (HTTP 503, SMTP 451, exit 75).
class store_unavailable : public store_error {
public:
    explicit store_unavailable(const std::string& message) : store_error(message), reason_(message) {}
    // what() is "<context>: <reason>", e.g. "cannot connect: could not connect to server: …".
    store_unavailable(const std::string& context, const std::string& reason)
        : store_error(context + ": " + reason), reason_(reason)
    {
    }
    // The database's (libpq's) own words, first line only; what() when no context was given.
    const std::string& reason() const noexcept { return reason_; }

private:
    std::string reason_;
};

// The database refuses a value of this report (e.g. a count that overflows when summed):
// storing it again will fail again. The caller should answer "bad report" (HTTP 400,
// SMTP 554, exit 65). Other reports of the same batch are not affected.
class store_rejected : public store_error {
public:
    using store_error::store_error;
};

} // namespace stswatch
