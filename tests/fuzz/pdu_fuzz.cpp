// libFuzzer target for the PDU codec: any input must decode or be refused without a crash
// or an unbounded allocation, and whatever decodes must survive encode → decode unchanged.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <stdexcept>
#include <variant>
#include <vector>

#include "net/pdu.hpp"

using namespace pacsnode::net;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "pdu_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);

  std::optional<PduError> header_error;
  if (size >= kPduHeaderSize) {
    const auto header = decode_header(input.first<kPduHeaderSize>());
    header_error = check_header(header);
  }

  const auto decoded = decode_pdu(input);
  if (!decoded.pdu) {
    if (decoded.error.message.empty()) fail("refusal without a message");
    return 0;
  }
  if (header_error) fail("decode_pdu accepted a PDU whose header check_header refuses");

  std::vector<std::uint8_t> encoded;
  try {
    encoded = encode_pdu(*decoded.pdu);
  } catch (const std::length_error&) {
    // Normalisation can grow an item past 65535 bytes (e.g. the max length sub-item we
    // always write): a documented precondition of encode_pdu, not a bug.
    return 0;
  }
  if (encoded.size() - kPduHeaderSize > kMaxAcceptedPduLength) return 0;

  const auto again = decode_pdu(encoded);
  if (!again.pdu) fail("encode_pdu produced bytes that decode_pdu refuses");
  if (!(*again.pdu == *decoded.pdu)) fail("decode(encode(pdu)) != pdu");
  if (encode_pdu(*again.pdu) != encoded) fail("encoding is not canonical");

  // P-DATA is never normalised: the bytes come back exactly (but for the reserved header
  // byte, which we write as 0), and append_pdata agrees.
  if (const auto* pdata = std::get_if<PDataTf>(&*decoded.pdu)) {
    if (encoded.size() != input.size() || encoded[0] != input[0] ||
        !std::equal(encoded.begin() + 2, encoded.end(), input.begin() + 2)) {
      fail("P-DATA-TF did not re-encode byte for byte");
    }
    if (pdata->pdvs.size() == 1) {
      std::vector<std::uint8_t> appended;
      const auto& pdv = pdata->pdvs.front();
      append_pdata(appended, pdv.pc_id, pdv.control, pdv.data);
      if (appended != encoded) fail("append_pdata differs from encode_pdu");
    }
  }
  return 0;
}
