#include <doctest/doctest.h>

#include "hooks/record.h"

using afterhook::hooks::Outcome;
using afterhook::hooks::to_string;

TEST_CASE("record: every outcome has its documented name") {
    CHECK(to_string(Outcome::ok) == "ok");
    CHECK(to_string(Outcome::upstream_error) == "upstream_error");
    CHECK(to_string(Outcome::upstream_timeout) == "upstream_timeout");
    CHECK(to_string(Outcome::rejected) == "rejected");
    CHECK(to_string(Outcome::client_abort) == "client_abort");
}
