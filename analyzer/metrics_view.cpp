#include "analyzer/metrics_view.hpp"

namespace stswatch::web {

response handle_metrics(const request& r, services& s)
{
    if (s.settings().api_metrics_token && !authenticate(r, s).authenticated)
        return unauthorized();
    response out;
    out.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return out;
}

} // namespace stswatch::web
