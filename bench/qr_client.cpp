// The Query/Retrieve benchmark's client (bench/qr.py runs it): one association, each query
// repeated, the latency of every C-FIND measured from the request to the first and to the
// final response; then, optionally, one C-MOVE timed to its final response. The same client
// for every server, so that the comparison measures the servers.
//
//   pacsnode_bench_qr AET@HOST:PORT QUERIES.json [--repeat N] [--warmup N]
//                     [--move STUDY_UID --dest AE]
// QUERIES.json: [{"name": "...", "level": "STUDY", "keys": {"PatientID": "X", "StudyDate": ""}}]
// Prints JSON: {"queries": [{"name", "matches", "first_ms": [...], "final_ms": [...]}],
//               "move": {"ms", "completed", "failed", "status"}}
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "dicom/find_identifier.hpp"
#include "net/association.hpp"
#include "net/blocking.hpp"
#include "net/uids.hpp"
#include "scu/remote.hpp"

using namespace pacsnode;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Query {
  std::string name, level;
  std::vector<dicom::IdentifierKey> keys;
};

struct Exchange {
  double first_ms = -1, final_ms = 0;
  int pending = 0;
  net::CommandSet final_command;
};

// One request on context `pc`, timed to its first and to its final response.
asio::awaitable<Exchange> exchange(net::Association& association, std::uint8_t pc, net::CommandField field,
                                   std::string model, std::string level, std::vector<dicom::IdentifierKey> keys,
                                   std::string destination) {
  const std::string ele(net::uid::ExplicitVrLittleEndian);
  std::map<std::uint32_t, std::string> values;
  for (const auto& k : keys) values[k.tag] = k.value;
  const auto identifier = dicom::build_find_response(keys, values, level, "", ele);
  net::CommandSet command;
  const auto id = association.next_message_id();
  command.set_ui(net::tag::AffectedSopClassUid, model);
  command.set_us(net::tag::CommandField, static_cast<std::uint16_t>(field));
  command.set_us(net::tag::MessageId, id);
  command.set_us(net::tag::Priority, 0);
  if (!destination.empty()) command.set_ae(net::tag::MoveDestination, destination);
  command.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
  Exchange result;
  const auto start = Clock::now();
  net::SpanSource source(identifier);
  co_await association.send(pc, command, source);
  for (;;) {
    auto response = co_await association.receive_response(id);
    if (!response) throw std::runtime_error("association ended during a request");
    if (result.first_ms < 0) result.first_ms = ms_since(start);
    const auto status = response->command.us(net::tag::Status).value_or(0xFFFF);
    if (status == 0xFF00 || status == 0xFF01) {
      ++result.pending;
      continue;
    }
    result.final_ms = ms_since(start);
    result.final_command = response->command;
    co_return result;
  }
}

asio::awaitable<void> run(const scu::RemoteNode& remote, const std::vector<Query>& queries, int repeat, int warmup,
                          const std::string& move_study, const std::string& move_dest, nlohmann::json& out) {
  const std::string ele(net::uid::ExplicitVrLittleEndian);
  net::AAssociateRq rq;
  rq.called_ae = remote.ae_title;
  rq.calling_ae = "BENCHSCU";
  rq.contexts.push_back({1, std::string(net::uid::StudyRootFind), {ele}});
  rq.contexts.push_back({3, std::string(net::uid::StudyRootMove), {ele}});
  net::AssociationSettings settings;
  settings.ae_title = "BENCHSCU";
  settings.idle_timeout = std::chrono::minutes(30);
  auto association = co_await net::Association::request(remote.host, remote.port, rq, settings, 1);

  out[std::string("queries")] = nlohmann::json::array();
  for (const auto& q : queries) {
    // (No braced initialisers with string literals here: GCC 12 rejects them in coroutines.)
    nlohmann::json r = nlohmann::json::object();
    r[std::string("name")] = q.name;
    r[std::string("first_ms")] = nlohmann::json::array();
    r[std::string("final_ms")] = nlohmann::json::array();
    for (int i = 0; i < warmup + repeat; ++i) {
      const Exchange e = co_await exchange(*association, 1, net::CommandField::CFindRq,
                                           std::string(net::uid::StudyRootFind), q.level, q.keys, "");
      r[std::string("matches")] = e.pending;
      r[std::string("status")] = e.final_command.us(net::tag::Status).value_or(0xFFFF);
      if (i >= warmup) {
        r[std::string("first_ms")].push_back(e.first_ms);
        r[std::string("final_ms")].push_back(e.final_ms);
      }
    }
    out[std::string("queries")].push_back(r);
  }
  if (!move_study.empty()) {
    auto study = dicom::key_for_keyword("StudyInstanceUID");
    study->value = move_study;
    std::vector<dicom::IdentifierKey> keys;  // (not `{*study}` in the call: GCC 12 rejects it there)
    keys.push_back(*study);
    const Exchange e = co_await exchange(*association, 3, net::CommandField::CMoveRq,
                                         std::string(net::uid::StudyRootMove), "STUDY", keys, move_dest);
    const auto& rsp = e.final_command;
    nlohmann::json move = nlohmann::json::object();
    move[std::string("ms")] = e.final_ms;
    move[std::string("status")] = rsp.us(net::tag::Status).value_or(0xFFFF);
    move[std::string("completed")] = rsp.us(net::tag::NumberOfCompletedSuboperations).value_or(0);
    move[std::string("failed")] = rsp.us(net::tag::NumberOfFailedSuboperations).value_or(0);
    out[std::string("move")] = move;
  }
  co_await association->release();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s AET@HOST:PORT QUERIES.json [--repeat N] [--warmup N] [--move UID --dest AE]\n",
                 argv[0]);
    return 2;
  }
  const auto remote = scu::parse_remote(argv[1]);
  if (!remote) return 2;
  int repeat = 50, warmup = 3;
  std::string move_study, move_dest;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--repeat") repeat = std::stoi(argv[i + 1]);
    if (flag == "--warmup") warmup = std::stoi(argv[i + 1]);
    if (flag == "--move") move_study = argv[i + 1];
    if (flag == "--dest") move_dest = argv[i + 1];
  }
  std::ifstream in(argv[2]);
  const auto spec = nlohmann::json::parse(in);
  std::vector<Query> queries;
  for (const auto& q : spec) {
    Query query{q.at("name"), q.at("level"), {}};
    for (const auto& [keyword, value] : q.at("keys").items()) {
      auto key = dicom::key_for_keyword(keyword);
      if (!key) {
        std::fprintf(stderr, "unknown keyword %s\n", keyword.c_str());
        return 2;
      }
      key->value = value.get<std::string>();
      query.keys.push_back(*key);
    }
    queries.push_back(std::move(query));
  }
  nlohmann::json out;
  try {
    net::run_to_completion(
        [&]() -> asio::awaitable<int> {
          co_await run(*remote, queries, repeat, warmup, move_study, move_dest, out);
          co_return 0;
        }());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pacsnode_bench_qr: %s\n", e.what());
    return 1;
  }
  std::cout << out.dump() << "\n";
  return 0;
}
