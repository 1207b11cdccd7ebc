#include <doctest/doctest.h>

#include "db/index_values.hpp"

using namespace pacsnode::db::detail;

TEST_CASE("index values: DA to SQL date") {
  CHECK(dicom_date_to_sql("20240115") == "2024-01-15");
  CHECK(dicom_date_to_sql(" 20240229 ") == "2024-02-29");  // leap year
  CHECK(dicom_date_to_sql("2024.01.15") == "2024-01-15");  // ACR-NEMA
  CHECK_FALSE(dicom_date_to_sql(""));
  CHECK_FALSE(dicom_date_to_sql("20230229"));
  CHECK_FALSE(dicom_date_to_sql("19001301"));
  CHECK_FALSE(dicom_date_to_sql("20240100"));
  CHECK_FALSE(dicom_date_to_sql("2024-01-15"));
  CHECK_FALSE(dicom_date_to_sql("2024011"));
  CHECK_FALSE(dicom_date_to_sql("2024O115"));
  CHECK_FALSE(dicom_date_to_sql("00000101"));
}

TEST_CASE("index values: TM to SQL time") {
  CHECK(dicom_time_to_sql("101500") == "10:15:00");
  CHECK(dicom_time_to_sql("10") == "10:00:00");
  CHECK(dicom_time_to_sql("1015") == "10:15:00");
  CHECK(dicom_time_to_sql("101500.5") == "10:15:00.500000");
  CHECK(dicom_time_to_sql("235959.999999") == "23:59:59.999999");
  CHECK(dicom_time_to_sql("10:15:30.25") == "10:15:30.250000");
  CHECK(dicom_time_to_sql("10:15") == "10:15:00");
  CHECK_FALSE(dicom_time_to_sql(""));
  CHECK_FALSE(dicom_time_to_sql("240000"));
  CHECK_FALSE(dicom_time_to_sql("106000"));
  CHECK_FALSE(dicom_time_to_sql("101560"));  // leap second: rejected, kept raw
  CHECK_FALSE(dicom_time_to_sql("101"));
  CHECK_FALSE(dicom_time_to_sql("1015.5"));
  CHECK_FALSE(dicom_time_to_sql("101500.1234567"));
  CHECK_FALSE(dicom_time_to_sql("101500."));
  CHECK_FALSE(dicom_time_to_sql("10h15"));
}

TEST_CASE("index values: raw values kept in DICOM JSON attributes") {
  CHECK(with_raw_attribute("", "00080020", "DA", "2024") == R"({"00080020":{"vr":"DA","Value":["2024"]}})");
  CHECK(with_raw_attribute(" { } ", "00080020", "DA", "x") == R"({ "00080020":{"vr":"DA","Value":["x"]}})");
  CHECK(with_raw_attribute(R"({"00081030":{"vr":"LO"}})", "00080020", "DA", "a\"b\\") ==
        R"({"00081030":{"vr":"LO"},"00080020":{"vr":"DA","Value":["a\"b\\"]}})");
  CHECK(json_string(std::string("a\nb\x01", 4)) == R"("a\nb\u0001")");

  std::string attributes = "{}";
  CHECK(date_column("20240115", "00080020", attributes) == "2024-01-15");
  CHECK(attributes == "{}");
  CHECK_FALSE(date_column("", "00080020", attributes));
  CHECK(attributes == "{}");  // absent is not unparseable
  CHECK_FALSE(date_column("20241345", "00080020", attributes));
  CHECK(attributes == R"({"00080020":{"vr":"DA","Value":["20241345"]}})");
  CHECK_FALSE(time_column("25", "00080030", attributes));
  CHECK(attributes == R"({"00080020":{"vr":"DA","Value":["20241345"]},"00080030":{"vr":"TM","Value":["25"]}})");
}

TEST_CASE("index values: array literals") {
  CHECK(array_literal(std::vector<std::optional<std::string>>{}) == "{}");
  CHECK(array_literal(std::vector<std::string>{"a", "x\"y\\z"}) == R"({"a","x\"y\\z"})");
  CHECK(array_literal({std::string("a"), std::nullopt, std::string("x\"y\\z"), std::string("")}) ==
        R"({"a",NULL,"x\"y\\z",""})");
}
