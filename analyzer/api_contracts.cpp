// JSON contracts shared by the CLI and the API (analyzer/api_contracts.hpp).
#include "analyzer/api_contracts.hpp"

#include "analyzer/incidents.hpp"
#include "tlsrpt/report_json.hpp"

namespace stswatch::analysis {

std::string incidents_list_json(const std::string& domain, const std::vector<incident_row>& rows)
{
    std::string out = "{\"domain\":";
    append_json_string(out, domain);
    out += ",\"incidents\":[";
    for (std::size_t i = 0; i < rows.size(); ++i)
        out += (i ? "," : "") + incident_json(rows[i]);
    out += "]}\n";
    return out;
}

} // namespace stswatch::analysis
