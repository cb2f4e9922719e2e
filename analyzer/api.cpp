#include "analyzer/api.hpp"

namespace stswatch::web {

response handle_api(const request& r, services& s)
{
    if (!authenticate(r, s).authenticated)
        return unauthorized();
    return response::error(404, "no such endpoint: " + r.path);
}

} // namespace stswatch::web
