// A report_store for a test: on a scratch database of its own, or on a given one.
#pragma once

#include "store/report_store.hpp"
#include "tests/support/test_support.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace stswatch::test {

struct scratch_store {
    // db_url empty: a new scratch database, dropped with this.
    scratch_store(std::chrono::milliseconds enqueue_timeout, std::string db_url)
    {
        if (db_url.empty()) {
            database = std::make_unique<scratch_database>();
            db_url = database->url();
        }
        url = db_url;
        store_options so;
        so.db_url = db_url;
        so.enqueue_timeout = enqueue_timeout;
        store = std::make_unique<report_store>(so);
    }

    long long count(const std::string& sql) const { return query_count(url, sql); }

    std::unique_ptr<scratch_database> database;   // null when on a given database
    std::string url;
    std::unique_ptr<report_store> store;
};

} // namespace stswatch::test
