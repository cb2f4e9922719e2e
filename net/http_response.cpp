// HTTP/1.x response framing (RFC 9112). See http_response.hpp.
#include "net/http_response.hpp"

#include "common/text.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace stswatch {

namespace {

using text::iequals;
using text::is_digit;
using text::lower;
using text::trim_wsp;

int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 9110 §5.6.2: tchar.
bool is_tchar(char c)
{
    if (text::is_alnum(c)) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 9110 §5.6.3: OWS = *( SP / HTAB ), what text::trim_wsp removes.

std::string excerpt(std::string_view s) { return text::excerpt(s, 40, "…"); }

// Splits off one line ending in LF (a preceding CR removed); false when no LF yet.
// RFC 9112 §2.2: a recipient MAY accept a bare LF as a line terminator.
bool take_line(std::string_view& rest, std::string_view& line)
{
    const auto lf = rest.find('\n');
    if (lf == std::string_view::npos) return false;
    line = rest.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    rest.remove_prefix(lf + 1);
    return true;
}

// The end of the head (just past the empty line), or npos.
std::size_t head_end(std::string_view buffer)
{
    std::size_t pos = 0;
    while (true) {
        const auto lf = buffer.find('\n', pos);
        if (lf == std::string_view::npos) return std::string_view::npos;
        const std::size_t line_len = lf - pos;
        if (pos > 0 && (line_len == 0 || (line_len == 1 && buffer[pos] == '\r'))) return lf + 1;
        pos = lf + 1;
    }
}

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

// 1*DIGIT, saturating; -2 when not a number.
std::int64_t parse_length(std::string_view s)
{
    s = trim_wsp(s);
    if (s.empty()) return -2;
    std::int64_t v = 0;
    for (const char c : s) {
        if (!is_digit(c)) return -2;
        if (v > (int64_max - 9) / 10)
            v = int64_max;
        else
            v = v * 10 + (c - '0');
    }
    return v;
}

} // namespace

const std::string* http_response::header(std::string_view name) const
{
    for (const auto& h : headers)
        if (iequals(h.name, name)) return &h.value;
    return nullptr;
}

http_response_parser::http_response_parser(http_limits limits) : limits_(limits) {}

http_parse_state http_response_parser::fail(std::string why)
{
    error_ = std::move(why);
    state_ = http_parse_state::error;
    buffer_.clear();
    return state_;
}

http_parse_state http_response_parser::feed(std::string_view data)
{
    if (state_ != http_parse_state::incomplete) return state_;
    buffer_.append(data);
    return advance();
}

http_parse_state http_response_parser::finish()
{
    if (state_ != http_parse_state::incomplete) return state_;
    if (!head_done_) {
        if (buffer_.empty()) return fail("the connection closed without a response");
        return fail("the connection closed inside the response head");
    }
    switch (response_.framing) {
    case http_framing::until_close:
        state_ = http_parse_state::complete;
        return state_;
    case http_framing::content_length:
        return fail("the body ended after " + std::to_string(response_.body.size()) + " of " +
                    std::to_string(response_.content_length) + " bytes (Content-Length)");
    case http_framing::chunked:
        return fail("the chunked body ended before its last chunk");
    case http_framing::none:
        break;
    }
    state_ = http_parse_state::complete;
    return state_;
}

bool http_response_parser::append_body(std::string_view data)
{
    if (response_.body.size() + data.size() > limits_.max_body_bytes) {
        response_.body.append(data.substr(0, limits_.max_body_bytes - response_.body.size()));
        state_ = http_parse_state::too_large;
        buffer_.clear();
        return false;
    }
    response_.body.append(data);
    return true;
}

bool http_response_parser::parse_head(std::string_view head)
{
    std::string_view line;
    take_line(head, line);
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || !is_digit(line[7]) || line[8] != ' ') {
        fail("the status line is not HTTP/1.x: " + excerpt(line));
        return false;
    }
    response_.version_minor = line[7] - '0';
    if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) || line[9] == '0') {
        fail("the status code is not three digits: " + excerpt(line));
        return false;
    }
    response_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (line.size() > 12) {
        // Servers that omit the reason phrase often omit its space too: both are fine.
        if (line[12] != ' ') {
            fail("no space after the status code: " + excerpt(line));
            return false;
        }
        response_.reason = std::string(trim_wsp(line.substr(13)));
    }
    response_.headers.clear();
    while (take_line(head, line)) {
        if (line.empty()) break;
        if (text::is_wsp(line.front())) {
            // RFC 9112 §5.2: obs-fold in a response is replaced by a space before use.
            if (response_.headers.empty()) {
                fail("the first header field starts with whitespace: " + excerpt(line));
                return false;
            }
            auto& value = response_.headers.back().value;
            const auto more = trim_wsp(line);
            if (!more.empty()) {
                if (!value.empty()) value += ' ';
                value.append(more);
            }
            continue;
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            fail("a header line is not \"name: value\": " + excerpt(line));
            return false;
        }
        const auto name = line.substr(0, colon);
        if (!std::all_of(name.begin(), name.end(), is_tchar)) {
            // RFC 9112 §5.1: no whitespace is allowed between the field name and the colon.
            fail("a header field name is not a token: " + excerpt(line));
            return false;
        }
        if (response_.headers.size() >= limits_.max_headers) {
            fail("more than " + std::to_string(limits_.max_headers) + " header fields");
            return false;
        }
        response_.headers.push_back({std::string(name), std::string(trim_wsp(line.substr(colon + 1)))});
    }
    return true;
}

http_parse_state http_response_parser::advance()
{
    while (!head_done_) {
        const auto end = head_end(buffer_);
        if (end == std::string::npos) {
            if (buffer_.size() > limits_.max_head_bytes)
                return fail("the response head is over " + std::to_string(limits_.max_head_bytes) + " bytes");
            if (buffer_.size() >= 8 && buffer_.compare(0, 5, "HTTP/") != 0)
                return fail("not an HTTP response: " + excerpt(buffer_));
            return state_;
        }
        if (end > limits_.max_head_bytes)
            return fail("the response head is over " + std::to_string(limits_.max_head_bytes) + " bytes");
        if (!parse_head(std::string_view(buffer_).substr(0, end))) return state_;
        buffer_.erase(0, end);
        // RFC 9112 §6.3 (1): interim 1xx responses have no body and precede the final one.
        if (response_.status < 200) {
            if (++interim_responses_ > 10) return fail("more than 10 interim (1xx) responses");
            response_ = {};
            continue;
        }
        head_done_ = true;

        const std::string* te = response_.header("Transfer-Encoding");
        const std::string* cl = response_.header("Content-Length");
        if (response_.status == 204 || response_.status == 304) {
            response_.framing = http_framing::none;
        } else if (te) {
            // RFC 9112 §6.3 (3)/(4): chunked when it is the final coding, else until close;
            // Transfer-Encoding overrides Content-Length.
            std::string_view codings = *te;
            const auto comma = codings.rfind(',');
            const auto last = trim_wsp(comma == std::string_view::npos ? codings : codings.substr(comma + 1));
            response_.framing = iequals(last, "chunked") ? http_framing::chunked : http_framing::until_close;
        } else if (cl) {
            // RFC 9110 §8.6: a list of identical values is one value; different values are an error.
            std::int64_t length = -1;
            std::string_view values = *cl;
            while (true) {
                const auto comma = values.find(',');
                const std::int64_t v = parse_length(values.substr(0, comma));
                if (v < 0) return fail("Content-Length is not a number: " + excerpt(*cl));
                if (length >= 0 && v != length) return fail("Content-Length has different values: " + excerpt(*cl));
                length = v;
                if (comma == std::string_view::npos) break;
                values.remove_prefix(comma + 1);
            }
            response_.framing = http_framing::content_length;
            response_.content_length = length;
            for (const auto& h : response_.headers)
                if (iequals(h.name, "Content-Length") && &h.value != cl)
                    if (parse_length(h.value) != length)
                        return fail("Content-Length is sent twice with different values");
            if (static_cast<std::uint64_t>(length) > limits_.max_body_bytes) {
                // Known to be over the cap: no need to read any of it.
                state_ = http_parse_state::too_large;
                buffer_.clear();
                return state_;
            }
        } else {
            response_.framing = http_framing::until_close;
        }
    }

    switch (response_.framing) {
    case http_framing::none:
        buffer_.clear();
        state_ = http_parse_state::complete;
        return state_;
    case http_framing::until_close:
        if (!append_body(buffer_)) return state_;
        buffer_.clear();
        return state_;
    case http_framing::content_length: {
        const auto want = static_cast<std::size_t>(response_.content_length) - response_.body.size();
        const auto take = std::min(want, buffer_.size());
        if (!append_body(std::string_view(buffer_).substr(0, take))) return state_;
        buffer_.clear();
        if (response_.body.size() == static_cast<std::size_t>(response_.content_length))
            state_ = http_parse_state::complete;
        return state_;
    }
    case http_framing::chunked:
        break;
    }

    // RFC 9112 §7.1: chunked-body = *chunk last-chunk trailer-section CRLF
    std::string_view rest = buffer_;
    while (state_ == http_parse_state::incomplete) {
        if (chunk_step_ == chunk_step::size_line) {
            std::string_view line;
            if (!take_line(rest, line)) {
                if (rest.size() > limits_.max_chunk_line) return fail("a chunk-size line is over " + std::to_string(limits_.max_chunk_line) + " bytes");
                break;
            }
            if (line.size() > limits_.max_chunk_line) return fail("a chunk-size line is over " + std::to_string(limits_.max_chunk_line) + " bytes");
            std::size_t i = 0;
            std::uint64_t size = 0;
            while (i < line.size() && hex_value(line[i]) >= 0) {
                if (i >= 16) return fail("the chunk size does not fit in 64 bits: " + excerpt(line));
                size = size * 16 + static_cast<std::uint64_t>(hex_value(line[i]));
                ++i;
            }
            if (i == 0) return fail("a chunk-size line does not start with a hex number: " + excerpt(line));
            const auto ext = trim_wsp(line.substr(i));
            if (!ext.empty() && ext.front() != ';') return fail("a chunk-size line has junk after the size: " + excerpt(line));
            if (size == 0) {
                chunk_step_ = chunk_step::trailers;
                continue;
            }
            if (size > limits_.max_body_bytes - response_.body.size()) {
                // Like an over-cap Content-Length: known to pass the cap, so stop before its data.
                state_ = http_parse_state::too_large;
                buffer_.clear();
                return state_;
            }
            chunk_left_ = size;
            chunk_step_ = chunk_step::data;
        } else if (chunk_step_ == chunk_step::data) {
            if (rest.empty()) break;
            const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_left_, rest.size()));
            if (!append_body(rest.substr(0, take))) return state_;
            rest.remove_prefix(take);
            chunk_left_ -= take;
            if (chunk_left_ == 0) chunk_step_ = chunk_step::data_end;
        } else if (chunk_step_ == chunk_step::data_end) {
            std::string_view line;
            if (!take_line(rest, line)) {
                if (rest.size() >= 2) return fail("chunk data is not followed by CRLF: " + excerpt(rest));
                break;
            }
            if (!line.empty()) return fail("chunk data is not followed by CRLF: " + excerpt(line));
            chunk_step_ = chunk_step::size_line;
        } else {
            std::string_view line;
            if (!take_line(rest, line)) {
                if (trailer_bytes_ + rest.size() > limits_.max_head_bytes) return fail("the trailer section is over " + std::to_string(limits_.max_head_bytes) + " bytes");
                break;
            }
            trailer_bytes_ += line.size() + 2;
            if (trailer_bytes_ > limits_.max_head_bytes) return fail("the trailer section is over " + std::to_string(limits_.max_head_bytes) + " bytes");
            if (line.empty()) {
                state_ = http_parse_state::complete;
                rest = {};
            }
        }
    }
    buffer_.erase(0, buffer_.size() - rest.size());
    return state_;
}

http_parse_result parse_http_response(std::string_view bytes, const http_limits& limits, bool closed)
{
    http_response_parser parser(limits);
    auto state = parser.feed(bytes);
    if (state == http_parse_state::incomplete && closed) state = parser.finish();
    return {state, parser.response(), parser.error()};
}

std::string http_media_type(std::string_view content_type)
{
    const auto semi = content_type.find(';');
    const auto type = trim_wsp(content_type.substr(0, semi));
    std::string out;
    out.reserve(type.size());
    for (const char c : type) out += lower(c);
    return out;
}

} // namespace stswatch
