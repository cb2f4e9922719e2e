// Durable storage of reports in PostgreSQL (schema: sql/0001_create_reports.sql).
#include "store/report_store.hpp"

#include "store/connection.hpp"

#include "tlsrpt/decode.hpp"
#include "common/log.hpp"

#include <Poco/SHA2Engine.h>

#include <pqxx/array>
#include <pqxx/except>
#include <pqxx/result>
#include <pqxx/tablewriter>
#include <pqxx/transaction>

#include <algorithm>
#include <array>
#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>

namespace stswatch {

const char* to_string(transport t)
{
    switch (t) {
    case transport::https: return "https";
    case transport::smtp: return "smtp";
    case transport::import: return "import";
    case transport::pipe: return "pipe";
    }
    return "https";
}

namespace {

// ---------------------------------------------------------------------------------------
// Values as the database takes them

// A value of the report that the database cannot hold even though the report parsed, e.g.
// session counts whose sum overflows. Retrying cannot help.
class report_data_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Length of the valid UTF-8 sequence starting at s[i]; 0 when invalid or NUL.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i)
{
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80)
        return c == 0 ? 0 : 1;
    std::size_t n;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
    else return 0;
    if (i + n > s.size())
        return 0;
    for (std::size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (cc & 0x3F);
    }
    const bool overlong = (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

// Whether s is text PostgreSQL can hold as it is: valid UTF-8 without NUL.
bool db_text_unchanged(std::string_view s)
{
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c != 0 && c < 0x80) {
            ++i;
            continue;
        }
        const auto n = utf8_sequence_length(s, i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

// PostgreSQL text holds neither NUL nor invalid UTF-8, and one such byte in a sender's
// free text must not cost the whole report: those bytes become U+FFFD here. report_raw
// keeps the bytes exactly as received.
std::string db_text(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto n = utf8_sequence_length(s, i);
        if (n == 0)
            break;
        i += n;
    }
    if (i == s.size())
        return std::string(s);
    std::string out(s.substr(0, i));
    while (i < s.size()) {
        const auto n = utf8_sequence_length(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

// One element of a PostgreSQL array literal, always quoted, so that empty strings, commas,
// braces and the word NULL stay what they are.
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

// A PostgreSQL array literal of text. Sent as a parameter (cast to text[]) or as a COPY field.
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

void append_json_string(std::string& out, std::string_view s)
{
    out += '"';
    for (char c : db_text(s)) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
}

// {"file-name": "…", "tls-report-domain": "…", …, "dkim-domain": "…", "filled": ["…"]}
// dkim_domain: the d= of the DKIM signature that passed (mail only), when there is one.
std::string metadata_json(const report_metadata& m, const std::string& dkim_domain)
{
    std::string out = "{";
    bool first = true;
    auto field = [&](std::string_view key, std::string_view value) {
        if (!first)
            out += ',';
        first = false;
        append_json_string(out, key);
        out += ':';
        append_json_string(out, value);
    };
    for (const auto& [key, value] : m.fields)
        field(key, value);
    if (!dkim_domain.empty() && m.fields.count("dkim-domain") == 0)
        field("dkim-domain", dkim_domain);
    if (!m.filled.empty()) {
        if (!first)
            out += ',';
        out += "\"filled\":[";
        for (std::size_t i = 0; i < m.filled.size(); ++i) {
            if (i)
                out += ',';
            append_json_string(out, m.filled[i]);
        }
        out += ']';
    }
    out += '}';
    return out;
}

// The database's names for policy types (the CHECK in report_policies).
const char* policy_type_name(policy_type t)
{
    switch (t) {
    case policy_type::sts: return "sts";
    case policy_type::tlsa: return "tlsa";
    case policy_type::no_policy_found: return "no-policy-found";
    }
    return "sts";
}

// RFC 8460 §3: the DKIM verdicts of mailed copies, weakest first. One report may come several
// times (by HTTPS and by mail, to several rua= addresses); the stored verdict is the strongest
// that any copy earned and is never lowered. "pass" (a signature of the reporting domain
// verified) beats everything; then "fail" (a signature was there and is bad), "permerror"
// (one was there and cannot be checked), "temperror" (one was there and could not be checked
// yet) and "none" (no signature): a verdict on a signature says more than its absence.
// A copy not checked at all (HTTPS: NULL) is the weakest.
constexpr std::array<std::string_view, 5> dkim_verdicts_weakest_first{"none", "temperror", "permerror", "fail",
                                                                      "pass"};

int dkim_rank(std::string_view state)
{
    const auto it = std::find(dkim_verdicts_weakest_first.begin(), dkim_verdicts_weakest_first.end(), state);
    return it == dkim_verdicts_weakest_first.end() ? 0
                                                   : static_cast<int>(it - dkim_verdicts_weakest_first.begin()) + 1;
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

std::int64_t add_sessions(std::int64_t a, std::int64_t b, const char* what)
{
    std::int64_t sum;
    if (a < 0 || b < 0)
        throw report_data_error(std::string(what) + " is negative");
    if (__builtin_add_overflow(a, b, &sum))
        throw report_data_error(std::string(what) + " out of range (sum over 2^63)");
    return sum;
}

struct session_totals {
    std::int64_t successful = 0, failed = 0;
    std::int64_t all() const { return successful + failed; }   // bounded by add_sessions
};

// The report's own totals. Google sends several policies for one domain (no-policy-found
// and sts, or two sts policies when the policy changed during the day): those are different
// sessions and add up. Microsoft (2023): the tlsa and sts policies of one report count the
// same sessions, so per domain the DANE (tlsa) and the other policies are two views of the
// same traffic: the larger view counts, never their sum.
session_totals report_totals(const tls_report& r)
{
    std::map<std::string, std::pair<session_totals, session_totals>> by_domain;   // tlsa, other
    for (const auto& p : r.policies) {
        auto& views = by_domain[p.policy_domain];
        auto& view = p.type == policy_type::tlsa ? views.first : views.second;
        view.successful = add_sessions(view.successful, p.total_successful_session_count,
                                       "total-successful-session-count");
        view.failed = add_sessions(view.failed, p.total_failure_session_count,
                                   "total-failure-session-count");
        add_sessions(view.successful, view.failed, "session count");
    }
    session_totals total;
    for (const auto& [domain, views] : by_domain) {
        const auto& view = views.first.all() > views.second.all() ? views.first : views.second;
        total.successful = add_sessions(total.successful, view.successful, "total-successful-session-count");
        total.failed = add_sessions(total.failed, view.failed, "total-failure-session-count");
    }
    add_sessions(total.successful, total.failed, "session count");
    return total;
}

// ---------------------------------------------------------------------------------------
// Raw bytes

// The received body as report_raw keeps it (see the table's comment).
struct kept_raw {
    std::string compressed;     // when the store compressed it
    std::string_view gzip;      // the gzip member to keep
    const char* encoding = "gzip";
    std::string sha256;         // 32 bytes, of the body as received
    std::int64_t size = 0;
};

kept_raw keep_raw(const incoming_report& in)
{
    kept_raw k;
    if (in.raw_is_gzip) {
        k.gzip = in.raw;
        k.encoding = "gzip";
    } else {
        k.compressed = gzip_compress(in.raw);
        k.gzip = k.compressed;
        k.encoding = "json";
    }
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(in.raw.data(), in.raw.size());
    const auto& digest = sha.digest();
    k.sha256.assign(digest.begin(), digest.end());
    k.size = static_cast<std::int64_t>(in.raw.size());
    return k;
}

struct batch_item {
    const incoming_report* report;
    const kept_raw* raw;
};

// ---------------------------------------------------------------------------------------
// Monthly partitions of failure_details

// Serialises partition creation between writers and instances: CREATE TABLE IF NOT EXISTS
// alone is not atomic against a concurrent twin.
constexpr long long partition_lock_key = 0x73747377'70617274LL;   // "stswpart"

int month_number(std::chrono::sys_days day)   // year * 12 + month - 1
{
    const std::chrono::year_month_day ymd{day};
    return static_cast<int>(ymd.year()) * 12 + static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
}

// The months known to have a partition, per database, shared by all connections of this
// process. Only a hint: a month missing here costs one CREATE … IF NOT EXISTS.
class partition_months {
public:
    bool contains(const std::string& database, int month) const
    {
        std::lock_guard lock(mutex_);
        return known_.count({database, month}) != 0;
    }
    void add(const std::string& database, int month)
    {
        std::lock_guard lock(mutex_);
        known_.insert({database, month});
    }
private:
    mutable std::mutex mutex_;
    std::set<std::pair<std::string, int>> known_;
};

partition_months& known_partitions()
{
    static partition_months months;
    return months;
}

std::string database_key(pqxx::connection& conn)
{
    auto str = [](const char* s) { return std::string(s ? s : ""); };
    return str(conn.hostname()) + ":" + str(conn.port()) + "/" + str(conn.dbname());
}

// Creates the partitions for these months, each in its own short transaction before the
// batch's: DDL on failure_details inside the batch would hold its exclusive lock until
// commit and order-deadlock against the other writers.
void ensure_partitions(pqxx::connection& conn, const std::set<int>& months)
{
    if (months.empty())
        return;
    const auto database = database_key(conn);
    for (int month : months) {
        if (known_partitions().contains(database, month))
            continue;
        const int year = month / 12, mon = month % 12 + 1;
        const int next_year = (month + 1) / 12, next_mon = (month + 1) % 12 + 1;
        char name[80], from[40], to[40];
        std::snprintf(name, sizeof name, "failure_details_%04d_%02d", year, mon);
        std::snprintf(from, sizeof from, "%04d-%02d-01", year, mon);
        std::snprintf(to, sizeof to, "%04d-%02d-01", next_year, next_mon);
        try {
            pqxx::work tx(conn, "partition");
            tx.exec_params("SELECT pg_advisory_xact_lock($1)", partition_lock_key);
            if (!tx.exec_params1("SELECT to_regclass($1) IS NULL", std::string(name))[0].as<bool>()) {
                known_partitions().add(database, month);
                continue;   // made by another writer or instance
            }
            // Better to wait a little and fall back to the DEFAULT partition than to hold
            // every writer behind a long read of failure_details.
            tx.exec("SET LOCAL lock_timeout = '5s'");
            // The partition inherits the foreign key to reports, which locks reports. Writers
            // lock reports before failure_details; taking reports first here too keeps the
            // order, else a writer that has inserted a report and waits for failure_details
            // deadlocks with us.
            tx.exec("LOCK TABLE reports IN SHARE ROW EXCLUSIVE MODE");
            tx.exec("CREATE TABLE IF NOT EXISTS " + tx.quote_name(name) +
                    " PARTITION OF failure_details FOR VALUES FROM (" + tx.quote(from) +
                    ") TO (" + tx.quote(to) + ")");
            tx.commit();
        } catch (const pqxx::sql_error& e) {
            const auto& state = e.sqlstate();
            if (state == "55P03") {
                // Lock timeout: this batch's rows go to DEFAULT; the next batch tries again.
                log::warning("store", "partition not created yet", {{"partition", name}, {"reason", "lock timeout"}});
                continue;
            } else if (state == "42P07" || state == "23505") {
                // duplicate: made meanwhile by something that does not take the lock
            } else if (state == "42P17") {
                // an operator's partition already covers (part of) the month: rows go there
            } else if (state == "23514") {
                // The DEFAULT partition already holds rows of this month (its partition was
                // dropped); they would violate the new one. Rows keep going to DEFAULT.
                log::warning("store", "month stays in failure_details_default", {{"partition", name}});
            } else {
                throw;
            }
        }
        known_partitions().add(database, month);
    }
}

// ---------------------------------------------------------------------------------------
// One transaction
//
// A constant number of round trips per batch, however many reports it holds: the reports
// in one INSERT … SELECT FROM unnest(…), their receipts in another, the raw bytes, policies
// and failure details by COPY, the rollups in one upsert. Every value travels as a
// parameter or as COPY data, never inside the SQL text.

struct statement {
    const char* name;
    const char* sql;
};

// A timestamptz from microseconds since the epoch: exact, with no dependence on text formats.
#define STSWATCH_TS(us) "('epoch'::timestamptz + " us " * interval '1 microsecond')"
// The receive time of a copy: its own when it has one (least() skips the NULL of a copy
// received now), never later than now: a spool written while the clock ran ahead cannot
// hold a report received after it was stored.
#define STSWATCH_RECEIVED(us) "least(" STSWATCH_TS(us) ", now())"

const statement statements[] = {
    // RFC 8460 §4.4: organization-name and report-id identify the report. Rows go in the
    // order of the arrays (identity order), so that concurrent writers take the identity
    // index's locks in one order.
    {"stswatch_insert_reports",
     "INSERT INTO reports (organization_name, report_id, start_datetime, end_datetime, contact_info,"
     " policy_count, total_successful_session_count, total_failure_session_count, warnings, metadata,"
     " dkim_state, dkim_domain, received_at)"
     " SELECT u.organization_name, u.report_id, " STSWATCH_TS("u.start_us") ", " STSWATCH_TS("u.end_us") ","
     " u.contact_info, u.policy_count, u.successful, u.failed, u.warnings::text[], u.metadata::jsonb,"
     " u.dkim_state, u.dkim_domain, " STSWATCH_RECEIVED("u.received_us")
     " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::integer[],"
     " $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[]) WITH ORDINALITY"
     " AS u(organization_name, report_id, start_us, end_us, contact_info, policy_count, successful, failed,"
     " warnings, metadata, dkim_state, dkim_domain, received_us, n)"
     " ORDER BY u.n"
     " ON CONFLICT (organization_name, report_id) DO NOTHING"
     " RETURNING id, organization_name, report_id"},
    {"stswatch_find_reports",
     "SELECT r.id, r.organization_name, r.report_id"
     " FROM unnest($1::text[], $2::text[]) AS u(organization_name, report_id)"
     " JOIN reports r ON r.organization_name = u.organization_name AND r.report_id = u.report_id"},
    {"stswatch_insert_receipts",
     "INSERT INTO report_receipts (report, transport, source_address, received_at)"
     " SELECT u.report, u.transport, u.source_address, " STSWATCH_RECEIVED("u.received_us")
     " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS u(report, transport, source_address, received_us)"
     " ON CONFLICT (report, transport) DO NOTHING"},
    // A copy of a stored report can tell more than the stored row: a stronger DKIM verdict
    // (dkim_rank) or an earlier receive time (a copy that waited in the spool). $1..$4: per
    // report, the best of the batch's copies; $5: the verdicts, weakest first; $6..$9: per
    // receipt, the earliest time of a copy that came with one. Only rows that change are
    // locked, in key order, so that writers upgrading the same reports wait rather than
    // deadlock.
    {"stswatch_upgrade_duplicates",
     "WITH u AS ("
     "  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])"
     "  AS u(report, dkim_state, dkim_domain, received_us)),"
     " changed AS ("
     "  SELECT r.id, u.dkim_state, u.dkim_domain, " STSWATCH_RECEIVED("u.received_us") " AS received_at,"
     "  coalesce(array_position($5::text[], u.dkim_state), 0)"
     "   > coalesce(array_position($5::text[], r.dkim_state), 0) AS stronger"
     "  FROM reports r JOIN u ON r.id = u.report"
     "  WHERE coalesce(array_position($5::text[], u.dkim_state), 0)"
     "    > coalesce(array_position($5::text[], r.dkim_state), 0)"
     "   OR " STSWATCH_RECEIVED("u.received_us") " < r.received_at"
     "  ORDER BY r.id FOR NO KEY UPDATE OF r),"
     " receipts AS ("
     "  UPDATE report_receipts t SET received_at = " STSWATCH_RECEIVED("v.received_us") ","
     "  source_address = v.source_address"
     "  FROM unnest($6::bigint[], $7::text[], $8::bigint[], $9::text[])"
     "  AS v(report, transport, received_us, source_address)"
     "  WHERE t.report = v.report AND t.transport = v.transport"
     "   AND " STSWATCH_RECEIVED("v.received_us") " < t.received_at)"
     " UPDATE reports r SET"
     " dkim_state = CASE WHEN c.stronger THEN c.dkim_state ELSE r.dkim_state END,"
     " dkim_domain = CASE WHEN c.stronger THEN c.dkim_domain ELSE r.dkim_domain END,"
     " received_at = least(r.received_at, c.received_at)"
     " FROM changed c WHERE r.id = c.id"},
    // RFC 8460 §4.4 totals and failure counts, added to what other reports said of the
    // same key. Rows come sorted by key, so concurrent writers lock them in one order.
    {"stswatch_upsert_rollups",
     "INSERT INTO daily_rollups AS d (policy_domain, day, policy_type, result_type, receiving_mx,"
     " organization_name, successful_sessions, failed_sessions)"
     " SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::text[],"
     " $7::bigint[], $8::bigint[])"
     " ON CONFLICT (policy_domain, day, policy_type, result_type, receiving_mx, organization_name)"
     " DO UPDATE SET successful_sessions = d.successful_sessions + excluded.successful_sessions,"
     " failed_sessions = d.failed_sessions + excluded.failed_sessions"},
};

#undef STSWATCH_RECEIVED
#undef STSWATCH_TS

void prepare_statements(pqxx::connection& conn)
{
    // Registering is local and repeatable; libpqxx prepares on first use, again after
    // it has reconnected.
    for (const auto& s : statements)
        conn.prepare(s.name, s.sql);
}

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

const std::vector<std::string> raw_columns{"report", "raw", "raw_encoding", "sha256", "size"};
const std::vector<std::string> policy_columns{
    "report", "policy_index", "policy_type", "policy_domain", "policy_domain_filled", "policy_string",
    "mx_host", "total_successful_session_count", "total_failure_session_count", "report_start"};
const std::vector<std::string> detail_columns{
    "report", "policy_index", "detail_index", "day", "policy_domain", "organization_name", "result_type",
    "sending_mta_ip", "receiving_mx_hostname", "receiving_mx_helo", "receiving_ip", "failed_session_count",
    "additional_information", "failure_reason_code"};

// The COPY data of one batch's newly stored reports.
struct batch_rows {
    explicit batch_rows(std::size_t reports)
        : raws(reports * 1400), policies(reports * 300), details(reports * 2000)
    {
    }
    copy_data raws, policies, details;
};

struct rollup_key {
    std::string policy_domain, day, policy_type, result_type, receiving_mx, organization_name;
    auto operator<=>(const rollup_key&) const = default;
};

using rollup_sums = std::map<rollup_key, session_totals>;

void add_rollup(rollup_sums& sums, rollup_key key, std::int64_t successful, std::int64_t failed)
{
    auto& s = sums[std::move(key)];
    s.successful = add_sessions(s.successful, successful, "successful sessions of a day");
    s.failed = add_sessions(s.failed, failed, "failed sessions of a day");
}

void upsert_rollups(pqxx::work& tx, const rollup_sums& sums)
{
    if (sums.empty())
        return;
    // Array literals built in place: a batch has a few hundred keys.
    array_literal domains, days, types, results, mxs, orgs, successful, failed;
    for (const auto& [key, s] : sums) {
        domains.text(key.policy_domain);
        days.plain(key.day);
        types.text(key.policy_type);
        results.text(key.result_type);
        mxs.text(key.receiving_mx);
        orgs.text(key.organization_name);
        successful.number(s.successful);
        failed.number(s.failed);
    }
    tx.exec_prepared("stswatch_upsert_rollups", domains.str(), days.str(), types.str(), results.str(),
                     mxs.str(), orgs.str(), successful.str(), failed.str());
}

// The identity as the database holds it (db_text of both parts): two reports whose names
// differ only in bytes PostgreSQL cannot hold are one report there.
using identity = std::pair<std::string, std::string>;

// What store_once knows of one report of the batch before it talks to the database.
struct prepared_report {
    identity id;
    session_totals totals;
    std::size_t first = 0;   // the batch index of the first copy of this identity (itself if first)
};

// Adds the rows of a newly stored report to the COPY data and its sessions to the rollups.
void add_report_rows(std::int64_t key, const batch_item& item, const identity& id, batch_rows& rows,
                     rollup_sums& rollups)
{
    const tls_report& r = item.report->report;
    const std::string& organization = id.first;
    const kept_raw& raw = *item.raw;
    rows.raws.number(key).bytes(raw.gzip).text(raw.encoding).bytes(raw.sha256).number(raw.size).end_row();

    const auto day = date_text(utc_day(r.start_datetime));   // rollups: the day the report starts
    const auto report_start = timestamptz_text(r.start_datetime);
    for (std::size_t pi = 0; pi < r.policies.size(); ++pi) {
        const report_policy& p = r.policies[pi];
        const auto domain = db_text(p.policy_domain);
        const char* type = policy_type_name(p.type);
        rows.policies.number(key).number(static_cast<std::int64_t>(pi)).text(type).text(domain)
            .boolean(p.policy_domain_filled).text(text_array(p.policy_string)).text(text_array(p.mx_host))
            .number(p.total_successful_session_count).number(p.total_failure_session_count).text(report_start)
            .end_row();
        // The summary: result_type and receiving_mx '' (see daily_rollups).
        add_rollup(rollups, {domain, day, type, "", "", organization},
                   p.total_successful_session_count, p.total_failure_session_count);

        for (std::size_t di = 0; di < p.failure_details.size(); ++di) {
            const failure_detail& d = p.failure_details[di];
            auto result_type = db_text(d.result_type);
            rows.details.number(key).number(static_cast<std::int64_t>(pi)).number(static_cast<std::int64_t>(di))
                .text(day).text(domain).text(organization).text(result_type).opt_text(d.sending_mta_ip)
                .opt_text(d.receiving_mx_hostname).opt_text(d.receiving_mx_helo).opt_text(d.receiving_ip)
                .number(d.failed_session_count).opt_text(d.additional_information).opt_text(d.failure_reason_code)
                .end_row();
            // The MX the failure is about: its name, else its address (mail.ru and
            // Microsoft leave out one or both), else ''.
            std::string mx = d.receiving_mx_hostname ? db_text(*d.receiving_mx_hostname)
                           : d.receiving_ip ? db_text(*d.receiving_ip) : std::string();
            // '' is the summary's result type; an empty one from a sender must not
            // fold its failures into the summary.
            if (result_type.empty())
                result_type = "(empty)";
            add_rollup(rollups, {domain, day, type, std::move(result_type), std::move(mx), organization},
                       0, d.failed_session_count);
        }
    }
}

// A copy's receive time as the statements take it: microseconds, NULL for "now".
void append_received(array_literal& out, const incoming_report& in)
{
    if (in.received_at)
        out.number(epoch_micros(clamp_to_years(*in.received_at)));
    else
        out.null();
}

// Whether a came in before b; a copy without a time of its own came in now.
bool received_earlier(const incoming_report& a, const incoming_report& b)
{
    if (!a.received_at)
        return false;
    if (!b.received_at)
        return true;
    return epoch_micros(clamp_to_years(*a.received_at)) < epoch_micros(clamp_to_years(*b.received_at));
}

// What the copies of a report that were not stored by the batch (duplicates) can add to the
// stored row: the strongest DKIM verdict among them and the earliest receive time.
struct report_upgrade {
    const incoming_report* dkim = nullptr;       // the copy with the strongest verdict
    const incoming_report* earliest = nullptr;   // the earliest copy with a time of its own
};

void note_upgrade(std::map<std::int64_t, report_upgrade>& upgrades, std::int64_t key, const incoming_report& in)
{
    const int rank = dkim_rank(in.dkim_state);
    if (rank == 0 && !in.received_at)
        return;   // a copy received now and not checked: nothing to add (HTTPS retries)
    auto& u = upgrades[key];
    if (rank > 0 && (!u.dkim || rank > dkim_rank(u.dkim->dkim_state)))
        u.dkim = &in;
    if (in.received_at && (!u.earliest || received_earlier(in, *u.earliest)))
        u.earliest = &in;
}

// One statement for the whole batch, and none when no duplicate has anything to add.
void upgrade_duplicates(pqxx::work& tx, const std::map<std::int64_t, report_upgrade>& upgrades,
                        const std::map<std::pair<std::int64_t, transport>, const incoming_report*>& receipts,
                        const std::vector<bool>& stored, const std::vector<std::optional<std::int64_t>>& keys)
{
    std::set<std::int64_t> new_reports;   // their receipts are new too: nothing earlier to replace
    for (std::size_t i = 0; i < stored.size(); ++i)
        if (stored[i])
            new_reports.insert(*keys[i]);
    array_literal reports, dkim_states, dkim_domains, received;
    for (const auto& [key, u] : upgrades) {
        reports.number(key);
        if (u.dkim)
            dkim_states.text(u.dkim->dkim_state);
        else
            dkim_states.null();
        if (u.dkim && !u.dkim->dkim_domain.empty())
            dkim_domains.text(u.dkim->dkim_domain);
        else
            dkim_domains.null();
        if (u.earliest)
            append_received(received, *u.earliest);
        else
            received.null();
    }
    array_literal receipt_reports, receipt_transports, receipt_received, receipt_sources;
    bool earlier_receipts = false;
    for (const auto& [receipt, in] : receipts) {
        if (!in->received_at || new_reports.count(receipt.first))
            continue;
        earlier_receipts = true;
        receipt_reports.number(receipt.first);
        receipt_transports.text(to_string(receipt.second));
        append_received(receipt_received, *in);
        receipt_sources.text(in->source_address);
    }
    if (upgrades.empty() && !earlier_receipts)
        return;
    array_literal order;
    for (const auto verdict : dkim_verdicts_weakest_first)
        order.text(verdict);
    tx.exec_prepared("stswatch_upgrade_duplicates", reports.str(), dkim_states.str(), dkim_domains.str(),
                     received.str(), order.str(), receipt_reports.str(), receipt_transports.str(),
                     receipt_received.str(), receipt_sources.str());
}

// Stores items in one transaction; throws on any failure, leaving nothing stored.
std::vector<store_result> store_once(pqxx::connection& conn, const std::vector<batch_item>& items)
{
    // Reports are inserted in identity order: two writers whose batches share reports then
    // wait for each other instead of deadlocking. The sort is stable, so of two copies of a
    // report in one batch the first is stored and the second is its duplicate.
    std::vector<std::size_t> order(items.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const auto& ra = items[a].report->report;
        const auto& rb = items[b].report->report;
        return std::tie(ra.organization_name, ra.report_id) < std::tie(rb.organization_name, rb.report_id);
    });

    // Everything that can be refused without the database, before the transaction: a
    // value out of range fails the batch as a data error (then each report on its own).
    std::vector<prepared_report> prepared(items.size());
    std::map<identity, std::size_t> first_copy;
    std::vector<std::size_t> distinct;   // batch indexes of first copies, in identity order
    std::set<int> months;
    for (std::size_t i : order) {
        const tls_report& r = items[i].report->report;
        check_in_range(r.start_datetime, "start-datetime");
        check_in_range(r.end_datetime, "end-datetime");
        auto& p = prepared[i];
        p.totals = report_totals(r);
        p.id = {db_text(r.organization_name), db_text(r.report_id)};
        const auto [it, first] = first_copy.try_emplace(p.id, i);
        p.first = it->second;
        if (!first)
            continue;
        distinct.push_back(i);
        for (const auto& policy : r.policies)
            if (!policy.failure_details.empty())
                months.insert(month_number(utc_day(r.start_datetime)));
    }
    ensure_partitions(conn, months);
    prepare_statements(conn);

    pqxx::work tx(conn, "store_batch");

    array_literal organizations, report_ids, starts, ends, contacts, policy_counts, successful, failed,
        warnings, metadata, dkim_states, dkim_domains, received;
    for (std::size_t i : distinct) {
        const incoming_report& in = *items[i].report;
        const tls_report& r = in.report;
        const auto& p = prepared[i];
        organizations.text(p.id.first);
        report_ids.text(p.id.second);
        starts.number(epoch_micros(r.start_datetime));
        ends.number(epoch_micros(r.end_datetime));
        if (r.contact_info)
            contacts.text(*r.contact_info);
        else
            contacts.null();
        policy_counts.number(static_cast<std::int64_t>(r.policies.size()));
        successful.number(p.totals.successful);
        failed.number(p.totals.failed);
        warnings.text(text_array(in.warnings));
        metadata.text(metadata_json(in.metadata, {}));
        // RFC 8460 §3: the DKIM verdict of a mailed report; NULL where nothing was checked.
        if (in.dkim_state.empty())
            dkim_states.null();
        else
            dkim_states.text(in.dkim_state);
        if (in.dkim_domain.empty())
            dkim_domains.null();
        else
            dkim_domains.text(in.dkim_domain);
        append_received(received, in);
    }
    const auto inserted = tx.exec_prepared(
        "stswatch_insert_reports", organizations.str(), report_ids.str(), starts.str(), ends.str(),
        contacts.str(), policy_counts.str(), successful.str(), failed.str(), warnings.str(), metadata.str(),
        dkim_states.str(), dkim_domains.str(), received.str());

    // The key of each first copy, and whether this batch stored it.
    std::vector<std::optional<std::int64_t>> keys(items.size());
    std::vector<bool> stored(items.size(), false);
    auto key_rows = [&](const pqxx::result& rows, bool new_rows) {
        for (const auto& row : rows) {
            const auto it = first_copy.find({row[1].as<std::string>(), row[2].as<std::string>()});
            if (it == first_copy.end())
                throw std::runtime_error("the database returned a report that is not in the batch");
            keys[it->second] = row[0].as<std::int64_t>();
            stored[it->second] = new_rows;
        }
    };
    key_rows(inserted, true);

    if (inserted.size() < distinct.size()) {
        // Already stored (earlier, or by another writer or instance): only the transport
        // is news.
        array_literal known_organizations, known_ids;
        for (std::size_t i : distinct) {
            if (keys[i])
                continue;
            known_organizations.text(prepared[i].id.first);
            known_ids.text(prepared[i].id.second);
        }
        key_rows(tx.exec_prepared("stswatch_find_reports", known_organizations.str(), known_ids.str()), false);
        for (std::size_t i : distinct)
            if (!keys[i])
                throw std::runtime_error("report " + prepared[i].id.first + " " + prepared[i].id.second +
                                         " conflicted but cannot be found (deleted meanwhile?)");
    }

    std::vector<store_result> results(items.size());
    // Every transport a report came by, once: the earliest copy's time and source address
    // count (a copy without a time of its own is received now, after any that has one).
    std::map<std::pair<std::int64_t, transport>, const incoming_report*> receipts;
    std::map<std::int64_t, report_upgrade> upgrades;
    for (std::size_t i : order) {
        const auto& p = prepared[i];
        const auto key = *keys[p.first];
        const bool stored_here = p.first == i && stored[i];
        results[i] = {stored_here ? store_outcome::stored : store_outcome::duplicate, key};
        const incoming_report& in = *items[i].report;
        const auto [it, first] = receipts.try_emplace({key, in.via}, &in);
        if (!first && received_earlier(in, *it->second))
            it->second = &in;
        if (!stored_here)
            note_upgrade(upgrades, key, in);
    }
    array_literal receipt_reports, receipt_transports, receipt_sources, receipt_received;
    for (const auto& [receipt, in] : receipts) {
        receipt_reports.number(receipt.first);
        receipt_transports.text(to_string(receipt.second));
        receipt_sources.text(in->source_address);
        append_received(receipt_received, *in);
    }
    tx.exec_prepared("stswatch_insert_receipts", receipt_reports.str(), receipt_transports.str(),
                     receipt_sources.str(), receipt_received.str());
    upgrade_duplicates(tx, upgrades, receipts, stored, keys);

    batch_rows rows(inserted.size());
    rollup_sums rollups;
    for (std::size_t i : distinct)
        if (stored[i])
            add_report_rows(*keys[i], items[i], prepared[i].id, rows, rollups);
    rows.raws.send(tx, "report_raw", raw_columns);
    rows.policies.send(tx, "report_policies", policy_columns);
    rows.details.send(tx, "failure_details", detail_columns);
    upsert_rollups(tx, rollups);
    tx.commit();
    return results;
}

// ---------------------------------------------------------------------------------------
// Failures: which are the report's fault, which the database's

enum class failure_class {
    connection,   // the connection broke: reconnect and try again, once
    transient,    // deadlock or serialization failure: the transaction can simply be retried
    data,         // a value of one report: the others can still be stored
    in_doubt,     // the commit may or may not have happened: never retry
    unavailable,  // anything else on the database's side: try later
};

// The store's policy (store/connection.hpp) as the write path applies it: a missing table,
// disk full or a bug of ours is no report's fault, so every failure that is not one
// report's value makes the database unavailable for the batch.
failure_class classify_for_write(const std::exception_ptr& error)
{
    try {
        std::rethrow_exception(error);
    } catch (const report_data_error&) {
        return failure_class::data;
    } catch (...) {
    }
    switch (classify(error)) {
    case db_failure::connection: return failure_class::connection;
    case db_failure::retry: return failure_class::transient;
    case db_failure::data: return failure_class::data;
    case db_failure::in_doubt: return failure_class::in_doubt;
    default: return failure_class::unavailable;
    }
}

std::exception_ptr unavailable(const std::exception_ptr& cause, const char* context = nullptr)
{
    std::string message = "database unavailable: ";
    if (context) {
        message += context;
        message += ": ";
    }
    return std::make_exception_ptr(store_unavailable(message + first_line(cause)));
}

std::exception_ptr rejected(const incoming_report& in, const std::exception_ptr& cause)
{
    // The identity is the sender's text: bounded, so that a hostile one cannot flood a log.
    auto bounded = [](const std::string& s) { return s.size() <= 200 ? s : s.substr(0, 200) + "…"; };
    return std::make_exception_ptr(store_rejected("report " + bounded(in.report.organization_name) + " " +
                                                  bounded(in.report.report_id) + " cannot be stored: " +
                                                  first_line(cause)));
}

// Runs store_once, retrying once after a broken connection (libpqxx reconnects on the next
// transaction) or a deadlock. Returns the results, or the error with its class.
struct once_outcome {
    std::vector<store_result> results;
    std::exception_ptr error;
    failure_class kind = failure_class::unavailable;
};

once_outcome store_with_retry(pqxx::connection& conn, const std::vector<batch_item>& items)
{
    once_outcome out;
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            out.results = store_once(conn, items);
            out.error = nullptr;
            return out;
        } catch (...) {
            out.error = std::current_exception();
            out.kind = classify_for_write(out.error);
        }
        if (out.kind != failure_class::connection && out.kind != failure_class::transient)
            break;
    }
    return out;
}

std::vector<store_attempt> store_items(pqxx::connection& conn, const std::vector<batch_item>& items)
{
    std::vector<store_attempt> attempts(items.size());
    if (items.empty())
        return attempts;

    auto whole = store_with_retry(conn, items);
    if (!whole.error) {
        for (std::size_t i = 0; i < items.size(); ++i)
            attempts[i].result = whole.results[i];
        return attempts;
    }
    if (whole.kind != failure_class::data || items.size() == 1) {
        for (std::size_t i = 0; i < items.size(); ++i)
            attempts[i].error = whole.kind == failure_class::data ? rejected(*items[i].report, whole.error)
                              : whole.kind == failure_class::in_doubt
                                  ? unavailable(whole.error, "commit outcome unknown")
                                  : unavailable(whole.error);
        return attempts;
    }

    // One report spoiled the batch: store them one by one so that it is the only one lost.
    for (std::size_t i = 0; i < items.size(); ++i) {
        auto one = store_with_retry(conn, {items[i]});
        if (!one.error) {
            attempts[i].result = one.results[0];
            continue;
        }
        if (one.kind == failure_class::data) {
            attempts[i].error = rejected(*items[i].report, one.error);
            continue;
        }
        // The database itself failed: the rest cannot fare better now.
        const auto error = unavailable(one.error, one.kind == failure_class::in_doubt ? "commit outcome unknown" : nullptr);
        for (std::size_t j = i; j < items.size(); ++j)
            attempts[j].error = error;
        break;
    }
    return attempts;
}

} // namespace

std::vector<store_attempt> store_batch_each(pqxx::connection& conn,
                                           const std::vector<const incoming_report*>& batch)
{
    std::vector<kept_raw> raws;
    raws.reserve(batch.size());
    std::vector<batch_item> items;
    items.reserve(batch.size());
    for (const auto* in : batch) {
        raws.push_back(keep_raw(*in));
        items.push_back({in, &raws.back()});
    }
    return store_items(conn, items);
}

std::vector<store_result> store_batch(pqxx::connection& conn,
                                      const std::vector<const incoming_report*>& batch)
{
    auto attempts = store_batch_each(conn, batch);
    std::vector<store_result> results;
    results.reserve(attempts.size());
    for (auto& a : attempts) {
        if (a.error)
            std::rethrow_exception(a.error);
        results.push_back(*a.result);
    }
    return results;
}

// -------------------------------------------------------------------------------------------
// Group commit

namespace {

struct pending_report {
    incoming_report report;
    kept_raw raw;
    std::promise<store_result> promise;
    std::atomic<bool> abandoned{false};   // store() gave up waiting: not worth a transaction
};

using pending_ptr = std::shared_ptr<pending_report>;

constexpr std::chrono::milliseconds first_backoff{100};
constexpr std::chrono::milliseconds max_backoff{2000};

} // namespace

struct report_store::impl {
    store_options options;
    unsigned connect_timeout_s = default_connect_timeout_s;

    // Everything below up to the counters is guarded by mutex.
    std::mutex mutex;
    // Two conditions, so that a report arriving wakes a writer only when that writer has
    // something to do: an idle writer when the queue was empty, a lingering one when its
    // batch is full. Waking a lingering writer for every report cost a context switch each.
    std::condition_variable work_queued;    // writers waiting for a first report
    std::condition_variable batch_full;     // writers lingering for company
    std::deque<pending_ptr> queue;
    bool stopping = false;
    // While the database is down, store() answers at once until retry_at, and each failed
    // attempt doubles the wait (up to max_backoff).
    std::chrono::steady_clock::time_point retry_at{};
    std::chrono::milliseconds backoff{0};
    std::string down_reason;

    std::atomic<std::uint64_t> stored{0}, duplicates{0}, batches{0}, failures{0};
    std::vector<std::thread> writers;

    bool database_down(std::chrono::steady_clock::time_point now) const { return now < retry_at; }

    // Throws store_unavailable when a report cannot be queued now. Called under mutex.
    void refuse_when_unable()
    {
        if (stopping) {
            ++failures;
            throw store_unavailable("the report store is shutting down");
        }
        if (database_down(std::chrono::steady_clock::now())) {
            ++failures;
            throw store_unavailable("database unavailable: " + down_reason);
        }
        if (queue.size() >= options.queue_max) {
            ++failures;
            throw store_unavailable("queue full: " + std::to_string(queue.size()) + " reports waiting for the database");
        }
    }

    void note_down(const std::string& reason)
    {
        std::lock_guard lock(mutex);
        const bool was_up = backoff.count() == 0;
        backoff = was_up ? first_backoff : std::min(backoff * 2, max_backoff);
        retry_at = std::chrono::steady_clock::now() + backoff;
        down_reason = reason;
        if (was_up)
            log::warning("store", "database unavailable", {{"reason", reason}});
    }

    void note_up()
    {
        std::lock_guard lock(mutex);
        if (backoff.count() != 0)
            log::info("store", "database available again");
        backoff = std::chrono::milliseconds{0};
        retry_at = {};
    }

    void fail(const std::vector<pending_ptr>& batch, const std::exception_ptr& error)
    {
        // Counted before the callers wake, so that a caller reading counters() after its
        // failure sees it.
        failures += batch.size();
        for (const auto& p : batch)
            p->promise.set_exception(error);
    }

    std::vector<pending_ptr> take_batch(std::unique_lock<std::mutex>& lock)
    {
        work_queued.wait(lock, [&] { return stopping || !queue.empty(); });
        // Linger for company only when the queue is short: a full batch goes at once.
        if (!stopping && queue.size() < options.batch_max && options.batch_wait.count() > 0)
            batch_full.wait_for(lock, options.batch_wait,
                                [&] { return stopping || queue.size() >= options.batch_max; });
        std::vector<pending_ptr> batch;
        while (!queue.empty() && batch.size() < options.batch_max) {
            auto p = std::move(queue.front());
            queue.pop_front();
            if (!p->abandoned)
                batch.push_back(std::move(p));
        }
        if (!queue.empty())
            work_queued.notify_one();   // more than a batch waits: another writer can start
        return batch;
    }

    void run_batch(std::unique_ptr<pqxx::connection>& conn, const std::vector<pending_ptr>& batch)
    {
        {
            std::lock_guard lock(mutex);
            if (database_down(std::chrono::steady_clock::now())) {
                const auto reason = down_reason;
                fail(batch, std::make_exception_ptr(store_unavailable("database unavailable: " + reason)));
                return;
            }
        }
        if (!conn) {
            try {
                conn = open_connection(options.db_url, connect_timeout_s);
            } catch (...) {
                // The database's own words, as for a failure during a batch.
                std::string reason;
                try {
                    throw;
                } catch (const store_unavailable& e) {
                    reason = e.reason();
                } catch (...) {
                    reason = first_line(std::current_exception());
                }
                note_down(reason);
                fail(batch, std::make_exception_ptr(store_unavailable("database unavailable: " + reason)));
                return;
            }
        }

        std::vector<batch_item> items;
        items.reserve(batch.size());
        for (const auto& p : batch)
            items.push_back({&p->report, &p->raw});
        const auto attempts = store_items(*conn, items);

        std::string down;
        bool committed = false;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (attempts[i].result) {
                committed = true;
                (attempts[i].result->outcome == store_outcome::stored ? stored : duplicates)++;
                batch[i]->promise.set_value(*attempts[i].result);
                continue;
            }
            ++failures;
            try {
                std::rethrow_exception(attempts[i].error);
            } catch (const store_unavailable& e) {
                down = e.what();
                constexpr std::string_view prefix = "database unavailable: ";
                if (down.rfind(prefix, 0) == 0)
                    down.erase(0, prefix.size());
            } catch (...) {
            }
            batch[i]->promise.set_exception(attempts[i].error);
        }
        if (committed)
            ++batches;
        if (!down.empty()) {
            conn.reset();   // a fresh connection next time, whatever state this one is in
            note_down(down);
        } else {
            note_up();
        }
    }

    void writer()
    {
        std::unique_ptr<pqxx::connection> conn;
        for (;;) {
            std::vector<pending_ptr> batch;
            {
                std::unique_lock lock(mutex);
                batch = take_batch(lock);
                if (batch.empty() && stopping && queue.empty())
                    return;
            }
            if (batch.empty())
                continue;
            try {
                run_batch(conn, batch);
            } catch (...) {
                // Not expected (store_items reports per report); never leave a caller waiting.
                for (const auto& p : batch) {
                    try {
                        p->promise.set_exception(unavailable(std::current_exception()));
                    } catch (const std::future_error&) {
                        // already answered
                    }
                }
                conn.reset();
            }
        }
    }
};

report_store::report_store(store_options options) : impl_(std::make_unique<impl>())
{
    if (options.writers == 0)
        options.writers = 1;
    if (options.batch_max == 0)
        options.batch_max = 1;
    const auto timeout_s = std::chrono::duration_cast<std::chrono::seconds>(options.enqueue_timeout).count() / 2;
    impl_->connect_timeout_s = static_cast<unsigned>(std::clamp<long long>(timeout_s, 2, 10));
    impl_->options = std::move(options);
    for (unsigned i = 0; i < impl_->options.writers; ++i)
        impl_->writers.emplace_back([this] { impl_->writer(); });
}

report_store::~report_store()
{
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->work_queued.notify_all();
    impl_->batch_full.notify_all();
    for (auto& t : impl_->writers)
        t.join();
}

store_result report_store::store(incoming_report report)
{
    {
        // Before compressing: refusing costs nothing when the database is down.
        std::lock_guard lock(impl_->mutex);
        impl_->refuse_when_unable();
    }
    auto p = std::make_shared<pending_report>();
    p->report = std::move(report);
    p->raw = keep_raw(p->report);   // compressing here spreads the work over the callers
    auto result = p->promise.get_future();
    {
        std::lock_guard lock(impl_->mutex);
        impl_->refuse_when_unable();
        impl_->queue.push_back(p);
        if (impl_->queue.size() == 1)
            impl_->work_queued.notify_one();
        if (impl_->queue.size() == impl_->options.batch_max)
            impl_->batch_full.notify_one();
    }
    if (result.wait_for(impl_->options.enqueue_timeout) != std::future_status::ready) {
        p->abandoned = true;
        ++impl_->failures;
        throw store_unavailable("timed out after " + std::to_string(impl_->options.enqueue_timeout.count()) +
                                " ms waiting for the database");
    }
    return result.get();
}

report_store::stats report_store::counters() const
{
    return {impl_->stored.load(), impl_->duplicates.load(), impl_->batches.load(), impl_->failures.load()};
}

// -------------------------------------------------------------------------------------------
// Listing

namespace {

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

utc_time from_micros(std::int64_t us)
{
    std::int64_t seconds = us / 1000000, micros = us % 1000000;
    if (micros < 0) {
        micros += 1000000;
        --seconds;
    }
    return {seconds, static_cast<std::int32_t>(micros)};
}

} // namespace

std::vector<report_row> list_reports(pqxx::connection& conn, const report_query& q)
{
    std::optional<std::string> domain;
    if (q.domain) {
        domain = *q.domain;
        if (!domain->empty() && domain->back() == '.')
            domain->pop_back();
    }
    std::optional<std::int64_t> since, until;
    if (q.since)
        since = epoch_micros(clamp_to_years(*q.since));
    if (q.until)
        until = epoch_micros(clamp_to_years(*q.until));

    pqxx::read_transaction tx(conn, "list_reports");
    const auto rows = tx.exec_params(
        "SELECT r.id, r.organization_name, r.report_id,"
        " (extract(epoch FROM r.start_datetime) * 1000000)::bigint,"
        " (extract(epoch FROM r.end_datetime) * 1000000)::bigint,"
        " ARRAY(SELECT DISTINCT p.policy_domain FROM report_policies p WHERE p.report = r.id ORDER BY 1),"
        " r.total_successful_session_count, r.total_failure_session_count,"
        " ARRAY(SELECT t.transport FROM report_receipts t WHERE t.report = r.id ORDER BY t.received_at, t.transport),"
        " (extract(epoch FROM r.received_at) * 1000000)::bigint, coalesce(r.dkim_state, ''), coalesce(r.dkim_domain, '')"
        " FROM reports r"
        " WHERE ($1::text IS NULL OR r.id IN (SELECT p.report FROM report_policies p WHERE p.policy_domain = lower($1)))"
        "  AND ($2::bigint IS NULL OR r.end_datetime > 'epoch'::timestamptz + $2::bigint * interval '1 microsecond')"
        "  AND ($3::bigint IS NULL OR r.start_datetime <= 'epoch'::timestamptz + $3::bigint * interval '1 microsecond')"
        " ORDER BY r.start_datetime DESC, r.id DESC"
        " LIMIT $4",
        domain, since, until, static_cast<std::int64_t>(q.limit));

    std::vector<report_row> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
        report_row r;
        r.key = row[0].as<std::int64_t>();
        r.organization_name = row[1].as<std::string>();
        r.report_id = row[2].as<std::string>();
        r.start_datetime = from_micros(row[3].as<std::int64_t>());
        r.end_datetime = from_micros(row[4].as<std::int64_t>());
        r.policy_domains = text_array_values(row[5]);
        r.successful_sessions = row[6].as<std::int64_t>();
        r.failed_sessions = row[7].as<std::int64_t>();
        r.transports = text_array_values(row[8]);
        r.received_at = from_micros(row[9].as<std::int64_t>());
        r.dkim_state = row[10].as<std::string>();
        r.dkim_domain = row[11].as<std::string>();
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<report_row> list_reports(const std::string& db_url, const report_query& q)
{
    auto conn = open_connection(db_url);
    return guarded("cannot connect", [&] { return list_reports(*conn, q); });
}

} // namespace stswatch
