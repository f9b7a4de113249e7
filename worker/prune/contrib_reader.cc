#include "worker/prune/contrib_reader.h"

#include <charconv>
#include <cmath>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/prune/pyjson_reader.h"

namespace cohort::worker::prune {
namespace {

// int(x) of a JSON number: exact for ints, truncation for finite floats.
bool NumberToInt(const PyJsonNumber& number, int64_t* out) {
  if (number.is_int) {
    const char* begin = number.text.data();
    const char* end = begin + number.text.size();
    auto res = std::from_chars(begin, end, *out);
    return res.ec == std::errc() && res.ptr == end;
  }
  const double v = number.ToDouble();
  if (!std::isfinite(v) || std::fabs(v) >= 9.2e18) return false;
  *out = static_cast<int64_t>(std::trunc(v));
  return true;
}

bool IsNumberStart(int c) {
  return c == '-' || (c >= '0' && c <= '9') || c == 'N' || c == 'I';
}

// Reads one cell field; a non-number value marks the cell's bad_field.
absl::Status ReadCellField(PyJsonReader& reader, const std::string& key,
                           ContribCell* cell) {
  const bool wanted = key == "id" || key == "wnorm" || key == "tc";
  if (!wanted) return reader.SkipValue();
  COHORT_ASSIGN_OR_RETURN(int c, reader.Peek());
  if (!IsNumberStart(c)) {
    if (cell->bad_field.empty()) cell->bad_field = key;
    return reader.SkipValue();
  }
  COHORT_ASSIGN_OR_RETURN(PyJsonNumber number, reader.ReadNumber());
  if (key == "id") {
    cell->has_id = NumberToInt(number, &cell->id);
    if (!cell->has_id && cell->bad_field.empty()) cell->bad_field = key;
  } else if (key == "wnorm") {
    cell->wnorm = number.ToDouble();
    cell->has_wnorm = true;
  } else {
    cell->tc = number.ToDouble();
    cell->has_tc = true;
  }
  return absl::OkStatus();
}

absl::Status ReadCell(PyJsonReader& reader, ContribCell* cell) {
  COHORT_ASSIGN_OR_RETURN(int c, reader.Peek());
  if (c != '{') {
    cell->bad_field = "cell";
    return reader.SkipValue();
  }
  COHORT_RETURN_IF_ERROR(reader.BeginObject());
  bool first = true;
  std::string key;
  while (true) {
    COHORT_ASSIGN_OR_RETURN(bool more, reader.NextMember(&first, &key));
    if (!more) return absl::OkStatus();
    COHORT_RETURN_IF_ERROR(ReadCellField(reader, key, cell));
  }
}

absl::Status ReadRow(PyJsonReader& reader, ContribRow* row) {
  COHORT_ASSIGN_OR_RETURN(int c, reader.Peek());
  if (c != '[') {
    row->is_array = false;
    return reader.SkipValue();
  }
  COHORT_RETURN_IF_ERROR(reader.BeginArray());
  bool first = true;
  while (true) {
    COHORT_ASSIGN_OR_RETURN(bool more, reader.NextElement(&first));
    if (!more) return absl::OkStatus();
    row->cells.emplace_back();
    COHORT_RETURN_IF_ERROR(ReadCell(reader, &row->cells.back()));
  }
}

absl::Status ReadClass(PyJsonReader& reader, ContribClass* cls) {
  COHORT_ASSIGN_OR_RETURN(int c, reader.Peek());
  if (c != '{') {
    cls->is_object = false;
    return reader.SkipValue();
  }
  COHORT_RETURN_IF_ERROR(reader.BeginObject());
  bool first = true;
  std::string key;
  while (true) {
    COHORT_ASSIGN_OR_RETURN(bool more, reader.NextMember(&first, &key));
    if (!more) return absl::OkStatus();
    ContribRow row;
    COHORT_RETURN_IF_ERROR(ReadRow(reader, &row));
    cls->layers[key] = std::move(row);
  }
}

absl::Status ReadCategories(PyJsonReader& reader, ContribFile* file) {
  // A repeated "categories" key replaces the earlier one, as in a dict.
  file->has_categories = true;
  file->categories_is_object = true;
  file->class_order.clear();
  file->classes.clear();
  COHORT_ASSIGN_OR_RETURN(int c, reader.Peek());
  if (c != '{') {
    file->categories_is_object = false;
    return reader.SkipValue();
  }
  COHORT_RETURN_IF_ERROR(reader.BeginObject());
  bool first = true;
  std::string key;
  while (true) {
    COHORT_ASSIGN_OR_RETURN(bool more, reader.NextMember(&first, &key));
    if (!more) return absl::OkStatus();
    if (file->classes.count(key) == 0) file->class_order.push_back(key);
    ContribClass cls;
    COHORT_RETURN_IF_ERROR(ReadClass(reader, &cls));
    file->classes[key] = std::move(cls);
  }
}

absl::StatusOr<ContribFile> ReadTopLevel(PyJsonReader& reader,
                                         const std::string& display_name) {
  ContribFile file;
  file.name = display_name;
  COHORT_ASSIGN_OR_RETURN(int c, reader.Peek());
  if (c != '{') return reader.Error("the top level is not a JSON object");
  COHORT_RETURN_IF_ERROR(reader.BeginObject());
  bool first = true;
  std::string key;
  while (true) {
    COHORT_ASSIGN_OR_RETURN(bool more, reader.NextMember(&first, &key));
    if (!more) break;
    if (key == "metadata") {
      COHORT_ASSIGN_OR_RETURN(file.metadata, reader.ReadValue());
      file.has_metadata = true;
    } else if (key == "categories") {
      COHORT_RETURN_IF_ERROR(ReadCategories(reader, &file));
    } else {
      COHORT_RETURN_IF_ERROR(reader.SkipValue());
    }
  }
  COHORT_RETURN_IF_ERROR(reader.ExpectEnd());
  return file;
}

absl::Status GridError(const ContribFile& file, const std::string& cls,
                       int64_t layer, const std::string& field,
                       const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat(file.name, ": class \"", cls, "\", layer ", layer,
                   ", field \"", field, "\": ", what));
}

absl::Status FillRow(const ContribFile& file, const std::string& cls,
                     int64_t layer, const ContribRow& row, bool need_tc,
                     int c, ContribGrid* grid) {
  const std::string where = absl::StrCat("categories.", cls, ".", layer);
  if (!row.is_array) return GridError(file, cls, layer, where, "not a list");
  if (static_cast<int64_t>(row.cells.size()) != grid->experts) {
    return GridError(file, cls, layer, where,
                     absl::StrCat(row.cells.size(), " cells, expected ",
                                  grid->experts, " (metadata.num_experts)"));
  }
  std::vector<bool> seen(grid->experts, false);
  for (const ContribCell& cell : row.cells) {
    if (!cell.bad_field.empty()) {
      return GridError(file, cls, layer, cell.bad_field, "unusable value");
    }
    if (!cell.has_id) return GridError(file, cls, layer, "id", "missing");
    if (!cell.has_wnorm) return GridError(file, cls, layer, "wnorm", "missing");
    if (need_tc && !cell.has_tc) {
      return GridError(file, cls, layer, "tc", "missing");
    }
    if (cell.id < 0 || cell.id >= grid->experts) {
      return GridError(file, cls, layer, "id",
                       absl::StrCat("id ", cell.id, " out of range [0, ",
                                    grid->experts, ")"));
    }
    if (seen[cell.id]) {
      return GridError(file, cls, layer, "id",
                       absl::StrCat("duplicate id ", cell.id));
    }
    seen[cell.id] = true;
    const size_t i = grid->Index(c, static_cast<int>(layer),
                                 static_cast<int>(cell.id));
    grid->wnorm[i] = cell.wnorm;
    if (need_tc) grid->tc[i] = cell.tc;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> ContribFile::MetadataInt(
    const std::string& field) const {
  const PyValue* value =
      metadata.kind() == PyValue::Kind::kObject ? metadata.Find(field) : nullptr;
  auto error = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": field \"metadata.", field, "\": ", what));
  };
  if (!has_metadata) return error("no metadata object");
  if (value == nullptr) return error("missing");
  PyJsonNumber number;
  if (value->kind() == PyValue::Kind::kInt) {
    number = PyJsonNumber{value->text(), true};
  } else if (value->kind() == PyValue::Kind::kFloat) {
    number = PyJsonNumber{PyFloatRepr(value->float_value()), false};
  } else {
    return error("not a number");
  }
  int64_t out = 0;
  if (!NumberToInt(number, &out)) return error("not a usable integer");
  return out;
}

absl::StatusOr<ContribFile> ReadContribFile(const std::string& path,
                                            const std::string& display_name) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<PyJsonReader> reader,
                          PyJsonReader::OpenFile(path, display_name));
  return ReadTopLevel(*reader, display_name);
}

absl::StatusOr<ContribFile> ParseContribText(std::string text,
                                             const std::string& display_name) {
  auto reader = PyJsonReader::FromString(std::move(text), display_name);
  return ReadTopLevel(*reader, display_name);
}

absl::StatusOr<ContribGrid> ExtractGrid(const ContribFile& file,
                                        const std::vector<std::string>& classes,
                                        int64_t layers, int64_t experts,
                                        bool need_tc) {
  if (!file.has_categories || !file.categories_is_object) {
    return absl::InvalidArgumentError(absl::StrCat(
        file.name, ": field \"categories\": missing or not an object"));
  }
  ContribGrid grid;
  grid.classes = static_cast<int>(classes.size());
  grid.layers = static_cast<int>(layers);
  grid.experts = static_cast<int>(experts);
  const size_t cells = static_cast<size_t>(grid.classes) * layers * experts;
  grid.wnorm.assign(cells, 0.0);
  grid.tc.assign(cells, 0.0);
  for (int c = 0; c < grid.classes; ++c) {
    const std::string& cls = classes[c];
    auto it = file.classes.find(cls);
    if (it == file.classes.end() || !it->second.is_object) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.name, ": class \"", cls, "\", field \"categories.",
                       cls, "\": class missing or not an object"));
    }
    for (int64_t l = 0; l < layers; ++l) {
      auto row = it->second.layers.find(std::to_string(l));
      if (row == it->second.layers.end()) {
        return GridError(file, cls, l, absl::StrCat("categories.", cls, ".", l),
                         "layer missing");
      }
      COHORT_RETURN_IF_ERROR(
          FillRow(file, cls, l, row->second, need_tc, c, &grid));
    }
  }
  return grid;
}

}  // namespace cohort::worker::prune
