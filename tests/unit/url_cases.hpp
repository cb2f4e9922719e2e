// Query strings, form bodies and Cookie headers as clients send them to the API listener,
// with what common/url.hpp makes of them. The same tables seed fuzz_url
// (tests/fuzz/seeds_url.cpp).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace stswatch::test {

struct percent_case {
    std::string text;
    bool form;
    std::optional<std::string> decoded;   // nullopt: malformed
};

inline std::vector<percent_case> percent_decode_cases()
{
    return {
        {"example.com", false, "example.com"},
        {"a%20b", false, "a b"},
        {"a+b", false, "a+b"},               // '+' is a space in forms only
        {"a+b", true, "a b"},
        {"%2Fapi%2fv1", false, "/api/v1"},   // either case of hex digits
        {"%C3%A9", false, "\xC3\xA9"},
        {"100%", false, std::nullopt},       // a truncated escape
        {"%4", false, std::nullopt},
        {"%zz", true, std::nullopt},
        {"a%00b", false, std::nullopt},      // an encoded NUL is refused
        {"", true, ""},
    };
}

struct query_case {
    std::string query;
    std::vector<std::pair<std::string, std::string>> pairs;
};

inline std::vector<query_case> query_cases()
{
    return {
        {"since=2026-11-01&until=2026-11-30", {{"since", "2026-11-01"}, {"until", "2026-11-30"}}},
        {"group=mx&by=week&", {{"group", "mx"}, {"by", "week"}}},
        {"&&a=1&&b=2", {{"a", "1"}, {"b", "2"}}},
        {"flag&x=", {{"flag", ""}, {"x", ""}}},
        {"domain=example.com&domain=example.org", {{"domain", "example.com"}, {"domain", "example.org"}}},
        {"bad=%zz&good=1", {{"good", "1"}}},            // a malformed pair is dropped, not the rest
        {"=nokey&k=v", {{"k", "v"}}},
        {"token=a%2Bb%3D&csrf=0f1e", {{"token", "a+b="}, {"csrf", "0f1e"}}},
        {"q=a+b%20c", {{"q", "a b c"}}},
        {"a=b=c", {{"a", "b=c"}}},
    };
}

struct cookie_case {
    std::string header, name;
    std::optional<std::string> value;
};

inline std::vector<cookie_case> cookie_cases()
{
    return {
        {"stswatch_session=abc.def", "stswatch_session", "abc.def"},
        {"a=1; stswatch_session=xyz; b=2", "stswatch_session", "xyz"},
        {"a=1;stswatch_session = xyz ;b=2", "stswatch_session", "xyz"},
        {"stswatch_session_old=1; other=2", "stswatch_session", std::nullopt},
        {"stswatch_session=first; stswatch_session=second", "stswatch_session", "first"},
        {"novalue; stswatch_session=", "stswatch_session", ""},
        {"", "stswatch_session", std::nullopt},
    };
}

} // namespace stswatch::test
