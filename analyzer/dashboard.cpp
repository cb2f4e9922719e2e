#include "analyzer/dashboard.hpp"

namespace stswatch::web {

response handle_dashboard(const request& r, services&)
{
    return response::error(404, "no such page: " + r.path);
}

} // namespace stswatch::web
