// The JSON API under /api/v1/ (docs/api.md): the CLI's --json contracts over HTTP, read-only
// but for the write side (monitored domains, checks now, incident acknowledgement).
#pragma once

#include "analyzer/web.hpp"

namespace stswatch::web {

// r.path starts with /api/v1/ (or is /api/v1). Authenticates, then answers.
response handle_api(const request& r, services& s);

} // namespace stswatch::web
