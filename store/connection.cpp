// Connections and the SQLSTATE policy (PostgreSQL, Appendix A "Error Codes").
#include "store/connection.hpp"

#include <pqxx/except>

namespace stswatch {

std::string with_connect_timeout(const std::string& url, unsigned seconds)
{
    if (url.find("connect_timeout") != std::string::npos)
        return url;
    const auto option = "connect_timeout=" + std::to_string(seconds);
    if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
        return url + (url.find('?') == std::string::npos ? "?" : "&") + option;
    return url.empty() ? option : url + " " + option;
}

std::unique_ptr<pqxx::connection> open_connection(const std::string& db_url, unsigned connect_timeout_s)
{
    try {
        return std::make_unique<pqxx::connection>(with_connect_timeout(db_url, connect_timeout_s));
    } catch (...) {
        rethrow_as_store_error(std::current_exception(), "cannot connect");
    }
}

db_failure classify(const std::exception_ptr& error)
{
    try {
        std::rethrow_exception(error);
    } catch (const pqxx::in_doubt_error&) {
        return db_failure::in_doubt;
    } catch (const pqxx::broken_connection&) {
        return db_failure::connection;
    } catch (const pqxx::transaction_rollback&) {
        return db_failure::retry;
    } catch (const pqxx::sql_error& e) {
        const auto& state = e.sqlstate();
        // Class 08: connection exception; 57P01..57P03: shutdown, crash, not yet accepting.
        if (state.rfind("08", 0) == 0 || state.rfind("57P0", 0) == 0)
            return db_failure::connection;
        if (state.rfind("53", 0) == 0)
            return db_failure::resources;
        if (state == "40001" || state == "40P01")
            return db_failure::retry;
        if (state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0 || state.rfind("54", 0) == 0)
            return db_failure::data;
        if (state == "42P01")
            return db_failure::no_schema;
        return db_failure::other;
    } catch (...) {
        return db_failure::other;
    }
}

std::string first_line(const std::exception_ptr& error)
{
    std::string what;
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
        what = "unknown error";
    }
    const auto nl = what.find('\n');
    if (nl != std::string::npos)
        what.resize(nl);
    // libpq's "ERROR:  …" prefix says nothing the caller needs.
    const auto start = what.find_first_not_of(' ');
    if (start != std::string::npos && what.compare(start, 6, "ERROR:") == 0) {
        const auto text = what.find_first_not_of(' ', start + 6);
        what = text == std::string::npos ? std::string() : what.substr(text);
    }
    return what;
}

void rethrow_as_store_error(const std::exception_ptr& error, const std::string& context)
{
    try {
        std::rethrow_exception(error);
    } catch (const store_error&) {
        throw;
    } catch (const pqxx::failure&) {
        // below
    } catch (const pqxx::usage_error&) {
        // below
    }
    // Anything not of libpqxx (std::bad_alloc, a bug of ours) is rethrown as it is.
    switch (classify(error)) {
    case db_failure::connection:
    case db_failure::resources:
        throw store_unavailable(context, first_line(error));
    case db_failure::no_schema:
        throw store_unavailable("no schema (run stswatch db migrate)");
    case db_failure::data:
        throw store_rejected(first_line(error));
    default:
        throw store_error(first_line(error));
    }
}

} // namespace stswatch
