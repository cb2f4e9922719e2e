// common/url.hpp on arbitrary text, as the API listener gets it before any authentication:
// nothing throws, decoding never grows the text, a query keeps at most max_query_params
// pairs with non-empty keys, escaping round-trips, and HTML escaping leaves no markup.
#include "common/url.hpp"
#include "tests/fuzz/invariant.hpp"

STSWATCH_FUZZ_TARGET(fuzz_url, input)
{
    for (const bool form : {false, true}) {
        const auto decoded = url::percent_decode(input, form);
        if (decoded) {
            check(decoded->size() <= input.size(), "decoding never grows the text");
            check(decoded->find('\0') == std::string::npos || input.find('\0') != std::string_view::npos,
                  "no NUL appears that was not sent as is");
        }
    }
    const auto pairs = url::parse_query(input);
    check(pairs.size() <= url::max_query_params, "queries are bounded");
    for (const auto& [k, v] : pairs)
        check(!k.empty() && k.size() + v.size() <= input.size(), "pairs have keys and come from the input");

    const std::string encoded = url::percent_encode(input);
    const auto back = url::percent_decode(encoded, false);
    if (input.find('\0') == std::string_view::npos)
        check(back && *back == input, "percent_encode round-trips");

    const std::string html = url::html_escape(input);
    check(html.find_first_of("<>\"'") == std::string::npos, "no markup character survives escaping");

    if (const auto v = url::cookie_value(input, "stswatch_session"))
        check(v->size() <= input.size(), "a cookie value comes from the header");
    return 0;
}
