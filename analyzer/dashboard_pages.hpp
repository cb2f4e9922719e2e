// The frame of every dashboard page (analyzer/dashboard.cpp): the document, its head with
// the stylesheet and script of /assets/, the skip link, the site header with the sign-out
// form, and one <main>.
#pragma once

#include "analyzer/web.hpp"

#include <string>

namespace stswatch::web {

struct page_context {
    std::string csrf;          // the session's CSRF token; "" when signed out (no sign-out form)
    bool refresh = false;      // <meta http-equiv="refresh" content="2"> (a first check running)
};

// A text/html response; title is escaped, main is markup.
response html_page(int status, const std::string& title, const std::string& main, const page_context& ctx);

} // namespace stswatch::web
