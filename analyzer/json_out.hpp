// A small JSON writer for the analysis' output contracts (docs/analysis.md): keys in the
// order written, rates with six significant digits, strings escaped as the canonical
// report JSON escapes them.
#pragma once

#include "common/time.hpp"
#include "tlsrpt/report_json.hpp"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch::analysis {

class json_out {
public:
    json_out& begin_object() { comma(); out_ += '{'; first_ = true; return *this; }
    json_out& end_object() { out_ += '}'; first_ = false; return *this; }
    json_out& begin_array() { comma(); out_ += '['; first_ = true; return *this; }
    json_out& end_array() { out_ += ']'; first_ = false; return *this; }
    json_out& key(std::string_view k)
    {
        comma();
        append_json_string(out_, k);
        out_ += ':';
        first_ = true;   // the value follows without a comma
        return *this;
    }
    json_out& value(std::string_view s) { comma(); append_json_string(out_, s); return *this; }
    json_out& value(const char* s) { return value(std::string_view(s)); }
    json_out& value(const std::string& s) { return value(std::string_view(s)); }
    json_out& value(std::int64_t n) { comma(); out_ += std::to_string(n); return *this; }
    json_out& value(long long n) { return value(static_cast<std::int64_t>(n)); }
    json_out& value(int n) { return value(static_cast<std::int64_t>(n)); }
    json_out& value(std::size_t n) { return value(static_cast<std::int64_t>(n)); }
    json_out& value(bool b) { comma(); out_ += b ? "true" : "false"; return *this; }
    json_out& value(double d)
    {
        comma();
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.6g", d);
        out_ += buf;
        return *this;
    }
    json_out& value(utc_date d) { return value(format_day(d)); }
    json_out& null() { comma(); out_ += "null"; return *this; }
    template <typename T>
    json_out& value(const std::optional<T>& v) { return v ? value(*v) : null(); }
    json_out& strings(const std::vector<std::string>& items)
    {
        begin_array();
        for (const auto& s : items)
            value(s);
        return end_array();
    }
    // Inserts JSON text that is already valid (a stored jsonb column).
    json_out& raw(std::string_view json) { comma(); out_ += json; return *this; }

    template <typename T>
    json_out& field(std::string_view k, const T& v) { key(k); return value(v); }

    const std::string& text() const { return out_; }
    std::string take() { return std::move(out_); }

private:
    void comma()
    {
        if (!first_ && !out_.empty())
            out_ += ',';
        first_ = false;
    }
    std::string out_;
    bool first_ = true;
};

} // namespace stswatch::analysis
