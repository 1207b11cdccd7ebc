#pragma once
// Well-known UIDs used by the network layer (PS3.6 Annex A). The application context
// name lives in net/pdu.hpp (kApplicationContext).
#include <string_view>

namespace pacsnode::net::uid {

inline constexpr std::string_view Verification = "1.2.840.10008.1.1";

// Transfer syntaxes.
inline constexpr std::string_view ImplicitVrLittleEndian = "1.2.840.10008.1.2";
inline constexpr std::string_view ExplicitVrLittleEndian = "1.2.840.10008.1.2.1";
inline constexpr std::string_view DeflatedExplicitVrLittleEndian = "1.2.840.10008.1.2.1.99";
inline constexpr std::string_view ExplicitVrBigEndian = "1.2.840.10008.1.2.2";  // retired, still met
inline constexpr std::string_view JpegBaseline = "1.2.840.10008.1.2.4.50";
inline constexpr std::string_view JpegExtended = "1.2.840.10008.1.2.4.51";
inline constexpr std::string_view JpegLossless = "1.2.840.10008.1.2.4.57";
inline constexpr std::string_view JpegLosslessSv1 = "1.2.840.10008.1.2.4.70";
inline constexpr std::string_view JpegLsLossless = "1.2.840.10008.1.2.4.80";
inline constexpr std::string_view JpegLsNearLossless = "1.2.840.10008.1.2.4.81";
inline constexpr std::string_view Jpeg2000Lossless = "1.2.840.10008.1.2.4.90";
inline constexpr std::string_view Jpeg2000 = "1.2.840.10008.1.2.4.91";  // lossy or lossless
inline constexpr std::string_view RleLossless = "1.2.840.10008.1.2.5";

// Query/Retrieve information models.
inline constexpr std::string_view PatientRootFind = "1.2.840.10008.5.1.4.1.2.1.1";
inline constexpr std::string_view PatientRootMove = "1.2.840.10008.5.1.4.1.2.1.2";
inline constexpr std::string_view PatientRootGet = "1.2.840.10008.5.1.4.1.2.1.3";
inline constexpr std::string_view StudyRootFind = "1.2.840.10008.5.1.4.1.2.2.1";
inline constexpr std::string_view StudyRootMove = "1.2.840.10008.5.1.4.1.2.2.2";
inline constexpr std::string_view StudyRootGet = "1.2.840.10008.5.1.4.1.2.2.3";

}  // namespace pacsnode::net::uid
