// Scratch places a test makes and removes: a folder, a file, a PostgreSQL cluster of its own.
#pragma once

#include <Poco/TemporaryFile.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace stswatch::test {

// A new folder under /tmp, removed with everything in it when this goes out of scope.
struct temp_dir {
    explicit temp_dir(const std::string& prefix = "stswatch-test");
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    // Writes bytes to path/relative (making its folders); returns the full path.
    std::string write(const std::filesystem::path& relative, const std::string& bytes) const;

    std::filesystem::path path;
};

// Data in a temporary file that disappears with the object.
struct temp_file {
    explicit temp_file(const std::string& data);
    std::string path() const { return file.path(); }
    Poco::TemporaryFile file;
};

// A PostgreSQL cluster of the test's own (tests/fixtures/pg.sh), which it can stop and start
// to see how a component behaves while the database is away. Destroyed with the object.
class private_cluster {
public:
    private_cluster();
    ~private_cluster();
    private_cluster(const private_cluster&) = delete;
    private_cluster& operator=(const private_cluster&) = delete;

    void start();
    void stop();
    // The conninfo of a database in this cluster, as user postgres.
    std::string url(const std::string& dbname) const;
    // Creates an empty database (the cluster running) and returns its conninfo.
    std::string create_database(const std::string& dbname) const;
    std::uint16_t port() const { return port_; }

private:
    std::uint16_t port_;
    std::string dir_;
};

} // namespace stswatch::test
