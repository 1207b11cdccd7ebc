#include "dicom/data_set_bytes.hpp"

#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcwcache.h>

#include <string>

#include "base/error.hpp"

namespace pacsnode::dicom::detail {

std::vector<std::uint8_t> data_set_bytes(DcmDataset& data_set, E_TransferSyntax xfer) {
  const std::uint32_t length = data_set.calcElementLength(xfer, EET_ExplicitLength);
  std::vector<std::uint8_t> out(length + 1024);
  DcmOutputBufferStream stream(out.data(), out.size());
  DcmWriteCache cache;
  data_set.transferInit();
  const OFCondition status = data_set.write(stream, xfer, EET_ExplicitLength, &cache);
  data_set.transferEnd();
  if (status.bad()) throw Error(ErrorCode::Internal, std::string("cannot encode a data set: ") + status.text());
  void* buffer = nullptr;
  offile_off_t written = 0;
  stream.flushBuffer(buffer, written);
  out.resize(static_cast<std::size_t>(written));
  return out;
}

}  // namespace pacsnode::dicom::detail
