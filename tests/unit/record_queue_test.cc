#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hooks/record_queue.h"

using afterhook::hooks::Record;
using afterhook::hooks::SubmittedRecord;
using afterhook::hooks::RecordQueue;

namespace {

SubmittedRecord numbered(int n) {
    auto r = std::make_shared<Record>();
    r->id = "record-" + std::to_string(n);
    r->status = n;
    return r;
}


// Starts `producers` threads running produce(p), releases them together,
// pops every record on this thread, and checks that each producer's records
// (status = producer, id = "p<producer>", bytes_in = 0, 1, 2, ...) arrive
// exactly once and in order.
void check_producers(RecordQueue& queue, int producers, int per_producer, const std::function<void(int)>& produce) {
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            while (!go.load()) std::this_thread::yield();
            produce(p);
        });
    }
    go.store(true);

    std::vector<uint64_t> next(static_cast<size_t>(producers), 0);
    int received = 0;
    bool in_order = true;
    SubmittedRecord out;
    while (received < producers * per_producer) {
        if (!queue.try_pop(out)) {
            std::this_thread::yield();
            continue;
        }
        const auto p = static_cast<size_t>(out->status);
        REQUIRE(p < next.size());
        in_order = in_order && out->bytes_in == next[p] && out->id == "p" + std::to_string(p);
        next[p] = out->bytes_in + 1;
        ++received;
    }
    for (auto& t : threads) t.join();
    CHECK(in_order);
    for (int p = 0; p < producers; ++p) CHECK(next[static_cast<size_t>(p)] == static_cast<uint64_t>(per_producer));
    CHECK_FALSE(queue.try_pop(out));
}

SubmittedRecord from_producer(int producer, int sequence) {
    auto r = std::make_shared<Record>();
    r->status = producer;
    r->bytes_in = static_cast<uint64_t>(sequence);
    r->id = "p" + std::to_string(producer);
    return r;
}

}  // namespace

TEST_CASE("record queue: first in, first out, and false when full or empty") {
    RecordQueue queue(3);
    CHECK(queue.capacity() == 3);
    SubmittedRecord out;
    CHECK_FALSE(queue.try_pop(out));
    for (int i = 0; i < 3; ++i) CHECK(queue.try_push(numbered(i)));
    CHECK(queue.size_approx() == 3);

    SubmittedRecord refused = numbered(99);
    CHECK_FALSE(queue.try_push(std::move(refused)));
    REQUIRE(refused);  // a refused record is left untouched
    CHECK(refused->id == "record-99");

    for (int i = 0; i < 3; ++i) {
        REQUIRE(queue.try_pop(out));
        CHECK(out->status == i);
        CHECK(out->id == "record-" + std::to_string(i));
    }
    CHECK_FALSE(queue.try_pop(out));
    CHECK(queue.size_approx() == 0);
}

TEST_CASE("record queue: wraps around many times") {
    RecordQueue queue(4);
    SubmittedRecord out;
    int next_push = 0;
    int next_pop = 0;
    for (int round = 0; round < 1000; ++round) {
        const int burst = round % 5;  // sometimes more than fits
        for (int i = 0; i < burst; ++i) {
            if (queue.try_push(numbered(next_push))) ++next_push;
        }
        while (queue.try_pop(out)) CHECK(out->status == next_pop++);
    }
    CHECK(next_push == next_pop);
    CHECK(next_pop > 1000);
}

TEST_CASE("record queue: a capacity of one holds exactly one record") {
    RecordQueue queue(1);
    SubmittedRecord out;
    CHECK(queue.try_push(numbered(1)));
    CHECK_FALSE(queue.try_push(numbered(2)));
    REQUIRE(queue.try_pop(out));
    CHECK(out->status == 1);
    CHECK(queue.try_push(numbered(3)));
    REQUIRE(queue.try_pop(out));
    CHECK(out->status == 3);
    CHECK_FALSE(queue.try_pop(out));

    RecordQueue zero(0);  // rounded up: a queue must hold something
    CHECK(zero.capacity() == 1);
}

TEST_CASE("record queue: records still queued are destroyed with the queue") {
    // Heap-allocated strings: a leak here fails the sanitizer build.
    RecordQueue queue(8);
    for (int i = 0; i < 5; ++i) {
        auto r = std::make_shared<Record>();
        r->target = std::string(1000, 'x');
        r->request_headers.emplace_back("user-agent", std::string(500, 'y'));
        CHECK(queue.try_push(std::move(r)));
    }
}

TEST_CASE("record queue: four producers, every record popped exactly once and in order per producer") {
    constexpr int per_producer = 20000;
    RecordQueue queue(64);  // small, so that producers often find it full
    check_producers(queue, 4, per_producer, [&](int p) {
        for (int i = 0; i < per_producer; ++i) {
            SubmittedRecord r = from_producer(p, i);
            while (!queue.try_push(std::move(r))) std::this_thread::yield();
        }
    });
}

TEST_CASE("record queue: a batch takes the prefix that fits and leaves the rest untouched") {
    RecordQueue queue(5);
    auto batch_of = [](int first, int count) {
        std::vector<SubmittedRecord> batch;
        for (int i = first; i < first + count; ++i) batch.push_back(numbered(i));
        return batch;
    };
    SubmittedRecord out;
    auto batch = batch_of(0, 3);
    CHECK(queue.try_push_batch(batch.data(), batch.size()) == 3);
    for (const auto& pushed : batch) CHECK_FALSE(pushed);  // moved into the queue
    for (int i = 0; i < 3; ++i) {
        REQUIRE(queue.try_pop(out));
        CHECK(out->status == i);
    }

    // Positions 3..6: slots 3 and 4, then around to slots 0 and 1.
    batch = batch_of(3, 4);
    CHECK(queue.try_push_batch(batch.data(), batch.size()) == 4);
    // One slot left: the first of two goes, the second stays with the caller.
    batch = batch_of(7, 2);
    CHECK(queue.try_push_batch(batch.data(), batch.size()) == 1);
    CHECK_FALSE(batch[0]);
    REQUIRE(batch[1]);
    CHECK(batch[1]->status == 8);
    CHECK(queue.try_push_batch(batch.data() + 1, 1) == 0);  // full
    CHECK(queue.try_push_batch(batch.data(), 0) == 0);

    for (int i = 3; i < 8; ++i) {
        REQUIRE(queue.try_pop(out));
        CHECK(out->status == i);
    }
    CHECK_FALSE(queue.try_pop(out));
}

TEST_CASE("record queue: four producers pushing batches, every record popped exactly once and in order per producer") {
    constexpr int per_producer = 20000;
    RecordQueue queue(50);  // small and not a multiple of the batch sizes: batches straddle the wrap
    check_producers(queue, 4, per_producer, [&](int p) {
        std::vector<SubmittedRecord> batch;
        int next = 0;
        while (next < per_producer) {
            const int size = std::min(1 + (next + p) % 17, per_producer - next);
            batch.clear();
            for (int i = 0; i < size; ++i) batch.push_back(from_producer(p, next + i));
            size_t sent = 0;
            while (sent < batch.size()) {
                sent += queue.try_push_batch(batch.data() + sent, batch.size() - sent);
                if (sent < batch.size()) std::this_thread::yield();
            }
            next += size;
        }
    });
}
