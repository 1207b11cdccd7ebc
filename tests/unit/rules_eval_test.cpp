// Evaluating rule expressions: numbers, dates, times and text by VR; multi-valued, absent and
// empty attributes; exists, in, regular expressions, association fields, (gggg,eeee) tags.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "routing/expression.hpp"

using namespace pacsnode::routing;

namespace {

// A CT instance's attributes, as a DICOM file would give them.
AttributeSet ct() {
  AttributeSet a;
  a.set(0x00080008, "CS", {"ORIGINAL", "PRIMARY", "AXIAL"});  // ImageType
  a.set(0x00080020, "DA", {"20040119"});                      // StudyDate
  a.set(0x00080030, "TM", {"072730"});                        // StudyTime
  a.set(0x0008002A, "DT", {"20240115103000+0100"});           // AcquisitionDateTime
  a.set(0x00080050, "SH", {});                                // AccessionNumber, present without a value
  a.set(0x00080060, "CS", {"CT"});                            // Modality
  a.set(0x0008103E, "LO", {"Lung 1.0 B60f"});                 // SeriesDescription
  a.set(0x00091001, "LO", {"GE_GENESIS_FF"});                 // private
  a.set(0x00091027, "SL", {"862399669"});                     // private, binary number
  a.set(0x00100020, "LO", {"0123"});                          // PatientID
  a.set(Attribute{0x00101002, "SQ", {}, true});               // OtherPatientIDsSequence, with items
  a.set(0x00180050, "DS", {"5.000000"});                      // SliceThickness
  a.set(0x00200032, "DS", {"-125.0", "-125.0", "+012.5"});    // ImagePositionPatient
  a.set(0x00280010, "US", {"128"});                           // Rows
  return a;
}

const AssociationContext kAssociation{{"MODALITY1"}, {"PACSNODE"}, {"10.1.2.3"}};

bool eval(std::string_view text, const AttributeSource& attributes = ct(),
          const AssociationContext& association = kAssociation) {
  const Expression e = Expression::parse(text);
  TraceStep trace;
  const bool explained = e.evaluate(attributes, association, trace);
  const bool plain = e.evaluate(attributes, association);
  INFO(text);
  CHECK(explained == plain);  // the trace never changes the answer
  CHECK(trace.result == plain);
  return plain;
}

}  // namespace

TEST_CASE("rules eval: text compares exactly, case-sensitively, in byte order") {
  CHECK(eval(R"(Modality == "CT")"));
  CHECK_FALSE(eval(R"(Modality == "ct")"));
  CHECK_FALSE(eval(R"(Modality == "CT ")"));
  CHECK(eval(R"(Modality != "MR")"));
  CHECK(eval(R"(Modality < "MR" and Modality > "CR" and Modality >= "CT" and Modality <= "CT")"));
  // A number literal compares with text as written: PatientID "0123" is text (LO).
  CHECK_FALSE(eval("PatientID == 123"));
  CHECK(eval("PatientID == 0123"));
  CHECK(eval(R"(PatientID == "0123")"));
}

TEST_CASE("rules eval: numeric VRs compare as numbers") {
  CHECK(eval("SliceThickness == 5"));
  CHECK(eval(R"(SliceThickness == "5.0")"));
  CHECK(eval("SliceThickness > 4.5 and SliceThickness < 5.5"));
  CHECK(eval("SliceThickness >= 5 and SliceThickness <= 5"));
  CHECK_FALSE(eval("SliceThickness < 5"));
  CHECK(eval("Rows == 128 and Rows > 100 and Rows != 512"));  // US, a binary number, read as text
  CHECK(eval("Rows in [256, 128.0]"));
  CHECK(eval("ImagePositionPatient == 12.5"));              // "+012.5": any value
  CHECK(eval("ImagePositionPatient < -100"));
  CHECK(eval("SliceThickness == 5e0"));
  AttributeSet bad;
  bad.set(0x00180050, "DS", {"thick"});
  CHECK_FALSE(eval("SliceThickness == 5", bad));
  CHECK(eval("SliceThickness != 5", bad));  // present, and no value equals 5
  CHECK_FALSE(eval("SliceThickness < 5", bad));
}

TEST_CASE("rules eval: DA compares as dates; a literal of reduced precision is its whole interval") {
  CHECK(eval(R"(StudyDate == "20040119")"));
  CHECK(eval("StudyDate == 20040119"));
  CHECK(eval(R"(StudyDate == "2004" and StudyDate == "200401")"));
  CHECK_FALSE(eval(R"(StudyDate == "200402")"));
  CHECK(eval(R"(StudyDate >= "20040101" and StudyDate < "20040201")"));
  CHECK(eval(R"(StudyDate > "2003" and StudyDate <= "2004" and StudyDate < "2005")"));
  CHECK_FALSE(eval(R"(StudyDate > "2004")"));   // after the whole of 2004
  CHECK_FALSE(eval(R"(StudyDate < "2004")"));   // before the whole of 2004
  CHECK(eval(R"(StudyDate in ["2003", "200401"])"));
  CHECK(eval(R"(StudyDate ~ "^2004")"));        // ~ reads the text
  AttributeSet legacy;
  legacy.set(0x00080020, "DA", {"2004.01.19"});  // ACR-NEMA
  CHECK(eval(R"(StudyDate == "20040119")", legacy));
  AttributeSet bad;
  bad.set(0x00080020, "DA", {"20041399"});
  CHECK_FALSE(eval(R"(StudyDate >= "2000")", bad));
  CHECK_FALSE(eval(R"(StudyDate < "2100")", bad));
  // Leap years.
  AttributeSet leap;
  leap.set(0x00080020, "DA", {"20240229"});
  CHECK(eval(R"(StudyDate == "202402")", leap));
  CHECK_THROWS_AS(Expression::parse(R"(StudyDate == "20230229")"), ExpressionError);
}

TEST_CASE("rules eval: TM compares as times of day, reduced precision being an interval") {
  CHECK(eval(R"(StudyTime == "072730")"));
  CHECK(eval(R"(StudyTime == "07" and StudyTime == "0727")"));
  CHECK(eval(R"(StudyTime >= "07" and StudyTime < "08")"));
  CHECK(eval(R"(StudyTime <= "07")"));           // up to 07:59:59.999999
  CHECK_FALSE(eval(R"(StudyTime > "0727")"));    // 07:27:30 is inside 07:27
  CHECK(eval(R"(StudyTime >= "0727" and StudyTime > "072729.999999")"));
  CHECK(eval(R"(StudyTime == "072730.000000")"));
  CHECK_FALSE(eval(R"(StudyTime == "072730.5")"));
  AttributeSet fraction;
  fraction.set(0x00080030, "TM", {"072730.5"});
  CHECK(eval(R"(StudyTime == "072730" and StudyTime == "072730.5" and StudyTime > "072730.4")", fraction));
  AttributeSet colons;
  colons.set(0x00080030, "TM", {"07:27:30"});
  CHECK(eval(R"(StudyTime == "072730")", colons));
}

TEST_CASE("rules eval: DT compares as instants, UTC offsets honoured, no offset taken as UTC") {
  CHECK(eval(R"(AcquisitionDateTime == "20240115093000")"));          // 10:30+01:00 is 09:30 UTC
  CHECK(eval(R"(AcquisitionDateTime == "20240115103000+0100")"));
  CHECK(eval(R"(AcquisitionDateTime == "20240115043000-0500")"));
  CHECK(eval(R"(AcquisitionDateTime == "2024" and AcquisitionDateTime == "20240115")"));
  CHECK(eval(R"(AcquisitionDateTime >= "20240115" and AcquisitionDateTime < "20240116")"));
  CHECK_FALSE(eval(R"(AcquisitionDateTime > "2024011509")"));        // inside that hour
  CHECK(eval(R"(AcquisitionDateTime > "20240115092959.999999")"));
}

TEST_CASE("rules eval: a multi-valued attribute matches if any value does; != and not in if none equals") {
  CHECK(eval(R"(ImageType == "AXIAL")"));
  CHECK(eval(R"(ImageType == "ORIGINAL")"));
  CHECK_FALSE(eval(R"(ImageType == "LOCALIZER")"));
  CHECK(eval(R"(ImageType != "LOCALIZER")"));
  CHECK_FALSE(eval(R"(ImageType != "AXIAL")"));
  CHECK(eval(R"(ImageType in ["LOCALIZER", "AXIAL"])"));
  CHECK(eval(R"(ImageType not in ["LOCALIZER", "DERIVED"])"));
  CHECK_FALSE(eval(R"(ImageType not in ["LOCALIZER", "PRIMARY"])"));
  CHECK(eval(R"(ImageType ~ "^AX")"));
  CHECK(eval(R"(ImageType > "P")"));         // "PRIMARY"
  CHECK_FALSE(eval(R"(ImageType > "PRIMARY")"));
}

TEST_CASE("rules eval: an absent attribute equals nothing, != and not in are false, exists is false") {
  for (const char* text : {R"(BodyPartExamined == "CHEST")", R"(BodyPartExamined != "CHEST")",
                           R"(BodyPartExamined < "Z")", R"(BodyPartExamined in ["CHEST"])",
                           R"(BodyPartExamined not in ["CHEST"])", R"(BodyPartExamined ~ "")",
                           "exists BodyPartExamined", "SliceLocation > -1000"}) {
    CHECK_FALSE(eval(text));
  }
  CHECK(eval(R"(not (BodyPartExamined == "CHEST"))"));
  CHECK(eval("not exists BodyPartExamined"));
  // Present without a value: the same as absent.
  CHECK_FALSE(eval("exists AccessionNumber"));
  CHECK_FALSE(eval(R"(AccessionNumber != "A1")"));
  CHECK_FALSE(eval(R"(AccessionNumber ~ ".*")"));
  // A sequence with items exists, but has no text to compare.
  CHECK(eval("exists OtherPatientIDsSequence"));
  CHECK(eval("exists Modality and exists (0008,0060) and exists ImageType"));
}

TEST_CASE("rules eval: regular expressions (RE2) search the text; (?i) folds case") {
  CHECK(eval(R"(SeriesDescription ~ "(?i)lung|thorax")"));
  CHECK(eval(R"(SeriesDescription ~ "Lung")"));          // a search, not a full match
  CHECK_FALSE(eval(R"(SeriesDescription ~ "^lung")"));   // case matters without (?i)
  CHECK(eval(R"(SeriesDescription ~ "B\d+f$")"));        // \d as written
  CHECK(eval(R"(SeriesDescription ~ "^Lung \d\.\d")"));
  CHECK_FALSE(eval(R"(SeriesDescription ~ "^Lung$")"));
  CHECK(eval(R"(Rows ~ "^12")"));                        // numbers are matched on their text
  // A pattern that backtracking engines take exponential time on: linear in RE2.
  AttributeSet long_text;
  long_text.set(0x0008103E, "LO", {std::string(5000, 'a') + "b"});
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(eval(R"(SeriesDescription ~ "^(a+)+$")", long_text));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  // UTF-8 text.
  AttributeSet utf8;
  utf8.set(0x00100010, "PN", {"Müller^Jürgen"});
  CHECK(eval(R"(PatientName ~ "^Müller\^" and PatientName ~ "(?i)^MÜLLER")", utf8));
}

TEST_CASE("rules eval: CallingAE, CalledAE and CallingHost come from the association; absent when unknown") {
  CHECK(eval(R"(CallingAE == "MODALITY1" and CalledAE == "PACSNODE" and CallingHost ~ "^10\.1\.")"));
  CHECK(eval(R"(CallingAE in ["CT1", "MODALITY1"])"));
  CHECK_FALSE(eval(R"(CallingAE == "modality1")"));
  const AssociationContext none{};
  CHECK_FALSE(eval(R"(CallingAE == "MODALITY1")", ct(), none));
  CHECK_FALSE(eval(R"(CallingAE != "MODALITY1")", ct(), none));
  CHECK_FALSE(eval("exists CallingAE", ct(), none));
  CHECK(eval("exists CallingAE and exists CalledAE and exists CallingHost"));
  const AssociationContext stow{{"WEB"}, {}, {"::1"}};
  CHECK(eval(R"(not exists CalledAE and CallingHost == "::1")", ct(), stow));
}

TEST_CASE("rules eval: a series' association fields hold every instance's value; any one matches") {
  const AssociationContext series{{"CT1", "MR7"}, {"PACSNODE", "ROUTER"}, {}};
  CHECK(eval(R"(CalledAE == "ROUTER")", ct(), series));
  CHECK(eval(R"(CalledAE == "PACSNODE")", ct(), series));
  CHECK_FALSE(eval(R"(CalledAE == "AI_LUNG")", ct(), series));
  CHECK(eval(R"(CallingAE in ["MR7"] and CallingAE ~ "^CT")", ct(), series));
  // != is "no value equal", as for a multi-valued attribute.
  CHECK_FALSE(eval(R"(CalledAE != "ROUTER")", ct(), series));
  CHECK(eval(R"(CalledAE != "AI_LUNG")", ct(), series));
  AssociationContext built;
  AssociationContext::add(built.called_ae, "ROUTER");
  AssociationContext::add(built.called_ae, "");
  AssociationContext::add(built.called_ae, "ROUTER");
  CHECK(built.called_ae == std::vector<std::string>{"ROUTER"});
}

TEST_CASE("rules eval: (gggg,eeee) tags, private ones compared by the value's own VR") {
  CHECK(eval(R"((0008,0060) == "CT")"));
  CHECK(eval(R"((0008,0060) == "CT" and Modality == "CT")"));
  CHECK(eval(R"((0009,1001) == "GE_GENESIS_FF")"));
  CHECK(eval(R"((0009,1001) ~ "^GE_")"));
  CHECK(eval("(0009,1027) > 800000000"));       // SL: a number
  CHECK_FALSE(eval("(0009,1027) > 900000000"));
  CHECK(eval(R"((0009,1001) > 5)"));           // LO: text order, "G" after "5"
  CHECK_FALSE(eval(R"((0009,1001) == 5)"));
  CHECK_FALSE(eval(R"((0009,1099) == "x")"));  // absent
  // A private attribute whose value is no number: the comparison is false, not an error.
  AttributeSet odd;
  odd.set(0x00091027, "SL", {"n/a"});
  CHECK_FALSE(eval("(0009,1027) == 1", odd));
  // An attribute stored without a VR is compared by the dictionary's.
  AttributeSet no_vr;
  no_vr.set(0x00080020, "", {"20240101"});
  CHECK(eval(R"(StudyDate == "2024")", no_vr));
}

TEST_CASE("rules eval: and, or, not and constants") {
  CHECK(eval(R"(Modality == "CT" and (BodyPartExamined == "CHEST" or SeriesDescription ~ "(?i)lung|thorax"))"));
  CHECK_FALSE(eval(R"(Modality == "MR" and (BodyPartExamined == "CHEST" or SeriesDescription ~ "(?i)lung"))"));
  CHECK(eval(R"(not Modality == "MR" and Rows > 5)"));
  CHECK(eval(R"(Modality == "MR" or Modality == "CT" and Rows == 128)"));
  CHECK_FALSE(eval(R"((Modality == "MR" or Modality == "CT") and Rows == 512)"));
  CHECK(eval("true"));
  CHECK_FALSE(eval("false"));
  CHECK(eval("true or false and false"));
  CHECK_FALSE(eval("(true or false) and false"));
  CHECK(eval("not false"));
}
