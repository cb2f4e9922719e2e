// Connections to PostgreSQL and what their failures mean: the one place of store/ that opens
// a libpqxx connection and classifies its exceptions, so that every command, the receivers,
// the writers and the monitor treat a failure alike (see store/errors.hpp).
#pragma once

#include "store/errors.hpp"

#include <exception>
#include <memory>
#include <string>

#include <pqxx/connection>

namespace stswatch {

// Seconds libpq waits for a connection when the conninfo sets no connect_timeout: an
// unreachable host fails in seconds rather than after the kernel's minutes.
constexpr unsigned default_connect_timeout_s = 10;

// db_url (key=value conninfo or postgresql:// URI) with connect_timeout=seconds added when
// it has none of its own.
std::string with_connect_timeout(const std::string& db_url, unsigned seconds = default_connect_timeout_s);

// Opens a connection (with_connect_timeout). Throws store_unavailable("cannot connect", …).
std::unique_ptr<pqxx::connection> open_connection(const std::string& db_url,
                                                  unsigned connect_timeout_s = default_connect_timeout_s);

// What a failure of the database means for the caller.
enum class db_failure {
    connection,   // the connection broke or was refused (class 08, 57P01..57P03): reconnect, try later
    resources,    // insufficient resources (class 53: disk full, out of memory, too many connections)
    retry,        // serialization failure or deadlock (40001, 40P01): run the transaction again
    in_doubt,     // the commit may or may not have happened: never run it again
    data,         // a value (class 22 data exception, 23 integrity, 54 program limit): again fails again
    no_schema,    // a table is missing (42P01): the schema is not migrated
    other,        // anything else: a statement of ours, a bug
};

// The class of the exception in error (a libpqxx one, or anything else: other).
db_failure classify(const std::exception_ptr& error);

// connection and resources: the database cannot serve now, whatever is asked.
inline bool is_unavailable(db_failure f) { return f == db_failure::connection || f == db_failure::resources; }

// The first line of the exception's message, without libpq's "ERROR:  " prefix.
std::string first_line(const std::exception_ptr& error);

// Rethrows error as the store's own (store/errors.hpp): store_unavailable for connection,
// resources and no_schema ("<context>: <first line>"; no schema: "no schema (run stswatch db
// migrate)"), store_rejected for data, store_error for the rest. An exception of the store
// itself passes unchanged.
[[noreturn]] void rethrow_as_store_error(const std::exception_ptr& error, const std::string& context);

// Runs f() and lets only the store's own exceptions out (rethrow_as_store_error); context
// names what was being done for store_unavailable, e.g. "connection lost".
template <typename F>
auto guarded(const std::string& context, F&& f) -> decltype(f())
{
    try {
        return f();
    } catch (...) {
        rethrow_as_store_error(std::current_exception(), context);
    }
}

} // namespace stswatch
