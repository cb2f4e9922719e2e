// The dashboard (docs/dashboard.md): server-rendered HTML pages with SVG charts, signed in
// with the API token, then a session cookie; forms carry the CSRF token.
#pragma once

#include "analyzer/web.hpp"

namespace stswatch::web {

// Every path that is not /api/… or /metrics.
response handle_dashboard(const request& r, services& s);

} // namespace stswatch::web
