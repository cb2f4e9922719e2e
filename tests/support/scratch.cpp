#include "tests/support/scratch.hpp"

#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <cstdlib>
#include <fstream>
#include <vector>

#include <stdlib.h>

namespace stswatch::test {

namespace {

// A fresh folder /tmp/<prefix>.XXXXXX; FAILs the test when none can be made.
std::string make_temp_dir(const std::string& prefix)
{
    std::string pattern = "/tmp/" + prefix + ".XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    return name.data();
}

std::string pg_script()
{
    const char* s = std::getenv("STSWATCH_TEST_PG_SCRIPT");
    return s && *s ? s : STSWATCH_SOURCE_DIR "/tests/fixtures/pg.sh";
}

} // namespace

temp_dir::temp_dir(const std::string& prefix) : path(make_temp_dir(prefix)) {}

temp_dir::~temp_dir()
{
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
}

std::string temp_dir::write(const std::filesystem::path& relative, const std::string& bytes) const
{
    const auto p = path / relative;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
}

temp_file::temp_file(const std::string& data)
{
    std::ofstream out(file.path(), std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

private_cluster::private_cluster() : port_(free_port()), dir_(make_temp_dir("stswatch-pg"))
{
    start();
}

private_cluster::~private_cluster()
{
    run_program({"bash", pg_script(), "destroy", dir_});
}

void private_cluster::start()
{
    const auto r = run_program({"bash", pg_script(), "start", dir_, std::to_string(port_), "--no-fsync"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
}

void private_cluster::stop()
{
    const auto r = run_program({"bash", pg_script(), "stop", dir_});
    REQUIRE(r.exit_code == 0);
}

std::string private_cluster::url(const std::string& dbname) const
{
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname;
}

std::string private_cluster::create_database(const std::string& dbname) const
{
    pqxx::connection admin(url("postgres"));
    pqxx::nontransaction tx(admin);
    tx.exec0("CREATE DATABASE " + tx.quote_name(dbname));
    return url(dbname);
}

} // namespace stswatch::test
