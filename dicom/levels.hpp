#pragma once
// Which level of the patient/study/series/instance model a data set attribute belongs to,
// after the modules of PS3.3 (Patient, Patient Study and General Study, General Series,
// General Equipment, Frame of Reference, clinical-trial modules). Used to split a data set's
// attributes over the index's levels.
#include <cstdint>

namespace pacsnode::dicom {

enum class Level { Patient, Study, Series, Instance };

// The level of a top-level attribute, tag as (group << 16) | element. Anything not listed as
// patient, study or series (including private and unknown tags) is instance level.
Level level_of(std::uint32_t tag);

}  // namespace pacsnode::dicom
