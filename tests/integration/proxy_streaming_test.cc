// Bodies stream through afterhook with bounded memory in both directions,
// and a client that stops reading makes afterhook stop reading the upstream.
#include <doctest/doctest.h>

#include "support/expectations.h"
#include "support/pattern.h"
#include "support/proxy_harness.h"
#include "support/rss_sampler.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
// Under AddressSanitizer freed memory sits in a quarantine (256 MiB by
// default), so RSS says nothing about afterhook's own buffering there; the
// optimised build checks the bound, the sanitizer build checks the rest.
#ifdef AFTERHOOK_SANITIZED
constexpr uint64_t kRssLimit = UINT64_MAX;
#else
constexpr uint64_t kRssLimit = 64 * kMiB;
#endif
// A transfer may take its time, but one that stops moving fails this fast.
constexpr auto kStall = std::chrono::seconds(5);

FakeUpstream::Handler pattern_download(uint64_t size) {
    return [size](UpstreamConn& conn, const UpstreamRequest&) {
        conn.write("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                   std::to_string(size) + "\r\n\r\n");
        conn.stream_pattern(size, 0, 256 * 1024);
    };
}

}  // namespace

TEST_SUITE("proxy streaming") {

TEST_CASE("a 1 GiB download streams through with afterhook's RSS under 64 MiB") {
    constexpr uint64_t kSize = 1024 * kMiB;
    ProxyHarness h({}, pattern_download(kSize));
    RawClient client = h.connect();
    client.stream().set_stall_timeout(kStall);
    RssSampler rss(h.proxy().process());
    REQUIRE(client.send(get_request("/download")));
    PatternChecker checker;
    ResponseOptions options;
    options.timeout = 30s;
    options.body_sink = [&](std::string_view piece) { checker.feed(piece); };
    const HttpResponse response = client.read_response(options);
    const uint64_t peak = rss.stop();
    INFO(response.describe());
    INFO("peak RSS: ", peak / kMiB, " MiB over ", rss.samples(), " samples");
    REQUIRE(response.ok());
    CHECK(response.status == 200);
    CHECK(checker.size() == kSize);
    CHECK(checker.ok());
    CHECK(peak > 0);
    CHECK(peak < kRssLimit);
    const nlohmann::json record = record_for(h, response);
    CHECK(record.value("http.response.body.size", uint64_t{0}) == kSize);
}

TEST_CASE("a 1 GiB upload with Content-Length streams through with afterhook's RSS under 64 MiB") {
    constexpr uint64_t kSize = 1024 * kMiB;
    ProxyHarness h;
    RawClient client = h.connect();
    client.stream().set_stall_timeout(kStall);
    RssSampler rss(h.proxy().process());
    const Deadline deadline = deadline_in(30s);
    REQUIRE(client.send("PUT /upload HTTP/1.1\r\nHost: test.local\r\nContent-Length: " +
                        std::to_string(kSize) + "\r\n\r\n"));
    std::string piece(kMiB, '\0');
    for (uint64_t offset = 0; offset < kSize; offset += piece.size()) {
        Pattern::fill(offset, piece.data(), piece.size());
        INFO("sent ", offset / kMiB, " MiB");
        REQUIRE(client.send(piece, deadline - Clock::now()));
    }
    const HttpResponse response = client.read_response(deadline - Clock::now());
    const uint64_t peak = rss.stop();
    INFO(response.describe());
    INFO("peak RSS: ", peak / kMiB, " MiB over ", rss.samples(), " samples");
    REQUIRE(response.ok());
    CHECK(response.status == 200);
    REQUIRE(h.upstream().wait_for_requests(1, 5s));
    const UpstreamRequest got = h.upstream().request(0);
    CHECK(got.body_size == kSize);
    CHECK(got.body_matches_pattern);
    CHECK(peak > 0);
    CHECK(peak < kRssLimit);
}

TEST_CASE("a client that stops reading makes afterhook stop reading the upstream and reading again completes the transfer") {
    // Eight times what the upstream may get ahead by (the plateau bound
    // below), twice the RSS bound: enough to show both, and quick enough to
    // read back within the timeout on a machine busy compiling.
    constexpr uint64_t kSize = 128 * kMiB;
    // Small socket buffers on the test's own ends (the upstream's send side,
    // the client's receive side) so that what piles up is afterhook's doing.
    FakeUpstream::Options options;
    options.send_buffer = 256 * 1024;
    ProxyHarness h({}, pattern_download(kSize), options);
    RawClient client = h.connect(64 * 1024);
    client.stream().set_stall_timeout(kStall);
    RssSampler rss(h.proxy().process());
    REQUIRE(client.send(get_request("/download")));
    REQUIRE(client.read_at_least(1, 5s));  // the response has started; now the client stops reading

    const auto plateau = wait_until_stable([&] { return h.upstream().bytes_written(); }, 500ms, 10s);
    INFO("upstream bytes written: ", h.upstream().bytes_written());
    REQUIRE(plateau.has_value());  // the upstream's writes blocked: afterhook stopped reading
    INFO("plateau: ", *plateau / kMiB, " MiB of ", kSize / kMiB, " MiB");
    CHECK(*plateau > 0);
    CHECK(*plateau < 16 * kMiB);
    CHECK(rss.max_bytes() < kRssLimit);

    PatternChecker checker;
    ResponseOptions read;
    read.timeout = 30s;
    read.body_sink = [&](std::string_view piece) { checker.feed(piece); };
    const HttpResponse response = client.read_response(read);
    const uint64_t peak = rss.stop();
    INFO(response.describe());
    INFO("peak RSS: ", peak / kMiB, " MiB");
    REQUIRE(response.ok());
    CHECK(checker.size() == kSize);
    CHECK(checker.ok());
    CHECK(peak < kRssLimit);
}

}  // TEST_SUITE
