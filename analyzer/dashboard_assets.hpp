// The dashboard's stylesheet and script, built into the binary (docs/dashboard.md): served
// at /assets/<name> with an ETag of their content and a long cache, since the pages link
// them with ?v=<etag>.
#pragma once

#include <string>
#include <string_view>

namespace stswatch::web {

struct asset {
    std::string_view name;           // "app.css"
    std::string_view content_type;   // "text/css; charset=utf-8"
    std::string_view body;
    std::string etag;                // "\"<16 hex digits>\"" of the body
};

// nullptr when there is no such asset.
const asset* find_asset(std::string_view name);

// "/assets/app.css?v=<hex>": the link that a changed asset changes.
std::string asset_url(std::string_view name);

} // namespace stswatch::web
