// Record: the value describing one finished exchange, filled by a worker
// thread while the exchange runs and then handed to the hook thread, which
// takes `config` out of it and from then on only reads it (so do the hooks).
// It owns all of its strings; it never points into connection buffers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace afterhook::hooks {

enum class Outcome {
    ok,                // the whole response reached the client socket
    upstream_error,    // connect failure, reset, malformed upstream response (502, or cut short)
    upstream_timeout,  // connect or response timeout (504, or cut short)
    rejected,          // afterhook refused the request (400/408/413/414/431/...)
    client_abort,      // the client went away before the response was complete (499)
};

std::string_view to_string(Outcome outcome);

using Field = std::pair<std::string, std::string>;  // name (lower case), value

struct Record {
    // Captured when the request head is parsed, before anything is forwarded.
    std::string id;                                   // X-Request-Id, kept or generated
    std::chrono::system_clock::time_point start_time; // first byte of the request
    std::string method;                               // "GET"
    std::string target;                               // "/a/b?x=1" as received
    std::string path;                                 // "/a/b"
    std::string query;                                // "x=1" (no '?'), empty if none
    std::string scheme = "http";
    std::string host;                                 // Host header value
    std::string protocol_version;                     // "1.1"
    std::string client_ip;
    uint16_t client_port = 0;
    std::vector<Field> request_headers;               // configured names; redacted values are "[redacted]"
    std::vector<Field> cookies;                       // configured cookie names

    // Added when the exchange ends.
    int status = 0;                                   // sent to the client; 499 for client_abort
    Outcome outcome = Outcome::ok;
    std::string error;                                // short reason when outcome != ok
    std::vector<Field> response_headers;              // configured names, redaction applied
    std::string trigger;                              // raw app trigger header value (issue 3)
    uint64_t request_body_bytes = 0;                  // body bytes received from the client
    uint64_t response_body_bytes = 0;                 // body bytes sent to the client
    uint64_t bytes_in = 0;                            // all bytes read from the client for this exchange
    uint64_t bytes_out = 0;                           // all bytes written to the client for this exchange
    double duration_ms = 0;                           // first request byte to last response byte
    double upstream_ms = -1;                          // request sent to response complete; -1 if never reached

    // The config the exchange started under: its hooks run for this record,
    // even when a reload has swapped in another config since (null: the
    // hook thread's current config).
    std::shared_ptr<const config::Config> config;

    // Back to a default-constructed record for the next exchange, keeping
    // the storage of its strings and lists unless an exchange made them
    // large. Every member must be reset here.
    void reset();
};

// How a finished record reaches the hook thread: shared with the worker that
// filled it, which takes it back for another exchange once nobody else holds
// it (proxy/record_outbox.h). The hook thread takes `config` out of it.
using SubmittedRecord = std::shared_ptr<Record>;
// How hooks see it: shared, read-only, by every hook that fires for it.
using RecordPtr = std::shared_ptr<const Record>;

}  // namespace afterhook::hooks
