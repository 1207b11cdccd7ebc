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

namespace pacsnode::dicom::detail {
namespace {

class SpanInputStreamFactory final : public DcmInputStreamFactory {
 public:
  SpanInputStreamFactory(std::span<const std::uint8_t> bytes, offile_off_t offset) : bytes_(bytes), offset_(offset) {}
  DcmInputStream* create() const override {
    auto* stream = new SpanInputStream(bytes_);
    stream->skip(offset_);
    return stream;
  }
  DcmInputStreamFactory* clone() const override { return new SpanInputStreamFactory(*this); }
  // The closer of DCMTK's two kinds (the other stands for a temporary file it deletes).
  DcmInputStreamFactoryType ident() const override { return DFT_DcmInputFileStreamFactory; }

 private:
  std::span<const std::uint8_t> bytes_;
  offile_off_t offset_;
};

}  // namespace

SpanInputStream::SpanInputStream(std::span<const std::uint8_t> bytes) : bytes_(bytes) {
  setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  setEos();
}

DcmInputStreamFactory* SpanInputStream::newFactory() const { return new SpanInputStreamFactory(bytes_, tell()); }

}  // namespace pacsnode::dicom::detail
