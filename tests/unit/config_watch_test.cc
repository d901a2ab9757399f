// ConfigWatch on a real loop and a real directory: the config written in
// place, renamed over, or swapped in as a Kubernetes `..data` symlink is a
// change; another file written, created or renamed next to it is not, and a
// file written without being closed (an access log) is not even an event.
#include <doctest/doctest.h>
#include <uv.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include "hooks_test_loop.h"
#include "proxy/config_watch.h"
#include "support/temp_files.h"

using afterhook::proxy::ConfigWatch;
using afterhook::test::TempDir;
using afterhook::test::TestLoop;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const char* text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
}

// The watch is declared before the loop so that it outlives the loop's last
// run, in which its close callback runs.
struct Watched {
    TempDir dir;
    fs::path config = dir.path / "afterhook.yaml";
    ConfigWatch watch;
    int changes = 0;
    TestLoop loop;

    Watched() {
        write_file(config, "listen: 127.0.0.1:0\n");
        REQUIRE(watch.start(&loop.loop, config.string(), [this] { ++changes; }) == 0);
    }
    ~Watched() { watch.close(); }

    // Runs the loop until `count` events have been read in all.
    bool read_until(uint64_t count) {
        return loop.run_until([&] { return watch.events_read() >= count; });
    }
    bool changed() {
        return loop.run_until([&] { return changes > 0; });
    }
};

}  // namespace

TEST_SUITE("config watch") {

TEST_CASE("files written next to the config, without closing them, are not events at all") {
    Watched w;
    // Opened before anything is written: their creation is two events.
    std::ofstream log(w.dir.path / "access.log");
    std::ofstream other(w.dir.path / "audit.log");
    REQUIRE(w.read_until(2));
    CHECK(w.changes == 0);
    // Alternating, so that no two queued events could be merged into one.
    for (int i = 0; i < 100; ++i) {
        log << "{\"line\":" << i << "}\n" << std::flush;
        other << "{\"line\":" << i << "}\n" << std::flush;
    }
    write_file(w.config, "listen: 127.0.0.1:1\n");
    REQUIRE(w.changed());
    // The config's close is the third event: not one of the 200 writes was.
    CHECK(w.watch.events_read() == 3);
}

TEST_CASE("the config rewritten in place is a change once its writer closes it") {
    Watched w;
    {
        std::ofstream out(w.config, std::ios::trunc);
        out << "listen: 127.0.0.1:1\n" << std::flush;
        // Another file's close is the first event read: the config's writes
        // before it were none.
        write_file(w.dir.path / "other.txt", "x");
        REQUIRE(w.read_until(2));  // created, closed after writing
        CHECK(w.changes == 0);
    }
    CHECK(w.changed());
}

TEST_CASE("a new file renamed over the config is a change") {
    Watched w;
    write_file(w.dir.path / "afterhook.yaml.tmp", "listen: 127.0.0.1:1\n");
    REQUIRE(w.read_until(2));  // created, closed after writing
    CHECK(w.changes == 0);
    fs::rename(w.dir.path / "afterhook.yaml.tmp", w.config);
    CHECK(w.changed());
}

TEST_CASE("a Kubernetes swap of the ..data symlink is a change") {
    Watched w;
    fs::create_directory(w.dir.path / "..2026_11_22_1");
    fs::create_directory_symlink("..2026_11_22_1", w.dir.path / "..data");
    REQUIRE(w.changed());
    w.changes = 0;
    fs::create_directory(w.dir.path / "..2026_11_22_2");
    fs::create_directory_symlink("..2026_11_22_2", w.dir.path / "..data_tmp");
    fs::rename(w.dir.path / "..data_tmp", w.dir.path / "..data");
    CHECK(w.changed());
}

TEST_CASE("another file rotated next to the config is not a change") {
    Watched w;
    write_file(w.dir.path / "access.log", "{}\n");
    REQUIRE(w.read_until(2));  // created, closed after writing
    fs::rename(w.dir.path / "access.log", w.dir.path / "access.log.1");
    REQUIRE(w.read_until(4));  // moved from, moved to
    fs::remove(w.dir.path / "access.log.1");
    REQUIRE(w.read_until(5));
    CHECK(w.changes == 0);
}

TEST_CASE("which names may change the config") {
    CHECK(ConfigWatch::may_change_config("afterhook.yaml", "afterhook.yaml"));
    CHECK(ConfigWatch::may_change_config("..data", "afterhook.yaml"));
    CHECK(ConfigWatch::may_change_config("..2026_11_22_23_00_00.123", "afterhook.yaml"));
    CHECK(ConfigWatch::may_change_config("", "afterhook.yaml"));  // the directory itself
    CHECK_FALSE(ConfigWatch::may_change_config("afterhook.yaml.swp", "afterhook.yaml"));
    CHECK_FALSE(ConfigWatch::may_change_config("access.log", "afterhook.yaml"));
    CHECK_FALSE(ConfigWatch::may_change_config(".data", "afterhook.yaml"));
}

TEST_CASE("a directory that does not exist cannot be watched, and closing then does nothing") {
    TestLoop loop;
    ConfigWatch watch;
    CHECK(watch.start(&loop.loop, "/nonexistent-afterhook-dir/afterhook.yaml", [] {}) < 0);
    watch.close();
}

}  // TEST_SUITE
