#include "app/cli.hpp"

#include "common/log.hpp"

#include <Poco/Exception.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace stswatch::cli {

namespace {

// Priorities in the layered configuration: lower numbers win.
constexpr int set_priority = -100;
constexpr int file_priority = 0;

bool split_option(const std::string& arg, const std::string& name, std::string& inline_value, bool& has_inline)
{
    if (arg == name) {
        has_inline = false;
        return true;
    }
    if (arg.size() > name.size() && arg.compare(0, name.size(), name) == 0 && arg[name.size()] == '=') {
        inline_value = arg.substr(name.size() + 1);
        has_inline = true;
        return true;
    }
    return false;
}

std::string default_config_path()
{
    // docs/contracts.md: config/stswatch.properties beside the working directory, then /etc.
    for (const char* candidate : {"config/stswatch.properties", "/etc/stswatch/stswatch.properties"}) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(candidate, ec))
            return candidate;
    }
    return {};
}

} // namespace

bool take_option(std::vector<std::string>& args, const std::string& name, std::string& value)
{
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string inline_value;
        bool has_inline = false;
        if (!split_option(args[i], name, inline_value, has_inline))
            continue;
        if (has_inline) {
            value = inline_value;
            args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
            if (i + 1 >= args.size())
                throw usage_error(name + " needs a value");
            value = args[i + 1];
            args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
        }
        return true;
    }
    return false;
}

bool take_flag(std::vector<std::string>& args, const std::string& name)
{
    for (auto it = args.begin(); it != args.end(); ++it) {
        if (*it == name) {
            args.erase(it);
            return true;
        }
    }
    return false;
}

void reject_unknown_options(const std::vector<std::string>& args, const std::string& command)
{
    for (const auto& a : args) {
        if (a == "--")
            return;
        if (a.size() > 1 && a[0] == '-')
            throw usage_error(command + ": unknown option " + a);
    }
}

context make_context(const std::vector<std::string>& argv, std::string& command_out)
{
    context ctx;
    std::vector<std::string> rest;
    std::string config_path, db_url, log_level;
    Poco::AutoPtr<Poco::Util::MapConfiguration> overrides(new Poco::Util::MapConfiguration);

    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& arg = argv[i];
        std::string value;
        bool has_inline = false;
        auto take = [&](const std::string& name) {
            if (!split_option(arg, name, value, has_inline))
                return false;
            if (!has_inline) {
                if (i + 1 >= argv.size())
                    throw usage_error(name + " needs a value");
                value = argv[++i];
            }
            return true;
        };
        if (take("--config")) {
            config_path = value;
        } else if (take("--db")) {
            db_url = value;
        } else if (take("--log-level")) {
            log_level = value;
        } else if (take("--set")) {
            auto eq = value.find('=');
            if (eq == std::string::npos || eq == 0)
                throw usage_error("--set needs KEY=VALUE, got \"" + value + "\"");
            overrides->setString(value.substr(0, eq), value.substr(eq + 1));
        } else if (arg == "--") {
            rest.insert(rest.end(), argv.begin() + static_cast<std::ptrdiff_t>(i), argv.end());
            break;
        } else {
            rest.push_back(arg);
        }
    }

    if (rest.empty() || rest.front() == "--")
        throw usage_error("no command given");
    command_out = rest.front();
    rest.erase(rest.begin());
    ctx.args = std::move(rest);

    ctx.conf = new Poco::Util::LayeredConfiguration;
    ctx.conf->add(overrides, set_priority, false);
    if (config_path.empty()) {
        config_path = default_config_path();
    } else if (!std::filesystem::is_regular_file(config_path)) {
        throw command_error(no_input, "stswatch: " + config_path + ": configuration file not found");
    }
    if (!config_path.empty()) {
        try {
            Poco::AutoPtr<Poco::Util::PropertyFileConfiguration> file(
                new Poco::Util::PropertyFileConfiguration(config_path));
            ctx.conf->add(file, file_priority, false);
        } catch (const Poco::Exception& e) {
            throw command_error(config_error, "stswatch: " + config_path + ": " + e.displayText());
        }
    }
    ctx.config_path = config_path;

    try {
        ctx.settings = load_settings(*ctx.conf);
    } catch (const std::invalid_argument& e) {
        throw command_error(config_error,
            "stswatch: " + (config_path.empty() ? std::string("configuration") : config_path) + ": " + e.what());
    }
    // --db wins over STSWATCH_DB, which wins over db.url (load_settings applied the latter).
    if (!db_url.empty())
        ctx.settings.db_url = db_url;
    if (!log_level.empty())
        ctx.settings.log_level = log_level;
    try {
        log::set_level(log::parse_level(ctx.settings.log_level));
    } catch (const std::invalid_argument& e) {
        throw usage_error(std::string("--log-level: ") + e.what());
    }
    return ctx;
}

std::string first_line(const std::string& message)
{
    auto end = message.find('\n');
    return message.substr(0, end);
}

int database_unavailable(const store_unavailable& e)
{
    std::cerr << "stswatch: database: " << first_line(e.what()) << "\n";
    return unavailable;
}

std::string require_db_url(const context& ctx)
{
    if (ctx.settings.db_url.empty())
        throw command_error(config_error,
            "stswatch: database: no database configured (set db.url, STSWATCH_DB or --db)");
    return ctx.settings.db_url;
}

} // namespace stswatch::cli
