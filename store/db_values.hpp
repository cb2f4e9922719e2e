// Values as PostgreSQL takes them: text it can hold, array literals, timestamps exact to the
// microsecond, and rows in COPY's text format. Internal to store/.
#pragma once

#include "common/time.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/tablewriter>
#include <pqxx/transaction>

namespace pqxx {
class field;
}

namespace stswatch::store_detail {

// A value of the report that the database cannot hold even though the report parsed, e.g.
// session counts whose sum overflows. Retrying cannot help.
class report_data_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Whether s is text PostgreSQL can hold as it is: valid UTF-8 without NUL.
bool db_text_unchanged(std::string_view s);

// PostgreSQL text holds neither NUL nor invalid UTF-8, and one such byte in a sender's
// free text must not cost the whole report: those bytes become U+FFFD here. report_raw
// keeps the bytes exactly as received.
std::string db_text(std::string_view s);

// One element of a PostgreSQL array literal, always quoted, so that empty strings, commas,
// braces and the word NULL stay what they are.
void append_array_element(std::string& out, std::string_view item);

// A PostgreSQL array literal of text. Sent as a parameter (cast to text[]) or as a COPY field.
std::string text_array(const std::vector<std::string>& items);

// A PostgreSQL array literal built element by element.
class array_literal {
public:
    void text(std::string_view s) { append_array_element(next(), s); }
    void plain(std::string_view s) { next() += s; }   // dates, numbers: no quoting needed
    void number(std::int64_t n) { next() += std::to_string(n); }
    void null() { next() += "NULL"; }
    std::string str() const { return out_.empty() ? std::string("{}") : out_ + '}'; }

private:
    std::string& next()
    {
        out_ += out_.empty() ? '{' : ',';
        return out_;
    }
    std::string out_;
};

// RFC 3339 §5.6 has four-digit years: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
utc_time clamp_to_years(const utc_time& t);
// Throws report_data_error when t is outside those years.
void check_in_range(const utc_time& t, const char* field);
// Microseconds since the epoch: timestamptz parameters are built from this exactly, with
// no dependence on text formats. t must be within clamp_to_years.
std::int64_t epoch_micros(const utc_time& t);
utc_time from_micros(std::int64_t us);
std::chrono::sys_days utc_day(const utc_time& t);
std::string date_text(std::chrono::sys_days day);   // 2025-07-08
// A timestamptz as COPY takes it, exact to the microsecond and in UTC whatever the session's
// TimeZone: "2025-07-08 00:00:00.000000+00". t must be within clamp_to_years.
std::string timestamptz_text(const utc_time& t);

// Rows in COPY's text format: fields separated by tabs, rows by newlines, \N for NULL, and
// backslash, tab, newline and carriage return escaped with a backslash. Built here in one
// buffer per table: pqxx::stream_to converts and escapes each field into a string of its own,
// which showed in profiles as the largest part of the store's CPU time.
class copy_data {
public:
    explicit copy_data(std::size_t reserve) { text_.reserve(reserve); }

    // Text as the database takes it (see db_text), escaped for COPY.
    copy_data& text(std::string_view s)
    {
        separate();
        if (db_text_unchanged(s))
            append_escaped(s);
        else
            append_escaped(db_text(s));
        return *this;
    }
    copy_data& opt_text(const std::optional<std::string>& s) { return s ? text(*s) : null(); }
    copy_data& number(std::int64_t n)
    {
        separate();
        char buf[24];
        const auto length = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
        text_.append(buf, static_cast<std::size_t>(length));
        return *this;
    }
    copy_data& boolean(bool b)
    {
        separate();
        text_ += b ? 't' : 'f';
        return *this;
    }
    copy_data& null()
    {
        separate();
        text_ += "\\N";
        return *this;
    }
    // bytea in its hex input form, \x0a1b…, with COPY's escape of the backslash.
    copy_data& bytes(std::string_view b)
    {
        static constexpr char digits[] = "0123456789abcdef";
        separate();
        text_ += "\\\\x";
        const auto at = text_.size();
        text_.resize(at + 2 * b.size());
        char* out = text_.data() + at;
        for (const char c : b) {
            const auto u = static_cast<unsigned char>(c);
            *out++ = digits[u >> 4];
            *out++ = digits[u & 0x0f];
        }
        return *this;
    }
    void end_row()
    {
        ++rows_;
        row_open_ = false;
    }

    // Sends the rows (if any) into table's columns within tx.
    void send(pqxx::work& tx, const std::string& table, const std::vector<std::string>& columns) const
    {
        if (rows_ == 0)
            return;
        // tablewriter is deprecated in favour of stream_to, but it alone takes COPY data as
        // it is: one call for all the rows, with no conversion per field.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        pqxx::tablewriter copy(tx, table, columns.begin(), columns.end());
#pragma GCC diagnostic pop
        copy.write_raw_line(text_);   // it ends the last row
        copy.complete();
    }

private:
    void separate()
    {
        if (row_open_) {
            text_ += '\t';
        } else {
            if (rows_ != 0)
                text_ += '\n';
            row_open_ = true;
        }
    }

    void append_escaped(std::string_view s)
    {
        // Runs without a character to escape go in whole: most values have none.
        while (!s.empty()) {
            const auto special = s.find_first_of("\\\t\n\r");
            text_.append(s.substr(0, special));
            if (special == std::string_view::npos)
                return;
            text_ += '\\';
            switch (s[special]) {
            case '\t': text_ += 't'; break;
            case '\n': text_ += 'n'; break;
            case '\r': text_ += 'r'; break;
            default: text_ += '\\';
            }
            s.remove_prefix(special + 1);
        }
    }

    std::string text_;
    std::size_t rows_ = 0;
    bool row_open_ = false;
};


// The strings of a text[] value, NULL elements left out.
std::vector<std::string> text_array_values(const pqxx::field& f);

} // namespace stswatch::store_detail
