// RFC 3339 §5.6 date-times, read as senders write them and written back in UTC.
//
// The civil-date arithmetic is done here rather than through timegm/std::get_time, whose
// results depend on the C library, the locale and the TZ variable.
#include "common/time.hpp"
#include "common/text.hpp"

#include <cstdio>

namespace stswatch {

namespace {

constexpr std::int64_t seconds_per_day = 86400;
constexpr std::int64_t first_second = -62167219200;   // 0000-01-01T00:00:00Z
constexpr std::int64_t last_second = 253402300799;    // 9999-12-31T23:59:59Z

bool is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month)
{
    static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date, counted in 400-year eras of
// 146097 days with years starting in March so that the leap day ends the year.
std::int64_t days_from_civil(std::int64_t year, int month, int day)
{
    year -= month <= 2 ? 1 : 0;
    const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
    const std::int64_t year_of_era = year - era * 400;                      // 0..399
    const int month_from_march = month > 2 ? month - 3 : month + 9;        // 0..11
    const std::int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    const std::int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

struct civil_date {
    std::int64_t year;
    int month;
    int day;
};

civil_date civil_from_days(std::int64_t days)
{
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const std::int64_t day_of_era = days - era * 146097;                                   // 0..146096
    const std::int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365; // 0..399
    const std::int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const std::int64_t month_from_march = (5 * day_of_year + 2) / 153;                     // 0..11
    const int day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    const int month = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

// Splits t into whole days and the second of the day, flooring for times before 1970.
void split_days(const utc_time& t, std::int64_t& days, std::int64_t& second_of_day)
{
    days = t.seconds / seconds_per_day;
    second_of_day = t.seconds % seconds_per_day;
    if (second_of_day < 0) {
        second_of_day += seconds_per_day;
        --days;
    }
}

std::string format_civil_date(const civil_date& d)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d", static_cast<long long>(d.year), d.month, d.day);
    return buf;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A cursor over the text that reads fixed-width decimal fields and says where it stopped.
class reader {
public:
    explicit reader(std::string_view text) : text_(text) {}

    bool at_end() const { return pos_ == text_.size(); }
    char peek() const { return at_end() ? '\0' : text_[pos_]; }
    std::size_t pos() const { return pos_; }
    void skip() { ++pos_; }

    bool digits(std::size_t width, int& out)
    {
        if (text_.size() - pos_ < width)
            return false;
        int value = 0;
        for (std::size_t i = 0; i < width; ++i) {
            const char c = text_[pos_ + i];
            if (!is_digit(c))
                return false;
            value = value * 10 + (c - '0');
        }
        pos_ += width;
        out = value;
        return true;
    }

    bool accept(char c)
    {
        if (peek() != c || at_end())
            return false;
        ++pos_;
        return true;
    }

    std::string remaining() const { return std::string(text_.substr(pos_)); }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

time_parse fail(std::string why)
{
    time_parse r;
    r.error = std::move(why);
    return r;
}

// Where parsing stopped, for the error: the rest of the untrusted text, printable and short.
std::string where(const reader& in)
{
    if (in.at_end())
        return " (at the end)";
    const std::string rest = in.remaining();
    std::string shown;
    for (std::size_t i = 0; i < rest.size() && i < 32; ++i) {
        const auto c = static_cast<unsigned char>(rest[i]);
        shown += c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?';
    }
    return " (remaining \"" + shown + (rest.size() > 32 ? "...\")" : "\")");
}

// RFC 3339 §5.6 full-date: date-fullyear "-" date-month "-" date-mday, with range checks.
bool read_full_date(reader& in, int& year, int& month, int& day, std::string& error)
{
    if (!in.digits(4, year)) {
        error = "expected a 4-digit year" + where(in);
        return false;
    }
    if (!in.accept('-') || !in.digits(2, month)) {
        error = "expected \"-MM\" after the year" + where(in);
        return false;
    }
    if (!in.accept('-') || !in.digits(2, day)) {
        error = "expected \"-DD\" after the month" + where(in);
        return false;
    }
    if (month < 1 || month > 12) {
        error = "month " + std::to_string(month) + " out of range";
        return false;
    }
    if (day < 1 || day > days_in_month(year, month)) {
        error = "day " + std::to_string(day) + " out of range for " + format_civil_date({year, month, 1}).substr(0, 7);
        return false;
    }
    return true;
}

} // namespace

time_parse parse_rfc3339(std::string_view text)
{
    reader in(text::trim_wsp(text));
    int year = 0, month = 0, day = 0;
    std::string error;
    if (!read_full_date(in, year, month, day, error))
        return fail(error);

    // RFC 3339 §5.6 NOTE: "T" may be lower case; applications may use a space instead.
    const char sep = in.peek();
    if (sep != 'T' && sep != 't' && sep != ' ')
        return fail("expected \"T\" between date and time" + where(in));
    in.skip();

    int hour = 0, minute = 0, second = 0;
    if (!in.digits(2, hour) || !in.accept(':') || !in.digits(2, minute) || !in.accept(':') || !in.digits(2, second))
        return fail("expected a time as HH:MM:SS" + where(in));
    if (hour > 23)
        return fail("hour " + std::to_string(hour) + " out of range");
    if (minute > 59)
        return fail("minute " + std::to_string(minute) + " out of range");
    // RFC 3339 §5.7: a leap second is written :60; utc_time has no room for it, so it is
    // folded into :59 of the same minute.
    if (second > 60)
        return fail("second " + std::to_string(second) + " out of range");
    if (second == 60)
        second = 59;

    // RFC 3339 §5.6 time-secfrac: any number of digits; microseconds are kept, the rest
    // (.NET writes seven digits) is truncated.
    std::int32_t micros = 0;
    if (in.accept('.')) {
        int count = 0;
        while (is_digit(in.peek())) {
            if (count < 6)
                micros = micros * 10 + (in.peek() - '0');
            ++count;
            in.skip();
        }
        if (count == 0)
            return fail("expected digits after the decimal point" + where(in));
        for (; count < 6; ++count)
            micros *= 10;
    }

    time_parse result;
    std::int64_t offset_seconds = 0;
    const char zone = in.peek();
    if (in.at_end()) {
        // Microsoft (2023): date-times without a zone; stswatch reads them as UTC.
        result.zone_missing = true;
    } else if (zone == 'Z' || zone == 'z') {
        in.skip();
    } else if (zone == '+' || zone == '-') {
        in.skip();
        int offset_hour = 0, offset_minute = 0;
        if (!in.digits(2, offset_hour))
            return fail("expected a zone offset as +HH:MM" + where(in));
        // "+HH:MM" is RFC 3339 §5.6; "+HHMM" (ISO 8601 basic) is accepted as well.
        if (in.accept(':')) {
            if (!in.digits(2, offset_minute))
                return fail("expected minutes in the zone offset" + where(in));
        } else if (!in.at_end() && !in.digits(2, offset_minute)) {
            return fail("expected a zone offset as +HH:MM" + where(in));
        }
        if (offset_hour > 23 || offset_minute > 59)
            return fail("zone offset out of range");
        // RFC 3339 §4.3: "-00:00" (unknown local offset) still denotes UTC.
        offset_seconds = (offset_hour * 3600 + offset_minute * 60) * (zone == '-' ? -1 : 1);
    } else {
        return fail("expected \"Z\" or a zone offset" + where(in));
    }
    if (!in.at_end())
        return fail("unexpected text after the date-time" + where(in));

    const std::int64_t local = days_from_civil(year, month, day) * seconds_per_day + hour * 3600 + minute * 60 + second;
    // RFC 3339 §4.2: local time = UTC + offset.
    const std::int64_t utc = local - offset_seconds;
    // RFC 3339 §5.6 years have four digits: an offset must not carry the UTC time out of
    // them, or it could not be written back.
    if (utc < first_second)
        return fail("before 0000-01-01T00:00:00Z once the zone offset is applied");
    if (utc > last_second)
        return fail("after 9999-12-31T23:59:59Z once the zone offset is applied");
    result.value = utc_time{utc, micros};
    return result;
}

std::string format_rfc3339(const utc_time& t)
{
    std::int64_t days = 0, second_of_day = 0;
    split_days(t, days, second_of_day);
    std::string out = format_civil_date(civil_from_days(days));
    char buf[32];
    std::snprintf(buf, sizeof buf, "T%02d:%02d:%02d", static_cast<int>(second_of_day / 3600),
                  static_cast<int>(second_of_day / 60 % 60), static_cast<int>(second_of_day % 60));
    out += buf;
    if (t.micros > 0 && t.micros < 1000000) {
        std::snprintf(buf, sizeof buf, ".%06d", static_cast<int>(t.micros));
        std::string fraction = buf;
        while (fraction.back() == '0')
            fraction.pop_back();
        out += fraction;
    }
    out += 'Z';
    return out;
}

std::string format_date(const utc_time& t)
{
    std::int64_t days = 0, second_of_day = 0;
    split_days(t, days, second_of_day);
    return format_civil_date(civil_from_days(days));
}

std::optional<utc_time> parse_date_or_datetime(std::string_view text)
{
    const std::string_view trimmed = text::trim_wsp(text);
    if (trimmed.size() == 10) {
        reader in(trimmed);
        int year = 0, month = 0, day = 0;
        std::string error;
        if (read_full_date(in, year, month, day, error) && in.at_end())
            return utc_time{days_from_civil(year, month, day) * seconds_per_day, 0};
        return std::nullopt;
    }
    return parse_rfc3339(trimmed).value;
}

utc_date utc_date_of(const utc_time& t)
{
    std::int64_t days = 0, second_of_day = 0;
    split_days(t, days, second_of_day);
    return utc_date{std::chrono::days{days}};
}

std::string format_day(utc_date d)
{
    return format_civil_date(civil_from_days(d.time_since_epoch().count()));
}

std::optional<utc_date> parse_day(std::string_view text)
{
    if (text.size() != 10)
        return std::nullopt;
    reader in(text);
    int year = 0, month = 0, day = 0;
    std::string error;
    if (!read_full_date(in, year, month, day, error) || !in.at_end())
        return std::nullopt;
    return utc_date{std::chrono::days{days_from_civil(year, month, day)}};
}

utc_time start_of(utc_date d)
{
    return utc_time{static_cast<std::int64_t>(d.time_since_epoch().count()) * seconds_per_day, 0};
}

} // namespace stswatch
