// Values as PostgreSQL takes them (store/db_values.hpp).
#include "store/db_values.hpp"

#include <pqxx/array>
#include <pqxx/result>

#include "common/utf8.hpp"

namespace stswatch::store_detail {

bool db_text_unchanged(std::string_view s)
{
    return s.find('\0') == std::string_view::npos && is_valid_utf8(s);
}

std::string db_text(std::string_view s)
{
    return db_text_unchanged(s) ? std::string(s) : to_valid_utf8(s);
}

void append_array_element(std::string& out, std::string_view item)
{
    if (!db_text_unchanged(item)) {
        append_array_element(out, db_text(item));
        return;
    }
    out += '"';
    for (const char c : item) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    out += '"';
}

std::string text_array(const std::vector<std::string>& items)
{
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i)
            out += ',';
        append_array_element(out, items[i]);
    }
    out += '}';
    return out;
}

// RFC 3339 §5.6 has four-digit years: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
constexpr std::int64_t first_second = -62135596800, last_second = 253402300799;

utc_time clamp_to_years(const utc_time& t)
{
    if (t.seconds < first_second)
        return {first_second, 0};
    if (t.seconds > last_second)
        return {last_second, 999999};
    return t;
}

void check_in_range(const utc_time& t, const char* field)
{
    if (t.seconds < first_second || t.seconds > last_second || t.micros < 0 || t.micros > 999999)
        throw report_data_error(std::string(field) + " out of range (years 1 to 9999)");
}

// Microseconds since the epoch: timestamptz parameters are built from this exactly, with
// no dependence on text formats. t must be within clamp_to_years.
std::int64_t epoch_micros(const utc_time& t)
{
    return t.seconds * 1000000 + t.micros;
}

std::chrono::sys_days utc_day(const utc_time& t)
{
    std::int64_t days = t.seconds / 86400;
    if (t.seconds % 86400 < 0)
        --days;   // floor for instants before 1970
    return std::chrono::sys_days{std::chrono::days{days}};
}

std::string date_text(std::chrono::sys_days day)
{
    const std::chrono::year_month_day ymd{day};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    return buf;
}

// A timestamptz as COPY takes it, exact to the microsecond and in UTC whatever the session's
// TimeZone: "2025-07-08 00:00:00.000000+00". ISO year-month-day order is read the same under
// every DateStyle. t must be within clamp_to_years.
std::string timestamptz_text(const utc_time& t)
{
    const auto day = utc_day(t);
    const std::chrono::year_month_day ymd{day};
    const auto second_of_day = t.seconds - static_cast<std::int64_t>(day.time_since_epoch().count()) * 86400;
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d.%06d+00", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(second_of_day / 3600), static_cast<int>(second_of_day / 60 % 60),
                  static_cast<int>(second_of_day % 60), static_cast<int>(t.micros));
    return buf;
}

utc_time from_micros(std::int64_t us)
{
    std::int64_t seconds = us / 1000000, micros = us % 1000000;
    if (micros < 0) {
        micros += 1000000;
        --seconds;
    }
    return {seconds, static_cast<std::int32_t>(micros)};
}


std::vector<std::string> text_array_values(const pqxx::field& f)
{
    std::vector<std::string> out;
    auto parser = f.as_array();
    for (;;) {
        const auto [what, value] = parser.get_next();
        if (what == pqxx::array_parser::done)
            break;
        if (what == pqxx::array_parser::string_value)
            out.push_back(value);
    }
    return out;
}

} // namespace stswatch::store_detail
